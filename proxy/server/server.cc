#include "proxy/server/server.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proxy/base/logging.h"
#include "proxy/event/loop.h"
#include "proxy/base/build_config.h"
#include "proxy/metrics/metrics.h"
#include "proxy/server/access_log.h"
#include "proxy/server/lifecycle.h"
#include "proxy/server/listeners.h"
#include "proxy/server/observability.h"
#include "proxy/server/worker.h"
#include "proxy/tls/tls.h"

namespace realip::server {
namespace {

void Emerg(std::string_view message) {
  base::LogLine(base::LogLevel::kEmerg, message);
}

// worker_rlimit_nofile: raises the soft limit, and the hard one when it is lower and we may
// (root or CAP_SYS_RESOURCE). Otherwise the soft limit goes as high as the hard one allows.
void ApplyNofileLimit(uint64_t want) {
  if (want == 0) return;
  rlimit current{};
  if (getrlimit(RLIMIT_NOFILE, &current) != 0) return;
  rlimit next{static_cast<rlim_t>(want), std::max(current.rlim_max, static_cast<rlim_t>(want))};
  if (setrlimit(RLIMIT_NOFILE, &next) == 0) return;
  const int err = errno;
  next = {std::min(current.rlim_max, static_cast<rlim_t>(want)), current.rlim_max};
  const bool raised = setrlimit(RLIMIT_NOFILE, &next) == 0;
  REALIP_LOG(kWarn, "setrlimit(RLIMIT_NOFILE, ", want, ") failed (", err, ": ", std::strerror(err),
             "), ", raised ? "using the hard limit " : "keeping ",
             raised ? next.rlim_cur : current.rlim_cur);
}

// The pid file: written before the listeners open, so whoever sees the port accept finds it,
// and removed on every way out of RunServer. A reload does not move it.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {}
  ~PidFile() {
    if (written_) unlink(path_.c_str());
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

  [[nodiscard]] absl::Status Write() {
    if (path_.empty()) return absl::OkStatus();
    std::ofstream pid(path_, std::ios::trunc);
    pid << getpid() << "\n";
    if (!pid.flush()) {
      return absl::UnavailableError(absl::StrCat("open() \"", path_, "\" failed"));
    }
    written_ = true;
    return absl::OkStatus();
  }

 private:
  std::string path_;
  bool written_ = false;
};

}  // namespace

int RunServer(std::shared_ptr<const config::Config> config, const std::string& conf_path) {
  // A peer closing mid-write must not kill the process; writes use MSG_NOSIGNAL, this covers
  // anything else.
  signal(SIGPIPE, SIG_IGN);
  // The listeners accept (into the backlog) before the signal watchers exist; a SIGHUP or
  // SIGTERM in that window would take the default action and kill the process. Held blocked
  // until the watchers are in place, such a signal is delivered to them then.
  sigset_t control;
  sigemptyset(&control);
  for (int signo : {SIGHUP, SIGTERM, SIGQUIT, SIGINT, SIGUSR1}) sigaddset(&control, signo);
  pthread_sigmask(SIG_BLOCK, &control, nullptr);
  // Debian builds Abseil with mutex deadlock detection on; it doubles the cost of the
  // per-worker metric updates (callgrind: ~4500 -> ~2400 instructions per request).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  base::SetLogLevel(config->main.error_log_level);
  if (absl::Status st = base::SetLogFile(config->main.error_log_path); !st.ok()) {
    Emerg(st.message().data());
    return 1;
  }
  ApplyNofileLimit(config->main.worker_rlimit_nofile);
  // The access-log files open before the pid file and the listeners: one that cannot be
  // opened fails the start, as in nginx.
  LogFiles log_files;
  if (absl::StatusOr<std::shared_ptr<const config::Config>> attached = log_files.Attach(config);
      attached.ok()) {
    config = *std::move(attached);
  } else {
    Emerg(std::string(attached.status().message()));
    return 1;
  }

  absl::StatusOr<std::unique_ptr<event::EventLoop>> main_loop = event::EventLoop::Create();
  if (!main_loop.ok()) {
    Emerg(std::string(main_loop.status().message()));
    return 1;
  }

  PidFile pid_file(config->main.pid_path);
  if (absl::Status st = pid_file.Write(); !st.ok()) {
    Emerg(std::string(st.message()));
    return 1;
  }
  int n = std::max(1, config->main.worker_processes);
  ListenerSet listeners(n);
  if (absl::Status st = listeners.Apply(*config); !st.ok()) {
    Emerg(std::string(st.message()));
    return 1;
  }

  // One registry for the process's life: reloads keep the workers, and so their shards.
  metrics::Registry registry(base::kVersion);
  Lifecycle lifecycle;
  lifecycle.AddReopenHook([&log_files] { log_files.ReopenAll(); });
  lifecycle.AddReloadHook([&registry](std::string_view result) {
    registry.Add(metrics::Metric::kConfigReloads, {result});
  });
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < n; ++i) {
    auto worker = std::make_unique<Worker>(i, config, &lifecycle, &registry);
    if (absl::Status st = worker->Init(listeners.ForWorker(i)); !st.ok()) {
      Emerg(std::string(st.message()));
      return 1;
    }
    workers.push_back(std::move(worker));
  }
  event::EventLoop& loop = **main_loop;
  // While workers drain, the main loop keeps running so that a SIGINT can still turn a
  // graceful stop into a fast one; this timer notices when every worker has finished.
  event::Timer exit_check;
  absl::Status st = exit_check.Init(loop, [&] {
    for (auto& w : workers) {
      if (!w->finished()) {
        exit_check.Arm(std::chrono::milliseconds(50));
        return;
      }
    }
    loop.Stop();
  });
  bool stopping = false;
  auto stop = [&](bool graceful) {
    stopping = true;
    for (auto& w : workers) w->RequestStop(graceful);
    // The workers drop their sockets as they stop; the last one out closes each.
    listeners.Clear();
    exit_check.Arm(std::chrono::milliseconds(0));
  };
  // shutdown_delay: readiness already answers 503, listeners still accept; then the drain.
  event::Timer delay;
  if (st.ok()) st = delay.Init(loop, [&] { stop(true); });
  auto graceful = [&](const char* why) {
    if (stopping || !lifecycle.ready()) return;  // already stopping
    lifecycle.BeginShutdown();
    const absl::Duration wait = config->main.shutdown_delay;
    if (wait <= absl::ZeroDuration()) {
      REALIP_LOG(kNotice, why, " received, shutting down gracefully");
      stop(true);
      return;
    }
    REALIP_LOG(kNotice, why, " received, readiness reports 503, shutting down gracefully in ",
               absl::FormatDuration(wait));
    delay.Arm(std::chrono::milliseconds(absl::ToInt64Milliseconds(wait)));
  };
  event::SignalWatcher sigterm, sigquit, sigint, sighup, sigusr1;
  if (st.ok()) st = sigterm.Watch(loop, SIGTERM, [&] { graceful("signal 15 (SIGTERM)"); });
  if (st.ok()) st = sigquit.Watch(loop, SIGQUIT, [&] { graceful("signal 3 (SIGQUIT)"); });
  if (st.ok()) {
    st = sigint.Watch(loop, SIGINT, [&] {
      REALIP_LOG(kNotice, "signal 2 (SIGINT) received, exiting");
      lifecycle.BeginShutdown();
      delay.Cancel();
      stop(false);
    });
  }
  if (st.ok()) {
    st = sighup.Watch(loop, SIGHUP, [&] {
      if (!lifecycle.ready()) {
        REALIP_LOG(kNotice, "signal 1 (SIGHUP) ignored: shutting down");
        return;
      }
      // Certificates and keys are read again: a bad one keeps the running configuration.
      absl::StatusOr<std::shared_ptr<const config::Config>> next =
          tls::LoadConfigWithTls(conf_path, config.get());
      // Zones are checked before any listener changes: a refused reload leaves nothing behind.
      absl::Status applied =
          next.ok() ? config::CheckZonesOnReload(config->access, (*next)->access) : next.status();
      // Access-log files too: a file that cannot be opened refuses the reload. Files the
      // running configuration has open are shared, not reopened.
      if (applied.ok()) {
        next = log_files.Attach(*std::move(next));
        applied = next.status();
      }
      if (applied.ok()) applied = listeners.Apply(**next);
      if (!applied.ok()) {
        REALIP_LOG(kError, "reload failed, keeping the running configuration: ", applied.message());
        lifecycle.ReloadFinished(false);
        return;
      }
      REALIP_LOG(kNotice, "reconfiguring from ", conf_path);
      config = *next;
      ApplyNofileLimit(config->main.worker_rlimit_nofile);
      for (int i = 0; i < n; ++i) workers[i]->SetConfig(config, listeners.ForWorker(i));
      lifecycle.ReloadFinished(true);
      LogListeners(*config);
    });
  }
  if (st.ok()) {
    st = sigusr1.Watch(loop, SIGUSR1, [&lifecycle] {
      if (absl::Status r = base::ReopenLogFile(); !r.ok()) {
        REALIP_LOG(kError, "reopening the error log: ", r.message());
      }
      lifecycle.RunReopenHooks();
    });
  }
  if (!st.ok()) {
    Emerg(std::string(st.message()));
    return 1;
  }

  for (auto& w : workers) w->Start();
  pthread_sigmask(SIG_UNBLOCK, &control, nullptr);
  std::string addresses;
  for (const config::Listener& l : config->listeners) absl::StrAppend(&addresses, " ", l.text);
  REALIP_LOG(kNotice, "started ", n, " worker", n == 1 ? "" : "s", ", listening on", addresses);
  LogListeners(*config);
  while (!stopping || !std::all_of(workers.begin(), workers.end(),
                                   [](const auto& w) { return w->finished(); })) {
    loop.Run();
  }
  for (auto& w : workers) w->Join();
  workers.clear();
  REALIP_LOG(kNotice, "exit");
  return 0;
}

}  // namespace realip::server
