// limit_req zones: nginx's leaky bucket per key (ngx_http_limit_req_module), sharded so that
// worker threads do not meet on one lock, with memory bounded by the zone size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace realip::access {

class RateLimiter;

// What a location's limit_req rules decided for one request. kDeclined: every key was empty
// (or longer than 65535 bytes), so no limit applied and $limit_req_status stays empty.
enum class LimitReqResult { kDeclined, kPassed, kDelayed, kRejected };

// One `limit_req zone=... burst=... delay=...` as LimitReqSpec parsed it (units of 1/1000
// request): the request is rejected above `burst`, delayed above `delay`.
struct LimitReqPolicy {
  uint64_t burst = 0;
  uint64_t delay = 0;
};

// One limit_req rule applied to one request: the zone, the zone's rate in the configuration the
// request runs on (requests per second x 1000, > 0), the evaluated key (for $binary_remote_addr,
// net::IpAddress::Bytes()) and the rule's policy.
struct LimitReqCheck {
  RateLimiter* zone = nullptr;
  uint64_t rate = 0;
  std::string_view key;
  LimitReqPolicy policy;
};

// The outcome for a request. With dry run on the caller treats kDelayed and kRejected as a
// pass (the buckets are charged either way, as in nginx).
struct LimitReqDecision {
  LimitReqResult result = LimitReqResult::kDeclined;
  // For kDelayed: how long to hold the request before passing it on.
  uint64_t delay_ms = 0;
  // The deciding zone's excess in 1/1000 requests (nginx logs it as "excess: 1.000").
  uint64_t excess = 0;
  // Index into the checks of the zone that rejected or imposed the longest delay (for logs
  // and the zone label of realip_limit_req_total); SIZE_MAX for kDeclined.
  size_t zone_index = SIZE_MAX;
};

// Applies a location's limit_req rules in order, exactly as nginx's preaccess handler: earlier
// zones are only looked up, the last non-empty key is charged at once; a rejection by any
// zone charges no zone, otherwise every zone is charged and the longest delay wins. `now_ms` is
// a monotonic millisecond clock, read once per request by the caller.
LimitReqDecision CheckLimitReq(std::span<const LimitReqCheck> checks, uint64_t now_ms);

// $limit_req_status: "PASSED", "DELAYED", "REJECTED", "DELAYED_DRY_RUN", "REJECTED_DRY_RUN";
// "" for kDeclined.
std::string_view LimitReqStatusName(LimitReqResult result, bool dry_run);

// The states of one limit_req_zone: a leaky bucket per key (excess and time of the last charge).
// The rate is not the zone's but each check's, as nginx keeps it in the configuration's ctx and
// not in the shared zone: a reload that changes only the rate keeps the zone, and each request
// drains and charges the buckets at the rate of its own configuration.
// Thread-safe. States live in `shards` independent shards (each a mutex, a hash map and an
// LRU list); each shard may hold zone_size / shards bytes of states, a state costing
// StateSize(key length) bytes as in nginx, and evicts as nginx does when it is full.
class RateLimiter {
 public:
  static constexpr size_t kDefaultShards = 16;
  // Longest key nginx accepts; longer keys are skipped (CheckLimitReq declines them).
  static constexpr size_t kMaxKeyLength = 65535;

  // Requires shards > 0.
  RateLimiter(std::string name, size_t zone_size, size_t shards = kDefaultShards);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Bytes one state costs in nginx's zone: an 80-byte node plus the key, rounded up to the
  // slab size (128 for $binary_remote_addr, so 1 MB holds 8192 states).
  static size_t StateSize(size_t key_length);

  // A single rule at `rate` (requests per second x 1000, > 0): CheckLimitReq with one check.
  LimitReqDecision Check(std::string_view key, uint64_t rate, const LimitReqPolicy& policy,
                         uint64_t now_ms);

  const std::string& name() const { return name_; }
  // Number of states held now (locks each shard in turn).
  size_t size() const;
  // True if a state for `key` is held.
  bool Contains(std::string_view key) const;

 private:
  friend LimitReqDecision CheckLimitReq(std::span<const LimitReqCheck>, uint64_t);

  struct State {
    std::string key;
    uint64_t last = 0;    // ms of the last charge
    uint64_t excess = 0;  // 1/1000 requests
    uint32_t count = 0;   // pending lookups of a multi-zone check; pins the state
    bool fresh = false;   // created by a lookup, not yet charged
    size_t charge = 0;    // StateSize(key.size())
  };
  using Lru = std::list<State>;  // most recently used first
  struct Shard {
    mutable absl::Mutex mu;
    Lru lru ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<absl::string_view, Lru::iterator> index ABSL_GUARDED_BY(mu);
    size_t used ABSL_GUARDED_BY(mu) = 0;
  };
  enum class Lookup { kBusy, kNoMemory, kCharged, kPinned };
  // A state looked up but not charged yet (nginx's ctx->node).
  struct Pin {
    Shard* shard = nullptr;
    State* state = nullptr;
  };

  Shard& ShardFor(std::string_view key) const;
  // ngx_http_limit_req_lookup: charges the state if `charge`, else pins it in *pin.
  Lookup LookupState(std::string_view key, uint64_t rate, uint64_t burst, bool charge, uint64_t now,
                     uint64_t* excess, Pin* pin);
  // ngx_http_limit_req_account for one pinned state: charges it, returns its new excess.
  static uint64_t ChargePinned(const Pin& pin, uint64_t rate, uint64_t now);
  // Releases a pin without charging (a later zone rejected the request).
  static void Unpin(const Pin& pin);
  // ngx_http_limit_req_expire: n == 1 drops up to two idle drained LRU states; n == 0 first
  // drops the LRU state by force.
  static void Expire(Shard& shard, uint64_t rate, int n, uint64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  // The bucket level after `now - last` ms of draining at `rate` plus this request (nginx's
  // formula).
  static uint64_t Drain(uint64_t excess, uint64_t rate, uint64_t last, uint64_t now, uint64_t add);

  const std::string name_;
  const size_t shard_budget_;
  const size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace realip::access
