#include "proxy/upstream/balancer.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proxy/base/check.h"
#include "proxy/net/ip_address.h"
#include "proxy/upstream/crc32.h"

namespace realip::upstream {

// ---------------------------------------------------------------------------------------------
// TriedPeers

void TriedPeers::Insert(PeerIndex peer) {
  size_t word = peer / 64;
  if (words_.size() <= word) words_.resize(word + 1, 0);
  words_[word] |= uint64_t{1} << (peer % 64);
}

bool TriedPeers::Contains(PeerIndex peer) const {
  size_t word = peer / 64;
  return word < words_.size() && (words_[word] >> (peer % 64) & 1) != 0;
}

size_t TriedPeers::count() const {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(__builtin_popcountll(w));
  return n;
}

// ---------------------------------------------------------------------------------------------
// Balancer: state and helpers shared by every algorithm

Balancer::Balancer(BalancerKind kind, std::vector<PeerConfig> peers)
    : kind_(kind), peers_(std::move(peers)) {
  state_.reserve(peers_.size());
  for (PeerIndex i = 0; i < peers_.size(); ++i) {
    const PeerConfig& p = peers_[i];
    // nginx starts current_weight at 0 and effective_weight at weight, which is what makes
    // 5:1:1 come out as a a b a c a a from the first request on.
    state_.push_back(PeerState{0, p.weight, 0, PassiveHealth(p.max_fails, p.fail_timeout)});
    if (p.backup) {
      backup_.push_back(i);
    } else {
      primary_.push_back(i);
      primary_weight_ += static_cast<uint64_t>(p.weight);
    }
  }
  single_ = primary_.size() == 1 && backup_.empty();
}

std::optional<PeerIndex> Balancer::Pick(const PickContext& ctx) {
  std::optional<PeerIndex> picked = DoPick(ctx);
  if (picked && !single_) state_[*picked].health.OnPicked(ctx.now);
  return picked;
}

void Balancer::Acquire(PeerIndex peer) { ++state_[peer].conns; }

void Balancer::Release(PeerIndex peer) {
  REALIP_CHECK(state_[peer].conns > 0);
  --state_[peer].conns;
}

void Balancer::Report(PeerIndex peer, Outcome outcome, absl::Time now) {
  if (single_) return;
  PeerState& s = state_[peer];
  const PeerConfig& p = peers_[peer];
  if (outcome == Outcome::kSuccess) {
    s.health.OnSuccess(now);
    return;
  }
  s.health.OnFailure(now);
  // nginx (ngx_http_upstream_free_round_robin_peer): a failure takes weight/max_fails off the
  // effective weight; each later selection round gives one unit back, so a flapping peer gets
  // less traffic for a while instead of all or nothing.
  if (p.max_fails > 0) {
    s.effective_weight = std::max<int64_t>(0, s.effective_weight - p.weight / p.max_fails);
  }
}

bool Balancer::IsUp(PeerIndex peer) const {
  return !peers_[peer].down && (single_ || state_[peer].health.up());
}

bool Balancer::Eligible(PeerIndex peer, const PickContext& ctx) const {
  if (ctx.tried != nullptr && ctx.tried->Contains(peer)) return false;
  if (peers_[peer].down) return false;
  return single_ || state_[peer].health.Available(ctx.now);
}

template <typename Accept>
std::optional<PeerIndex> Balancer::SmoothPick(const std::vector<PeerIndex>& group,
                                              const PickContext& ctx, Accept accept) {
  // nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): every candidate gains its
  // effective weight, the largest current weight wins and pays back the total. Over a cycle of
  // sum(weights) picks each peer is chosen exactly `weight` times, spread out rather than in a
  // burst.
  std::optional<PeerIndex> best;
  int64_t total = 0;
  for (PeerIndex i : group) {
    if (!Eligible(i, ctx) || !accept(i)) continue;
    PeerState& s = state_[i];
    s.current_weight += s.effective_weight;
    total += s.effective_weight;
    if (s.effective_weight < peers_[i].weight) ++s.effective_weight;
    if (!best || s.current_weight > state_[*best].current_weight) best = i;
  }
  if (best) state_[*best].current_weight -= total;
  return best;
}

std::optional<PeerIndex> Balancer::RoundRobin(const PickContext& ctx) {
  auto any = [](PeerIndex) { return true; };
  if (std::optional<PeerIndex> p = SmoothPick(primary_, ctx, any)) return p;
  return SmoothPick(backup_, ctx, any);
}

PeerIndex Balancer::PrimaryByWeight(uint64_t w) const {
  for (PeerIndex i : primary_) {
    uint64_t weight = static_cast<uint64_t>(peers_[i].weight);
    if (w < weight) return i;
    w -= weight;
  }
  REALIP_CHECK(false);
  return 0;
}

namespace {

// nginx gives up hashing after this many unusable candidates and falls back to round-robin
// (ngx_http_upstream_get_ip_hash_peer, ngx_http_upstream_get_hash_peer).
constexpr int kMaxHashTries = 20;

// ---------------------------------------------------------------------------------------------
// round_robin (the default)

class RoundRobinBalancer final : public Balancer {
 public:
  using Balancer::Balancer;

