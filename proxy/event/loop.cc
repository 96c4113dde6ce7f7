#include "proxy/event/loop.h"

#include <event2/event.h>
#include <event2/event_struct.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace realip::event {
namespace {

timeval ToTimeval(std::chrono::milliseconds d) {
  if (d.count() < 0) d = std::chrono::milliseconds(0);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

void FreeEvent(::event*& ev) {
  if (ev != nullptr) {
    event_free(ev);
    ev = nullptr;
  }
}

}  // namespace

static_assert(sizeof(::event) <= kEventStorage, "kEventStorage is too small for struct event");
static_assert(alignof(::event) <= kEventAlignment, "kEventAlignment is too small for struct event");

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  event_config* cfg = event_config_new();
  if (cfg == nullptr) return absl::ResourceExhaustedError("event loop: out of memory");
  // Each loop belongs to one thread; libevent's internal locking would only cost.
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  event_base* base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base == nullptr) return absl::InternalError("event loop: event_base_new failed");
  return std::unique_ptr<EventLoop>(new EventLoop(base));
}

EventLoop::~EventLoop() { event_base_free(base_); }

void EventLoop::Run() {
  stop_ = false;
  if (!after_callbacks_) {
    event_base_dispatch(base_);
    return;
  }
  caching_now_ = true;
  while (true) {
    now_valid_ = steady_valid_ = false;  // fresh clock readings each iteration, on first use
    // One iteration: wait, then run every callback that became active (EVLOOP_ONCE goes on
    // while callbacks activate others). 1: nothing left to watch; -1: the backend failed.
    int rc = event_base_loop(base_, EVLOOP_ONCE);
    after_callbacks_();
    // event_base_loop clears libevent's break flag when it starts, so a Stop() from the hook
    // is only seen here.
    if (rc != 0 || stop_) break;
  }
  caching_now_ = false;
}

void EventLoop::Stop() {
  stop_ = true;
  event_base_loopbreak(base_);
}

IoWatcher::~IoWatcher() { Stop(); }

absl::Status IoWatcher::Watch(EventLoop& loop, int fd, IoHandler* handler) {
  Stop();
  reports_close_ = (event_base_get_features(loop.base()) & EV_FEATURE_EARLY_CLOSE) != 0;
  short what = EV_READ | EV_WRITE | EV_ET | EV_PERSIST;
  if (reports_close_) what |= EV_CLOSED;
  // The handler is the callback's argument: the watcher keeps no pointer of its own.
  if (event_assign(ev(), loop.base(), fd, what, &IoWatcher::Callback, handler) != 0) {
    return absl::InternalError("event_assign failed");
  }
  if (event_add(ev(), nullptr) != 0) return absl::InternalError("event_add failed");
  assigned_ = true;
  return absl::OkStatus();
}

void IoWatcher::Stop() {
  if (!assigned_) return;
  event_del(ev());
  assigned_ = false;
}

void IoWatcher::Callback(int, short what, void* arg) {
  static_cast<IoHandler*>(arg)->OnIo((what & EV_READ) != 0, (what & EV_WRITE) != 0,
                                     (what & EV_CLOSED) != 0);
}

ReadWatcher::~ReadWatcher() { Stop(); }

absl::Status ReadWatcher::Watch(EventLoop& loop, int fd, std::function<void()> on_readable) {
  Stop();
  on_readable_ = std::move(on_readable);
  ev_ = event_new(loop.base(), fd, EV_READ | EV_PERSIST, &ReadWatcher::Callback, this);
  if (ev_ == nullptr) return absl::ResourceExhaustedError("event_new failed");
  Enable();
  return absl::OkStatus();
}

void ReadWatcher::Enable() {
  if (ev_ != nullptr && !enabled_ && event_add(ev_, nullptr) == 0) enabled_ = true;
}

void ReadWatcher::Disable() {
  if (ev_ != nullptr && enabled_) {
    event_del(ev_);
    enabled_ = false;
  }
}

void ReadWatcher::Stop() {
  FreeEvent(ev_);
  enabled_ = false;
}

void ReadWatcher::Callback(int, short, void* arg) { static_cast<ReadWatcher*>(arg)->on_readable_(); }

Timer::~Timer() {
  if (armed_) event_del(ev());
}

absl::Status Timer::Init(EventLoop& loop, std::function<void()> on_fire) {
  Cancel();
  on_fire_ = std::move(on_fire);
  if (evtimer_assign(ev(), loop.base(), &Timer::Callback, this) != 0) {
    assigned_ = false;
    return absl::InternalError("evtimer_assign failed");
  }
  assigned_ = true;
  return absl::OkStatus();
}

void Timer::Arm(std::chrono::milliseconds delay) {
  timeval tv = ToTimeval(delay);
  // On failure an armed timer stays armed (libevent keeps the earlier deadline).
  if (evtimer_add(ev(), &tv) == 0) armed_ = true;
}

void Timer::Cancel() {
  if (!armed_) return;
  evtimer_del(ev());
  armed_ = false;
}

void Timer::Callback(int, short, void* arg) {
  Timer* timer = static_cast<Timer*>(arg);
  timer->armed_ = false;  // a timer event is not persistent: libevent no longer holds it
  timer->on_fire_();
}

Waker::~Waker() {
  FreeEvent(ev_);
  if (fd_ >= 0) close(fd_);
}

absl::Status Waker::Init(EventLoop& loop, std::function<void()> on_wake) {
  on_wake_ = std::move(on_wake);
  fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  ev_ = event_new(loop.base(), fd_, EV_READ | EV_PERSIST, &Waker::Callback, this);
  if (ev_ == nullptr || event_add(ev_, nullptr) != 0) {
    return absl::InternalError("waker: event_add failed");
  }
  return absl::OkStatus();
}

void Waker::Wake() {
  uint64_t one = 1;
  // A full counter (EAGAIN) still leaves the fd readable, so the wakeup is not lost.
  ssize_t n = write(fd_, &one, sizeof(one));
  (void)n;
}

void Waker::Callback(int fd, short, void* arg) {
  uint64_t value;
  while (read(fd, &value, sizeof(value)) > 0) {
  }
  static_cast<Waker*>(arg)->on_wake_();
}

SignalWatcher::~SignalWatcher() { FreeEvent(ev_); }

absl::Status SignalWatcher::Watch(EventLoop& loop, int signo, std::function<void()> on_signal) {
  on_signal_ = std::move(on_signal);
  ev_ = evsignal_new(loop.base(), signo, &SignalWatcher::Callback, this);
  if (ev_ == nullptr || event_add(ev_, nullptr) != 0) {
    return absl::InternalError(absl::StrCat("signal ", signo, ": event_add failed"));
  }
  return absl::OkStatus();
}

void SignalWatcher::Callback(int, short, void* arg) {
  static_cast<SignalWatcher*>(arg)->on_signal_();
}

}  // namespace realip::event
