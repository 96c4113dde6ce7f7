// Upstream connections, the per-worker keep-alive pool and the peer-selection seam.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/event/loop.h"
#include "proxy/net/socket_address.h"
#include "proxy/server/socket.h"

namespace realip::server {

// Receives readiness of an upstream connection from whoever currently holds it.
class UpstreamDelegate {
 public:
  virtual ~UpstreamDelegate() = default;
  virtual void OnUpstreamIo(bool readable, bool writable) = 0;
};

// One connection to an upstream peer. Registered with the loop once; readiness goes to the
// current delegate (a session while in use, the pool while idle).
class UpstreamConnection : public event::IoHandler {
 public:
  // Starts a non-blocking connect to `peer`.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<UpstreamConnection>> Connect(
      event::EventLoop& loop, const net::SocketAddress& peer);
  ~UpstreamConnection() override;

  void set_delegate(UpstreamDelegate* delegate) { delegate_ = delegate; }
  Transport& transport() { return transport_; }
  const net::SocketAddress& peer() const { return peer_; }
  int fd() const { return fd_; }
  bool connected() const { return connected_; }
  void set_connected() { connected_ = true; }
  int requests() const { return requests_; }
  void count_request() { ++requests_; }
  // The peer closed or half-closed; reads continue until EOF.
  bool peer_closed() const { return peer_closed_; }
  // See event::IoWatcher::reports_peer_close().
  bool short_read_drains() const { return watcher_.reports_peer_close(); }

  void OnIo(bool readable, bool writable, bool peer_closed) override;

 private:
  UpstreamConnection(int fd, const net::SocketAddress& peer) : fd_(fd), peer_(peer),
                                                               transport_(fd) {}
  int fd_;
  net::SocketAddress peer_;
  PlainTransport transport_;
  event::IoWatcher watcher_;
  UpstreamDelegate* delegate_ = nullptr;
  bool connected_ = false;
  bool peer_closed_ = false;
  int requests_ = 0;
};

// Picks the peer for a request and learns from the outcome. Issue 6 replaces the simple
// round robin with weighted balancing, health state and retries behind this interface.
class PeerPicker {
 public:
  virtual ~PeerPicker() = default;
  // The next peer of `upstream` to try; `attempt` counts from 0 within one request. Returns
  // null when the upstream has no usable peer.
  virtual const net::SocketAddress* Pick(const config::Upstream& upstream, int attempt) = 0;
  // The outcome of using `peer`: false for connect errors, timeouts and broken responses.
  virtual void Report(const config::Upstream& upstream, const net::SocketAddress& peer,
                      bool ok) = 0;
};

// Round robin over every address of the non-down, non-backup servers (backups only when no
// primary exists). Per worker, so no locks.
class RoundRobinPicker : public PeerPicker {
 public:
  const net::SocketAddress* Pick(const config::Upstream& upstream, int attempt) override;
  void Report(const config::Upstream&, const net::SocketAddress&, bool) override {}

 private:
  std::unordered_map<const config::Upstream*, size_t> next_;
};

// Idle keep-alive connections per (upstream, peer), owned by one worker. An idle connection
// that becomes readable (the peer closed it or sent junk) or outlives the upstream's
// keepalive_timeout is closed.
class UpstreamPool {
 public:
  explicit UpstreamPool(event::EventLoop& loop);
  ~UpstreamPool();

  // An idle connection to `peer` of `upstream`, or null.
  std::unique_ptr<UpstreamConnection> Take(const config::Upstream& upstream,
                                           const net::SocketAddress& peer);
  // Keeps `conn` for reuse, within `upstream.keepalive` idle connections per worker (the
  // oldest is closed beyond that).
  void Put(const config::Upstream& upstream, std::unique_ptr<UpstreamConnection> conn);
  size_t idle() const;
  // Closes every idle connection (shutdown).
  void Clear();

 private:
  struct Idle;
  using Key = std::pair<std::string, std::string>;  // upstream name, peer text
  void Remove(Idle* idle);
  event::EventLoop& loop_;
  std::map<Key, std::vector<std::unique_ptr<Idle>>> idle_;
  std::map<std::string, size_t> per_upstream_;
};

}  // namespace realip::server
