// Process-wide leveled logging in nginx's error_log format:
//   2026/11/26 07:40:00 [warn] 123#7: message
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace realip::base {

// nginx's error_log levels, most severe first.
enum class LogLevel { kEmerg, kAlert, kCrit, kError, kWarn, kNotice, kInfo, kDebug };

// Parses an nginx level name ("warn", "error", ...).
[[nodiscard]] absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

// Messages less severe than `level` are dropped. Thread-safe.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Sends messages to `path` ("stderr" for standard error). Reopening the same path after a
// rotation is done with ReopenLogFile(). Returns an error if the file cannot be opened; the
// previous destination stays in effect then.
[[nodiscard]] absl::Status SetLogFile(const std::string& path);
[[nodiscard]] absl::Status ReopenLogFile();
// Opens `path` as SetLogFile would (created when missing) and closes it again, changing
// nothing else: what `-t` checks, as nginx -t opens its error log. Error as SetLogFile's:
// `open() "PATH" failed (ERRNO: TEXT)`.
[[nodiscard]] absl::Status CheckLogFile(const std::string& path);

// Writes one line. Prefer the REALIP_LOG macro, which skips formatting for disabled levels.
void LogLine(LogLevel level, std::string_view message);

}  // namespace realip::base

// REALIP_LOG(kWarn, "upstream \"", name, "\": ", status) -- arguments are absl::StrCat'ed.
#define REALIP_LOG(level, ...)                                                 \
  do {                                                                         \
    if (::realip::base::LogEnabled(::realip::base::LogLevel::level)) {         \
      ::realip::base::LogLine(::realip::base::LogLevel::level,                 \
                              ::absl::StrCat(__VA_ARGS__));                    \
    }                                                                          \
  } while (false)
