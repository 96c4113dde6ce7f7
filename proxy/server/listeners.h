// The listening sockets of the running configuration, kept across reloads.
//
// A listener with `reuseport` gets one SO_REUSEPORT socket per worker, so the kernel spreads
// connections across workers; any other listener gets one socket that every worker watches
// (the worker that loses the accept() race gets EAGAIN). A reload keeps the sockets of every
// address it still lists, so no connection is refused while it happens.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proxy/config/config.h"

namespace realip::server {

// A listening socket; closed (and a Unix socket file removed) when its last user drops it.
class ListenFd {
 public:
  ListenFd(int fd, std::string unix_path) : fd_(fd), unix_path_(std::move(unix_path)) {}
  ~ListenFd();
  ListenFd(const ListenFd&) = delete;
  ListenFd& operator=(const ListenFd&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string unix_path_;
};

// One worker's sockets, indexed like the configuration's listeners.
using WorkerSockets = std::vector<std::shared_ptr<ListenFd>>;

// Main thread only.
class ListenerSet {
 public:
  explicit ListenerSet(int workers) : workers_(workers) {}

  // Makes the set match `config`'s listeners: an address listed before keeps its sockets
  // (see ConfigureListenSocket for deferred, so_keepalive, rcvbuf and sndbuf; a changed backlog
  // is applied with listen(); a changed reuseport or ipv6only is logged and needs a restart),
  // new addresses are opened, the others are dropped (they close once the workers drop them
  // too). On error nothing changes and the message names the address.
  [[nodiscard]] absl::Status Apply(const config::Config& config);
  // The sockets worker `worker` watches for the configuration last applied.
  WorkerSockets ForWorker(int worker) const;
  // Drops every socket (graceful stop).
  void Clear() { entries_.clear(); }

 private:
  struct Entry {
    std::string key;  // Listener::text
    bool reuseport = false;
    bool ipv6only = true;
    int backlog = 0;
    config::ListenSocketOptions options;  // what the sockets have (see ConfigureListenSocket)
    std::vector<std::shared_ptr<ListenFd>> fds;  // one per worker with reuseport, else one
  };
  int workers_;
  std::vector<Entry> entries_;  // indexed like the configuration's listeners
};

}  // namespace realip::server
