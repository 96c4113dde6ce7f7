// The Date header field's value (RFC 9110 section 5.6.7): IMF-fixdate, formatted once per
// second per thread rather than per response. Sans-I/O: the caller passes the time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace realip::http {

// "Sun, 06 Nov 1994 08:49:37 GMT": always this many characters.
inline constexpr size_t kHttpDateSize = 29;

// Writes the IMF-fixdate of `unix_seconds` (UTC) into `out`, which has kHttpDateSize bytes
// (no NUL). Times before 1970 or after 9999-12-31T23:59:59 are clamped to those bounds, where
// the four-digit year of the format ends.
void FormatHttpDate(int64_t unix_seconds, char* out);

// The last second's formatted date. A worker thread keeps one and asks it for every response:
// the text is written again only when the second differs from the previous call's, as nginx's
// ngx_cached_http_time is refreshed with its cached clock.
class HttpDateCache {
 public:
  // The date for `unix_seconds`; valid until the next call.
  std::string_view Get(int64_t unix_seconds) {
    if (unix_seconds != second_) {
      second_ = unix_seconds;
      FormatHttpDate(unix_seconds, text_);
    }
    return std::string_view(text_, kHttpDateSize);
  }

 private:
  int64_t second_ = std::numeric_limits<int64_t>::min();
  char text_[kHttpDateSize] = {};
};

}  // namespace realip::http
