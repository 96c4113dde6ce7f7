#include "proxy/http/date.h"

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace realip::http {
namespace {

// One format's text of `t`, as a string.
template <size_t kSize, void (*kFormat)(int64_t, char*)>
std::string Text(int64_t t) {
  char buf[kSize];
  kFormat(t, buf);
  return std::string(buf, kSize);
}

std::string Format(int64_t t) { return Text<kHttpDateSize, &FormatHttpDate>(t); }
std::string LogTime(int64_t t) { return Text<kLogTimeSize, &FormatLogTime>(t); }
std::string Iso8601(int64_t t) { return Text<kIso8601Size, &FormatIso8601>(t); }

TEST(FormatHttpDateTest, FixedTimes) {
  struct Case {
    const char* name;
    int64_t t;
    const char* want;
  };
  for (const Case& c : {
           Case{"epoch", 0, "Thu, 01 Jan 1970 00:00:00 GMT"},
           Case{"rfc9110_example", 784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},
           Case{"last_second_of_1999", 946684799, "Fri, 31 Dec 1999 23:59:59 GMT"},
           Case{"first_second_of_2000", 946684800, "Sat, 01 Jan 2000 00:00:00 GMT"},
           Case{"leap_day_2000", 951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
           Case{"end_of_leap_day_2024", 1709251199, "Thu, 29 Feb 2024 23:59:59 GMT"},
           Case{"march_after_leap_day", 1709251200, "Fri, 01 Mar 2024 00:00:00 GMT"},
           Case{"int32_max", 2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"},
           Case{"past_int32", 2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},
           Case{"no_leap_day_2100", 4107542399, "Sun, 28 Feb 2100 23:59:59 GMT"},
           Case{"march_2100", 4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"},
           Case{"last_four_digit_year", 253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
           Case{"clamped_high", 253402300800, "Fri, 31 Dec 9999 23:59:59 GMT"},
           Case{"clamped_low", -1, "Thu, 01 Jan 1970 00:00:00 GMT"},
       }) {
    EXPECT_EQ(Format(c.t), c.want) << c.name;
  }
}

TEST(FormatHttpDateTest, EveryDayOfAFourHundredYearCycleAdvancesByOneDay) {
  // Consecutive days from 2000-01-01: the weekday cycles and the day of month either grows by
  // one or starts again at 01 with the next month.
  static const std::string kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  std::string prev = Format(946684800);
  for (int64_t day = 1; day < 146097; ++day) {
    std::string cur = Format(946684800 + day * 86400);
    EXPECT_EQ(cur.substr(0, 3), kDays[(6 + day) % 7]) << cur;
    int prev_mday = std::stoi(prev.substr(5, 2));
    int mday = std::stoi(cur.substr(5, 2));
    if (mday != prev_mday + 1) {
      ASSERT_EQ(mday, 1) << prev << " -> " << cur;
      ASSERT_NE(cur.substr(8, 3), prev.substr(8, 3)) << prev << " -> " << cur;
    }
    prev = cur;
  }
  EXPECT_EQ(prev, "Fri, 31 Dec 2399 00:00:00 GMT");
}

TEST(HttpDateCacheTest, SameSecondSameTextNextSecondNewText) {
  HttpDateCache cache;
  std::string_view a = cache.Get(784111777);
  EXPECT_EQ(a, "Sun, 06 Nov 1994 08:49:37 GMT");
  std::string_view b = cache.Get(784111777);
  EXPECT_EQ(b, "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(cache.Get(784111778), "Sun, 06 Nov 1994 08:49:38 GMT");
  // A clock stepped back is followed too.
  EXPECT_EQ(cache.Get(784111700), "Sun, 06 Nov 1994 08:48:20 GMT");
  EXPECT_EQ(cache.Get(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(FormatLogTimeTest, FixedTimes) {
  EXPECT_EQ(LogTime(0), "01/Jan/1970:00:00:00 +0000");
  EXPECT_EQ(LogTime(784111777), "06/Nov/1994:08:49:37 +0000");
  EXPECT_EQ(LogTime(951782400), "29/Feb/2000:00:00:00 +0000");
  EXPECT_EQ(LogTime(253402300799), "31/Dec/9999:23:59:59 +0000");
  EXPECT_EQ(LogTime(253402300800), "31/Dec/9999:23:59:59 +0000");
  EXPECT_EQ(LogTime(-1), "01/Jan/1970:00:00:00 +0000");
  EXPECT_EQ(Iso8601(0), "1970-01-01T00:00:00+00:00");
  EXPECT_EQ(Iso8601(784111777), "1994-11-06T08:49:37+00:00");
  EXPECT_EQ(Iso8601(1709251199), "2024-02-29T23:59:59+00:00");
  EXPECT_EQ(Iso8601(253402300799), "9999-12-31T23:59:59+00:00");
  EXPECT_EQ(Iso8601(-1), "1970-01-01T00:00:00+00:00");
}

// Every format agrees with Abseil's formatting (what $time_local and $time_iso8601 used before
// they were cached), over a 400-year cycle one day and 7 seconds apart.
TEST(FormatLogTimeTest, AgreesWithAbseilOverAFourHundredYearCycle) {
  for (int64_t t = 946684800; t < 946684800 + 146097 * int64_t{86400}; t += 86407) {
    const absl::Time time = absl::FromUnixSeconds(t);
    const absl::TimeZone utc = absl::UTCTimeZone();
    ASSERT_EQ(LogTime(t), absl::FormatTime("%d/%b/%Y:%H:%M:%S %z", time, utc)) << t;
    ASSERT_EQ(Iso8601(t), absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", time, utc)) << t;
    ASSERT_EQ(Format(t), absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", time, utc)) << t;
  }
}

TEST(LogTimeCacheTest, FollowsTheSecond) {
  LogTimeCache local;
  Iso8601Cache iso;
  EXPECT_EQ(local.Get(784111777), "06/Nov/1994:08:49:37 +0000");
  EXPECT_EQ(local.Get(784111777), "06/Nov/1994:08:49:37 +0000");
  EXPECT_EQ(local.Get(784111778), "06/Nov/1994:08:49:38 +0000");
  EXPECT_EQ(iso.Get(784111778), "1994-11-06T08:49:38+00:00");
  EXPECT_EQ(iso.Get(0), "1970-01-01T00:00:00+00:00");
}

}  // namespace
}  // namespace realip::http
