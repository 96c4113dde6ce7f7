#include "proxy/server/server.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/base/logging.h"
#include "proxy/event/loop.h"
#include "proxy/server/access_log.h"
#include "proxy/server/socket.h"
#include "proxy/server/worker.h"

namespace realip::server {
namespace {

void Emerg(std::string_view message) {
  base::LogLine(base::LogLevel::kEmerg, message);
}

}  // namespace

int RunServer(std::shared_ptr<const config::Config> config, const std::string& conf_path) {
  // A peer closing mid-write must not kill the process; writes use MSG_NOSIGNAL, this covers
  // anything else.
  signal(SIGPIPE, SIG_IGN);
  base::SetLogLevel(config->main.error_log_level);
  if (absl::Status st = base::SetLogFile(config->main.error_log_path); !st.ok()) {
    Emerg(st.message().data());
    return 1;
  }

  absl::StatusOr<std::unique_ptr<event::EventLoop>> main_loop = event::EventLoop::Create();
  if (!main_loop.ok()) {
    Emerg(std::string(main_loop.status().message()));
    return 1;
  }

  // Unix listeners cannot be bound once per worker; they are opened once and shared.
  std::vector<int> shared(config->listeners.size(), -1);
  for (size_t i = 0; i < config->listeners.size(); ++i) {
    if (!config->listeners[i].address.is_unix) continue;
    absl::StatusOr<int> fd = OpenListenSocket(config->listeners[i]);
    if (!fd.ok()) {
      Emerg(std::string(fd.status().message()));
      return 1;
    }
    shared[i] = *fd;
  }

  LogFiles log_files;
  int n = std::max(1, config->main.worker_processes);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < n; ++i) {
    auto worker = std::make_unique<Worker>(i, config, &log_files);
    if (absl::Status st = worker->Init(shared); !st.ok()) {
      Emerg(std::string(st.message()));
      for (int fd : shared) {
        if (fd >= 0) close(fd);
      }
      return 1;
    }
    workers.push_back(std::move(worker));
  }
  if (!config->main.pid_path.empty()) {
    std::ofstream pid(config->main.pid_path, std::ios::trunc);
    pid << getpid() << "\n";
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
  auto stop = [&](bool graceful, const char* why) {
    REALIP_LOG(kNotice, why, " received, ", graceful ? "shutting down gracefully" : "exiting");
    stopping = true;
    for (auto& w : workers) w->RequestStop(graceful);
    exit_check.Arm(std::chrono::milliseconds(0));
  };
  event::SignalWatcher sigterm, sigquit, sigint, sighup, sigusr1;
  if (st.ok()) st = sigterm.Watch(loop, SIGTERM, [&] { stop(true, "signal 15 (SIGTERM)"); });
  if (st.ok()) st = sigquit.Watch(loop, SIGQUIT, [&] { stop(true, "signal 3 (SIGQUIT)"); });
  if (st.ok()) st = sigint.Watch(loop, SIGINT, [&] { stop(false, "signal 2 (SIGINT)"); });
  if (st.ok()) {
    st = sighup.Watch(loop, SIGHUP, [&] {
      absl::StatusOr<std::shared_ptr<const config::Config>> next = config::LoadConfig(conf_path);
      if (!next.ok()) {
        REALIP_LOG(kError, "reload failed, keeping the running configuration: ",
                   next.status().message());
        return;
      }
      REALIP_LOG(kNotice, "reconfiguring from ", conf_path);
      for (auto& w : workers) w->SetConfig(*next);
    });
  }
  if (st.ok()) {
    st = sigusr1.Watch(loop, SIGUSR1, [&log_files] {
      if (absl::Status r = base::ReopenLogFile(); !r.ok()) {
        REALIP_LOG(kError, "reopening the error log: ", r.message());
      }
      log_files.ReopenAll();
    });
  }
  if (!st.ok()) {
    Emerg(std::string(st.message()));
    return 1;
  }

  for (auto& w : workers) w->Start();
  std::string addresses;
  for (const config::Listener& l : config->listeners) absl::StrAppend(&addresses, " ", l.text);
  REALIP_LOG(kNotice, "started ", n, " worker", n == 1 ? "" : "s", ", listening on", addresses);
  while (!stopping || !std::all_of(workers.begin(), workers.end(),
                                   [](const auto& w) { return w->finished(); })) {
    loop.Run();
  }
  for (auto& w : workers) w->Join();
  workers.clear();
  for (int fd : shared) {
    if (fd >= 0) close(fd);
  }
  if (!config->main.pid_path.empty()) unlink(config->main.pid_path.c_str());
  REALIP_LOG(kNotice, "exit");
  return 0;
}

}  // namespace realip::server
