// limit_conn zones: concurrent requests per key (ngx_http_limit_conn_module), sharded, with
// memory bounded by the zone size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace realip::access {

// Outcome of ConnLimiter::TryAcquire. Only kAcquired must be paired with a Release.
enum class ConnLimitResult {
  kAcquired,  // counted; call Release(key) when the request ends
  kSkipped,   // empty key or longer than kMaxKeyLength: not limited (nginx logs and goes on)
  kLimited,   // the key already holds `limit` slots: refuse (limit_conn_status, 503)
  kZoneFull,  // no room for a new key in its shard: refuse, as nginx does on allocation failure
};

// One limit_conn_zone: a counter per key, created at the first acquire and removed when it
// drops to zero. Thread-safe; keys spread over `shards` shards (a mutex and a hash map each),
// each allowed zone_size / shards bytes at StateSize(key length) per key, as nginx counts.
class ConnLimiter {
 public:
  static constexpr size_t kDefaultShards = 16;
  // nginx keeps the key length in one byte.
  static constexpr size_t kMaxKeyLength = 255;

  // Requires shards > 0.
  ConnLimiter(std::string name, size_t zone_size, size_t shards = kDefaultShards);
  ~ConnLimiter();
  ConnLimiter(const ConnLimiter&) = delete;
  ConnLimiter& operator=(const ConnLimiter&) = delete;

  // Bytes one key costs in nginx's zone: a 36-byte node plus the key, rounded up to the slab
  // size (64 for $binary_remote_addr, so 1 MB holds 16384 keys).
  static size_t StateSize(size_t key_length);

  // Takes one of `limit` (1..65535) slots for `key`.
  [[nodiscard]] ConnLimitResult TryAcquire(std::string_view key, uint32_t limit);
  // Returns a slot taken by a TryAcquire that gave kAcquired; a key without slots is a bug.
  void Release(std::string_view key);

  const std::string& name() const { return name_; }
  // Slots held by `key` now.
  uint32_t Count(std::string_view key) const;
  // Keys with at least one slot (locks each shard in turn).
  size_t size() const;

 private:
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, uint32_t> counts ABSL_GUARDED_BY(mu);
    size_t used ABSL_GUARDED_BY(mu) = 0;
  };

  Shard& ShardFor(std::string_view key) const;

  const std::string name_;
  const size_t shard_budget_;
  const size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

// A slot held in one zone, returned on destruction; empty when default-constructed or moved
// from. The zone must outlive the lease (the configuration snapshot owns both).
class ConnLimitLease {
 public:
  ConnLimitLease() = default;
  // Adopts a slot that `zone->TryAcquire(key, ...)` returned kAcquired for.
  ConnLimitLease(ConnLimiter* zone, std::string_view key) : zone_(zone), key_(key) {}
  ~ConnLimitLease() { Reset(); }
  ConnLimitLease(ConnLimitLease&& other) noexcept;
  ConnLimitLease& operator=(ConnLimitLease&& other) noexcept;

  // Releases the slot now (no-op if empty).
  void Reset();

 private:
  ConnLimiter* zone_ = nullptr;
  std::string key_;
};

}  // namespace realip::access
