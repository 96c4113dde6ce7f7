#include "proxy/server/upstream.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "proxy/base/check.h"
#include "proxy/base/logging.h"

namespace realip::server {

absl::StatusOr<std::unique_ptr<UpstreamConnection>> UpstreamConnection::Connect(
    event::EventLoop& loop, const net::SocketAddress& peer, bool nodelay) {
  absl::StatusOr<int> fd = StartConnect(peer, nodelay);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<UpstreamConnection> conn(new UpstreamConnection(*fd, peer));
  absl::Status st = conn->watcher_.Watch(loop, *fd, conn.get());
  if (!st.ok()) return st;
  return conn;
}

UpstreamConnection::~UpstreamConnection() {
  ClearLease();
  watcher_.Stop();
  tls_.reset();  // may send close_notify: before the fd is closed
  close(fd_);
}

void UpstreamConnection::StartTls(std::unique_ptr<tls::Connection> conn, TlsScope scope) {
  tls_scope_ = std::move(scope);
  tls_ = std::make_unique<TlsTransport>(std::move(conn));
  active_ = tls_.get();
}

std::string UpstreamConnection::ErrorText(const IoResult& r) const {
  if (tls_ != nullptr && r.error == EPROTO) {
    return absl::StrCat("SSL: ", tls_->connection().error());
  }
  return std::strerror(r.error);
}

void UpstreamConnection::OnIo(bool readable, bool writable, bool peer_closed) {
  if (peer_closed) peer_closed_ = true;
  if (delegate_ != nullptr) delegate_->OnUpstreamIo(readable || peer_closed, writable);
}

void UpstreamConnection::SetLease(upstream::Balancer* balancer, upstream::PeerIndex peer) {
  ClearLease();
  lease_ = balancer;
  lease_peer_ = peer;
  lease_->Acquire(peer);
}

void UpstreamConnection::ClearLease() {
  if (lease_ != nullptr) lease_->Release(lease_peer_);
  lease_ = nullptr;
}

std::vector<upstream::PeerConfig> PeersOf(const config::Upstream& upstream) {
  std::vector<upstream::PeerConfig> peers;
  for (const config::UpstreamServer& s : upstream.servers) {
    for (const net::SocketAddress& a : s.addresses) {
      upstream::PeerConfig p;
      p.server = s.name;
      p.address = a;
      p.address_text = a.ToString();
      p.weight = s.weight;
      p.max_fails = s.max_fails;
      p.fail_timeout = s.fail_timeout;
      p.backup = s.backup;
      p.down = s.down;
      peers.push_back(std::move(p));
    }
  }
  return peers;
}

namespace {

upstream::BalancerKind KindOf(const config::Upstream& u) {
  switch (u.balancer) {
    case config::Balancer::kRoundRobin:
      return upstream::BalancerKind::kRoundRobin;
    case config::Balancer::kLeastConn:
      return upstream::BalancerKind::kLeastConn;
    case config::Balancer::kIpHash:
      return upstream::BalancerKind::kIpHash;
    case config::Balancer::kHash:
      return u.hash_consistent ? upstream::BalancerKind::kConsistentHash
                               : upstream::BalancerKind::kHash;
  }
  return upstream::BalancerKind::kRoundRobin;
}

}  // namespace

std::string HashKeyFor(const config::Upstream& upstream, const RequestContext& ctx) {
  switch (upstream.balancer) {
    case config::Balancer::kIpHash:
      // A Unix-socket client has no address bytes; the balancer hashes it like nginx's
      // pseudo address then.
      if (ctx.resolution.client.is_unix) return std::string();
      return std::string(ctx.resolution.client.ip.Bytes());
    case config::Balancer::kHash:
      return Evaluate(upstream.hash_key, ctx);
    default:
      return std::string();
  }
}

std::string UpstreamProxyHeader(int version, const net::SocketAddress& client,
                                const net::SocketAddress& local,
                                const realip::ProxyHeader* received) {
  net::SocketAddress dst = local;
  if (received != nullptr && !received->local && received->source == client) {
    dst = received->destination;
  }
  if (version != 2) return realip::EncodeProxyV1(client, dst);
  std::vector<realip::ProxyTlv> tlvs;
  if (received != nullptr) {
    for (uint8_t type : {realip::pp2::kTypeAlpn, realip::pp2::kTypeAuthority,
                         realip::pp2::kTypeSsl, realip::pp2::kTypeUniqueId}) {
      const realip::ProxyTlv* tlv = received->FindTlv(type);
      if (tlv != nullptr) tlvs.push_back(*tlv);
    }
  }
  return realip::EncodeProxyV2(client, dst, tlvs, false);
}

void UpstreamBalancers::Prepare(const config::Config& config) {
  for (const auto& [name, upstream] : config.upstreams) For(upstream);
}

upstream::Balancer* UpstreamBalancers::For(
    const std::shared_ptr<const config::Upstream>& upstream) {
  auto it = balancers_.find(upstream.get());
  if (it != balancers_.end()) {
    if (!it->second.upstream.expired()) return it->second.balancer.get();
    // The upstream this entry was built for is gone and another one took its address.
    balancers_.erase(it);
  }
  Entry entry;
  entry.upstream = upstream;
  absl::StatusOr<std::unique_ptr<upstream::Balancer>> b =
      upstream::NewBalancer(KindOf(*upstream), PeersOf(*upstream));
  if (b.ok()) {
    entry.balancer = std::move(b).value();
  } else {
    REALIP_LOG(kError, "upstream \"", upstream->name, "\": ", b.status().message());
  }
  upstream::Balancer* raw = entry.balancer.get();
  balancers_.emplace(upstream.get(), std::move(entry));
  return raw;
}

void UpstreamBalancers::Prune() {
  for (auto it = balancers_.begin(); it != balancers_.end();) {
    if (it->second.upstream.expired()) {
      it = balancers_.erase(it);
    } else {
      ++it;
    }
  }
}

// An idle pooled connection: watches for the peer closing it and for its idle deadline.
struct UpstreamPool::Idle : public UpstreamDelegate {
  UpstreamPool* pool = nullptr;
  Bucket* bucket = nullptr;  // while pooled
  std::unique_ptr<UpstreamConnection> conn;
  int64_t expires_ms = 0;  // steady clock: keepalive_timeout after it was returned
  void OnUpstreamIo(bool readable, bool) override {
    // Idle HTTP/1.1 connections carry nothing; readability means close or garbage.
    if (readable) pool->Remove(this);
  }
};

namespace {

// Spare pool entries kept per worker beyond the idle connections themselves.
constexpr size_t kSpareEntries = 64;

}  // namespace

UpstreamPool::UpstreamPool(event::EventLoop& loop) : loop_(loop) {
  absl::Status st = sweep_timer_.Init(loop_, [this] {
    sweep_at_ms_ = 0;
    Sweep();
  });
  REALIP_CHECK(st.ok());  // only fails when libevent cannot assign a timer
}

UpstreamPool::~UpstreamPool() { Clear(); }

UpstreamPool::Bucket* UpstreamPool::Find(const KeyView& key) {
  if (last_valid_ && last_->first.upstream == key.upstream && last_->first.peer == *key.peer &&
      last_->first.proxy_header == key.proxy_header &&
      last_->first.tls_settings == key.tls_settings) {
    return &last_->second;
  }
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  last_ = it;
  last_valid_ = true;
  return &it->second;
}

UpstreamPool::Bucket& UpstreamPool::FindOrAdd(const KeyView& key) {
  if (Bucket* found = Find(key)) return *found;
  auto count = per_upstream_.find(key.upstream);
  if (count == per_upstream_.end()) {
    count = per_upstream_.emplace(std::string(key.upstream), 0).first;
  }
  last_ = idle_
              .emplace(Key{std::string(key.upstream), *key.peer, std::string(key.proxy_header),
                           key.tls_settings},
                       Bucket())
              .first;
  last_valid_ = true;
  last_->second.count = &count->second;
  return last_->second;
}

void UpstreamPool::Recycle(std::unique_ptr<Idle> idle) {
  idle->conn.reset();
  idle->bucket = nullptr;
  if (spare_.size() < kSpareEntries) spare_.push_back(std::move(idle));
}

void UpstreamPool::ArmSweep(int64_t at_ms) {
  if (sweep_at_ms_ != 0 && sweep_at_ms_ <= at_ms) return;
  sweep_at_ms_ = at_ms;
  sweep_timer_.Arm(std::chrono::milliseconds(std::max<int64_t>(0, at_ms - loop_.SteadyMs())));
}

void UpstreamPool::Sweep() {
  const int64_t now = loop_.SteadyMs();
  int64_t next = 0;
  for (auto it = idle_.begin(); it != idle_.end();) {
    Bucket& bucket = it->second;
    std::vector<std::unique_ptr<Idle>>& list = bucket.list;
    // Every entry is checked: the list is oldest first, but a reload may have changed the
    // upstream's keepalive_timeout, so a newer entry can expire before an older one.
    size_t kept = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i]->expires_ms <= now) {
        --*bucket.count;
        Recycle(std::move(list[i]));
        continue;
      }
      if (next == 0 || list[i]->expires_ms < next) next = list[i]->expires_ms;
      if (kept != i) list[kept] = std::move(list[i]);
      ++kept;
    }
    list.resize(kept);
    // An empty bucket goes: keys that are never used again would pile up otherwise (a
    // PROXY header names one client; TLS settings belong to one configuration). A key in use
    // gets its bucket back at its next Put().
    if (list.empty()) {
      if (last_valid_ && last_ == it) last_valid_ = false;
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  if (next != 0) ArmSweep(next);
}

