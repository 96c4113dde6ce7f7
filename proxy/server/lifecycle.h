// Process-wide lifecycle state shared by the main thread and the workers, and the hooks other
// parts of the server attach to the signals the main thread handles.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace realip::server {

class Lifecycle {
 public:
  // What the `readiness` handler reports: true until a graceful stop begins. Any thread.
  bool ready() const { return !shutting_down_.load(std::memory_order_relaxed); }
  // Main thread: `readiness` answers 503 from now on.
  void BeginShutdown() { shutting_down_.store(true, std::memory_order_relaxed); }

  // Main thread: `hook` runs on every SIGUSR1, after the error log was reopened, in
  // registration order. Anything that keeps a log file open registers here.
  void AddReopenHook(std::function<void()> hook);
  void RunReopenHooks() const;

  // Main thread: `hook` runs after every SIGHUP with "success" or "failure", the label value of
  // realip_config_reloads_total{result}.
  void AddReloadHook(std::function<void(std::string_view result)> hook);
  // Main thread: counts a reload and runs the reload hooks.
  void ReloadFinished(bool ok);
  // Reloads counted so far with the given outcome.
  uint64_t reloads(bool ok) const { return ok ? reloads_ok_ : reloads_failed_; }

 private:
  std::atomic<bool> shutting_down_{false};
  std::vector<std::function<void()>> reopen_hooks_;
  std::vector<std::function<void(std::string_view)>> reload_hooks_;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
};

}  // namespace realip::server
