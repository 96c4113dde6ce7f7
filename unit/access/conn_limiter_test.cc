#include "proxy/access/conn_limiter.h"

#include <string>
#include <string_view>
#include <utility>

#include "gtest/gtest.h"

namespace realip::access {
namespace {

constexpr size_t kZone = 1 << 20;

TEST(ConnLimiterTest, RefusesTheLimitPlusFirst) {
  ConnLimiter zone("addr", kZone);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(zone.TryAcquire("k", 3), ConnLimitResult::kAcquired) << i;
  }
  EXPECT_EQ(zone.TryAcquire("k", 3), ConnLimitResult::kLimited);
  EXPECT_EQ(zone.Count("k"), 3u);
  // Another key is counted apart.
  EXPECT_EQ(zone.TryAcquire("other", 3), ConnLimitResult::kAcquired);
  zone.Release("k");
  EXPECT_EQ(zone.Count("k"), 2u);
  EXPECT_EQ(zone.TryAcquire("k", 3), ConnLimitResult::kAcquired);
  // A lower limit from another location applies to the same counter.
  EXPECT_EQ(zone.TryAcquire("k", 1), ConnLimitResult::kLimited);
}

TEST(ConnLimiterTest, EntryRemovedAtZero) {
  ConnLimiter zone("addr", kZone);
  ASSERT_EQ(zone.TryAcquire("k", 2), ConnLimitResult::kAcquired);
  ASSERT_EQ(zone.TryAcquire("k", 2), ConnLimitResult::kAcquired);
  EXPECT_EQ(zone.size(), 1u);
  zone.Release("k");
  EXPECT_EQ(zone.size(), 1u);
  zone.Release("k");
  EXPECT_EQ(zone.size(), 0u);
  EXPECT_EQ(zone.Count("k"), 0u);
}

TEST(ConnLimiterTest, SkipsEmptyAndOversizedKeys) {
  ConnLimiter zone("addr", kZone);
  EXPECT_EQ(zone.TryAcquire("", 1), ConnLimitResult::kSkipped);
  EXPECT_EQ(zone.TryAcquire(std::string(256, 'k'), 1), ConnLimitResult::kSkipped);
  EXPECT_EQ(zone.TryAcquire(std::string(255, 'k'), 1), ConnLimitResult::kAcquired);
  EXPECT_EQ(zone.size(), 1u);
}

TEST(ConnLimiterTest, FullZoneRefusesNewKeysOnly) {
  ConnLimiter zone("addr", 2 * ConnLimiter::StateSize(4), /*shards=*/1);
  ASSERT_EQ(zone.TryAcquire("aaaa", 5), ConnLimitResult::kAcquired);
  ASSERT_EQ(zone.TryAcquire("bbbb", 5), ConnLimitResult::kAcquired);
  EXPECT_EQ(zone.TryAcquire("cccc", 5), ConnLimitResult::kZoneFull);
  EXPECT_EQ(zone.TryAcquire("aaaa", 5), ConnLimitResult::kAcquired);
  zone.Release("bbbb");
  EXPECT_EQ(zone.TryAcquire("cccc", 5), ConnLimitResult::kAcquired);
}

TEST(ConnLimiterTest, StateSizeIsNginxSlabSize) {
  EXPECT_EQ(ConnLimiter::StateSize(4), 64u);
  EXPECT_EQ(ConnLimiter::StateSize(16), 64u);
  EXPECT_EQ(ConnLimiter::StateSize(28), 64u);
  EXPECT_EQ(ConnLimiter::StateSize(29), 128u);
}

TEST(ConnLimiterTest, OneMegabyteHoldsNginxsKeyCount) {
  ConnLimiter zone("addr", 1 << 20);
  size_t acquired = 0;
  for (uint32_t i = 0; i < 40000; ++i) {
    const std::string_view key(reinterpret_cast<const char*>(&i), sizeof(i));
    if (zone.TryAcquire(key, 1) == ConnLimitResult::kAcquired) ++acquired;
  }
  // 16 shards x 64 KiB / 64 bytes.
  EXPECT_EQ(acquired, 16384u);
  EXPECT_EQ(zone.size(), 16384u);
}

TEST(ConnLimitLeaseTest, ReleasesOnDestructionAndMove) {
  ConnLimiter zone("addr", kZone);
  {
    ASSERT_EQ(zone.TryAcquire("k", 2), ConnLimitResult::kAcquired);
    ConnLimitLease lease(&zone, "k");
    EXPECT_EQ(zone.Count("k"), 1u);
    ConnLimitLease moved(std::move(lease));
    EXPECT_EQ(zone.Count("k"), 1u);
    ASSERT_EQ(zone.TryAcquire("k", 2), ConnLimitResult::kAcquired);
    ConnLimitLease second(&zone, "k");
    moved = std::move(second);  // releases the slot `moved` held
    EXPECT_EQ(zone.Count("k"), 1u);
  }
  EXPECT_EQ(zone.Count("k"), 0u);
  EXPECT_EQ(zone.size(), 0u);

  ASSERT_EQ(zone.TryAcquire("k", 2), ConnLimitResult::kAcquired);
  ConnLimitLease lease(&zone, "k");
  lease.Reset();
  lease.Reset();
  EXPECT_EQ(zone.Count("k"), 0u);
  ConnLimitLease empty;
  empty.Reset();
}

}  // namespace
}  // namespace realip::access