 private:
  std::optional<PeerIndex> DoPick(const PickContext& ctx) override { return RoundRobin(ctx); }
};

// ---------------------------------------------------------------------------------------------
// least_conn

class LeastConnBalancer final : public Balancer {
 public:
  using Balancer::Balancer;

 private:
  std::optional<PeerIndex> DoPick(const PickContext& ctx) override {
    if (std::optional<PeerIndex> p = PickIn(primary_, ctx)) return p;
    return PickIn(backup_, ctx);
  }

  // ngx_http_upstream_get_least_conn_peer: the fewest active requests per unit of weight
  // (compared as conns_a * weight_b < conns_b * weight_a); ties go through smooth round-robin
  // among the tied peers only.
  std::optional<PeerIndex> PickIn(const std::vector<PeerIndex>& group, const PickContext& ctx) {
    std::optional<PeerIndex> best;
    bool many = false;
    auto ratio_cmp = [this](PeerIndex a, PeerIndex b) {
      int64_t lhs = int64_t{state_[a].conns} * peers_[b].weight;
      int64_t rhs = int64_t{state_[b].conns} * peers_[a].weight;
      return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0);
    };
    for (PeerIndex i : group) {
      if (!Eligible(i, ctx)) continue;
      if (!best || ratio_cmp(i, *best) < 0) {
        best = i;
        many = false;
      } else if (ratio_cmp(i, *best) == 0) {
        many = true;
      }
    }
    // nginx moves the smooth round-robin weights only to break ties.
    if (!best || !many) return best;
    PeerIndex least = *best;
    return SmoothPick(group, ctx, [&](PeerIndex i) { return ratio_cmp(i, least) == 0; });
  }
};

// ---------------------------------------------------------------------------------------------
// ip_hash

class IpHashBalancer final : public Balancer {
 public:
  using Balancer::Balancer;

 private:
  std::optional<PeerIndex> DoPick(const PickContext& ctx) override {
    if (primary_.size() < 2) return RoundRobin(ctx);
    // ngx_http_upstream_ip_hash_module: the first three octets of an IPv4 address (clients of
    // one /24 stick together) or all 16 bytes of IPv6, folded with hash = (hash * 113 + b) %
    // 6271 from 89; each retry keeps folding the same bytes into the previous value.
    static constexpr uint8_t kPseudo[3] = {0, 0, 0};
    const uint8_t* addr = kPseudo;
    size_t len = 3;
    if (ctx.key.size() == 4 || ctx.key.size() == 16) {
      addr = reinterpret_cast<const uint8_t*>(ctx.key.data());
      len = ctx.key.size() == 4 ? 3 : 16;
    }
    uint64_t hash = 89;
    for (int tries = 0; tries <= kMaxHashTries; ++tries) {
      for (size_t i = 0; i < len; ++i) hash = (hash * 113 + addr[i]) % 6271;
      PeerIndex p = PrimaryByWeight(hash % primary_weight_);
      if (Eligible(p, ctx)) return p;
    }
    return RoundRobin(ctx);
  }
};

// ---------------------------------------------------------------------------------------------
// hash KEY

class HashBalancer final : public Balancer {
 public:
  using Balancer::Balancer;

