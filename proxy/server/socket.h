// Socket plumbing for listeners, accepted connections and upstream connections, and the
// transport seam between a socket and a session (plain TCP today; TLS slots in here).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"
#include "proxy/net/socket_address.h"

namespace realip::server {

// Opens a non-blocking listening socket for `listener`. TCP sockets get SO_REUSEADDR, and
// SO_REUSEPORT when the listener has `reuseport` (each worker then binds its own socket); the
// listener's socket options are set after listen() (ConfigureListenSocket).
// Errors read like nginx's: `bind() to 127.0.0.1:80 failed (98: Address already in use)`.
[[nodiscard]] absl::StatusOr<int> OpenListenSocket(const config::Listener& listener);

// Sets the `listen` socket options (SO_RCVBUF, SO_SNDBUF, SO_KEEPALIVE, TCP_KEEPIDLE,
// TCP_KEEPINTVL, TCP_KEEPCNT, TCP_DEFER_ACCEPT) of `options` that differ from `previous`, what
// the socket has now (`{}` for a new socket), and returns what it has then: an option not
// given stays as it was, except `deferred`, which is turned off. Failures are logged with
// `target` and ignored, as nginx does (ngx_configure_listening_sockets).
config::ListenSocketOptions ConfigureListenSocket(int fd, std::string_view target,
                                                  const config::ListenSocketOptions& options,
                                                  const config::ListenSocketOptions& previous);

// Starts a non-blocking connect; the fd becomes writable when the connect finished (check
// ConnectResult()). `nodelay`: TCP_NODELAY (tcp_nodelay). Errors name the peer.
[[nodiscard]] absl::StatusOr<int> StartConnect(const net::SocketAddress& peer, bool nodelay);

// The outcome of a finished non-blocking connect: 0 or an errno value.
int ConnectResult(int fd);

// Local address of a socket.
net::SocketAddress LocalAddress(int fd);

// Result of one read or write.
struct IoResult {
  enum class Kind { kOk, kWouldBlock, kEof, kError } kind;
  size_t bytes = 0;
  int error = 0;  // errno for kError
};

// Moves bytes between a socket and a session. The plain implementation is send/recv; a TLS
// transport would wrap the same fd.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual IoResult Read(char* buf, size_t len) = 0;
  virtual IoResult Write(std::string_view data) = 0;
  // Write() of the connection's last bytes: the caller closes the connection as soon as they
  // are all written. Plain TCP holds them back (MSG_MORE) so that the close sends them and the
  // FIN in one segment.
  virtual IoResult WriteBeforeClose(std::string_view data) { return Write(data); }
  // Half-closes the sending direction (tunnels propagate a peer's FIN).
  virtual void ShutdownWrite() = 0;
  // A read shorter than asked means the socket is drained. TLS answers for its last recv():
  // a read returns at most one record while more may wait in the socket or in TLS.
  virtual bool ShortReadDrains() const { return true; }
  // The last Read would-blocked for writability, or the last Write for readability (TLS);
  // the session retries that call on the other readiness event.
  virtual bool ReadWantsWrite() const { return false; }
  virtual bool WriteWantsRead() const { return false; }
};

// Plain TCP (or Unix) stream transport over a non-blocking fd it does not own.
class PlainTransport : public Transport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}
  IoResult Read(char* buf, size_t len) override;
  IoResult Write(std::string_view data) override;
  IoResult WriteBeforeClose(std::string_view data) override;
  void ShutdownWrite() override;

 private:
  IoResult Send(std::string_view data, int flags);
  int fd_;
};

}  // namespace realip::server
