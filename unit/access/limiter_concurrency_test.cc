// Worker threads share the zones; these tests hammer them from several threads (run under
// ASan/UBSan in CI) and check that the counts come out exact.
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/access/conn_limiter.h"
#include "proxy/access/limit_args.h"
#include "proxy/access/rate_limiter.h"

namespace realip::access {
namespace {

constexpr int kThreads = 8;

template <typename F>
void RunThreads(F body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(body, t);
  for (std::thread& thread : threads) thread.join();
}

std::string Key(uint32_t i) { return std::string(reinterpret_cast<const char*>(&i), sizeof(i)); }

TEST(LimiterConcurrencyTest, RateLimiterAdmitsExactlyBurstPlusOnePerKey) {
  // The clock stands still, so each key admits its first request and its burst, no more,
  // however the threads interleave.
  constexpr uint32_t kKeys = 64;
  constexpr int kRequestsPerThread = 2000;
  RateLimiter zone("z", 1 << 20);
  std::atomic<int> passed{0};
  std::atomic<int> rejected{0};
  RunThreads([&](int t) {
    for (int i = 0; i < kRequestsPerThread; ++i) {
      const std::string key = Key(static_cast<uint32_t>(i + t) % kKeys);
      const LimitReqDecision d = zone.Check(key, 10000, {5000, kNoDelay}, 1000);
      (d.result == LimitReqResult::kPassed ? passed : rejected).fetch_add(1);
    }
  });
  EXPECT_EQ(passed.load(), static_cast<int>(kKeys) * 6);
  EXPECT_EQ(passed.load() + rejected.load(), kThreads * kRequestsPerThread);
  EXPECT_EQ(zone.size(), kKeys);
}

TEST(LimiterConcurrencyTest, RateLimiterSharedByTwoConfigurations) {
  // After a reload that changed only the rate, connections on the old and on the new
  // configuration charge the same states, each at its own rate. The clock stands still, so
  // each key still admits exactly its first request and its burst.
  constexpr uint32_t kKeys = 64;
  RateLimiter zone("z", 1 << 20);
  std::atomic<int> passed{0};
  RunThreads([&](int t) {
    const uint64_t rate = t % 2 == 0 ? 10000 : 500;
    for (int i = 0; i < 2000; ++i) {
      const std::string key = Key(static_cast<uint32_t>(i + t) % kKeys);
      if (zone.Check(key, rate, {5000, kNoDelay}, 1000).result == LimitReqResult::kPassed) {
        passed.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(passed.load(), static_cast<int>(kKeys) * 6);
  EXPECT_EQ(zone.size(), kKeys);
}

TEST(LimiterConcurrencyTest, RateLimiterEvictsUnderContention) {
  // Many more keys than the zone holds, two zones per request: eviction, pinning and
  // charging race across shards; the zone stays within its bound.
  RateLimiter small("small", 64 * 1024);
  RateLimiter other("other", 64 * 1024);
  const size_t capacity = 64 * 1024 / RateLimiter::StateSize(4);
  std::atomic<int> decided{0};
  RunThreads([&](int t) {
    for (uint32_t i = 0; i < 5000; ++i) {
      const std::string key = Key(i * kThreads + static_cast<uint32_t>(t));
      const LimitReqCheck checks[] = {{&other, 1000, key, {1000, 0}},
                                      {&small, 10000, key, {1000, 0}}};
      const LimitReqDecision d = CheckLimitReq(checks, i);
      if (d.result != LimitReqResult::kDeclined) decided.fetch_add(1);
    }
  });
  EXPECT_EQ(decided.load(), kThreads * 5000);
  EXPECT_LE(small.size(), capacity);
  EXPECT_LE(other.size(), capacity);
}

TEST(LimiterConcurrencyTest, ConnLimiterNeverExceedsLimit) {
  constexpr uint32_t kLimit = 100;
  ConnLimiter zone("addr", 1 << 20);
  std::atomic<int> acquired{0};
  RunThreads([&](int) {
    for (int i = 0; i < 1000; ++i) {
      if (zone.TryAcquire("shared", kLimit) == ConnLimitResult::kAcquired) acquired.fetch_add(1);
    }
  });
  EXPECT_EQ(acquired.load(), static_cast<int>(kLimit));
  EXPECT_EQ(zone.Count("shared"), kLimit);
  RunThreads([&](int t) {
    for (uint32_t i = static_cast<uint32_t>(t); i < kLimit; i += kThreads) zone.Release("shared");
  });
  EXPECT_EQ(zone.size(), 0u);
}

TEST(LimiterConcurrencyTest, ConnLimiterAcquireReleaseBalances) {
  // Each thread holds at most two slots of a key at a time; with limit 2 x threads nothing is
  // ever refused and every counter returns to zero.
  constexpr uint32_t kKeys = 16;
  ConnLimiter zone("addr", 1 << 20);
  std::atomic<int> refused{0};
  RunThreads([&](int t) {
    for (int i = 0; i < 20000; ++i) {
      const std::string key = Key(static_cast<uint32_t>(i * 7 + t) % kKeys);
      if (zone.TryAcquire(key, 2 * kThreads) != ConnLimitResult::kAcquired) {
        refused.fetch_add(1);
        continue;
      }
      ConnLimitLease first(&zone, key);
      if (zone.TryAcquire(key, 2 * kThreads) != ConnLimitResult::kAcquired) {
        refused.fetch_add(1);
        continue;
      }
      ConnLimitLease second(&zone, key);
    }
  });
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(zone.size(), 0u);
}

}  // namespace
}  // namespace realip::access