std::unique_ptr<UpstreamConnection> UpstreamPool::Take(
    const config::Upstream& upstream, const net::SocketAddress& peer, std::string_view proxy_header,
    const void* tls_settings, const std::shared_ptr<const config::Config>& config) {
  Bucket* bucket =
      Find(KeyView{upstream.name, &peer, proxy_header, reinterpret_cast<uintptr_t>(tls_settings)});
  if (bucket == nullptr || bucket->list.empty()) return nullptr;
  // The newest first, closing expired ones the sweep has not reached yet (after a reload
  // that changed keepalive_timeout, an older entry may still be valid behind them).
  std::vector<std::unique_ptr<Idle>>& list = bucket->list;
  const int64_t now = loop_.SteadyMs();
  while (!list.empty() && list.back()->expires_ms <= now) {
    Recycle(std::move(list.back()));
    list.pop_back();
    --*bucket->count;
  }
  while (!list.empty()) {
    std::unique_ptr<Idle> idle = std::move(list.back());
    list.pop_back();
    --*bucket->count;
    // The same settings' address in another configuration (the first one freed): closed.
    if (!idle->conn->tls_scope().Matches(tls_settings, config)) {
      Recycle(std::move(idle));
      continue;
    }
    std::unique_ptr<UpstreamConnection> conn = std::move(idle->conn);
    conn->set_delegate(nullptr);
    Recycle(std::move(idle));
    return conn;
  }
  return nullptr;
}

