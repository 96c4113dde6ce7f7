#include "proxy/config/values.h"

#include <gtest/gtest.h>

namespace realip::config {
namespace {

struct SizeCase {
  const char* text;
  bool ok;
  uint64_t bytes;
};

TEST(ParseSizeTest, Table) {
  const SizeCase cases[] = {
      {"0", true, 0},
      {"512", true, 512},
      {"1k", true, 1024},
      {"1K", true, 1024},
      {"8m", true, 8u << 20},
      {"8M", true, 8u << 20},
      {"2g", true, uint64_t{2} << 30},
      {"", false, 0},
      {"k", false, 0},
      {"1kb", false, 0},
      {"1.5m", false, 0},
      {"-1", false, 0},
      {" 1k", false, 0},
      {"1t", false, 0},
      {"99999999999999999999", false, 0},
      {"9999999999g", false, 0},
  };
  for (const SizeCase& c : cases) {
    absl::StatusOr<uint64_t> v = ParseSize(c.text);
    EXPECT_EQ(v.ok(), c.ok) << c.text;
    if (c.ok && v.ok()) {
      EXPECT_EQ(*v, c.bytes) << c.text;
    }
  }
}

struct TimeCase {
  const char* text;
  bool ok;
  absl::Duration value;
};

TEST(ParseTimeTest, Table) {
  const TimeCase cases[] = {
      {"0", true, absl::ZeroDuration()},
      {"30", true, absl::Seconds(30)},
      {"500ms", true, absl::Milliseconds(500)},
      {"30s", true, absl::Seconds(30)},
      {"5m", true, absl::Minutes(5)},
      {"1h", true, absl::Hours(1)},
      {"2d", true, absl::Hours(48)},
      {"1w", true, absl::Hours(24 * 7)},
      {"1M", true, absl::Hours(24 * 30)},
      {"1y", true, absl::Hours(24 * 365)},
      {"1h 30m", true, absl::Minutes(90)},
      {"1m30s", true, absl::Seconds(90)},
      {"1s 500ms", true, absl::Milliseconds(1500)},
      {"1m 5", true, absl::Seconds(65)},
      {"", false, {}},
      {" ", false, {}},
      {"s", false, {}},
      {"5x", false, {}},
      {"30m 1h", false, {}},  // units must decrease
      {"1s 1s", false, {}},
      {"5 1m", false, {}},  // a bare number can only be last
      {"1.5s", false, {}},
      {"-1s", false, {}},
      {"99999999999999999999y", false, {}},
  };
  for (const TimeCase& c : cases) {
    absl::StatusOr<absl::Duration> v = ParseTime(c.text);
    EXPECT_EQ(v.ok(), c.ok) << "\"" << c.text << "\"";
    if (c.ok && v.ok()) {
      EXPECT_EQ(*v, c.value) << c.text;
    }
  }
}

TEST(ParseFlagTest, Table) {
  EXPECT_EQ(ParseFlag("on").value(), true);
  EXPECT_EQ(ParseFlag("ON").value(), true);
  EXPECT_EQ(ParseFlag("off").value(), false);
  EXPECT_EQ(ParseFlag("Off").value(), false);
  EXPECT_FALSE(ParseFlag("yes").ok());
  EXPECT_FALSE(ParseFlag("").ok());
  EXPECT_EQ(ParseFlag("1").status().message(), "it must be \"on\" or \"off\"");
}

TEST(ParseIntTest, Table) {
  EXPECT_EQ(ParseInt("42", 0, 100).value(), 42);
  EXPECT_EQ(ParseInt("-1", -1, 100).value(), -1);
  EXPECT_FALSE(ParseInt("101", 0, 100).ok());
  EXPECT_FALSE(ParseInt("-1", 0, 100).ok());
  EXPECT_FALSE(ParseInt("", 0, 100).ok());
  EXPECT_FALSE(ParseInt("-", 0, 100).ok());
  EXPECT_FALSE(ParseInt("4x", 0, 100).ok());
  EXPECT_FALSE(ParseInt("99999999999999999999", 0, 100).ok());
}

}  // namespace
}  // namespace realip::config