 private:
  std::optional<PeerIndex> DoPick(const PickContext& ctx) override {
    if (primary_.size() < 2 || ctx.key.empty()) return RoundRobin(ctx);
    // ngx_http_upstream_hash_module, compatible with Cache::Memcached: candidate n adds
    // ((crc32(n ? decimal(n) KEY : KEY) >> 16) & 0x7fff) to the running sum and takes the
    // peer at sum % total_weight, `down` peers included so the mapping survives them.
    uint64_t sum = 0;
    for (int rehash = 0; rehash <= kMaxHashTries; ++rehash) {
      uint32_t crc = 0;
      if (rehash > 0) crc = internal::Crc32(absl::StrCat(rehash), crc);
      crc = internal::Crc32(ctx.key, crc);
      sum += (crc >> 16) & 0x7fff;
      PeerIndex p = PrimaryByWeight(sum % primary_weight_);
      if (Eligible(p, ctx)) return p;
    }
    return RoundRobin(ctx);
  }
};

// ---------------------------------------------------------------------------------------------
// hash KEY consistent

// The text a peer's ring points derive from. nginx uses the server line as written; for a
// hostname that resolves to several addresses (a Kubernetes headless Service) that would put
// every pod behind one set of points, so there each address gets its own points instead, and
// removing one pod moves only its own share of keys.
std::string RingName(const PeerConfig& p) {
  if (p.server.rfind("unix:", 0) == 0) return p.server;
  if (net::ParseHostPort(p.server, 0).has_value()) return p.server;
  return p.address.ToString();
}

// crc32(HOST "\0" PORT), HOST and PORT split as nginx's ngx_http_upstream_init_chash does
// (compatible with Cache::Memcached::Fast): PORT is the run of digits after the last ':', if
// any; a "unix:" server is all HOST.
uint32_t RingBaseHash(std::string_view name) {
  std::string_view host = name;
  std::string_view port;
  if (name.size() >= 5 && name.substr(0, 5) == "unix:") {
    host = name.substr(5);
  } else {
    for (size_t j = 0; j < name.size(); ++j) {
      char c = name[name.size() - j - 1];
      if (c == ':') {
        host = name.substr(0, name.size() - j - 1);
        port = name.substr(name.size() - j);
        break;
      }
      if (c < '0' || c > '9') break;
    }
  }
  uint32_t crc = internal::Crc32(host);
  crc = internal::Crc32(std::string_view("\0", 1), crc);
  return internal::Crc32(port, crc);
}

class ConsistentHashBalancer final : public Balancer {
 public:
  ConsistentHashBalancer(BalancerKind kind, std::vector<PeerConfig> peers)
      : Balancer(kind, std::move(peers)) {
    // Peers with the same ring name share points and are balanced among themselves by smooth
    // round-robin, as nginx does for the addresses of one server line.
    std::map<std::string, size_t> group_of;
    for (PeerIndex i : primary_) {
      auto [it, inserted] = group_of.emplace(RingName(peers_[i]), groups_.size());
      if (inserted) groups_.emplace_back();
      groups_[it->second].push_back(i);
    }
    // 160 points per unit of weight; point j is crc32(HOST \0 PORT PREV) where PREV is the
    // previous point's value as 4 little-endian bytes (0 for the first), so the ring matches
    // nginx's and a client lands on the same server behind either proxy.
    for (PeerIndex i : primary_) {
      uint32_t base = RingBaseHash(RingName(peers_[i]));
      uint32_t group = static_cast<uint32_t>(group_of[RingName(peers_[i])]);
      uint32_t prev = 0;
      for (int j = 0; j < peers_[i].weight * 160; ++j) {
        const char bytes[4] = {static_cast<char>(prev & 0xff), static_cast<char>(prev >> 8 & 0xff),
                               static_cast<char>(prev >> 16 & 0xff),
                               static_cast<char>(prev >> 24 & 0xff)};
        uint32_t h = internal::Crc32(std::string_view(bytes, 4), base);
        points_.push_back(Point{h, group});
        prev = h;
      }
    }
    // Equal hashes keep the first in server order (nginx keeps one of them, qsort decides).
    std::stable_sort(points_.begin(), points_.end(),
                     [](const Point& a, const Point& b) { return a.hash < b.hash; });
    points_.erase(std::unique(points_.begin(), points_.end(),
                              [](const Point& a, const Point& b) { return a.hash == b.hash; }),
                  points_.end());
  }

