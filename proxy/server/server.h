// The process-level engine: worker threads serving the configuration, signals on the main
// thread.
#pragma once

#include <memory>
#include <string>

#include "proxy/config/config.h"

namespace realip::server {

// Applies the main settings (error_log, rlimit, pid file), starts `worker_processes` workers on
// the configuration's listeners and blocks until shutdown. SIGTERM/SIGQUIT stop gracefully
// (readiness 503, shutdown_delay, then in-flight requests finish within
// worker_shutdown_timeout), SIGINT stops at once, SIGHUP reloads `conf_path` (listeners
// included) for new connections, SIGUSR1 reopens log files. Returns the exit code: 0 after a
// requested stop, 1 when startup failed (the reason is logged). docs/operations.md.
int RunServer(std::shared_ptr<const config::Config> config, const std::string& conf_path);

}  // namespace realip::server
