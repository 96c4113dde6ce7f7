#include "proxy/server/listeners.h"

#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "proxy/base/logging.h"
#include "proxy/base/status.h"
#include "proxy/server/socket.h"

namespace realip::server {

ListenFd::~ListenFd() {
  if (fd_ >= 0) close(fd_);
  // As nginx: a Unix listener's socket file goes away with the socket.
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
}

absl::Status ListenerSet::Apply(const config::Config& config) {
  std::vector<Entry> next;
  next.reserve(config.listeners.size());
  for (const config::Listener& l : config.listeners) {
    const bool reuseport = l.reuseport && !l.address.is_unix;
    const Entry* old = nullptr;
    for (const Entry& e : entries_) {
      if (e.key == l.text) old = &e;
    }
    if (old != nullptr) {
      Entry kept = *old;
      if (kept.reuseport != reuseport || kept.ipv6only != l.ipv6only) {
        REALIP_LOG(kWarn, "the reuseport and ipv6only flags of ", l.text,
                   " cannot change on reload; restart to apply them");
      }
      if (kept.backlog != l.backlog) {
        // listen() on a listening socket only updates its backlog.
        for (const auto& fd : kept.fds) listen(fd->fd(), l.backlog);
        kept.backlog = l.backlog;
      }
      // As nginx on reload: changed options are set on the kept sockets, `deferred` is added
      // or removed; rcvbuf, sndbuf and so_keepalive values no longer given stay until a
      // restart (a socket cannot be told to go back to the kernel's defaults).
      config::ListenSocketOptions now = kept.options;
      for (const auto& fd : kept.fds) {
        now = ConfigureListenSocket(fd->fd(), l.text, l.socket_options, kept.options);
      }
      if (now != l.socket_options) {
        REALIP_LOG(kWarn, "rcvbuf, sndbuf or so_keepalive values no longer given for ", l.text,
                   " stay on its socket until a restart");
      }
      kept.options = now;
      next.push_back(std::move(kept));
      continue;
    }
    Entry e;
    e.key = l.text;
    e.reuseport = reuseport;
    e.ipv6only = l.ipv6only;
    e.backlog = l.backlog;
    e.options = l.socket_options;
    const int count = reuseport ? workers_ : 1;
    for (int i = 0; i < count; ++i) {
      REALIP_ASSIGN_OR_RETURN(int fd, OpenListenSocket(l));
      e.fds.push_back(std::make_shared<ListenFd>(fd, l.address.is_unix ? l.unix_path : ""));
    }
    next.push_back(std::move(e));
  }
  entries_ = std::move(next);
  return absl::OkStatus();
}

WorkerSockets ListenerSet::ForWorker(int worker) const {
  WorkerSockets out;
  out.reserve(entries_.size());
  for (const Entry& e : entries_) {
    out.push_back(e.fds.size() == 1 ? e.fds[0] : e.fds[static_cast<size_t>(worker)]);
  }
  return out;
}

}  // namespace realip::server
