#include "proxy/access/rate_limiter.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/access/limit_args.h"

namespace realip::access {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr uint64_t kTenPerSecond = 10000;  // rate=10r/s
constexpr size_t kZone = 1 << 20;

// One request of a scripted sequence against a single zone and its expected outcome.
struct Step {
  uint64_t at_ms;
  LimitReqResult want;
  uint64_t want_delay_ms = 0;
  uint64_t want_excess = 0;
};

struct SequenceCase {
  std::string name;
  uint64_t rate;
  LimitReqPolicy policy;
  std::vector<Step> steps;
};

class RateLimiterSequenceTest : public ::testing::TestWithParam<SequenceCase> {};

TEST_P(RateLimiterSequenceTest, FollowsNginxLeakyBucket) {
  const SequenceCase& c = GetParam();
  RateLimiter zone("z", kZone);
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    const LimitReqDecision d = zone.Check("\xc0\x00\x02\x01", c.rate, c.policy, step.at_ms);
    EXPECT_EQ(d.result, step.want) << "request " << i;
    EXPECT_EQ(d.delay_ms, step.want_delay_ms) << "request " << i;
    EXPECT_EQ(d.excess, step.want_excess) << "request " << i;
    EXPECT_EQ(d.zone_index, 0u);
  }
}

constexpr LimitReqResult kPass = LimitReqResult::kPassed;
constexpr LimitReqResult kDelay = LimitReqResult::kDelayed;
constexpr LimitReqResult kReject = LimitReqResult::kRejected;

INSTANTIATE_TEST_SUITE_P(
    Cases, RateLimiterSequenceTest,
    ::testing::Values(
        // Without burst one request per 1/rate passes; the first request of a key is free.
        SequenceCase{"NoBurst",
                     kTenPerSecond,
                     {0, 0},
                     {{1000, kPass},
                      {1050, kReject, 0, 500},
                      {1099, kReject, 0, 10},
                      {1100, kPass},
                      {1100, kReject, 0, 1000},
                      {1300, kPass}}},
        // burst=5: five excess requests wait (excess / rate), the seventh is refused.
        SequenceCase{"BurstDelays",
                     kTenPerSecond,
                     {5000, 0},
                     {{1000, kPass},
                      {1000, kDelay, 100, 1000},
                      {1000, kDelay, 200, 2000},
                      {1000, kDelay, 300, 3000},
                      {1000, kDelay, 400, 4000},
                      {1000, kDelay, 500, 5000},
                      {1000, kReject, 0, 6000},
                      // 100 ms drain one request: the bucket is full again, not over.
                      {1100, kDelay, 500, 5000},
                      {1150, kReject, 0, 5500}}},
        SequenceCase{"BurstNodelay",
                     kTenPerSecond,
                     {5000, kNoDelay},
                     {{1000, kPass},
                      {1000, kPass, 0, 1000},
                      {1000, kPass, 0, 2000},
                      {1000, kPass, 0, 3000},
                      {1000, kPass, 0, 4000},
                      {1000, kPass, 0, 5000},
                      {1000, kReject, 0, 6000}}},
        // delay=2: two excess requests pass at once, the rest wait for (excess - 2) / rate.
        SequenceCase{"BurstTwoStageDelay",
                     kTenPerSecond,
                     {5000, 2000},
                     {{1000, kPass},
                      {1000, kPass, 0, 1000},
                      {1000, kPass, 0, 2000},
                      {1000, kDelay, 100, 3000},
                      {1000, kDelay, 200, 4000},
                      {1000, kDelay, 300, 5000},
                      {1000, kReject, 0, 6000}}},
        // 30r/m is 500 units per second: a request's 1000 units drain in two seconds.
        SequenceCase{"PerMinuteRate",
                     500,
                     {1000, 0},
                     {{0, kPass},
                      {0, kDelay, 2000, 1000},
                      {0, kReject, 0, 2000},
                      {1000, kReject, 0, 1500},
                      {2000, kDelay, 2000, 1000},
                      {6000, kPass}}},
        // A clock that steps back up to a minute counts as no time passing.
        SequenceCase{"ClockBackwardsSmall",
                     kTenPerSecond,
                     {1000, 0},
                     {{100000, kPass}, {70000, kDelay, 100, 1000}, {70000, kReject, 0, 2000}}},
        // More than a minute back counts as one millisecond.
        SequenceCase{"ClockBackwardsLarge",
                     1000000,
                     {1000, 0},
                     {{100000, kPass},
                      {100000, kDelay, 1, 1000},
                      {30000, kDelay, 1, 1000},
                      {30000, kReject, 0, 2000}}},
        // A long idle period (far beyond the bucket) drains to zero without overflow.
        SequenceCase{"LongIdle",
                     4294967296000ull,
                     {0, 0},
                     {{0, kPass}, {0, kReject, 0, 1000}, {UINT64_MAX / 2, kPass}}}),
    [](const auto& info) { return info.param.name; });

