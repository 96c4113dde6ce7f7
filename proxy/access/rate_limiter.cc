#include "proxy/access/rate_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "proxy/access/limit_args.h"
#include "proxy/base/check.h"
#include "proxy/base/strings.h"

namespace realip::access {
namespace {

// ngx_rbtree_node_t up to `color` (32 bytes) plus ngx_http_limit_req_node_t up to `data`
// (48 bytes) on a 64-bit build: what nginx allocates per state before the key bytes.
constexpr size_t kNginxStateHeader = 80;

// nginx measures elapsed time as a signed difference of a millisecond clock and tolerates a
// clock that stepped back: up to a minute counts as no time, more as one millisecond.
int64_t ElapsedMs(uint64_t now, uint64_t last) {
  const auto ms = static_cast<int64_t>(now - last);
  if (ms < -60000) return 1;
  if (ms < 0) return 0;
  return ms;
}

}  // namespace

RateLimiter::RateLimiter(std::string name, size_t zone_size, size_t shards)
    : name_(std::move(name)),
      shard_budget_(zone_size / std::max<size_t>(shards, 1)),
      shard_count_(shards),
      shards_(std::make_unique<Shard[]>(shards)) {
  REALIP_CHECK(shards > 0);
}

RateLimiter::~RateLimiter() = default;

size_t RateLimiter::StateSize(size_t key_length) {
  return internal::SlabSize(kNginxStateHeader + key_length);
}

RateLimiter::Shard& RateLimiter::ShardFor(std::string_view key) const {
  return shards_[internal::ShardIndex(key, shard_count_)];
}

uint64_t RateLimiter::Drain(uint64_t excess, uint64_t rate, uint64_t last, uint64_t now,
                            uint64_t add) {
  // excess - rate * ms / 1000 + add, floored at zero (ngx_http_limit_req_lookup). 128-bit
  // so that a long idle period cannot overflow the product.
  const __int128 level = static_cast<__int128>(excess) -
                         static_cast<__int128>(rate) * ElapsedMs(now, last) / 1000 + add;
  return level < 0 ? 0 : static_cast<uint64_t>(level);
}

RateLimiter::Lookup RateLimiter::LookupState(std::string_view key, uint64_t rate, uint64_t burst,
                                             bool charge, uint64_t now, uint64_t* excess,
                                             Pin* pin) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  if (auto it = shard.index.find(base::AsAbsl(key)); it != shard.index.end()) {
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    State& state = *it->second;
    // A state created by a pending lookup has never been charged: nginx stamps it with time 0,
    // so with any real clock it has fully drained.
    const int64_t ms = state.fresh ? 1 : ElapsedMs(now, state.last);
    const uint64_t level = state.fresh ? 0 : Drain(state.excess, rate, state.last, now, 1000);
    *excess = level;
    if (level > burst) return Lookup::kBusy;
    if (charge) {
      state.excess = level;
      if (ms != 0) state.last = now;
      state.fresh = false;
      return Lookup::kCharged;
    }
    ++state.count;
    *pin = {&shard, &state};
    return Lookup::kPinned;
  }

  *excess = 0;
  const size_t cost = StateSize(key.size());
  Expire(shard, rate, 1, now);
  if (shard.used + cost > shard_budget_) {
    Expire(shard, rate, 0, now);
    if (shard.used + cost > shard_budget_) return Lookup::kNoMemory;
  }
  shard.lru.push_front(State{});
  State& state = shard.lru.front();
  state.key = std::string(key);
  state.charge = cost;
  shard.used += cost;
  shard.index.emplace(base::AsAbsl(state.key), shard.lru.begin());
  if (charge) {
    state.last = now;
    return Lookup::kCharged;
  }
  state.fresh = true;
  state.count = 1;
  *pin = {&shard, &state};
  return Lookup::kPinned;
}

uint64_t RateLimiter::ChargePinned(const Pin& pin, uint64_t rate, uint64_t now) {
  absl::MutexLock lock(&pin.shard->mu);
  State& state = *pin.state;
  const int64_t ms = state.fresh ? 1 : ElapsedMs(now, state.last);
  const uint64_t level = state.fresh ? 0 : Drain(state.excess, rate, state.last, now, 1000);
  if (ms != 0) state.last = now;
  state.fresh = false;
  state.excess = level;
  --state.count;
  return level;
}

void RateLimiter::Unpin(const Pin& pin) {
  absl::MutexLock lock(&pin.shard->mu);
  --pin.state->count;
}

