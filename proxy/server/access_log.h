// Access logs: one line per request, in the configured log_format, to files, stdout or
// stderr. Files are opened once per process and shared by the workers (O_APPEND); each worker
// buffers whole lines and writes them with one write(), so lines never interleave.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proxy/config/config.h"
#include "proxy/event/loop.h"
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

// Appends one access-log line (with the trailing newline) for `format` to *out: literal text
// as is, variable values escaped per the format's `escape` (default: bytes outside printable
// ASCII, '"' and '\' as \xHH, as nginx does; json: JSON string escapes; none: raw).
void AppendLogLine(const config::LogFormat& format, const RequestContext& ctx, std::string* out);

// Appends `value` to *out as the inside of a JSON string: '"', '\\' and control bytes escaped
// (nginx's escape=json). With `ascii_only`, bytes >= 0x7f become \u00XX too, so that output
// stays valid JSON whatever bytes a client sent.
void AppendJsonEscaped(std::string_view value, bool ascii_only, std::string* out);

// One worker's access-log output. Lines wait in a buffer per destination and leave with one
// write() when the buffer reaches the log's buffer size, when its oldest line is `flush` old,
// and at FlushAll() (worker exit): a slow disk costs the event loop one write per flush, not
// one per request. Worker thread only.
class AccessLogWriter {
 public:
  explicit AccessLogWriter(LogFiles& files) : files_(files) {}
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // Binds the flush timer to the worker's loop.
  [[nodiscard]] absl::Status Init(event::EventLoop& loop);
  // Queues (or writes, for an unbuffered log) the request's line for each of `logs`.
  void Write(const std::vector<config::AccessLog>& logs, const RequestContext& ctx);
  // Writes everything buffered.
  void FlushAll();

 private:
  struct Pending {
    int fd = -1;
    std::string data;
    absl::Time deadline = absl::InfiniteFuture();  // when the oldest line must be written
    bool failing = false;                          // the last write failed (logged once)
  };
  // The file's fd, without LogFiles' lock and lookup when the path is the last one asked for
  // (the fd of a path never changes: reopening keeps the number).
  int FdFor(const config::AccessLog& log);
  Pending& PendingFor(int fd);
  void Flush(Pending& pending);
  void OnTimer();
  void ArmFor(absl::Time deadline);

  LogFiles& files_;
  std::string last_path_;
  int last_fd_ = -1;
  bool have_last_ = false;
  // One per destination fd; a worker writes to a handful at most.
  std::vector<Pending> pending_;
  event::Timer timer_;
  absl::Time timer_deadline_ = absl::InfiniteFuture();
};

}  // namespace realip::server
