#include "proxy/server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proxy/base/logging.h"
#include "proxy/base/strings.h"

namespace realip::server {
namespace {

// Which bytes Escape() changes, one bit per escape: '"', '\\' and control bytes in both,
// bytes >= 0x7f too in the default one.
constexpr uint8_t kEscapeDefault = 1;
constexpr uint8_t kEscapeJson = 2;
constexpr std::array<uint8_t, 256> kEscapes = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool both = c == '"' || c == '\\' || c < 0x20;
    t[c] =
        static_cast<uint8_t>((both || c >= 0x7f ? kEscapeDefault : 0) | (both ? kEscapeJson : 0));
  }
  return t;
}();

// Appends `value` escaped per `escape` (kDefault or kJson: AppendLogLine writes kNone values
// as they are and calls this only for a value holding a byte to escape).
void Escape(std::string_view value, config::LogEscape escape, std::string* out) {
  if (escape == config::LogEscape::kJson) {
    AppendJsonEscaped(value, false, out);
    return;
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  // The log module's rule (ngx_escape_html-like): '"', '\' and non-printable bytes as \xHH.
  for (unsigned char c : value) {
    if ((kEscapes[c] & kEscapeDefault) != 0) {
      out->append("\\x");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

absl::Status OpenError(const std::string& path, int err) {
  return absl::UnavailableError(base::CallFailedText("open", path, err));
}

}  // namespace

absl::StatusOr<std::shared_ptr<LogFile>> LogFile::Open(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return OpenError(path, errno);
  return std::shared_ptr<LogFile>(new LogFile(path, fd));
}

LogFile::~LogFile() { close(fd_); }

absl::Status LogFile::Reopen() {
  int fresh = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fresh < 0) return OpenError(path_, errno);
  // dup2 keeps the number the workers use; the old file is closed atomically.
  const int done = dup2(fresh, fd_);
  const int err = errno;
  close(fresh);
  if (done < 0) {
    return absl::InternalError(base::CallFailedText("dup2", path_, err));
  }
  return absl::OkStatus();
}

bool LogFileSet::Contains(const LogFile* file) const {
  return std::any_of(files_.begin(), files_.end(),
                     [file](const auto& f) { return f.get() == file; });
}

absl::StatusOr<std::shared_ptr<const config::Config>> LogFiles::Attach(
    std::shared_ptr<const config::Config> config) {
  std::vector<std::shared_ptr<const LogFile>> open;
  open.reserve(config->access_log_files.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(files_, [](const auto& entry) { return entry.second.expired(); });
    for (const config::AccessLogFile& f : config->access_log_files) {
      std::weak_ptr<LogFile>& known = files_[f.path];
      std::shared_ptr<LogFile> file = known.lock();
      if (file == nullptr) {
        absl::StatusOr<std::shared_ptr<LogFile>> opened = LogFile::Open(f.path);
        // Files opened for this configuration so far close with `open` (an unused entry is
        // an expired one, dropped at the next call).
        if (!opened.ok()) {
          return absl::Status(opened.status().code(),
                              absl::StrCat(opened.status().message(), " in ", f.file, ":", f.line));
        }
        file = *std::move(opened);
        known = file;
      }
      open.push_back(std::move(file));
    }
  }
  // A shallow copy, as tls::LoadConfigWithTls makes: the servers and their settings are shared.
  auto attached = std::make_shared<config::Config>(*config);
  attached->log_files = std::make_shared<const LogFileSet>(std::move(open));
  return std::shared_ptr<const config::Config>(std::move(attached));
}

void LogFiles::ReopenAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, known] : files_) {
    // Held while reopening: the last owner cannot close the descriptor under dup2.
    std::shared_ptr<LogFile> file = known.lock();
    if (file == nullptr) continue;
    if (absl::Status st = file->Reopen(); !st.ok()) {
      REALIP_LOG(kError, "reopening the access log: ", st.message());
    }
  }
}

size_t LogFiles::open_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(std::count_if(files_.begin(), files_.end(),
                                           [](const auto& e) { return !e.second.expired(); }));
}

void AppendLogLine(const config::LogFormat& format, const RequestContext& ctx, std::string* out) {
  for (const config::Segment& s : format.format.segments) {
    if (!s.variable.has_value()) {
      out->append(s.literal);
      continue;
    }
    // The value goes straight into the line and is escaped there: most values need nothing.
    const size_t start = out->size();
    const bool set = AppendVariable(*s.variable, ctx, out);
    // nginx logs "-" for a value not found, except in escape=json formats; a value found
    // empty ($is_args without arguments) stays empty.
    if (out->size() == start) {
      if (!set && format.escape != config::LogEscape::kJson) out->push_back('-');
      continue;
    }
    if (format.escape == config::LogEscape::kNone) continue;
    const uint8_t mask = format.escape == config::LogEscape::kJson ? kEscapeJson : kEscapeDefault;
    const char* p = out->data() + start;
    const char* end = out->data() + out->size();
    while (p != end && (kEscapes[static_cast<unsigned char>(*p)] & mask) == 0) ++p;
    if (p == end) continue;
    const size_t i = static_cast<size_t>(p - out->data());
    thread_local std::string rest;
    rest.assign(*out, i);
    out->resize(i);
    Escape(rest, format.escape, out);
  }
  out->push_back('\n');
}

