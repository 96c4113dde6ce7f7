#include "proxy/http/date.h"

#include <algorithm>

namespace realip::http {
namespace {

constexpr char kDays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr char kMonths[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// 9999-12-31T23:59:59Z: the last second with a four-digit year.
constexpr int64_t kLastSecond = 253402300799;

char* Two(char* p, int64_t v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

char* Three(char* p, const char (&s)[4]) {
  p[0] = s[0];
  p[1] = s[1];
  p[2] = s[2];
  return p + 3;
}

}  // namespace

void FormatHttpDate(int64_t unix_seconds, char* out) {
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
  const int64_t mday = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;  // 1..12
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const int64_t wday = (days + 4) % 7;  // 1970-01-01 was a Thursday

  char* p = out;
  p = Three(p, kDays[wday]);
  *p++ = ',';
  *p++ = ' ';
  p = Two(p, mday);
  *p++ = ' ';
  p = Three(p, kMonths[month - 1]);
  *p++ = ' ';
  p = Two(p, year / 100);
  p = Two(p, year % 100);
  *p++ = ' ';
  p = Two(p, secs / 3600);
  *p++ = ':';
  p = Two(p, secs / 60 % 60);
  *p++ = ':';
  p = Two(p, secs % 60);
  *p++ = ' ';
  *p++ = 'G';
  *p++ = 'M';
  *p++ = 'T';
}

}  // namespace realip::http
