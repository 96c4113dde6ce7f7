// Times as text, formatted once per second per thread rather than per use: the Date header
// field's value (RFC 9110 section 5.6.7, IMF-fixdate) and the access log's $time_local and
// $time_iso8601. Sans-I/O: the caller passes the time. All in UTC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace realip::http {

// "Sun, 06 Nov 1994 08:49:37 GMT": always this many characters.
inline constexpr size_t kHttpDateSize = 29;
// "06/Nov/1994:08:49:37 +0000" ($time_local, nginx's log time): always this many characters.
inline constexpr size_t kLogTimeSize = 26;
// "1994-11-06T08:49:37+00:00" ($time_iso8601): always this many characters.
inline constexpr size_t kIso8601Size = 25;

// Each writes the time of `unix_seconds` (UTC) into `out`, which has the format's size in bytes
// (no NUL). Times before 1970 or after 9999-12-31T23:59:59 are clamped to those bounds, where
// the four-digit year of the formats ends.
void FormatHttpDate(int64_t unix_seconds, char* out);
void FormatLogTime(int64_t unix_seconds, char* out);
void FormatIso8601(int64_t unix_seconds, char* out);

// The last second's text in one format. A worker thread keeps one per format and asks it on
// every use: the text is written again only when the second differs from the previous call's,
// as nginx refreshes ngx_cached_http_time and ngx_cached_http_log_time with its cached clock.
template <size_t kSize, void (*kFormat)(int64_t, char*)>
class TimeTextCache {
 public:
  // The text for `unix_seconds`; valid until the next call.
  std::string_view Get(int64_t unix_seconds) {
    if (unix_seconds != second_) {
      second_ = unix_seconds;
      kFormat(unix_seconds, text_);
    }
    return std::string_view(text_, kSize);
  }

 private:
  int64_t second_ = std::numeric_limits<int64_t>::min();
  char text_[kSize] = {};
};

using HttpDateCache = TimeTextCache<kHttpDateSize, &FormatHttpDate>;
using LogTimeCache = TimeTextCache<kLogTimeSize, &FormatLogTime>;
using Iso8601Cache = TimeTextCache<kIso8601Size, &FormatIso8601>;

}  // namespace realip::http
