// RAII wrappers over libevent: one EventLoop per thread, edge-triggered socket watchers,
// timers, cross-thread wakeups and signals. The only folder that includes <event2/...>.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

struct event_base;
struct event;

namespace realip::event {

// Room for a libevent `struct event` inside the objects below (checked in loop.cc): a watcher
// or timer embeds its event instead of allocating one, so a connection's watcher and timer
// live in the connection's own memory.
inline constexpr size_t kEventStorage = 128;
inline constexpr size_t kEventAlignment = alignof(void*);

// Owns an event_base. Not thread-safe: use it from the thread that runs it, except through a
// Waker.
class EventLoop {
 public:
  // Creates a loop backed by epoll (or the best method libevent finds).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Dispatches events until Stop() is called or nothing is left to watch.
  void Run();
  // Makes Run() return after the callbacks of the current iteration (and the after-callbacks
  // hook). Loop thread only.
  void Stop();
  // Runs once after the callbacks of each iteration, before the loop waits for events again.
  // The worker sends there the writes its callbacks queued: one wakeup of a peer then carries
  // every message the iteration produced for it. Set before Run().
  void SetAfterCallbacks(std::function<void()> fn) { after_callbacks_ = std::move(fn); }

  // The wall-clock time, read once per loop iteration: the first call in an iteration reads
  // the clock and later calls in the same iteration (its callbacks and the after-callbacks
  // hook) get that reading, as nginx's cached time does for $request_time. Without an
  // after-callbacks hook, or outside Run(), every call reads the clock.
  absl::Time Now() {
    if (!caching_now_) return absl::Now();
    if (!now_valid_) {
      now_ = absl::Now();
      now_valid_ = true;
    }
    return now_;
  }

  // The steady clock in milliseconds, read once per loop iteration as Now() is: for deadlines
  // and ages (client timeouts, idle upstream connections, limit_req), as nginx's
  // ngx_current_msec.
  int64_t SteadyMs() {
    if (!caching_now_) return ReadSteadyMs();
    if (!steady_valid_) {
      steady_ms_ = ReadSteadyMs();
      steady_valid_ = true;
    }
    return steady_ms_;
  }

  event_base* base() const { return base_; }

 private:
  static int64_t ReadSteadyMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  explicit EventLoop(event_base* base) : base_(base) {}
  event_base* base_;
  std::function<void()> after_callbacks_;
  bool stop_ = false;
  bool caching_now_ = false;
  bool now_valid_ = false;
  bool steady_valid_ = false;
  absl::Time now_;
  int64_t steady_ms_ = 0;
};

// Receives readiness of a socket registered with IoWatcher. `peer_closed` reports that the
// peer closed or half-closed the connection (EPOLLRDHUP), which lets a reader stop after a
// short read without missing the end of the stream.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void OnIo(bool readable, bool writable, bool peer_closed) = 0;
};

// Watches one fd for read and write readiness, edge-triggered and persistent: registered once
// (EV_READ|EV_WRITE|EV_ET|EV_PERSIST, plus EV_CLOSED where the backend supports it), so the
// owner reads until EAGAIN (or a short read, see reports_peer_close()) and writes until the
// kernel buffer is full, and never re-arms.
class IoWatcher {
 public:
  IoWatcher() = default;
  ~IoWatcher();
  IoWatcher(const IoWatcher&) = delete;
  IoWatcher& operator=(const IoWatcher&) = delete;

  // Starts watching `fd` (not owned). A watcher watches at most one fd at a time.
  [[nodiscard]] absl::Status Watch(EventLoop& loop, int fd, IoHandler* handler);
  // Stops watching; safe to call when not watching.
  void Stop();
  bool watching() const { return assigned_; }
  // True when a peer's close is reported as an event of its own (epoll's EPOLLRDHUP). Then a
  // read shorter than the buffer means the socket is drained, and the EAGAIN read can be
  // skipped: new data or a close produces a new edge.
  bool reports_peer_close() const { return reports_close_; }

 private:
  static void Callback(int fd, short what, void* arg);
  ::event* ev() { return reinterpret_cast<::event*>(storage_); }
  alignas(kEventAlignment) unsigned char storage_[kEventStorage];
  bool assigned_ = false;
  bool reports_close_ = false;
};

// A level-triggered read watcher, for listening sockets (accept until EAGAIN is not needed to
// stay correct) and for pausing: Enable()/Disable() toggle it without reallocating.
class ReadWatcher {
 public:
  ReadWatcher() = default;
  ~ReadWatcher();
  ReadWatcher(const ReadWatcher&) = delete;
  ReadWatcher& operator=(const ReadWatcher&) = delete;

  [[nodiscard]] absl::Status Watch(EventLoop& loop, int fd, std::function<void()> on_readable);
  void Enable();
  void Disable();
  void Stop();

 private:
  static void Callback(int fd, short what, void* arg);
  ::event* ev_ = nullptr;
  bool enabled_ = false;
  std::function<void()> on_readable_;
};

// A one-shot timer; arming it again replaces the previous deadline.
class Timer {
 public:
  Timer() = default;
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Binds the timer to a loop and a callback; must precede Arm().
  [[nodiscard]] absl::Status Init(EventLoop& loop, std::function<void()> on_fire);
  void Arm(std::chrono::milliseconds delay);
  void Cancel();
  bool armed() const { return armed_; }

 private:
  static void Callback(int fd, short what, void* arg);
  ::event* ev() { return reinterpret_cast<::event*>(storage_); }
  const ::event* ev() const { return reinterpret_cast<const ::event*>(storage_); }
  alignas(kEventAlignment) unsigned char storage_[kEventStorage];
  bool assigned_ = false;
  // Pending in libevent: set by Arm(), cleared by Cancel() and before the callback runs. Most
  // Cancel() calls find the timer idle (several per request); this spares them libevent's
  // event_del, about 90 instructions each.
  bool armed_ = false;
  std::function<void()> on_fire_;
};

// Runs a callback on the loop's thread when any thread calls Wake() (eventfd based).
class Waker {
 public:
  Waker() = default;
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  [[nodiscard]] absl::Status Init(EventLoop& loop, std::function<void()> on_wake);
  // Thread-safe and async-signal-safe. Several Wake() calls may coalesce into one callback.
  void Wake();

 private:
  static void Callback(int fd, short what, void* arg);
  int fd_ = -1;
  ::event* ev_ = nullptr;
  std::function<void()> on_wake_;
};

// Delivers a Unix signal to a callback on the loop's thread (libevent's self-pipe).
class SignalWatcher {
 public:
  SignalWatcher() = default;
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  [[nodiscard]] absl::Status Watch(EventLoop& loop, int signo, std::function<void()> on_signal);

 private:
  static void Callback(int fd, short what, void* arg);
  ::event* ev_ = nullptr;
  std::function<void()> on_signal_;
};

}  // namespace realip::event
