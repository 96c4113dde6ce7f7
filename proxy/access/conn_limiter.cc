#include "proxy/access/conn_limiter.h"

#include <utility>

#include "proxy/access/limit_args.h"
#include "proxy/base/check.h"
#include "proxy/base/strings.h"

namespace realip::access {
namespace {

// ngx_rbtree_node_t up to `color` (32 bytes) plus ngx_http_limit_conn_node_t up to `data`
// (4 bytes): what nginx allocates per key before the key bytes.
constexpr size_t kNginxStateHeader = 36;

}  // namespace

ConnLimiter::ConnLimiter(std::string name, size_t zone_size, size_t shards)
    : name_(std::move(name)),
      shard_budget_(zone_size / (shards == 0 ? 1 : shards)),
      shard_count_(shards),
      shards_(std::make_unique<Shard[]>(shards)) {
  REALIP_CHECK(shards > 0);
}

ConnLimiter::~ConnLimiter() = default;

size_t ConnLimiter::StateSize(size_t key_length) {
  return internal::SlabSize(kNginxStateHeader + key_length);
}

ConnLimiter::Shard& ConnLimiter::ShardFor(std::string_view key) const {
  return shards_[internal::ShardIndex(key, shard_count_)];
}

ConnLimitResult ConnLimiter::TryAcquire(std::string_view key, uint32_t limit) {
  if (key.empty() || key.size() > kMaxKeyLength) return ConnLimitResult::kSkipped;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  if (auto it = shard.counts.find(base::AsAbsl(key)); it != shard.counts.end()) {
    if (it->second >= limit) return ConnLimitResult::kLimited;
    ++it->second;
    return ConnLimitResult::kAcquired;
  }
  // A new key with limit 0 would never be admitted; the config parser forbids 0 anyway.
  if (limit == 0) return ConnLimitResult::kLimited;
  const size_t cost = StateSize(key.size());
  if (shard.used + cost > shard_budget_) return ConnLimitResult::kZoneFull;
  shard.used += cost;
  shard.counts.emplace(std::string(key), 1);
  return ConnLimitResult::kAcquired;
}

void ConnLimiter::Release(std::string_view key) {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.counts.find(base::AsAbsl(key));
  REALIP_CHECK(it != shard.counts.end());
  // ngx_http_limit_conn_cleanup frees the node when its count reaches zero.
  if (--it->second == 0) {
    shard.used -= StateSize(key.size());
    shard.counts.erase(it);
  }
}

uint32_t ConnLimiter::Count(std::string_view key) const {
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.counts.find(base::AsAbsl(key));
  return it == shard.counts.end() ? 0 : it->second;
}

size_t ConnLimiter::size() const {
  size_t total = 0;
  for (size_t i = 0; i < shard_count_; ++i) {
    absl::MutexLock lock(&shards_[i].mu);
    total += shards_[i].counts.size();
  }
  return total;
}

ConnLimitLease::ConnLimitLease(ConnLimitLease&& other) noexcept
    : zone_(std::exchange(other.zone_, nullptr)), key_(std::move(other.key_)) {}

ConnLimitLease& ConnLimitLease::operator=(ConnLimitLease&& other) noexcept {
  if (this != &other) {
    Reset();
    zone_ = std::exchange(other.zone_, nullptr);
    key_ = std::move(other.key_);
  }
  return *this;
}

void ConnLimitLease::Reset() {
  if (zone_ == nullptr) return;
  std::exchange(zone_, nullptr)->Release(key_);
  key_.clear();
}

}  // namespace realip::access
