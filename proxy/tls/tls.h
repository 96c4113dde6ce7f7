// TLS with OpenSSL 3: the contexts a configuration needs (one SSL_CTX per TLS server, one per
// `proxy_pass https://` location), and one non-blocking TLS connection over a socket.
//
// This folder is the only one that includes <openssl/...>; the OpenSSL types are only
// forward-declared here. Contexts are built when a configuration is loaded, so a certificate
// that cannot be read fails the load (and a reload keeps the running configuration).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

namespace realip::tls {

// Deleters for the RAII handles.
struct CtxFree {
  void operator()(ssl_ctx_st* ctx) const;
};
struct SslFree {
  void operator()(ssl_st* ssl) const;
};
struct SessionFree {
  void operator()(ssl_session_st* session) const;
};
using CtxPtr = std::unique_ptr<ssl_ctx_st, CtxFree>;
using SslPtr = std::unique_ptr<ssl_st, SslFree>;
using SessionPtr = std::unique_ptr<ssl_session_st, SessionFree>;

struct TicketKey;

// The OpenSSL contexts of one configuration. Immutable once built; shared by all workers
// (OpenSSL contexts are thread-safe for use by connections).
class ContextSet {
 public:
  ~ContextSet();
  // Builds every context `config` needs. Errors name the file and the directive's FILE:LINE.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const ContextSet>> Build(
      const config::Config& config);

  // The server context of `server`, or null when it has no certificate.
  ssl_ctx_st* ServerContext(const config::Server* server) const;
  // The client context for a location with `proxy_pass https://`; null for other locations.
  ssl_ctx_st* ClientContext(const config::HttpSettings* settings) const;

 private:
  ContextSet() = default;
  std::unordered_map<const config::Server*, CtxPtr> servers_;
  std::unordered_map<const config::HttpSettings*, CtxPtr> clients_;
  std::vector<std::unique_ptr<std::vector<TicketKey>>> ticket_keys_;
  std::vector<std::unique_ptr<std::string>> staples_;  // ssl_stapling_file contents (DER)
};

// LoadConfig plus the TLS contexts: the configuration a server runs with.
// `running`: as config::LoadConfig's (the configuration a reload replaces).
[[nodiscard]] absl::StatusOr<std::shared_ptr<const config::Config>> LoadConfigWithTls(
    const std::string& path, const config::Config* running = nullptr);

// What a finished handshake tells the request variables.
struct HandshakeInfo {
  std::string protocol;     // $ssl_protocol: "TLSv1.3"
  std::string cipher;       // $ssl_cipher: OpenSSL's name
  std::string server_name;  // $ssl_server_name: SNI, empty without
  bool session_reused = false;
  std::string client_s_dn;    // $ssl_client_s_dn, RFC 2253
  std::string client_verify;  // $ssl_client_verify: NONE, SUCCESS or FAILED:reason
};

// Per-worker cache of client sessions for backend connections: one session per key
// (upstream and peer), replaced by each new session the peer issues.
class ClientSessionCache {
 public:
  ClientSessionCache();
  ~ClientSessionCache();
  ClientSessionCache(const ClientSessionCache&) = delete;
  ClientSessionCache& operator=(const ClientSessionCache&) = delete;
  void Put(const std::string& key, ssl_session_st* session);  // takes a reference
  ssl_session_st* Get(const std::string& key) const;          // borrowed
  void Remove(const std::string& key);
  void Clear() { sessions_.clear(); }

 private:
  std::map<std::string, SessionPtr> sessions_;
};

// One TLS connection over a non-blocking socket it does not own. Read and Write never block;
// they drive the handshake first. Results mirror a socket's: bytes, would-block, EOF, error.
class Connection {
 public:
  enum class Kind { kOk, kWouldBlock, kEof, kError };
  struct Result {
    Kind kind;
    size_t bytes = 0;
  };

  // The accepting side on `listener`. `prefix` holds bytes already read from the socket (what
  // followed a PROXY header). The default server's context serves until SNI picks another.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Connection>> Accept(
      const ContextSet& set, const config::Listener& listener, int fd, std::string prefix);
  // The connecting side for a backend: `settings` is the location's (proxy_ssl_*), `host` the
  // proxy_pass host (SNI and the verified name unless proxy_ssl_name is set). A cached session
  // under `cache_key` is offered and new ones are stored there.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Connection>> Connect(
      const ContextSet& set, const config::HttpSettings& settings, const std::string& host,
      int fd, ClientSessionCache* cache, std::string cache_key);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result Read(char* buf, size_t len);
  Result Write(std::string_view data);
  // Sends close_notify (best effort, once).
  void Shutdown();

  bool handshake_done() const { return handshake_done_; }
  // The accepting side has received nothing yet: its first read would block (nginx's
  // MSG_PEEK in ngx_http_ssl_handshake, which makes such a connection reusable).
  bool awaiting_first_byte() const { return server_ && !sniffed_ && prefix_.empty(); }
  // The first byte from the client was not a TLS handshake record: the connection is plain
  // from then on (the caller answers nginx's 400 "plain HTTP request was sent to HTTPS port").
  bool plain_http() const { return plain_; }
  // The last Read stopped for lack of writability, or the last Write for lack of input.
  bool read_wants_write() const { return read_wants_write_; }
  bool write_wants_read() const { return write_wants_read_; }
  const HandshakeInfo& info() const { return info_; }
  // The last recv() returned less than asked and nothing waits inside TLS: with close
  // reporting (EPOLLRDHUP), the socket is empty until the next edge.
  bool drained() const;
  // Why the last kError happened ("certificate verify failed", ...).
  const std::string& error() const { return error_; }

  // For the BIO and the callbacks (tls.cc).
  int fd() const { return fd_; }
  std::string& prefix() { return prefix_; }
  const ContextSet* set() const { return set_; }
  const config::Listener* listener() const { return listener_; }
  ClientSessionCache* cache() const { return cache_; }
  const std::string& cache_key() const { return cache_key_; }
  void set_recv_short(bool v) { recv_short_ = v; }

 private:
  Connection(int fd, std::string prefix) : fd_(fd), prefix_(std::move(prefix)) {}
  bool Handshake(Result* result);
  Result Failure(int ret, bool reading);
  Result PlainRead(char* buf, size_t len);

  int fd_;
  std::string prefix_;
  SslPtr ssl_;
  const ContextSet* set_ = nullptr;
  const config::Listener* listener_ = nullptr;
  ClientSessionCache* cache_ = nullptr;
  std::string cache_key_;
  bool server_ = false;
  bool sniffed_ = false;
  bool plain_ = false;
  bool handshake_done_ = false;
  bool failed_ = false;
  bool shut_down_ = false;
  bool recv_short_ = false;
  bool read_wants_write_ = false;
  bool write_wants_read_ = false;
  HandshakeInfo info_;
  std::string error_;
};

}  // namespace realip::tls
