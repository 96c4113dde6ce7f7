#include "proxy/access/limit_args.h"

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace realip::access {
namespace {

using Args = std::vector<std::string_view>;

struct RateCase {
  std::string name;
  std::string_view arg;
  uint64_t want;  // 0: error
};

class RateArgTest : public ::testing::TestWithParam<RateCase> {};

TEST_P(RateArgTest, Parses) {
  const RateCase& c = GetParam();
  absl::StatusOr<uint64_t> rate = ParseRateArg(c.arg);
  if (c.want == 0) {
    ASSERT_FALSE(rate.ok());
    EXPECT_EQ(rate.status().message(), "invalid rate \"" + std::string(c.arg) + "\"");
  } else {
    ASSERT_TRUE(rate.ok()) << rate.status();
    EXPECT_EQ(*rate, c.want);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, RateArgTest,
                         ::testing::Values(RateCase{"TenPerSecond", "rate=10r/s", 10000},
                                           RateCase{"OnePerSecond", "rate=1r/s", 1000},
                                           RateCase{"ThirtyPerMinute", "rate=30r/m", 500},
                                           RateCase{"OnePerMinuteRoundsDown", "rate=1r/m", 16},
                                           RateCase{"BareNumberIsPerSecond", "rate=5", 5000},
                                           RateCase{"LeadingZeros", "rate=007r/s", 7000},
                                           RateCase{"Zero", "rate=0r/s", 0},
                                           RateCase{"Empty", "rate=", 0},
                                           RateCase{"OnlyUnit", "rate=r/s", 0},
                                           RateCase{"PerHour", "rate=1r/h", 0},
                                           RateCase{"Negative", "rate=-1r/s", 0},
                                           RateCase{"Fraction", "rate=0.5r/s", 0},
                                           RateCase{"Space", "rate=1 r/s", 0},
                                           RateCase{"Huge", "rate=99999999999999r/s", 0},
                                           RateCase{"WrongName", "rates=1r/s", 0}),
                         [](const auto& info) { return info.param.name; });

struct ZoneCase {
  std::string name;
  std::string_view arg;
  std::string want_name;
  size_t want_size;
  std::string error;  // empty: success
};

class ZoneArgTest : public ::testing::TestWithParam<ZoneCase> {};

TEST_P(ZoneArgTest, Parses) {
  const ZoneCase& c = GetParam();
  auto zone = ParseZoneArg(c.arg);
  if (!c.error.empty()) {
    ASSERT_FALSE(zone.ok());
    EXPECT_EQ(zone.status().message(), c.error);
    return;
  }
  ASSERT_TRUE(zone.ok()) << zone.status();
  EXPECT_EQ(zone->first, c.want_name);
  EXPECT_EQ(zone->second, c.want_size);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ZoneArgTest,
    ::testing::Values(
        ZoneCase{"Megabytes", "zone=one:10m", "one", 10u << 20, ""},
        ZoneCase{"UpperMegabytes", "zone=one:1M", "one", 1u << 20, ""},
        ZoneCase{"Kilobytes", "zone=a:64k", "a", 64u << 10, ""},
        ZoneCase{"Gigabytes", "zone=a:1g", "a", size_t{1} << 30, ""},
        ZoneCase{"Bytes", "zone=a:32768", "a", 32768, ""},
        ZoneCase{"ColonInSizeIsBad", "zone=a:b:1m", "", 0, "invalid zone size \"zone=a:b:1m\""},
        ZoneCase{"NoColon", "zone=one", "", 0, "invalid zone size \"zone=one\""},
        ZoneCase{"NoSize", "zone=one:", "", 0, "invalid zone size \"zone=one:\""},
        ZoneCase{"BadUnit", "zone=one:1t", "", 0, "invalid zone size \"zone=one:1t\""},
        ZoneCase{"EmptyName", "zone=:1m", "", 0, "invalid zone name \"zone=:1m\""},
        ZoneCase{"TooSmall", "zone=one:32767", "", 0, "zone \"zone=one:32767\" is too small"},
        ZoneCase{"TooSmallKilobytes", "zone=one:16k", "", 0,
                 "zone \"zone=one:16k\" is too small"}),
    [](const auto& info) { return info.param.name; });

TEST(LimitReqZoneArgsTest, ParsesKeyZoneAndRateInAnyOrder) {
  for (const Args& args : {Args{"$binary_remote_addr", "zone=perip:10m", "rate=10r/s"},
                           Args{"$binary_remote_addr", "rate=10r/s", "zone=perip:10m"}}) {
    absl::StatusOr<LimitReqZoneSpec> spec = ParseLimitReqZoneArgs(args);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->key, "$binary_remote_addr");
    EXPECT_EQ(spec->name, "perip");
    EXPECT_EQ(spec->size, 10u << 20);
    EXPECT_EQ(spec->rate, 10000u);
  }
}

TEST(LimitReqZoneArgsTest, Errors) {
  struct Case {
    Args args;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "invalid number of arguments in \"limit_req_zone\""},
           {{"$k", "rate=1r/s"}, "\"limit_req_zone\" must have \"zone\" parameter"},
           {{"$k", "zone=a:1m", "burst=5"}, "invalid parameter \"burst=5\""},
           {{"$k", "zone=a:1m", "rate=fast"}, "invalid rate \"rate=fast\""},
           {{"$k", "zone=a:1k", "rate=1r/s"}, "zone \"zone=a:1k\" is too small"}}) {
    absl::StatusOr<LimitReqZoneSpec> spec = ParseLimitReqZoneArgs(c.args);
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().message(), c.error);
  }
}

