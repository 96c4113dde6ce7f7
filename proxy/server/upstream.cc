#include "proxy/server/upstream.h"

#include <unistd.h>

#include <algorithm>

#include "proxy/base/check.h"

namespace realip::server {

absl::StatusOr<std::unique_ptr<UpstreamConnection>> UpstreamConnection::Connect(
    event::EventLoop& loop, const net::SocketAddress& peer) {
  absl::StatusOr<int> fd = StartConnect(peer);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<UpstreamConnection> conn(new UpstreamConnection(*fd, peer));
  absl::Status st = conn->watcher_.Watch(loop, *fd, conn.get());
  if (!st.ok()) return st;
  return conn;
}

UpstreamConnection::~UpstreamConnection() {
  watcher_.Stop();
  close(fd_);
}

void UpstreamConnection::OnIo(bool readable, bool writable, bool peer_closed) {
  if (peer_closed) peer_closed_ = true;
  if (delegate_ != nullptr) delegate_->OnUpstreamIo(readable || peer_closed, writable);
}

const net::SocketAddress* RoundRobinPicker::Pick(const config::Upstream& upstream, int attempt) {
  std::vector<const net::SocketAddress*> peers;
  for (bool backup : {false, true}) {
    for (const config::UpstreamServer& s : upstream.servers) {
      if (s.down || s.backup != backup) continue;
      for (const net::SocketAddress& a : s.addresses) peers.push_back(&a);
    }
    if (!peers.empty()) break;
  }
  if (peers.empty() || static_cast<size_t>(attempt) >= peers.size()) return nullptr;
  size_t& next = next_[&upstream];
  if (attempt == 0) next = (next + 1) % peers.size();
  return peers[(next + static_cast<size_t>(attempt)) % peers.size()];
}

// An idle pooled connection: watches for the peer closing it and for its idle deadline.
struct UpstreamPool::Idle : public UpstreamDelegate {
  UpstreamPool* pool = nullptr;
  Key key;
  std::unique_ptr<UpstreamConnection> conn;
  event::Timer timer;
  void OnUpstreamIo(bool readable, bool) override {
    // Idle HTTP/1.1 connections carry nothing; readability means close or garbage.
    if (readable) pool->Remove(this);
  }
};

UpstreamPool::UpstreamPool(event::EventLoop& loop) : loop_(loop) {}

UpstreamPool::~UpstreamPool() { Clear(); }

std::unique_ptr<UpstreamConnection> UpstreamPool::Take(const config::Upstream& upstream,
                                                       const net::SocketAddress& peer) {
  auto it = idle_.find(Key{upstream.name, peer.ToString()});
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<Idle> idle = std::move(it->second.back());
  it->second.pop_back();
  --per_upstream_[upstream.name];
  idle->timer.Cancel();
  std::unique_ptr<UpstreamConnection> conn = std::move(idle->conn);
  conn->set_delegate(nullptr);
  return conn;
}

void UpstreamPool::Put(const config::Upstream& upstream, std::unique_ptr<UpstreamConnection> conn) {
  if (upstream.keepalive <= 0 || conn->requests() >= upstream.keepalive_requests) return;
  auto idle = std::make_unique<Idle>();
  idle->pool = this;
  idle->key = Key{upstream.name, conn->peer().ToString()};
  idle->conn = std::move(conn);
  idle->conn->set_delegate(idle.get());
  Idle* raw = idle.get();
  if (!idle->timer.Init(loop_, [this, raw] { Remove(raw); }).ok()) return;
  idle->timer.Arm(std::chrono::milliseconds(absl::ToInt64Milliseconds(upstream.keepalive_timeout)));
  size_t& count = per_upstream_[upstream.name];
  if (count >= static_cast<size_t>(upstream.keepalive)) {
    // Close the oldest idle connection of this upstream to stay within `keepalive`.
    for (auto& [key, list] : idle_) {
      if (key.first == upstream.name && !list.empty()) {
        list.erase(list.begin());
        --count;
        break;
      }
    }
  }
  idle_[raw->key].push_back(std::move(idle));
  ++count;
}

void UpstreamPool::Remove(Idle* idle) {
  auto it = idle_.find(idle->key);
  if (it == idle_.end()) return;
  auto& list = it->second;
  auto pos = std::find_if(list.begin(), list.end(),
                          [idle](const std::unique_ptr<Idle>& p) { return p.get() == idle; });
  if (pos == list.end()) return;
  --per_upstream_[idle->key.first];
  list.erase(pos);  // destroys the connection; we are inside its callback, which returns next
}

size_t UpstreamPool::idle() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

void UpstreamPool::Clear() {
  idle_.clear();
  per_upstream_.clear();
}

}  // namespace realip::server
