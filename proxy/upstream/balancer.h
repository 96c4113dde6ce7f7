// Load balancers of one upstream block, sans I/O: nginx's smooth weighted round-robin,
// least_conn, ip_hash, hash and hash ... consistent, with backup/down peers and passive health.
//
// One Balancer serves one upstream in one worker thread; it is not thread-safe and needs no
// lock (docs/upstreams.md explains what per-worker state means with N workers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/net/socket_address.h"
#include "proxy/upstream/health.h"

namespace realip::upstream {

// Position of a peer in the vector given to NewBalancer.
using PeerIndex = size_t;

// The `upstream` block's balancing directive: none, least_conn, ip_hash, hash KEY,
// hash KEY consistent.
enum class BalancerKind { kRoundRobin, kLeastConn, kIpHash, kHash, kConsistentHash };

// One peer: one resolved address of one `server` line, with that line's parameters.
struct PeerConfig {
  // The server line's address as written ("10.0.0.3:8080", "app.ns.svc:8080"); the consistent
  // hash places its ring points by this text when it is an IP literal (as nginx does).
  std::string server;
  net::SocketAddress address;
  // address.ToString(), made once: $upstream_addr and the metrics' peer label.
  std::string address_text;
  int weight = 1;     // >= 1
  int max_fails = 1;  // 0: never marked down
  absl::Duration fail_timeout = absl::Seconds(10);
  bool backup = false;  // used only when no primary peer is available
  bool down = false;    // never used
};

// The peers one request has already been sent to (proxy_next_upstream): a small bit set.
class TriedPeers {
 public:
  void Insert(PeerIndex peer);
  bool Contains(PeerIndex peer) const;
  // How many peers are in the set.
  size_t count() const;
  // Empties the set (a new request), keeping any memory it grew.
  void Clear() { words_.clear(); }

 private:
  absl::InlinedVector<uint64_t, 1> words_;
};

// What one Pick needs to know about the request.
struct PickContext {
  // kHash, kConsistentHash: the evaluated hash key (for `hash $remote_addr`, the resolved real
  // client IP as text). kIpHash: the resolved real client IP as net::IpAddress::Bytes() (4 or
  // 16 bytes; any other length, e.g. a Unix-socket client, hashes like nginx's pseudo address).
  std::string_view key;
  const TriedPeers* tried = nullptr;  // null: nothing tried yet
  absl::Time now;
};

// The outcome of one request to a peer, for passive health (see DecideNextUpstream for which
// failures count).
enum class Outcome { kSuccess, kFailure };

// A balancer over a fixed set of peers. Per request: Pick, Acquire, send, Report, Release; on a
// retry, add the peer to the request's TriedPeers and Pick again.
class Balancer {
 public:
  // For the implementations (abstract class); build balancers with NewBalancer.
  Balancer(BalancerKind kind, std::vector<PeerConfig> peers);
  virtual ~Balancer() = default;
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // The peer for this attempt, or nullopt when every peer is down, failed or already tried
  // (the engine answers 502 at once). Primary peers first; backup peers only when no primary
  // is available. Advances round-robin state and may start a health trial.
  [[nodiscard]] std::optional<PeerIndex> Pick(const PickContext& ctx);

  // A request to `peer` starts / ends: the active count least_conn compares.
  void Acquire(PeerIndex peer);
  void Release(PeerIndex peer);

  // Passive health: feeds max_fails/fail_timeout and, on failure, lowers the peer's effective
  // weight as nginx does. Ignored for a lone peer (nginx never marks a single server down).
  void Report(PeerIndex peer, Outcome outcome, absl::Time now);

  BalancerKind kind() const { return kind_; }
  size_t size() const { return peers_.size(); }
  const PeerConfig& peer(PeerIndex peer) const { return peers_[peer]; }
  // For the realip_upstream_peer_up gauge: not `down` and not marked down by passive health.
  bool IsUp(PeerIndex peer) const;
  // Requests in flight to `peer` (Acquire minus Release).
  int active(PeerIndex peer) const { return state_[peer].conns; }
  const PassiveHealth& health(PeerIndex peer) const { return state_[peer].health; }

 protected:
  struct PeerState {
    int64_t current_weight = 0;
    int64_t effective_weight = 0;
    int conns = 0;
    PassiveHealth health;
  };

  // The algorithm; Pick() adds the health bookkeeping common to all of them.
  virtual std::optional<PeerIndex> DoPick(const PickContext& ctx) = 0;

  // Neither down, nor tried, nor out because of passive health.
  bool Eligible(PeerIndex peer, const PickContext& ctx) const;
  // Smooth weighted round-robin over the eligible peers of `group` accepted by `accept`.
  template <typename Accept>
  std::optional<PeerIndex> SmoothPick(const std::vector<PeerIndex>& group, const PickContext& ctx,
                                      Accept accept);
  // Round-robin over the primaries, then the backups: the fallback of the hash balancers.
  std::optional<PeerIndex> RoundRobin(const PickContext& ctx);
  // The primary peer whose weight range contains `w` (0 <= w < primary_weight_), walking the
  // primaries in order as nginx's hash balancers do.
  PeerIndex PrimaryByWeight(uint64_t w) const;

  const BalancerKind kind_;
  const std::vector<PeerConfig> peers_;
  std::vector<PeerState> state_;
  std::vector<PeerIndex> primary_;
  std::vector<PeerIndex> backup_;
  uint64_t primary_weight_ = 0;  // sum of primary weights, `down` ones included
  // One primary and no backup: health is ignored, as in nginx's peers->single.
  bool single_ = false;
};

// 160 ring points per unit of weight: this bound keeps one ring under 13 MB.
inline constexpr int64_t kMaxConsistentHashWeight = 10000;

// Validates the peers (at least one primary; weight >= 1; max_fails >= 0; fail_timeout >= 0;
// for kConsistentHash a total primary weight of at most kMaxConsistentHashWeight) and builds
// the balancer; the consistent-hash ring is computed here, once.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Balancer>> NewBalancer(BalancerKind kind,
                                                                    std::vector<PeerConfig> peers);

}  // namespace realip::upstream