void RateLimiter::Expire(Shard& shard, uint64_t rate, int n, uint64_t now) {
  // ngx_http_limit_req_expire: looking past a pinned LRU state is pointless because lookups
  // move states to the front; an unforced removal needs a minute of idleness and an empty
  // bucket.
  while (n < 3) {
    if (shard.lru.empty()) return;
    State& state = shard.lru.back();
    if (state.count != 0) return;
    if (n++ != 0 && !state.fresh) {
      const auto signed_ms = static_cast<int64_t>(now - state.last);
      const int64_t ms = signed_ms < 0 ? -signed_ms : signed_ms;
      if (ms < 60000) return;
      const __int128 level =
          static_cast<__int128>(state.excess) - static_cast<__int128>(rate) * ms / 1000;
      if (level > 0) return;
    }
    shard.index.erase(base::AsAbsl(state.key));
    shard.used -= state.charge;
    shard.lru.pop_back();
  }
}

LimitReqDecision RateLimiter::Check(std::string_view key, uint64_t rate,
                                    const LimitReqPolicy& policy, uint64_t now_ms) {
  const LimitReqCheck check{this, rate, key, policy};
  return CheckLimitReq(std::span<const LimitReqCheck>(&check, 1), now_ms);
}

size_t RateLimiter::size() const {
  size_t total = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    total += shards_[i].index.size();
  }
  return total;
}

bool RateLimiter::Contains(std::string_view key) const {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  return shard.index.contains(base::AsAbsl(key));
}

LimitReqDecision CheckLimitReq(std::span<const LimitReqCheck> checks, uint64_t now_ms) {
  using Lookup = RateLimiter::Lookup;
  LimitReqDecision decision;
  if (checks.empty()) return decision;

  // The first pass mirrors ngx_http_limit_req_handler: each zone in order is looked up; the
  // last one is charged immediately, the others are pinned until the request is admitted.
  absl::InlinedVector<RateLimiter::Pin, 4> pins(checks.size());
  size_t last_looked_up = SIZE_MAX;
  Lookup rc = Lookup::kPinned;
  uint64_t excess = 0;
  size_t n = 0;
  for (; n < checks.size(); ++n) {
    const LimitReqCheck& check = checks[n];
    if (check.key.empty() || check.key.size() > RateLimiter::kMaxKeyLength) continue;
    REALIP_CHECK(check.rate > 0);
    last_looked_up = n;
    rc = check.zone->LookupState(check.key, check.rate, check.policy.burst, n + 1 == checks.size(),
                                 now_ms, &excess, &pins[n]);
    if (rc != Lookup::kPinned) break;
  }
  if (last_looked_up == SIZE_MAX) return decision;

  if (rc == Lookup::kBusy || rc == Lookup::kNoMemory) {
    for (size_t i = 0; i < n; ++i) {
      if (pins[i].state != nullptr) RateLimiter::Unpin(pins[i]);
    }
    decision.result = LimitReqResult::kRejected;
    decision.excess = rc == Lookup::kBusy ? excess : 0;
    decision.zone_index = n;
    return decision;
  }

  // ngx_http_limit_req_account. `n` is the charged zone, or checks.size() when the last key
  // was empty: then nothing was charged yet and the starting delay is zero.
  size_t deciding = last_looked_up;
  uint64_t max_delay = 0;
  if (rc == Lookup::kCharged) {
    const LimitReqCheck& charged = checks[n];
    if (excess > charged.policy.delay) {
      max_delay = (excess - charged.policy.delay) * 1000 / charged.rate;
    }
  } else {
    excess = 0;
  }
  uint64_t max_excess = excess;
  while (n-- > 0) {
    if (pins[n].state == nullptr) continue;
    const uint64_t level = RateLimiter::ChargePinned(pins[n], checks[n].rate, now_ms);
    if (level <= checks[n].policy.delay) continue;
    const uint64_t delay = (level - checks[n].policy.delay) * 1000 / checks[n].rate;
    if (delay > max_delay) {
      max_delay = delay;
      max_excess = level;
      deciding = n;
    }
  }
  decision.result = max_delay == 0 ? LimitReqResult::kPassed : LimitReqResult::kDelayed;
  decision.delay_ms = max_delay;
  decision.excess = max_excess;
  decision.zone_index = deciding;
  return decision;
}

std::string_view LimitReqStatusName(LimitReqResult result, bool dry_run) {
  switch (result) {
    case LimitReqResult::kDeclined:
      return "";
    case LimitReqResult::kPassed:
      return "PASSED";
    case LimitReqResult::kDelayed:
      return dry_run ? "DELAYED_DRY_RUN" : "DELAYED";
    case LimitReqResult::kRejected:
      return dry_run ? "REJECTED_DRY_RUN" : "REJECTED";
  }
  return "";
}

}  // namespace realip::access