void AppendJsonEscaped(std::string_view value, bool ascii_only, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
      // ngx_escape_json's short forms.
      out->push_back('\\');
      out->push_back(c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f');
    } else if (c < 0x20 || (ascii_only && c >= 0x7f)) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

absl::Status AccessLogWriter::Init(event::EventLoop& loop) {
  return timer_.Init(loop, [this] { OnTimer(); });
}

void AccessLogWriter::Write(const std::vector<config::AccessLog>& logs, const LogFileSet* files,
                            const RequestContext& ctx) {
  for (const config::AccessLog& log : logs) {
    if (log.format == nullptr) continue;
    if (log.has_condition) {
      // access_log if=: nginx logs the request unless the value is empty or "0".
      thread_local std::string value;
      value.clear();
      EvaluateTo(log.condition, ctx, &value);
      if (value.empty() || value == "0") continue;
    }
    const std::shared_ptr<const LogFile>* file = nullptr;
    int fd = 1;
    if (log.kind == config::AccessLog::Kind::kFile) {
      if (files == nullptr) continue;
      file = &files->file(log.file_index);
      fd = (*file)->fd();
    } else if (log.kind == config::AccessLog::Kind::kStderr) {
      fd = 2;
    }
    Pending& pending = PendingFor(fd);
    if (pending.data.empty()) {
      pending.deadline = absl::Now() + log.flush;
      if (log.buffer_size != 0) ArmFor(pending.deadline);
    }
    AppendLogLine(*log.format, ctx, &pending.data);
    if (pending.data.size() >= log.buffer_size) Flush(pending);
    // The configuration keeps the file open during this call; lines left for later keep it
    // open themselves. A reference is taken once per buffer filling, not per line.
    if (file != nullptr && !pending.data.empty() && pending.file == nullptr) pending.file = *file;
  }
}

AccessLogWriter::Pending& AccessLogWriter::PendingFor(int fd) {
  Pending* free = nullptr;
  for (Pending& pending : pending_) {
    if (pending.fd == fd) return pending;
    if (free == nullptr && pending.data.empty()) free = &pending;
  }
  // No buffer has this number: one holding nothing takes it (a file that had the number before
  // and has no lines left may be closed, and its number reused).
  if (free == nullptr) free = &pending_.emplace_back();
  free->fd = fd;
  free->failing = false;
  return *free;
}

void AccessLogWriter::FlushAll() {
  for (Pending& pending : pending_) Flush(pending);
}

void AccessLogWriter::FlushUnnamed(const LogFileSet* current) {
  for (Pending& pending : pending_) {
    if (pending.file == nullptr) continue;
    if (current == nullptr || !current->Contains(pending.file.get())) Flush(pending);
  }
}

void AccessLogWriter::Flush(Pending& pending) {
  if (pending.data.empty()) return;
  // One write per flush: whatever the kernel does not take now waits for the next flush.
  ssize_t n = write(pending.fd, pending.data.data(), pending.data.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    // A full disk must not stop the proxy: the lines are dropped, the failure logged once.
    if (!pending.failing) {
      REALIP_LOG(kError, "writing the access log failed (", errno, ": ", std::strerror(errno), ")");
    }
    pending.failing = true;
    pending.data.clear();
    pending.file.reset();
    return;
  }
  pending.failing = false;
  pending.data.erase(0, static_cast<size_t>(n));
  if (pending.data.empty()) {
    // May close the file: the last configuration naming it is gone.
    pending.file.reset();
  } else {
    // A partial write: the rest goes out on the next tick, never in a loop here.
    pending.deadline = absl::Now() + absl::Milliseconds(100);
    ArmFor(pending.deadline);
  }
}

void AccessLogWriter::OnTimer() {
  timer_deadline_ = absl::InfiniteFuture();
  absl::Time now = absl::Now();
  absl::Time next = absl::InfiniteFuture();
  for (Pending& pending : pending_) {
    if (pending.data.empty()) continue;
    if (pending.deadline <= now) Flush(pending);
    if (!pending.data.empty()) next = std::min(next, pending.deadline);
  }
  if (next != absl::InfiniteFuture()) ArmFor(next);
}

void AccessLogWriter::ArmFor(absl::Time deadline) {
  if (timer_.armed() && timer_deadline_ <= deadline) return;
  timer_deadline_ = deadline;
  absl::Duration delay = std::max(deadline - absl::Now(), absl::ZeroDuration());
  // Round up: a timer that fires a moment early would find nothing due and re-arm for ~0 ms.
  timer_.Arm(std::chrono::milliseconds(absl::ToInt64Milliseconds(delay) + 1));
}

}  // namespace realip::server
