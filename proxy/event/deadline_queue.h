// Deadlines of many objects with few distinct durations (timeouts come from the
// configuration), on one loop. Each duration has a FIFO list, ordered by deadline because all
// its entries were armed with the same duration, and one Timer for the list's first entry.
// Arming and cancelling are O(1) list operations, and an object costs a Node instead of a
// libevent event of its own: what lets an idle keep-alive connection stay small.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/event/loop.h"

namespace realip::event {

class DeadlineQueue {
 public:
  struct List;
  // Embedded in the object that has a deadline; `owner` is what on_expire receives.
  struct Node {
    explicit Node(void* owner) : owner(owner) {}
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
    bool armed() const { return list != nullptr; }

    void* const owner;
    Node* prev = nullptr;
    Node* next = nullptr;
    int64_t deadline_ms = 0;  // steady clock
    List* list = nullptr;     // null while not armed
  };

  // `on_expire(owner)` runs on the loop for each node whose deadline passed, after the node
  // was disarmed; it may arm or cancel any node, and destroy owners.
  DeadlineQueue(EventLoop& loop, void (*on_expire)(void* owner));
  ~DeadlineQueue();
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;

  // Arms `node` for `delay` from now, replacing its previous deadline.
  void Arm(Node* node, std::chrono::milliseconds delay);
  // Disarms `node`; nothing happens if it is not armed.
  void Cancel(Node* node);

 private:
  List& ListFor(int64_t duration_ms);
  void Expire(List& list);

  EventLoop& loop_;
  void (*on_expire_)(void* owner);
  std::vector<std::unique_ptr<List>> lists_;  // a handful: one per configured timeout value
};

}  // namespace realip::event
