// Deadlines of many objects with few distinct durations (timeouts come from the
// configuration), on one loop. Each duration has a FIFO list, ordered by deadline because all
// its entries were armed with the same duration, and one Timer that fires no later than the
// list's first entry (it stays pending when the list empties, and fires once for nothing).
// Arming and cancelling are O(1) list operations that touch libevent only when a list's
// timer was idle, and an object costs a Node instead of a libevent event of its own: what
// lets an idle keep-alive connection stay small.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/event/loop.h"

namespace realip::event {

class DeadlineQueue {
 public:
  struct List;
  // A base of the object that has a deadline, which on_expire gets back with a static_cast
  // (a base rather than a member holding an owner pointer: 8 bytes less per object).
  struct Node {
    Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
    bool armed() const { return list != nullptr; }

    Node* prev = nullptr;
    Node* next = nullptr;
    int64_t deadline_ms = 0;  // steady clock
    List* list = nullptr;     // null while not armed
  };

  // `on_expire(node)` runs on the loop for each node whose deadline passed, after the node
  // was disarmed; it may arm or cancel any node, and destroy the objects they belong to.
  DeadlineQueue(EventLoop& loop, void (*on_expire)(Node* node));
  ~DeadlineQueue();
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;

  // Arms `node` for `delay` from now, replacing its previous deadline.
  void Arm(Node* node, std::chrono::milliseconds delay);
  // Disarms `node`; nothing happens if it is not armed (inline: most calls find it so).
  void Cancel(Node* node) {
    if (node->list != nullptr) Unlink(node);
  }
  // How many duration lists the queue holds (tests).
  size_t list_count() const { return lists_.size(); }

 private:
  void Unlink(Node* node);
  List& ListFor(int64_t duration_ms);
  // Frees the lists nothing uses any more: empty, and neither the last one armed nor the one
  // expiring now (whose timer callback is running).
  void DropUnusedLists();
  void Expire(List& list);

  EventLoop& loop_;
  void (*on_expire_)(Node* node);
  // A handful: one per timeout value in use. A reload that brings new values adds lists; once
  // there are kListsKeptEmpty, those of values no longer armed are freed when the next new list
  // is made, so the count stays near that of the values in use across any number of reloads.
  static constexpr size_t kListsKeptEmpty = 8;
  std::vector<std::unique_ptr<List>> lists_;
  // The list of the last Arm(): a queue is mostly armed with one duration (keep-alive, the
  // upstream read timeout), which this finds without a search.
  List* last_ = nullptr;
  List* expiring_ = nullptr;  // the list Expire() is walking, which must outlive it
};

}  // namespace realip::event
