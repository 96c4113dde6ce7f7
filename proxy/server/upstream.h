// Upstream connections, the per-worker keep-alive pool and the peer-selection seam.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/event/loop.h"
#include "proxy/net/socket_address.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/server/request_context.h"
#include "proxy/server/socket.h"
#include "proxy/upstream/balancer.h"
#include "proxy/server/tls_transport.h"

namespace realip::server {

// Receives readiness of an upstream connection from whoever currently holds it.
class UpstreamDelegate {
 public:
  virtual ~UpstreamDelegate() = default;
  virtual void OnUpstreamIo(bool readable, bool writable) = 0;
};

// The TLS settings an upstream connection was made with (`proxy_pass https://`): those of a
// location of one configuration. A pooled TLS connection serves only requests with the same
// settings, as its handshake checked the peer (or not) for them: a location without
// proxy_ssl_verify must not hand a verified location an unchecked connection, nor one
// location another's name or client certificate, nor a reload its old settings.
struct TlsScope {
  const void* settings = nullptr;  // null: plain TCP
  // The configuration `settings` belong to; watched, so that a later configuration whose
  // settings take the same address is not taken for it.
  std::weak_ptr<const void> config;
  bool Matches(const void* other_settings,
               const std::shared_ptr<const config::Config>& other_config) const {
    return settings == other_settings &&
           (settings == nullptr ||
            (!config.owner_before(other_config) && !other_config.owner_before(config)));
  }
};

// One connection to an upstream peer. Registered with the loop once; readiness goes to the
// current delegate (a session while in use, the pool while idle).
class UpstreamConnection : public event::IoHandler {
 public:
  // Starts a non-blocking connect to `peer`.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<UpstreamConnection>> Connect(
      event::EventLoop& loop, const net::SocketAddress& peer, bool nodelay);
  ~UpstreamConnection() override;

  void set_delegate(UpstreamDelegate* delegate) { delegate_ = delegate; }
  Transport& transport() { return *active_; }
  // Speaks TLS from now on (`proxy_pass https://`), before anything is written, made with the
  // settings of `scope`.
  void StartTls(std::unique_ptr<tls::Connection> conn, TlsScope scope);
  const TlsScope& tls_scope() const { return tls_scope_; }
  bool is_tls() const { return tls_ != nullptr; }
  // What went wrong with the last kError result of transport().
  std::string ErrorText(const IoResult& r) const;
  const net::SocketAddress& peer() const { return peer_; }
  int fd() const { return fd_; }
  bool connected() const { return connected_; }
  void set_connected() { connected_ = true; }
  int requests() const { return requests_; }
  void count_request() { ++requests_; }
  // The peer closed or half-closed; reads continue until EOF.
  bool peer_closed() const { return peer_closed_; }
  // See event::IoWatcher::reports_peer_close().
  bool short_read_drains() const {
    return watcher_.reports_peer_close() && active_->ShortReadDrains();
  }

  // Counts a request in flight to `peer` of `balancer` (least_conn) until ClearLease() or the
  // connection's end. `balancer` outlives the lease (see UpstreamBalancers).
  void SetLease(upstream::Balancer* balancer, upstream::PeerIndex peer);
  void ClearLease();
  // The peer this connection's request counts against, when leased.
  std::optional<upstream::PeerIndex> lease_peer() const {
    return lease_ != nullptr ? std::optional<upstream::PeerIndex>(lease_peer_) : std::nullopt;
  }
  // With proxy_protocol: the PROXY header this connection started with (it names one client).
  const std::string& proxy_header() const { return proxy_header_; }
  void set_proxy_header(std::string header) { proxy_header_ = std::move(header); }

  void OnIo(bool readable, bool writable, bool peer_closed) override;

 private:
  UpstreamConnection(int fd, const net::SocketAddress& peer) : fd_(fd), peer_(peer),
                                                               transport_(fd) {}
  int fd_;
  net::SocketAddress peer_;
  PlainTransport transport_;
  std::unique_ptr<TlsTransport> tls_;
  TlsScope tls_scope_;
  Transport* active_ = &transport_;
  event::IoWatcher watcher_;
  UpstreamDelegate* delegate_ = nullptr;
  bool connected_ = false;
  bool peer_closed_ = false;
  int requests_ = 0;
  upstream::Balancer* lease_ = nullptr;
  upstream::PeerIndex lease_peer_ = 0;
  std::string proxy_header_;
};

// The balancers of one worker: one realip::upstream::Balancer per config::Upstream, holding
// round-robin positions, least_conn counts and passive health. Per worker, so no locks.
// Reloads: a session uses the Upstream of its own snapshot, so balancers are keyed by that
// object, which they watch without owning it (every worker has an entry for the same object,
// so no one of them may keep it alive); Prune() drops the ones no snapshot refers to any more.
class UpstreamBalancers {
 public:
  // Builds the balancers of the named upstreams of `config` now (a consistent-hash ring is
  // computed once, not on the first request); implicit ones are built on first use.
  void Prepare(const config::Config& config);
  // The balancer of `upstream`, built on first use; null (and logged once) if its peers are
  // invalid for the algorithm.
  upstream::Balancer* For(const std::shared_ptr<const config::Upstream>& upstream);
  // Forgets balancers of upstreams that only this object still holds (old snapshots gone).
  void Prune();
  size_t size() const { return balancers_.size(); }

