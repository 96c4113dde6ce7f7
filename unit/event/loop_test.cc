#include "proxy/event/loop.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace realip::event {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<EventLoop> NewLoop() {
  auto loop = EventLoop::Create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(loop).value();
}

// Reads whatever arrives on one end of a socketpair, edge-triggered, until EAGAIN.
class Reader : public IoHandler {
 public:
  Reader(EventLoop* loop, int fd, size_t want) : loop_(loop), fd_(fd), want_(want) {}
  void OnIo(bool readable, bool writable, bool peer_closed) override {
    if (writable) ++writable_events;
    if (peer_closed) ++closed_events;
    if (!readable) return;
    char buf[4];
    while (true) {
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    if (data.size() >= want_) loop_->Stop();
  }
  std::string data;
  int writable_events = 0;
  int closed_events = 0;

 private:
  EventLoop* loop_;
  int fd_;
  size_t want_;
};

TEST(EventLoopTest, EdgeTriggeredWatcherSeesAllBytesAndInitialWritability) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  Reader reader(loop.get(), fds[0], 11);
  IoWatcher watcher;
  ASSERT_TRUE(watcher.Watch(*loop, fds[0], &reader).ok());
  ASSERT_EQ(write(fds[1], "hello world", 11), 11);
  loop->Run();
  EXPECT_EQ(reader.data, "hello world");
  EXPECT_GE(reader.writable_events, 1);
  EXPECT_EQ(reader.closed_events, 0);
  watcher.Stop();
  close(fds[0]);
  close(fds[1]);
}

TEST(EventLoopTest, PeerCloseIsReportedWhereSupported) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  Reader reader(loop.get(), fds[0], 3);
  IoWatcher watcher;
  ASSERT_TRUE(watcher.Watch(*loop, fds[0], &reader).ok());
  ASSERT_TRUE(watcher.reports_peer_close());  // epoll on Linux
  ASSERT_EQ(write(fds[1], "bye", 3), 3);
  shutdown(fds[1], SHUT_WR);
  loop->Run();
  EXPECT_EQ(reader.data, "bye");
  EXPECT_EQ(reader.closed_events, 1);
  watcher.Stop();
  close(fds[0]);
  close(fds[1]);
}

TEST(EventLoopTest, TimerFiresOnceAndRearmReplacesDeadline) {
  auto loop = NewLoop();
  int fired = 0;
  Timer timer;
  ASSERT_TRUE(timer.Init(*loop, [&] { ++fired; }).ok());
  timer.Arm(milliseconds(60000));
  EXPECT_TRUE(timer.armed());
  timer.Arm(milliseconds(1));
  loop->Run();  // returns when nothing is left: the timer fired once and is not persistent
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(timer.armed());
  timer.Arm(milliseconds(1));
  timer.Cancel();
  loop->Run();
  EXPECT_EQ(fired, 1);
}

// The timer keeps its own armed flag (so that cancelling an idle timer skips libevent): it must
// follow firing, re-arming from the callback, cancelling and destruction.
TEST(EventLoopTest, TimerArmedStateFollowsFiringRearmAndDestruction) {
  auto loop = NewLoop();
  int fired = 0;
  bool armed_in_callback = true;
  Timer timer;
  ASSERT_TRUE(timer
                  .Init(*loop,
                        [&] {
                          armed_in_callback = timer.armed();
                          if (++fired == 1) timer.Arm(milliseconds(1));  // once more
                        })
                  .ok());
  EXPECT_FALSE(timer.armed());
  timer.Cancel();  // idle: nothing to do
  timer.Arm(milliseconds(1));
  loop->Run();
  EXPECT_EQ(fired, 2);
  EXPECT_FALSE(armed_in_callback);
  EXPECT_FALSE(timer.armed());
  timer.Cancel();  // after firing: nothing to do
  // Re-initialising an armed timer disarms it first.
  timer.Arm(milliseconds(60000));
  ASSERT_TRUE(timer.Init(*loop, [&] { fired += 100; }).ok());
  EXPECT_FALSE(timer.armed());
  loop->Run();  // nothing pending: returns at once
  EXPECT_EQ(fired, 2);
  // A timer destroyed while armed leaves nothing behind in the loop.
  {
    Timer doomed;
    ASSERT_TRUE(doomed.Init(*loop, [&] { fired += 1000; }).ok());
    doomed.Arm(milliseconds(1));
  }
  loop->Run();
  EXPECT_EQ(fired, 2);
}