TEST(RateLimiterTest, WindowAdmitsBurstThenRate) {
  // rate=10r/s burst=5 nodelay, a request every 10 ms for one second: the first request and
  // the burst of five pass at once (0..50 ms), then exactly one every 100 ms.
  RateLimiter zone("z", kZone);
  std::vector<uint64_t> admitted;
  for (uint64_t t = 0; t < 1000; t += 10) {
    if (zone.Check("client", kTenPerSecond, {5000, kNoDelay}, t).result ==
        LimitReqResult::kPassed) {
      admitted.push_back(t);
    }
  }
  EXPECT_THAT(admitted, ElementsAre(0, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 600, 700,
                                    800, 900));
}

TEST(RateLimiterTest, KeysHaveSeparateBuckets) {
  RateLimiter zone("z", kZone);
  EXPECT_EQ(zone.Check("a", kTenPerSecond, {}, 0).result, LimitReqResult::kPassed);
  EXPECT_EQ(zone.Check("a", kTenPerSecond, {}, 0).result, LimitReqResult::kRejected);
  EXPECT_EQ(zone.Check("b", kTenPerSecond, {}, 0).result, LimitReqResult::kPassed);
  // Keys are bytes: a 4-byte and a 16-byte $binary_remote_addr never collide.
  EXPECT_EQ(zone.Check(std::string_view("\0\0\0\0", 4), kTenPerSecond, {}, 0).result,
            LimitReqResult::kPassed);
  EXPECT_EQ(zone.Check(std::string(16, '\0'), kTenPerSecond, {}, 0).result,
            LimitReqResult::kPassed);
  EXPECT_EQ(zone.size(), 4u);
}

TEST(RateLimiterTest, EmptyOrOversizedKeyIsDeclined) {
  RateLimiter zone("z", kZone);
  EXPECT_EQ(zone.Check("", kTenPerSecond, {}, 0).result, LimitReqResult::kDeclined);
  EXPECT_EQ(zone.Check("", kTenPerSecond, {}, 0).zone_index, SIZE_MAX);
  EXPECT_EQ(zone.Check(std::string(65536, 'k'), kTenPerSecond, {}, 0).result,
            LimitReqResult::kDeclined);
  EXPECT_EQ(zone.size(), 0u);
  // The longest accepted key costs a 128 KiB state: it needs a shard that large.
  RateLimiter one_shard("z", kZone, /*shards=*/1);
  EXPECT_EQ(one_shard.Check(std::string(65535, 'k'), kTenPerSecond, {}, 0).result,
            LimitReqResult::kPassed);
  EXPECT_EQ(one_shard.size(), 1u);
  EXPECT_EQ(CheckLimitReq({}, 0).result, LimitReqResult::kDeclined);
}

TEST(RateLimiterTest, StateSizeIsNginxSlabSize) {
  EXPECT_EQ(RateLimiter::StateSize(4), 128u);
  EXPECT_EQ(RateLimiter::StateSize(16), 128u);
  EXPECT_EQ(RateLimiter::StateSize(48), 128u);
  EXPECT_EQ(RateLimiter::StateSize(49), 256u);
  EXPECT_EQ(RateLimiter::StateSize(176), 256u);
  EXPECT_EQ(RateLimiter::StateSize(177), 512u);
}

TEST(RateLimiterTest, OneMegabyteHoldsNginxsStateCount) {
  // nginx: "One megabyte zone can keep about 8 thousand 128-byte states". Each of the 16
  // shards holds 64 KiB / 128 = 512; 20000 distinct keys overfill every shard.
  RateLimiter zone("z", 1 << 20);
  for (uint32_t i = 0; i < 20000; ++i) {
    const std::string_view key(reinterpret_cast<const char*>(&i), sizeof(i));
    ASSERT_EQ(zone.Check(key, kTenPerSecond, {}, 0).result, LimitReqResult::kPassed);
  }
  EXPECT_EQ(zone.size(), 8192u);
}

