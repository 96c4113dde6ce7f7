#include "proxy/event/deadline_queue.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace realip::event {
namespace {

using std::chrono::milliseconds;

// An object with a deadline: records the order in which deadlines passed.
struct Item : DeadlineQueue::Node {
  explicit Item(std::string name) : name(std::move(name)) {}
  std::string name;
};

struct Fixture {
  std::unique_ptr<EventLoop> loop = std::move(EventLoop::Create()).value();
  std::vector<std::string> fired;
  std::function<void(Item*)> on_fire;
};

Fixture* current = nullptr;

void OnExpire(DeadlineQueue::Node* node) {
  auto* item = static_cast<Item*>(node);
  current->fired.push_back(item->name);
  if (current->on_fire) current->on_fire(item);
}

class DeadlineQueueTest : public ::testing::Test {
 protected:
  void SetUp() override { current = &f_; }
  void TearDown() override { current = nullptr; }
  // Runs the loop until `stop` fires (a plain timer, independent of the queue).
  void RunFor(milliseconds d) {
    Timer stop;
    ASSERT_TRUE(stop.Init(*f_.loop, [this] { f_.loop->Stop(); }).ok());
    stop.Arm(d);
    f_.loop->Run();
  }
  Fixture f_;
};

TEST_F(DeadlineQueueTest, FiresInDeadlineOrderAcrossDurations) {
  DeadlineQueue q(*f_.loop, &OnExpire);
  Item a("a"), b("b"), c("c"), d("d");
  q.Arm(&a, milliseconds(60));
  q.Arm(&b, milliseconds(10));
  q.Arm(&c, milliseconds(60));
  q.Arm(&d, milliseconds(30));
  EXPECT_TRUE(a.armed());
  RunFor(milliseconds(200));
  EXPECT_EQ(f_.fired, (std::vector<std::string>{"b", "d", "a", "c"}));
  EXPECT_FALSE(a.armed());
}

TEST_F(DeadlineQueueTest, CancelAndRearmReplaceTheDeadline) {
  DeadlineQueue q(*f_.loop, &OnExpire);
  Item a("a"), b("b"), c("c");
  q.Arm(&a, milliseconds(20));
  q.Arm(&b, milliseconds(20));
  q.Arm(&c, milliseconds(20));
  q.Cancel(&a);                 // the head
  q.Cancel(&a);                 // again: nothing
  q.Arm(&b, milliseconds(80));  // moves to another list, later
  q.Cancel(&c);                 // the last of its list: the list's timer stays pending
  RunFor(milliseconds(200));
  EXPECT_EQ(f_.fired, (std::vector<std::string>{"b"}));  // a and c never, b once
}

TEST_F(DeadlineQueueTest, AListEmptiedAndRefilledFiresAtTheNewDeadlines) {
  DeadlineQueue q(*f_.loop, &OnExpire);
  Item a("a"), b("b"), c("c");
  q.Arm(&a, milliseconds(20));
  q.Cancel(&a);  // the list is empty; its timer is left pending for a's deadline
  RunFor(milliseconds(10));
  q.Arm(&b, milliseconds(20));  // later than a's: the pending timer fires first, for nothing
  q.Arm(&c, milliseconds(20));
  const int64_t b_deadline = b.deadline_ms;
  const int64_t c_deadline = c.deadline_ms;
  std::vector<int64_t> late;  // how late each fired, never negative
  f_.on_fire = [&](Item* item) {
    late.push_back(f_.loop->SteadyMs() - (item == &b ? b_deadline : c_deadline));
  };
  RunFor(milliseconds(200));
  EXPECT_EQ(f_.fired, (std::vector<std::string>{"b", "c"}));
  ASSERT_EQ(late.size(), 2u);
  EXPECT_GE(late[0], 0);
  EXPECT_GE(late[1], 0);
}

TEST_F(DeadlineQueueTest, ATimerThatFiresOnAnEmptyListLeavesItUsable) {
  DeadlineQueue q(*f_.loop, &OnExpire);
  Item a("a"), b("b");
  q.Arm(&a, milliseconds(10));
  q.Cancel(&a);
  RunFor(milliseconds(40));  // the list's timer fires and finds nothing
  EXPECT_TRUE(f_.fired.empty());
  q.Arm(&b, milliseconds(10));  // the timer is idle again: armed anew
  RunFor(milliseconds(100));
  EXPECT_EQ(f_.fired, (std::vector<std::string>{"b"}));
}

TEST_F(DeadlineQueueTest, ExpiryMayRearmAndCancelOthers) {
  DeadlineQueue q(*f_.loop, &OnExpire);
  Item a("a"), b("b"), c("c");
  q.Arm(&a, milliseconds(10));
  q.Arm(&b, milliseconds(10));
  q.Arm(&c, milliseconds(50));
  int rearmed = 0;
  f_.on_fire = [&](Item* item) {
    if (item == &a) {
      q.Cancel(&b);                 // due at the same time: must not fire
      q.Arm(&a, milliseconds(10));  // a again, once
    }
    if (item == &a && ++rearmed == 2) q.Cancel(&a);
  };
  RunFor(milliseconds(200));
  EXPECT_EQ(f_.fired, (std::vector<std::string>{"a", "a", "c"}));
}

TEST_F(DeadlineQueueTest, DestroyingTheQueueDisarmsItsNodes) {
  Item a("a"), b("b");
  {
    DeadlineQueue q(*f_.loop, &OnExpire);
    q.Arm(&a, milliseconds(10));
    q.Arm(&b, milliseconds(20));
    q.Cancel(&b);  // an empty list whose timer is still pending goes with the queue too
  }
  EXPECT_FALSE(a.armed());
  RunFor(milliseconds(40));
  EXPECT_TRUE(f_.fired.empty());
}

// Each reload may bring new timeout values: the lists of values no longer armed are freed, so
// the queue does not grow with the number of reloads.
TEST_F(DeadlineQueueTest, ListsOfDurationsNoLongerArmedAreFreed) {
  Item kept("kept"), a("a");  // before the queue: still armed when it goes
  DeadlineQueue q(*f_.loop, &OnExpire);
  q.Arm(&kept, milliseconds(100000));  // a value still in use: its list stays
  for (int ms = 1000; ms < 1200; ++ms) {
    q.Arm(&a, milliseconds(ms));  // a new value each "reload", the previous one left behind
    EXPECT_LE(q.list_count(), 9u) << ms;
  }
  EXPECT_TRUE(kept.armed());
  EXPECT_TRUE(a.armed());
  q.Cancel(&a);
  q.Arm(&a, milliseconds(5));
  RunFor(milliseconds(60));
  EXPECT_EQ(f_.fired, (std::vector<std::string>{"a"}));
}

// The list whose timer is firing outlives its callback, also when that callback empties it
// and arms a node with a new duration (which frees the unused lists).
TEST_F(DeadlineQueueTest, AListEmptiedByItsOwnExpiryIsNotFreedUnderIt) {
  std::vector<std::unique_ptr<Item>> long_lived;  // before the queue: still armed when it goes
  DeadlineQueue q(*f_.loop, &OnExpire);
  for (int i = 0; i < 8; ++i) {  // enough lists for the next new one to free the unused ones
    long_lived.push_back(std::make_unique<Item>("long"));
    q.Arm(long_lived.back().get(), milliseconds(100000 + i));
  }
  Item a("a"), b("b"), c("c");
  q.Arm(&a, milliseconds(10));
  q.Arm(&b, milliseconds(10));
  q.Arm(&c, milliseconds(7));  // armed last: a's list is not the last one armed
  q.Cancel(&c);
  f_.on_fire = [&](Item* item) {
    if (item == &a) {
      q.Cancel(&b);                 // a's list is now empty
      q.Arm(&b, milliseconds(25));  // a new list: the unused ones go, a's list must not
    }
  };
  RunFor(milliseconds(200));
  EXPECT_EQ(f_.fired, (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace realip::event
