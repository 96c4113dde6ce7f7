// Access logs: one line per request, in the configured log_format, to files, stdout or
// stderr. Files are opened once per process and shared by the workers (O_APPEND, one write()
// per line, so lines from several workers never interleave).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "proxy/config/config.h"
#include "proxy/server/request_context.h"

namespace realip::server {

// The process-wide set of open access-log files. Thread-safe.
class LogFiles {
 public:
  LogFiles() = default;
  ~LogFiles();
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;

  // The fd for `log` (1 or 2 for stdout/stderr), opening a file on first use; -1 if it cannot
  // be opened (reported once at error level).
  int FdFor(const config::AccessLog& log);
  // Reopens every file in place (log rotation, SIGUSR1): the fd numbers stay valid.
  void ReopenAll();

 private:
  std::mutex mu_;
  std::map<std::string, int> files_;  // guarded by mu_
};

// Formats one access-log line (with the trailing newline) for `format`: literal text as is,
// variable values escaped per the format's `escape` (default: bytes outside printable ASCII,
// '"' and '\' as \xHH, as nginx does; json: JSON string escapes; none: raw).
std::string FormatLogLine(const config::LogFormat& format, const RequestContext& ctx);

// Writes the request's line to each of `logs`.
void WriteAccessLogs(const std::vector<config::AccessLog>& logs, const RequestContext& ctx,
                     LogFiles& files);

}  // namespace realip::server
