#include "proxy/event/deadline_queue.h"

#include "proxy/base/check.h"

namespace realip::event {

struct DeadlineQueue::List {
  int64_t duration_ms = 0;
  Node* head = nullptr;
  Node* tail = nullptr;
  // Pending whenever head is set, for a deadline no later than head's; left pending when the
  // list empties (see Unlink).
  Timer timer;
  int64_t timer_ms = 0;  // the deadline `timer` was armed for, while it is pending
};

DeadlineQueue::DeadlineQueue(EventLoop& loop, void (*on_expire)(Node* node))
    : loop_(loop), on_expire_(on_expire) {}

DeadlineQueue::~DeadlineQueue() {
  // Owners outlive their nodes' arming; whatever is still armed is simply forgotten.
  for (auto& list : lists_) {
    for (Node* n = list->head; n != nullptr; n = n->next) n->list = nullptr;
  }
}

DeadlineQueue::List& DeadlineQueue::ListFor(int64_t duration_ms) {
  for (auto& list : lists_) {
    if (list->duration_ms == duration_ms) return *list;
  }
  // A few lists are kept even when empty: with several timeout values in use (header, body,
  // keep-alive, send), a lone connection empties one list as it arms another, and freeing
  // them would make and free a list (and its libevent timer) on nearly every arming.
  if (lists_.size() >= kListsKeptEmpty) DropUnusedLists();
  auto list = std::make_unique<List>();
  list->duration_ms = duration_ms;
  List* raw = list.get();
  absl::Status st = raw->timer.Init(loop_, [this, raw] { Expire(*raw); });
  REALIP_CHECK(st.ok());  // only fails when libevent cannot assign a timer
  lists_.push_back(std::move(list));
  return *raw;
}

void DeadlineQueue::DropUnusedLists() {
  std::erase_if(lists_, [this](const std::unique_ptr<List>& list) {
    return list->head == nullptr && list.get() != last_ && list.get() != expiring_;
  });
}

void DeadlineQueue::Arm(Node* node, std::chrono::milliseconds delay) {
  Cancel(node);
  if (last_ == nullptr || last_->duration_ms != delay.count()) last_ = &ListFor(delay.count());
  List& list = *last_;
  node->deadline_ms = loop_.SteadyMs() + delay.count();
  node->list = &list;
  node->prev = list.tail;
  node->next = nullptr;
  if (list.tail != nullptr) {
    list.tail->next = node;
  } else {
    list.head = node;
    // A timer still pending from nodes cancelled since fires no later than this deadline
    // (same duration, armed earlier), and Expire moves it on to the head.
    if (!list.timer.armed() || list.timer_ms > node->deadline_ms) {
      list.timer.Arm(delay);
      list.timer_ms = node->deadline_ms;
    }
  }
  list.tail = node;
}

void DeadlineQueue::Unlink(Node* node) {
  List* list = node->list;
  if (node->prev != nullptr) {
    node->prev->next = node->next;
  } else {
    list->head = node->next;
  }
  if (node->next != nullptr) {
    node->next->prev = node->prev;
  } else {
    list->tail = node->prev;
  }
  node->prev = node->next = nullptr;
  node->list = nullptr;
  // The list's timer stays pending, also when the list is now empty: a connection's timeout
  // is often cancelled and armed again a moment later (the upstream read timeout of each
  // request on a quiet server), and cancelling a libevent timer and adding it back cost
  // several hundred instructions. It fires at most once more, finds the list empty or its
  // head not yet due, and Expire arms it for the head if there is one.
}

void DeadlineQueue::Expire(List& list) {
  const int64_t now = loop_.SteadyMs();
  expiring_ = &list;
  while (list.head != nullptr && list.head->deadline_ms <= now) {
    Node* node = list.head;
    Cancel(node);
    on_expire_(node);  // may arm, cancel, or destroy any node's object
  }
  expiring_ = nullptr;
  if (list.head != nullptr) {
    list.timer.Arm(std::chrono::milliseconds(list.head->deadline_ms - now));
    list.timer_ms = list.head->deadline_ms;
  }
}

}  // namespace realip::event
