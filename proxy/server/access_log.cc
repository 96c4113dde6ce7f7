#include "proxy/server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "proxy/base/logging.h"

namespace realip::server {
namespace {

void Escape(std::string_view value, config::LogEscape escape, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
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
        if (c == '"' || c == '\\') {
          out->push_back('\\');
          out->push_back(static_cast<char>(c));
        } else if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
        break;
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
    AppendVariable(*s.variable, ctx, &value);
    // nginx logs "-" for an empty value, except in escape=json formats.
    if (value.empty() && format.escape != config::LogEscape::kJson) {
      line.push_back('-');
    } else {
      Escape(value, format.escape, &line);
    }
  }
  line.push_back('\n');
  return line;
}

void WriteAccessLogs(const std::vector<config::AccessLog>& logs, const RequestContext& ctx,
                     LogFiles& files) {
  for (const config::AccessLog& log : logs) {
    if (log.format == nullptr) continue;
    int fd = files.FdFor(log);
    if (fd < 0) continue;
    std::string line = FormatLogLine(*log.format, ctx);
    ssize_t n = write(fd, line.data(), line.size());
    (void)n;  // a full disk must not stop the proxy; nothing better to do with the error
  }
}

}  // namespace realip::server
