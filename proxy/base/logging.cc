#include "proxy/base/logging.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proxy/base/strings.h"

namespace realip::base {
namespace {

constexpr std::array<std::string_view, 8> kLevelNames = {"emerg", "alert", "crit",   "error",
                                                         "warn",  "notice", "info", "debug"};

std::atomic<int> g_level{static_cast<int>(LogLevel::kNotice)};

struct Sink {
  absl::Mutex mu;
  FILE* file ABSL_GUARDED_BY(mu) = stderr;
  std::string path ABSL_GUARDED_BY(mu) = "stderr";
};

Sink& GetSink() {
  static Sink* sink = new Sink;
  return *sink;
}

absl::StatusOr<FILE*> OpenLog(const std::string& path) {
  if (path == "stderr") return stderr;
  if (path == "stdout") return stdout;
  FILE* f = std::fopen(path.c_str(), "ae");
  if (f == nullptr) {
    const int err = errno;
    return absl::InvalidArgumentError(CallFailedText("open", path, err));
  }
  std::setvbuf(f, nullptr, _IOLBF, 0);
  return f;
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  for (size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) return static_cast<LogLevel>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("invalid log level \"", AsAbsl(name), "\""));
}

std::string_view LogLevelName(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

absl::Status SetLogFile(const std::string& path) {
  auto f = OpenLog(path);
  if (!f.ok()) return f.status();
  Sink& sink = GetSink();
  absl::MutexLock lock(&sink.mu);
  if (sink.file != stderr && sink.file != stdout) std::fclose(sink.file);
  sink.file = *f;
  sink.path = path;
  return absl::OkStatus();
}

absl::Status CheckLogFile(const std::string& path) {
  auto f = OpenLog(path);
  if (!f.ok()) return f.status();
  if (*f != stderr && *f != stdout) std::fclose(*f);
  return absl::OkStatus();
}

absl::Status ReopenLogFile() {
  std::string path;
  {
    Sink& sink = GetSink();
    absl::MutexLock lock(&sink.mu);
    path = sink.path;
  }
  return SetLogFile(path);
}

void LogLine(LogLevel level, std::string_view message) {
  static const absl::TimeZone local = absl::LocalTimeZone();
  std::string line = absl::StrFormat(
      "%s [%s] %d#%u: %s\n", absl::FormatTime("%Y/%m/%d %H:%M:%S", absl::Now(), local),
      AsAbsl(LogLevelName(level)), getpid(),
      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id()) % 100000),
      AsAbsl(message));
  Sink& sink = GetSink();
  absl::MutexLock lock(&sink.mu);
  std::fwrite(line.data(), 1, line.size(), sink.file);
  std::fflush(sink.file);
}

}  // namespace realip::base