 private:
  struct Point {
    uint32_t hash;
    uint32_t group;
  };

  std::optional<PeerIndex> DoPick(const PickContext& ctx) override {
    if (primary_.size() < 2 || ctx.key.empty()) return RoundRobin(ctx);
    uint32_t hash = internal::Crc32(ctx.key);
    // The first point >= hash, wrapping past the end; unusable servers pass the key on to the
    // next point clockwise, so only their own keys move.
    size_t start = static_cast<size_t>(
        std::lower_bound(points_.begin(), points_.end(), hash,
                         [](const Point& p, uint32_t h) { return p.hash < h; }) -
        points_.begin());
    for (size_t k = 0; k < points_.size(); ++k) {
      const std::vector<PeerIndex>& group = groups_[points_[(start + k) % points_.size()].group];
      if (std::optional<PeerIndex> p = SmoothPick(group, ctx, [](PeerIndex) { return true; })) {
        return p;
      }
    }
    return SmoothPick(backup_, ctx, [](PeerIndex) { return true; });
  }

  std::vector<std::vector<PeerIndex>> groups_;
  std::vector<Point> points_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Balancer>> NewBalancer(BalancerKind kind,
                                                      std::vector<PeerConfig> peers) {
  bool has_primary = false;
  int64_t primary_weight = 0;
  for (const PeerConfig& p : peers) {
    std::string where = absl::StrCat("upstream server ", p.server, " (", p.address.ToString(), ")");
    if (p.weight < 1) return absl::InvalidArgumentError(absl::StrCat(where, ": weight < 1"));
    if (p.max_fails < 0) return absl::InvalidArgumentError(absl::StrCat(where, ": max_fails < 0"));
    if (p.fail_timeout < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": negative fail_timeout"));
    }
    has_primary = has_primary || !p.backup;
    if (!p.backup) primary_weight += p.weight;
  }
  if (!has_primary) return absl::InvalidArgumentError("upstream has no primary server");
  if (kind == BalancerKind::kConsistentHash && primary_weight > kMaxConsistentHashWeight) {
    return absl::InvalidArgumentError(absl::StrCat("consistent hash: total weight ", primary_weight,
                                                   " exceeds ", kMaxConsistentHashWeight));
  }
  switch (kind) {
    case BalancerKind::kRoundRobin:
      return std::unique_ptr<Balancer>(new RoundRobinBalancer(kind, std::move(peers)));
    case BalancerKind::kLeastConn:
      return std::unique_ptr<Balancer>(new LeastConnBalancer(kind, std::move(peers)));
    case BalancerKind::kIpHash:
      return std::unique_ptr<Balancer>(new IpHashBalancer(kind, std::move(peers)));
    case BalancerKind::kHash:
      return std::unique_ptr<Balancer>(new HashBalancer(kind, std::move(peers)));
    case BalancerKind::kConsistentHash:
      return std::unique_ptr<Balancer>(new ConsistentHashBalancer(kind, std::move(peers)));
  }
  return absl::InvalidArgumentError("unknown balancer kind");
}

}  // namespace realip::upstream