void UpstreamPool::Put(const config::Upstream& upstream, std::unique_ptr<UpstreamConnection> conn) {
  if (upstream.keepalive <= 0 || conn->requests() >= upstream.keepalive_requests) return;
  std::unique_ptr<Idle> idle;
  if (!spare_.empty()) {
    idle = std::move(spare_.back());
    spare_.pop_back();
  } else {
    idle = std::make_unique<Idle>();
    idle->pool = this;
  }
  conn->ClearLease();
  Bucket& bucket = FindOrAdd(KeyView{upstream.name, &conn->peer(), conn->proxy_header(),
                                     reinterpret_cast<uintptr_t>(conn->tls_scope().settings)});
  idle->bucket = &bucket;
  idle->conn = std::move(conn);
  idle->conn->set_delegate(idle.get());
  idle->expires_ms = loop_.SteadyMs() + absl::ToInt64Milliseconds(upstream.keepalive_timeout);
  ArmSweep(idle->expires_ms);
  size_t& count = *bucket.count;
  if (count >= static_cast<size_t>(upstream.keepalive)) {
    // Close the oldest idle connection of this upstream to stay within `keepalive`.
    for (auto& [key, other] : idle_) {
      if (key.upstream == upstream.name && !other.list.empty()) {
        std::unique_ptr<Idle> oldest = std::move(other.list.front());
        other.list.erase(other.list.begin());
        Recycle(std::move(oldest));
        --count;
        break;
      }
    }
  }
  bucket.list.push_back(std::move(idle));
  ++count;
}

void UpstreamPool::Remove(Idle* idle) {
  Bucket* bucket = idle->bucket;
  if (bucket == nullptr) return;
  auto& list = bucket->list;
  auto pos = std::find_if(list.begin(), list.end(),
                          [idle](const std::unique_ptr<Idle>& p) { return p.get() == idle; });
  if (pos == list.end()) return;
  --*bucket->count;
  std::unique_ptr<Idle> entry = std::move(*pos);
  list.erase(pos);
  // Closes the connection; we may be inside its callback, which returns next without
  // touching it again.
  Recycle(std::move(entry));
}

size_t UpstreamPool::idle() const {
  size_t n = 0;
  for (const auto& [key, bucket] : idle_) n += bucket.list.size();
  return n;
}

void UpstreamPool::Clear() {
  last_valid_ = false;
  idle_.clear();
  per_upstream_.clear();
  spare_.clear();
  sweep_timer_.Cancel();
  sweep_at_ms_ = 0;
}

}  // namespace realip::server