// Two socketpairs whose read ends are both readable before the loop first waits, so that one
// iteration runs both callbacks. Each callback drains its socket and calls on_read('a' or 'b').
class TwoReadySockets {
 public:
  TwoReadySockets(EventLoop& loop, std::function<void(char)> on_read) : on_read_(on_read) {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a_), 0);
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b_), 0);
    Write('a');
    Write('b');
    da_ = {this, 'a', a_[0]};
    db_ = {this, 'b', b_[0]};
    EXPECT_TRUE(wa_.Watch(loop, a_[0], &da_).ok());
    EXPECT_TRUE(wb_.Watch(loop, b_[0], &db_).ok());
  }
  ~TwoReadySockets() {
    wa_.Stop();
    wb_.Stop();
    for (int fd : {a_[0], a_[1], b_[0], b_[1]}) close(fd);
  }
  // Makes socket `name` readable again.
  void Write(char name) { EXPECT_EQ(write(name == 'a' ? a_[1] : b_[1], "x", 1), 1); }

 private:
  struct Drainer : IoHandler {
    Drainer() = default;
    Drainer(TwoReadySockets* owner, char name, int fd) : owner(owner), name(name), fd(fd) {}
    void OnIo(bool readable, bool, bool) override {
      if (!readable) return;
      char buf[16];
      while (read(fd, buf, sizeof(buf)) > 0) {
      }
      owner->on_read_(name);
    }
    TwoReadySockets* owner = nullptr;
    char name = 0;
    int fd = -1;
  };
  std::function<void(char)> on_read_;
  int a_[2] = {-1, -1}, b_[2] = {-1, -1};
  Drainer da_, db_;
  IoWatcher wa_, wb_;
};

// The after-callbacks hook runs once per iteration, after every callback that iteration ran:
// what two ready sockets' callbacks queue is seen together. Stop() from the hook ends Run().
TEST(EventLoopTest, AfterCallbacksRunsOncePerIterationAfterItsCallbacks) {
  auto loop = NewLoop();
  std::string trace;
  TwoReadySockets sockets(*loop, [&](char name) { trace.push_back(name); });
  int hooks = 0;
  loop->SetAfterCallbacks([&] {
    trace.push_back('|');
    if (++hooks == 1) {
      sockets.Write('a');  // seen by the next iteration
    } else {
      loop->Stop();
    }
  });
  loop->Run();
  EXPECT_EQ(hooks, 2);
  // The first iteration may report the two sockets in either order, plus their first
  // writable edges (no read: nothing recorded).
  ASSERT_EQ(trace.size(), 5u) << trace;
  EXPECT_EQ(trace.substr(2), "|a|");
  EXPECT_TRUE(trace.substr(0, 2) == "ab" || trace.substr(0, 2) == "ba") << trace;
}

// Now() is read once per iteration while Run() has an after-callbacks hook: the callbacks of
// one iteration and its hook share a reading; the next iteration reads the clock again.
TEST(EventLoopTest, NowIsReadOncePerIteration) {
  auto loop = NewLoop();
  const absl::Time before = loop->Now();  // outside Run(): the clock itself
  std::vector<absl::Time> seen;
  TwoReadySockets sockets(*loop, [&](char) {
    seen.push_back(loop->Now());
    std::this_thread::sleep_for(milliseconds(2));  // the clock moves on meanwhile
  });
  int hooks = 0;
  loop->SetAfterCallbacks([&] {
    seen.push_back(loop->Now());
    if (++hooks == 1) {
      sockets.Write('a');  // one more iteration
    } else {
      loop->Stop();
    }
  });
  loop->Run();
  // Iteration 1: two callbacks and the hook; iteration 2: one callback and the hook.
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_GE(seen[0], before);
  EXPECT_EQ(seen[1], seen[0]);
  EXPECT_EQ(seen[2], seen[0]);
  EXPECT_GT(seen[3], seen[0]);  // read again, after two 2 ms sleeps
  EXPECT_EQ(seen[4], seen[3]);
  EXPECT_GT(loop->Now(), seen[4]);  // outside Run() again: after another 2 ms sleep
}

TEST(EventLoopTest, WakerRunsCallbackOnLoopThread) {
  auto loop = NewLoop();
  std::thread::id ran_on;
  Waker waker;
  ASSERT_TRUE(waker
                  .Init(*loop,
                        [&] {
                          ran_on = std::this_thread::get_id();
                          loop->Stop();
                        })
                  .ok());
  std::thread other([&] { waker.Wake(); });
  loop->Run();
  other.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(EventLoopTest, ReadWatcherCanBeDisabledAndEnabled) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  int calls = 0;
  ReadWatcher watcher;
  ASSERT_TRUE(watcher
                  .Watch(*loop, fds[0],
                         [&] {
                           ++calls;
                           char c;
                           EXPECT_EQ(read(fds[0], &c, 1), 1);
                           loop->Stop();
                         })
                  .ok());
  watcher.Disable();
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  Timer timer;
  ASSERT_TRUE(timer.Init(*loop, [&] { loop->Stop(); }).ok());
  timer.Arm(milliseconds(20));
  loop->Run();  // only the timer can stop it while the watcher is disabled
  EXPECT_EQ(calls, 0);
  watcher.Enable();
  loop->Run();
  EXPECT_EQ(calls, 1);
  watcher.Stop();
  close(fds[0]);
  close(fds[1]);
}

TEST(EventLoopTest, SignalArrivesAsCallback) {
  auto loop = NewLoop();
  int got = 0;
  SignalWatcher sig;
  ASSERT_TRUE(sig.Watch(*loop, SIGUSR1, [&] {
                   ++got;
                   loop->Stop();
                 }).ok());
  ASSERT_EQ(raise(SIGUSR1), 0);
  loop->Run();
  EXPECT_EQ(got, 1);
}

}  // namespace
}  // namespace realip::event
