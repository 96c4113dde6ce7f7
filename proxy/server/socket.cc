#include "proxy/server/socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "proxy/base/logging.h"
#include "proxy/base/socket_io.h"

namespace realip::server {
namespace {

absl::Status Errno(std::string_view what, std::string_view target, int err) {
  return absl::UnavailableError(absl::StrCat(std::string(what), "() to ", std::string(target),
                                             " failed (", err, ": ", std::strerror(err), ")"));
}

// setsockopt() of an int option; a failure is logged and ignored, as nginx does.
void SetOption(int fd, int level, int name, const char* name_text, int value,
               std::string_view target) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) == 0) return;
  const int err = errno;
  REALIP_LOG(kWarn, "setsockopt(", name_text, ", ", value, ") for ", std::string(target),
             " failed (", err, ": ", std::strerror(err), "), ignored");
}

}  // namespace

config::ListenSocketOptions ConfigureListenSocket(int fd, std::string_view target,
                                                  const config::ListenSocketOptions& options,
                                                  const config::ListenSocketOptions& previous) {
  // Given options are set when they differ from what the socket has; one no longer given
  // stays (ngx_configure_listening_sockets sets only what the configuration gives).
  if (options.rcvbuf != -1 && options.rcvbuf != previous.rcvbuf) {
    SetOption(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", options.rcvbuf, target);
  }
  if (options.sndbuf != -1 && options.sndbuf != previous.sndbuf) {
    SetOption(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", options.sndbuf, target);
  }
  if (options.keepalive.has_value() && options.keepalive != previous.keepalive) {
    SetOption(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", *options.keepalive ? 1 : 0, target);
  }
  if (options.keepidle != 0 && options.keepidle != previous.keepidle) {
    SetOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", options.keepidle, target);
  }
  if (options.keepintvl != 0 && options.keepintvl != previous.keepintvl) {
    SetOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", options.keepintvl, target);
  }
  if (options.keepcnt != 0 && options.keepcnt != previous.keepcnt) {
    SetOption(fd, IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", options.keepcnt, target);
  }
  if (options.deferred != previous.deferred) {
    // nginx uses 1 second: how long a connection already waited cannot be known, and with
    // SYN cookies a connection may bypass the deferred queue anyway. The kernel accepts a
    // connection that sent nothing once the time (rounded to SYN-ACK retransmits) is over.
    SetOption(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", options.deferred ? 1 : 0,
              target);
  }
  config::ListenSocketOptions now = previous;
  if (options.rcvbuf != -1) now.rcvbuf = options.rcvbuf;
  if (options.sndbuf != -1) now.sndbuf = options.sndbuf;
  if (options.keepalive.has_value()) now.keepalive = options.keepalive;
  if (options.keepidle != 0) now.keepidle = options.keepidle;
  if (options.keepintvl != 0) now.keepintvl = options.keepintvl;
  if (options.keepcnt != 0) now.keepcnt = options.keepcnt;
  now.deferred = options.deferred;
  return now;
}

absl::StatusOr<int> OpenListenSocket(const config::Listener& listener) {
  if (listener.address.is_unix) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Errno("socket", listener.text, errno);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (listener.unix_path.size() >= sizeof(sun.sun_path)) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat("unix path too long: ", listener.text));
    }
    std::memcpy(sun.sun_path, listener.unix_path.data(), listener.unix_path.size());
    // A socket file left by a previous run would make bind() fail (nginx removes it too).
    unlink(listener.unix_path.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0 ||
        listen(fd, listener.backlog) != 0) {
      int err = errno;
      close(fd);
      return Errno("bind", listener.text, err);
    }
    (void)ConfigureListenSocket(fd, listener.text, listener.socket_options, {});
    return fd;
  }
  sockaddr_storage ss{};
  socklen_t len = listener.address.ToSockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", listener.text, errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (listener.reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (ss.ss_family == AF_INET6) {
    int v6only = listener.ipv6only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    close(fd);
    return Errno("bind", listener.text, err);
  }
  if (listen(fd, listener.backlog) != 0) {
    int err = errno;
    close(fd);
    return Errno("listen", listener.text, err);
  }
  (void)ConfigureListenSocket(fd, listener.text, listener.socket_options, {});
  return fd;
}

absl::StatusOr<int> StartConnect(const net::SocketAddress& peer, bool nodelay) {
  sockaddr_storage ss{};
  socklen_t len = peer.ToSockaddr(&ss);
  if (len == 0) return absl::InvalidArgumentError("connect: unix upstreams are not supported");
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", peer.ToString(), errno);
  if (nodelay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return Errno("connect", peer.ToString(), err);
  }
  return fd;
}

int ConnectResult(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

net::SocketAddress LocalAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (auto addr = net::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len)) {
      return *addr;
    }
  }
  return net::SocketAddress{};
}

IoResult PlainTransport::Read(char* buf, size_t len) {
  while (true) {
    ssize_t n = base::SocketRecv(fd_, buf, len);
    if (n > 0) return IoResult{IoResult::Kind::kOk, static_cast<size_t>(n), 0};
    if (n == 0) return IoResult{IoResult::Kind::kEof, 0, 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return IoResult{IoResult::Kind::kWouldBlock};
    return IoResult{IoResult::Kind::kError, 0, errno};
  }
}

IoResult PlainTransport::Write(std::string_view data) { return Send(data, 0); }

IoResult PlainTransport::WriteBeforeClose(std::string_view data) {
  // The kernel keeps a partial segment queued; close() appends the FIN to it and sends both.
  return Send(data, MSG_MORE);
}

IoResult PlainTransport::Send(std::string_view data, int flags) {
  while (true) {
    // MSG_NOSIGNAL: a peer that went away is an EPIPE result, not a process-killing SIGPIPE.
    ssize_t n = base::SocketSend(fd_, data.data(), data.size(), MSG_NOSIGNAL | flags);
    if (n >= 0) return IoResult{IoResult::Kind::kOk, static_cast<size_t>(n), 0};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return IoResult{IoResult::Kind::kWouldBlock};
    return IoResult{IoResult::Kind::kError, 0, errno};
  }
}

void PlainTransport::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

}  // namespace realip::server
