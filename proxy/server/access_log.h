// Access logs: one line per request, in the configured log_format, to files, stdout or
// stderr. A file is opened when a configuration naming it is loaded, shared by the workers
// (O_APPEND) and by later configurations naming it, and closed once no configuration names it
// and no worker holds lines for it. Each worker buffers whole lines and writes them with one
// write(), so lines never interleave.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/config/config.h"
#include "proxy/event/loop.h"
#include "proxy/server/request_context.h"

namespace realip::server {

// One open access-log file. Its descriptor is closed with the object, which lives while a
// configuration names the file (through its LogFileSet) or a worker holds lines for it
// (AccessLogWriter): a number that is still to be written to is never reused for another file.
class LogFile {
 public:
  // Opens `path` as nginx does (O_WRONLY|O_APPEND|O_CREAT, 0644; here also O_CLOEXEC).
  // Error: `open() "PATH" failed (ERRNO: TEXT)`.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<LogFile>> Open(const std::string& path);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  int fd() const { return fd_; }
  // Opens the path again and puts the fresh file under the same descriptor number (dup2), so
  // that writers keep using it (log rotation). On error the old file stays.
  [[nodiscard]] absl::Status Reopen();

 private:
  LogFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;
};

// The open access-log files of one configuration, indexed like its access_log_files
// (config::AccessLog::file_index). Immutable.
class LogFileSet {
 public:
  explicit LogFileSet(std::vector<std::shared_ptr<const LogFile>> files)
      : files_(std::move(files)) {}

  const std::shared_ptr<const LogFile>& file(size_t index) const { return files_[index]; }
  size_t size() const { return files_.size(); }
  bool Contains(const LogFile* file) const;

 private:
  std::vector<std::shared_ptr<const LogFile>> files_;
};

// Every access-log file open in the process, whoever keeps it open: the files are owned by
// the configurations and the workers' buffers; this only finds them again. Thread-safe.
class LogFiles {
 public:
  LogFiles() = default;
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;

  // `config` with its access-log files open: a shallow copy whose log_files holds, for each of
  // its access_log_files, the file already open under that path if any (same object, same
  // descriptor), else a newly opened one. Error: the first file that cannot be opened, as
  // `open() "PATH" failed (ERRNO: TEXT) in FILE:LINE` (the first access_log naming it).
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const config::Config>> Attach(
      std::shared_ptr<const config::Config> config);
  // Reopens every file still open in place (log rotation, SIGUSR1): descriptor numbers stay.
  void ReopenAll();
  // How many files are open now.
  size_t open_count();

 private:
  std::mutex mu_;
  // By path; an expired entry is a file closed since (dropped at the next Attach).
  std::map<std::string, std::weak_ptr<LogFile>> files_;  // guarded by mu_
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
  AccessLogWriter() = default;
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // Binds the flush timer to the worker's loop.
  [[nodiscard]] absl::Status Init(event::EventLoop& loop);
  // Queues (or writes, for an unbuffered log) the request's line for each of `logs`, whose
  // files are `files` (the configuration's log_files; null: file logs are skipped).
  void Write(const std::vector<config::AccessLog>& logs, const LogFileSet* files,
             const RequestContext& ctx);
  // Writes everything buffered.
  void FlushAll();
  // Writes what is buffered for files that `current` (the worker's configuration's
  // log_files) does not hold: their lines can only come from connections on older
  // configurations, and the file closes once they are written and those are gone.
  void FlushUnnamed(const LogFileSet* current);

 private:
  // At most one per descriptor number. While `data` is not empty and the destination is a
  // file, `file` keeps that file (so the number) open; an empty one is free for any number.
  struct Pending {
    int fd = -1;
    std::shared_ptr<const LogFile> file;
    std::string data;
    absl::Time deadline = absl::InfiniteFuture();  // when the oldest line must be written
    bool failing = false;                          // the last write failed (logged once)
  };
  Pending& PendingFor(int fd);
  void Flush(Pending& pending);
  void OnTimer();
  void ArmFor(absl::Time deadline);

  // A worker writes to a handful of destinations at most.
  std::vector<Pending> pending_;
  event::Timer timer_;
  absl::Time timer_deadline_ = absl::InfiniteFuture();
};

}  // namespace realip::server
