#include "proxy/http/date.h"

#include <algorithm>

namespace realip::http {
namespace {

constexpr char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// 9999-12-31T23:59:59Z: the last second with a four-digit year.
constexpr int64_t kLastSecond = 253402300799;

struct Civil {
  int64_t year, month, mday, wday, hour, minute, second;  // month 1..12, wday 0 = Sunday
};

Civil ToCivil(int64_t unix_seconds) {
  const int64_t t = std::clamp<int64_t>(unix_seconds, 0, kLastSecond);
  const int64_t days = t / 86400;
  const int64_t secs = t % 86400;
  // The proleptic Gregorian date of a day count, in 400-year eras that start on March 1
  // (H. Hinnant's civil_from_days); no negative values past the clamp above.
  const int64_t z = days + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // March = 0
  Civil c;
  c.mday = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = yoe + era * 400 + (c.month <= 2 ? 1 : 0);
  c.wday = (days + 4) % 7;  // 1970-01-01 was a Thursday
  c.hour = secs / 3600;
  c.minute = secs / 60 % 60;
  c.second = secs % 60;
  return c;
}

char* Two(char* p, int64_t v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// Writes `c` as `pattern` says, strftime's way for the conversions these formats use: %a the
// weekday's name, %d the day, %b the month's name, %m its number, %Y the year, %H:%M:%S the
// time; other characters as they are. Each format is written once a second, so a loop over
// its pattern costs nothing worth a function per format.
void FormatCivil(std::string_view pattern, int64_t unix_seconds, char* out) {
  const Civil c = ToCivil(unix_seconds);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      *out++ = pattern[i];
      continue;
    }
    switch (pattern[++i]) {
      case 'a':
        out = std::copy_n(kDays[c.wday], 3, out);
        break;
      case 'b':
        out = std::copy_n(kMonths[c.month - 1], 3, out);
        break;
      case 'd':
        out = Two(out, c.mday);
        break;
      case 'm':
        out = Two(out, c.month);
        break;
      case 'Y':
        out = Two(Two(out, c.year / 100), c.year % 100);
        break;
      case 'H':
        out = Two(out, c.hour);
        break;
      case 'M':
        out = Two(out, c.minute);
        break;
      case 'S':
        out = Two(out, c.second);
        break;
      default:
        *out++ = pattern[i];
        break;
    }
  }
}

}  // namespace

void FormatHttpDate(int64_t unix_seconds, char* out) {
  FormatCivil("%a, %d %b %Y %H:%M:%S GMT", unix_seconds, out);
}

void FormatLogTime(int64_t unix_seconds, char* out) {
  FormatCivil("%d/%b/%Y:%H:%M:%S +0000", unix_seconds, out);
}

void FormatIso8601(int64_t unix_seconds, char* out) {
  FormatCivil("%Y-%m-%dT%H:%M:%S+00:00", unix_seconds, out);
}

}  // namespace realip::http