struct LimitReqCase {
  std::string name;
  Args args;
  std::string zone;
  uint64_t burst;
  uint64_t delay;
  std::string error;
};

class LimitReqArgsTest : public ::testing::TestWithParam<LimitReqCase> {};

TEST_P(LimitReqArgsTest, Parses) {
  const LimitReqCase& c = GetParam();
  absl::StatusOr<LimitReqSpec> spec = ParseLimitReqArgs(c.args);
  if (!c.error.empty()) {
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().message(), c.error);
    return;
  }
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->zone, c.zone);
  EXPECT_EQ(spec->burst, c.burst);
  EXPECT_EQ(spec->delay, c.delay);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LimitReqArgsTest,
    ::testing::Values(
        LimitReqCase{"ZoneOnly", {"zone=one"}, "one", 0, 0, ""},
        LimitReqCase{"Burst", {"zone=one", "burst=5"}, "one", 5000, 0, ""},
        LimitReqCase{"BurstNodelay", {"zone=one", "burst=5", "nodelay"}, "one", 5000, kNoDelay,
                     ""},
        LimitReqCase{"BurstDelay", {"zone=one", "burst=12", "delay=8"}, "one", 12000, 8000, ""},
        LimitReqCase{"AnyOrder", {"nodelay", "burst=3", "zone=z"}, "z", 3000, kNoDelay, ""},
        LimitReqCase{"MissingZone", {"burst=5"}, "", 0, 0,
                     "\"limit_req\" must have \"zone\" parameter"},
        LimitReqCase{"BurstZero", {"zone=one", "burst=0"}, "", 0, 0,
                     "invalid burst value \"burst=0\""},
        LimitReqCase{"BurstWord", {"zone=one", "burst=many"}, "", 0, 0,
                     "invalid burst value \"burst=many\""},
        LimitReqCase{"DelayZero", {"zone=one", "delay=0"}, "", 0, 0,
                     "invalid delay value \"delay=0\""},
        LimitReqCase{"Unknown", {"zone=one", "fast"}, "", 0, 0, "invalid parameter \"fast\""}),
    [](const auto& info) { return info.param.name; });

TEST(LimitConnArgsTest, ZoneAndLimit) {
  absl::StatusOr<LimitConnZoneSpec> zone =
      ParseLimitConnZoneArgs(Args{"$binary_remote_addr", "zone=addr:10m"});
  ASSERT_TRUE(zone.ok()) << zone.status();
  EXPECT_EQ(zone->key, "$binary_remote_addr");
  EXPECT_EQ(zone->name, "addr");
  EXPECT_EQ(zone->size, 10u << 20);
  EXPECT_EQ(ParseLimitConnZoneArgs(Args{"$k", "zone=a:1m", "rate=1r/s"}).status().message(),
            "invalid parameter \"rate=1r/s\"");
  EXPECT_EQ(ParseLimitConnZoneArgs(Args{"$k"}).status().message(),
            "\"limit_conn_zone\" must have \"zone\" parameter");

  absl::StatusOr<LimitConnSpec> conn = ParseLimitConnArgs(Args{"addr", "10"});
  ASSERT_TRUE(conn.ok()) << conn.status();
  EXPECT_EQ(conn->zone, "addr");
  EXPECT_EQ(conn->limit, 10u);
  EXPECT_EQ(ParseLimitConnArgs(Args{"addr", "65535"})->limit, 65535u);
  EXPECT_EQ(ParseLimitConnArgs(Args{"addr", "65536"}).status().message(),
            "connection limit must be less 65536");
  EXPECT_EQ(ParseLimitConnArgs(Args{"addr", "0"}).status().message(),
            "invalid number of connections \"0\"");
  EXPECT_EQ(ParseLimitConnArgs(Args{"addr", "-1"}).status().message(),
            "invalid number of connections \"-1\"");
  EXPECT_FALSE(ParseLimitConnArgs(Args{"addr"}).ok());
}

TEST(SlabSizeTest, RoundsToPowersOfTwo) {
  EXPECT_EQ(internal::SlabSize(1), 8u);
  EXPECT_EQ(internal::SlabSize(8), 8u);
  EXPECT_EQ(internal::SlabSize(9), 16u);
  EXPECT_EQ(internal::SlabSize(84), 128u);
  EXPECT_EQ(internal::SlabSize(128), 128u);
  EXPECT_EQ(internal::SlabSize(129), 256u);
}

}  // namespace
}  // namespace realip::access
