#include "proxy/server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/time/clock.h"
#include "proxy/base/logging.h"

namespace realip::server {
namespace {

void Escape(std::string_view value, config::LogEscape escape, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  if (escape == config::LogEscape::kJson) {
    AppendJsonEscaped(value, false, out);
    return;
  }
  for (unsigned char c : value) {
    switch (escape) {
      case config::LogEscape::kNone:
        out->push_back(static_cast<char>(c));
        break;
      case config::LogEscape::kDefault:
        // ngx_escape_html-like rule of the log module: '"', '\' and non-printable bytes.
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
          out->append("\\x");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
        break;
      case config::LogEscape::kJson:
        break;  // handled above
    }
  }
}

}  // namespace

LogFiles::~LogFiles() {
  for (auto& [path, fd] : files_) {
    if (fd > 2) close(fd);
  }
}

int LogFiles::FdFor(const config::AccessLog& log) {
  if (log.kind == config::AccessLog::Kind::kStdout) return 1;
  if (log.kind == config::AccessLog::Kind::kStderr) return 2;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(log.path);
  if (it != files_.end()) return it->second;
  int fd = open(log.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    REALIP_LOG(kError, "open() \"", log.path, "\" failed (", errno, ": ", std::strerror(errno),
               ")");
  }
  files_[log.path] = fd;
  return fd;
}

void LogFiles::ReopenAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, fd] : files_) {
    if (fd < 0) continue;
    int fresh = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fresh < 0) continue;
    // dup2 keeps the number the workers use; the old file is closed atomically.
    dup2(fresh, fd);
    close(fresh);
  }
}

std::string FormatLogLine(const config::LogFormat& format, const RequestContext& ctx) {
  std::string line;
  std::string value;
  for (const config::Segment& s : format.format.segments) {
    if (!s.variable.has_value()) {
      line.append(s.literal);
      continue;
    }
    value.clear();
    const bool set = AppendVariable(*s.variable, ctx, &value);
    // nginx logs "-" for a value not found, except in escape=json formats; a value found
    // empty ($is_args without arguments) stays empty.
    if (value.empty() && !set && format.escape != config::LogEscape::kJson) {
      line.push_back('-');
    } else {
      Escape(value, format.escape, &line);
    }
  }
  line.push_back('\n');
  return line;
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

void AccessLogWriter::Write(const std::vector<config::AccessLog>& logs, const RequestContext& ctx) {
  for (const config::AccessLog& log : logs) {
    if (log.format == nullptr) continue;
    int fd = files_.FdFor(log);
    if (fd < 0) continue;
    Pending& pending = pending_[fd];
    if (pending.data.empty()) {
      pending.deadline = absl::Now() + log.flush;
      if (log.buffer_size != 0) ArmFor(pending.deadline);
    }
    pending.data.append(FormatLogLine(*log.format, ctx));
    if (pending.data.size() >= log.buffer_size) Flush(fd, pending);
  }
}

void AccessLogWriter::FlushAll() {
  for (auto& [fd, pending] : pending_) Flush(fd, pending);
}

void AccessLogWriter::Flush(int fd, Pending& pending) {
  if (pending.data.empty()) return;
  // One write per flush: whatever the kernel does not take now waits for the next flush.
  ssize_t n = write(fd, pending.data.data(), pending.data.size());
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    // A full disk must not stop the proxy: the lines are dropped, the failure logged once.
    if (!pending.failing) {
      REALIP_LOG(kError, "writing the access log failed (", errno, ": ", std::strerror(errno), ")");
    }
    pending.failing = true;
    pending.data.clear();
    return;
  }
  pending.failing = false;
  pending.data.erase(0, static_cast<size_t>(n));
  if (!pending.data.empty()) {
    // A partial write: the rest goes out on the next tick, never in a loop here.
    pending.deadline = absl::Now() + absl::Milliseconds(100);
    ArmFor(pending.deadline);
  }
}

void AccessLogWriter::OnTimer() {
  timer_deadline_ = absl::InfiniteFuture();
  absl::Time now = absl::Now();
  absl::Time next = absl::InfiniteFuture();
  for (auto& [fd, pending] : pending_) {
    if (pending.data.empty()) continue;
    if (pending.deadline <= now) Flush(fd, pending);
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