 private:
  struct Entry {
    std::weak_ptr<const config::Upstream> upstream;  // expired: no snapshot uses it
    std::unique_ptr<upstream::Balancer> balancer;  // null: could not be built
  };
  std::unordered_map<const config::Upstream*, Entry> balancers_;
};

// The peers of an upstream block in balancer order: every address of every server line.
std::vector<upstream::PeerConfig> PeersOf(const config::Upstream& upstream);

// The hash key PickContext wants for `upstream`: the resolved client IP bytes for ip_hash, the
// evaluated key for hash, empty otherwise.
std::string HashKeyFor(const config::Upstream& upstream, const RequestContext& ctx);

// The PROXY header (proxy_protocol on) a new backend connection starts with: the resolved
// client address and port, and the address the client connected to (the PROXY header's
// destination when the client address came from it, else `local`). Version 2 passes on the
// ALPN, authority, SSL and unique-id TLVs of the PROXY header the client connection carried.
std::string UpstreamProxyHeader(int version, const net::SocketAddress& client,
                                const net::SocketAddress& local,
                                const realip::ProxyHeader* received);

// Idle keep-alive connections per (upstream, peer, PROXY header), owned by one worker. An idle
// connection that becomes readable (the peer closed it or sent junk) or outlives the upstream's
// keepalive_timeout is closed. A connection that began with a PROXY header is only handed out
// for a request whose PROXY header is byte-identical (the same client identity).
class UpstreamPool {
 public:
  explicit UpstreamPool(event::EventLoop& loop);
  ~UpstreamPool();

  // An idle connection to `peer` of `upstream` that began with `proxy_header` (empty: none)
  // and was made with the TLS settings `tls_settings` of `config` (null: plain TCP; see
  // TlsScope), or null.
  std::unique_ptr<UpstreamConnection> Take(const config::Upstream& upstream,
                                           const net::SocketAddress& peer,
                                           std::string_view proxy_header, const void* tls_settings,
                                           const std::shared_ptr<const config::Config>& config);
  // Keeps `conn` for reuse, within `upstream.keepalive` idle connections per worker (the
  // oldest is closed beyond that).
  void Put(const config::Upstream& upstream, std::unique_ptr<UpstreamConnection> conn);
  size_t idle() const;
  // How many keys (upstream, peer, PROXY header, TLS settings) have a bucket (tests).
  size_t buckets() const { return idle_.size(); }
  // Closes every idle connection (shutdown).
  void Clear();

 private:
  struct Idle;
  // Upstream name, peer, PROXY header bytes, TLS settings (TlsScope::settings as a number).
  // Looked up through a KeyView, so that taking and returning a connection (every request)
  // builds no strings.
  struct Key {
    std::string upstream;
    net::SocketAddress peer;
    std::string proxy_header;
    uintptr_t tls_settings = 0;
  };
  struct KeyView {
    std::string_view upstream;
    const net::SocketAddress* peer;
    std::string_view proxy_header;
    uintptr_t tls_settings = 0;
  };
  struct KeyLess {
    using is_transparent = void;
    using Tied =
        std::tuple<std::string_view, const net::SocketAddress&, std::string_view, uintptr_t>;
    static Tied Tie(const Key& k) {
      return Tied(k.upstream, k.peer, k.proxy_header, k.tls_settings);
    }
    static Tied Tie(const KeyView& k) {
      return Tied(k.upstream, *k.peer, k.proxy_header, k.tls_settings);
    }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Tie(a) < Tie(b);
    }
  };
  // The idle connections of one key, oldest first (their expiries are in that order too,
  // unless a reload changed keepalive_timeout).
  struct Bucket {
    std::vector<std::unique_ptr<Idle>> list;
    size_t* count = nullptr;  // idle connections of the key's upstream, all keys (per_upstream_)
  };
  using Buckets = std::map<Key, Bucket, KeyLess>;
  // The bucket of a key, or null (Find) / a new empty one (FindOrAdd). Consecutive requests
  // mostly use the same key, so the bucket found last is compared first: Sweep() (which
  // erases empty buckets) and Clear() forget it.
  Bucket* Find(const KeyView& key);
  Bucket& FindOrAdd(const KeyView& key);
  // Takes the entry out of its bucket and keeps it for reuse (its connection is closed).
  void Remove(Idle* idle);
  void Recycle(std::unique_ptr<Idle> idle);
  // Closes the connections whose keepalive_timeout passed; re-arms for the next expiry.
  void Sweep();
  void ArmSweep(int64_t at_ms);
  event::EventLoop& loop_;
  // One timer for the whole pool instead of one per idle connection (taking and returning a
  // connection, every request, touches no timer): armed for the earliest expiry.
  event::Timer sweep_timer_;
  int64_t sweep_at_ms_ = 0;  // 0: not armed
  Buckets idle_;
  Buckets::iterator last_;  // valid when last_valid_
  bool last_valid_ = false;
  std::map<std::string, size_t, std::less<>> per_upstream_;
  // Entries whose connection was taken or closed: the next Put reuses one instead of
  // allocating.
  std::vector<std::unique_ptr<Idle>> spare_;
};

}  // namespace realip::server