TEST(RateLimiterTest, FullZoneEvictsLeastRecentlyUsed) {
  RateLimiter zone("z", 3 * RateLimiter::StateSize(1), /*shards=*/1);
  for (std::string_view key : {"a", "b", "c"}) {
    EXPECT_EQ(zone.Check(key, kTenPerSecond, {}, 0).result, LimitReqResult::kPassed);
  }
  EXPECT_EQ(zone.Check("d", kTenPerSecond, {}, 0).result, LimitReqResult::kPassed);
  EXPECT_FALSE(zone.Contains("a"));
  EXPECT_EQ(zone.size(), 3u);
  // A lookup, even a rejected one, makes "b" the most recently used: "c" goes next.
  EXPECT_EQ(zone.Check("b", kTenPerSecond, {}, 0).result, LimitReqResult::kRejected);
  EXPECT_EQ(zone.Check("e", kTenPerSecond, {}, 0).result, LimitReqResult::kPassed);
  EXPECT_FALSE(zone.Contains("c"));
  EXPECT_TRUE(zone.Contains("b"));
  EXPECT_TRUE(zone.Contains("d"));
  EXPECT_TRUE(zone.Contains("e"));
  // An evicted key starts over with an empty bucket.
  EXPECT_EQ(zone.Check("a", kTenPerSecond, {}, 0).result, LimitReqResult::kPassed);
}

TEST(RateLimiterTest, NewKeyDropsUpToTwoIdleDrainedStates) {
  RateLimiter zone("z", kZone, /*shards=*/1);
  for (std::string_view key : {"a", "b", "c"}) zone.Check(key, kTenPerSecond, {}, 0);
  // nginx's expire(1): a new state first frees up to two LRU states idle for a minute with an
  // empty bucket, even when the zone has room.
  zone.Check("d", kTenPerSecond, {}, 59999);
  EXPECT_EQ(zone.size(), 4u);
  zone.Check("e", kTenPerSecond, {}, 60000);
  EXPECT_FALSE(zone.Contains("a"));
  EXPECT_FALSE(zone.Contains("b"));
  EXPECT_TRUE(zone.Contains("c"));
  EXPECT_EQ(zone.size(), 3u);
}

TEST(RateLimiterTest, IdleStateWithExcessLeftIsKept) {
  // 1r/m drains 16 units a second: 5000 units of excess outlast a minute of idleness.
  RateLimiter zone("z", kZone, /*shards=*/1);
  for (int i = 0; i < 6; ++i) zone.Check("busy", 16, {5000, kNoDelay}, 0);
  zone.Check("other", 16, {}, 120000);
  EXPECT_TRUE(zone.Contains("busy"));
}

// nginx keeps a zone's states when a reload changes only its rate; the rate comes from each
// request's configuration (ngx_http_limit_req_ctx_t), so the buckets drain at the new rate.
TEST(RateLimiterTest, StateSurvivesARateChange) {
  constexpr uint64_t kOld = 1000;  // 1r/s
  constexpr uint64_t kNew = 2000;  // 2r/s
  RateLimiter zone("z", kZone);
  for (int i = 0; i < 4; ++i) zone.Check("k", kOld, {5000, 0}, 0);
  // Excess 3000 at t=0. 500 ms later at 2r/s: 3000 - 2000 x 0.5 + 1000, not an empty bucket
  // (which would pass with excess 0) nor the old rate's 3500. The delay is at the new rate too.
  LimitReqDecision d = zone.Check("k", kNew, {5000, 0}, 500);
  EXPECT_EQ(d.result, LimitReqResult::kDelayed);
  EXPECT_EQ(d.excess, 3000u);
  EXPECT_EQ(d.delay_ms, 1500u);
  // A request still on the old configuration charges the same bucket at the old rate.
  d = zone.Check("k", kOld, {5000, 0}, 1000);
  EXPECT_EQ(d.excess, 3500u);
  EXPECT_EQ(d.delay_ms, 3500u);
  // Back to the new rate: 3500 - 2000 x 1 + 1000.
  d = zone.Check("k", kNew, {5000, 0}, 2000);
  EXPECT_EQ(d.excess, 2500u);
  EXPECT_EQ(d.delay_ms, 1250u);
  EXPECT_EQ(zone.size(), 1u);
}

TEST(RateLimiterTest, IdleStatesExpireAtTheCheckingRate) {
  // 5000 units of excess outlast two minutes at 1r/m (16 units a second) but not at 1r/s:
  // nginx's expire uses the rate of the request that makes room.
  RateLimiter zone("z", kZone, /*shards=*/1);
  for (int i = 0; i < 6; ++i) zone.Check("busy", 16, {5000, kNoDelay}, 0);
  zone.Check("other", 1000, {}, 120000);
  EXPECT_FALSE(zone.Contains("busy"));
  EXPECT_TRUE(zone.Contains("other"));
}

TEST(RateLimiterTest, KeyLargerThanShardIsRejected) {
  RateLimiter zone("z", 3 * RateLimiter::StateSize(1), /*shards=*/1);
  const LimitReqDecision d = zone.Check(std::string(200, 'k'), kTenPerSecond, {}, 0);
  EXPECT_EQ(d.result, LimitReqResult::kRejected);
  EXPECT_EQ(d.excess, 0u);
  EXPECT_EQ(zone.size(), 0u);
}

class MultiZoneTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kFast = kTenPerSecond;  // 10r/s
  static constexpr uint64_t kSlow = 1000;           // 1r/s
  RateLimiter fast_{"fast", kZone};
  RateLimiter slow_{"slow", kZone};
};

TEST_F(MultiZoneTest, LongestDelayWins) {
  const LimitReqCheck checks[] = {{&fast_, kFast, "k", {5000, 0}},
                                  {&slow_, kSlow, "k", {10000, 0}}};
  LimitReqDecision d = CheckLimitReq(checks, 0);
  EXPECT_EQ(d.result, LimitReqResult::kPassed);
  EXPECT_EQ(d.zone_index, 1u);
  d = CheckLimitReq(checks, 0);
  EXPECT_EQ(d.result, LimitReqResult::kDelayed);
  EXPECT_EQ(d.delay_ms, 1000u);  // slow: 1000 units at 1r/s; fast would say 100 ms
  EXPECT_EQ(d.zone_index, 1u);
  EXPECT_EQ(d.excess, 1000u);

  // Reversed order: the charged zone is now "fast", the earlier (pinned) one still wins.
  const LimitReqCheck reversed[] = {{&slow_, kSlow, "r", {10000, 0}},
                                    {&fast_, kFast, "r", {5000, 0}}};
  CheckLimitReq(reversed, 0);
  d = CheckLimitReq(reversed, 0);
  EXPECT_EQ(d.delay_ms, 1000u);
  EXPECT_EQ(d.zone_index, 0u);
}

TEST_F(MultiZoneTest, RejectionChargesNoZone) {
  const LimitReqCheck checks[] = {{&fast_, kFast, "k", {5000, 0}}, {&slow_, kSlow, "k", {1000, 0}}};
  EXPECT_EQ(CheckLimitReq(checks, 0).result, LimitReqResult::kPassed);
  EXPECT_EQ(CheckLimitReq(checks, 0).result, LimitReqResult::kDelayed);
  const LimitReqDecision d = CheckLimitReq(checks, 0);
  EXPECT_EQ(d.result, LimitReqResult::kRejected);
  EXPECT_EQ(d.zone_index, 1u);
  EXPECT_EQ(d.excess, 2000u);
  // "fast" was looked up but not charged by the rejected request: its excess is still 1000.
  EXPECT_EQ(fast_.Check("k", kFast, {5000, 0}, 0).excess, 2000u);
}

TEST_F(MultiZoneTest, EarlierZoneRejectsBeforeLaterIsLookedUp) {
  const LimitReqCheck checks[] = {{&fast_, kFast, "k", {0, 0}}, {&slow_, kSlow, "k", {10000, 0}}};
  EXPECT_EQ(CheckLimitReq(checks, 0).result, LimitReqResult::kPassed);
  const LimitReqDecision d = CheckLimitReq(checks, 0);
  EXPECT_EQ(d.result, LimitReqResult::kRejected);
  EXPECT_EQ(d.zone_index, 0u);
  EXPECT_EQ(slow_.Check("k", kSlow, {10000, 0}, 0).excess, 1000u);
}

TEST_F(MultiZoneTest, EmptyLastKeyStillChargesEarlierZones) {
  const LimitReqCheck checks[] = {{&fast_, kFast, "k", {5000, 0}}, {&slow_, kSlow, "", {0, 0}}};
  LimitReqDecision d = CheckLimitReq(checks, 0);
  EXPECT_EQ(d.result, LimitReqResult::kPassed);
  EXPECT_EQ(d.zone_index, 0u);
  d = CheckLimitReq(checks, 0);
  EXPECT_EQ(d.result, LimitReqResult::kDelayed);
  EXPECT_EQ(d.delay_ms, 100u);
  EXPECT_EQ(d.zone_index, 0u);
  EXPECT_FALSE(slow_.Contains(""));
}

TEST(LimitReqStatusNameTest, NamesNginxValues) {
  EXPECT_EQ(LimitReqStatusName(LimitReqResult::kDeclined, false), "");
  EXPECT_EQ(LimitReqStatusName(LimitReqResult::kPassed, false), "PASSED");
  EXPECT_EQ(LimitReqStatusName(LimitReqResult::kPassed, true), "PASSED");
  EXPECT_EQ(LimitReqStatusName(LimitReqResult::kDelayed, false), "DELAYED");
  EXPECT_EQ(LimitReqStatusName(LimitReqResult::kDelayed, true), "DELAYED_DRY_RUN");
  EXPECT_EQ(LimitReqStatusName(LimitReqResult::kRejected, false), "REJECTED");
  EXPECT_EQ(LimitReqStatusName(LimitReqResult::kRejected, true), "REJECTED_DRY_RUN");
}

}  // namespace
}  // namespace realip::access
