#include "proxy/tls/tls.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/base/host_name.h"
#include "proxy/base/logging.h"
#include "proxy/base/socket_io.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"

namespace realip::tls {

void CtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
void SslFree::operator()(SSL* ssl) const { SSL_free(ssl); }
void SessionFree::operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }

// One ssl_session_ticket_key file: 48 bytes (AES-128) or 80 bytes (AES-256), laid out as
// nginx reads them: 16 bytes name, then the HMAC secret, then the AES key.
struct TicketKey {
  unsigned char name[16];
  unsigned char hmac[32];
  unsigned char aes[32];
  size_t size = 0;  // 16 or 32
};

namespace {

// The most recent OpenSSL error reasons, "; " separated, and the queue cleared.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out.append("; ");
    out.append(buf);
  }
  return out.empty() ? "unknown error" : out;
}

absl::Status FileError(std::string_view what, const config::SslFile& f) {
  return absl::InvalidArgumentError(absl::StrCat("cannot load ", base::AsAbsl(what), " \"", f.path,
                                                 "\": ", OpenSslErrors(), " in ", f.file, ":",
                                                 f.line));
}

int ConnectionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int StapleIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int TicketKeysIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

Connection* ConnectionOf(SSL* ssl) {
  return static_cast<Connection*>(SSL_get_ex_data(ssl, ConnectionIndex()));
}

// ---------------------------------------------------------------------------------------------
// A socket BIO that first serves the bytes read before TLS started (after a PROXY header).

int BioWrite(BIO* bio, const char* data, int len) {
  auto* conn = static_cast<Connection*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  while (true) {
    ssize_t n = base::SocketSend(conn->fd(), data, static_cast<size_t>(len), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int BioRead(BIO* bio, char* data, int len) {
  auto* conn = static_cast<Connection*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  std::string& prefix = conn->prefix();
  if (!prefix.empty()) {
    size_t n = std::min(prefix.size(), static_cast<size_t>(len));
    std::memcpy(data, prefix.data(), n);
    prefix.erase(0, n);
    return static_cast<int>(n);
  }
  while (true) {
    ssize_t n = base::SocketRecv(conn->fd(), data, static_cast<size_t>(len));
    if (n >= 0) {
      conn->set_recv_short(n < len);
      return static_cast<int>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

long BioCtrl(BIO*, int cmd, long, void*) {  // NOLINT(runtime/int): OpenSSL's signature
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

BIO_METHOD* SocketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "realip socket");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

// ---------------------------------------------------------------------------------------------
// context setup

void SetProtocols(SSL_CTX* ctx, uint32_t protocols) {
  // OpenSSL wants a range; a gap in the list becomes an SSL_OP_NO_* option.
  static constexpr std::pair<uint32_t, int> kVersions[] = {{config::kTlsV1, TLS1_VERSION},
                                                           {config::kTlsV11, TLS1_1_VERSION},
                                                           {config::kTlsV12, TLS1_2_VERSION},
                                                           {config::kTlsV13, TLS1_3_VERSION}};
  static constexpr uint64_t kNo[] = {SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2,
                                     SSL_OP_NO_TLSv1_3};
  int min = 0, max = 0;
  for (size_t i = 0; i < std::size(kVersions); ++i) {
    if ((protocols & kVersions[i].first) != 0) {
      if (min == 0) min = kVersions[i].second;
      max = kVersions[i].second;
    } else {
      SSL_CTX_set_options(ctx, kNo[i]);
    }
  }
  SSL_CTX_set_min_proto_version(ctx, min);
  SSL_CTX_set_max_proto_version(ctx, max);
}

// The bytes of `f`, which `directive` names; a file that cannot be read is an error.
absl::StatusOr<std::string> ReadFileOf(std::string_view directive, const config::SslFile& f) {
  std::ifstream in(f.path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", base::AsAbsl(directive), " \"",
                                                   f.path, "\" in ", f.file, ":", f.line));
  }
  return bytes;
}

absl::StatusOr<std::vector<TicketKey>> ReadTicketKeys(const std::vector<config::SslFile>& files) {
  std::vector<TicketKey> keys;
  for (const config::SslFile& f : files) {
    REALIP_ASSIGN_OR_RETURN(std::string bytes, ReadFileOf("ssl_session_ticket_key", f));
    if (bytes.size() != 48 && bytes.size() != 80) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", f.path, "\" must be 80 or 48 bytes in ", f.file, ":", f.line));
    }
    TicketKey k;
    k.size = bytes.size() == 80 ? 32 : 16;
    std::memcpy(k.name, bytes.data(), 16);
    std::memcpy(k.hmac, bytes.data() + 16, k.size);
    std::memcpy(k.aes, bytes.data() + 16 + k.size, k.size);
    keys.push_back(k);
  }
  return keys;
}

// RFC 5077 ticket protection with the configured keys: the first key encrypts new tickets,
// every key decrypts (rotation: prepend the new key, keep the old ones for a while).
int TicketCallback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                   EVP_MAC_CTX* mac, int encrypt) {
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  // Tickets are handled by the context the connection started on (OpenSSL's session_ctx);
  // after an SNI switch the key list is looked up on either.
  auto* keys = static_cast<std::vector<TicketKey>*>(SSL_CTX_get_ex_data(ctx, TicketKeysIndex()));
  if (keys == nullptr || keys->empty()) return -1;
  const TicketKey* key = nullptr;
  bool renew = false;
  if (encrypt == 1) {
    key = &keys->front();
    std::memcpy(name, key->name, 16);
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) return -1;
  } else {
    for (size_t i = 0; i < keys->size(); ++i) {
      if (std::memcmp(name, (*keys)[i].name, 16) == 0) {
        key = &(*keys)[i];
        renew = i != 0;  // decrypted with an old key: issue a ticket under the current one
        break;
      }
    }
    if (key == nullptr) return 0;  // unknown key: full handshake
  }
  const EVP_CIPHER* type = key->size == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac),
                                        key->size),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  int ok = encrypt == 1 ? EVP_EncryptInit_ex(cipher, type, nullptr, key->aes, iv)
                        : EVP_DecryptInit_ex(cipher, type, nullptr, key->aes, iv);
  if (ok != 1) return -1;
  return renew ? 2 : 1;
}

// A client asked for the certificate's OCSP status: the stapled response of the server the
// connection is on (after SNI), as read from ssl_stapling_file.
int StatusCallback(SSL* ssl, void*) {
  const auto* staple =
      static_cast<const std::string*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), StapleIndex()));
  if (staple == nullptr) return SSL_TLSEXT_ERR_NOACK;
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(staple->data(), staple->size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
  SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(staple->size()));  // takes `copy`
  return SSL_TLSEXT_ERR_OK;
}

// ssl_stapling_file: a DER OCSP response, checked as nginx checks it (d2i_OCSP_RESPONSE).
absl::StatusOr<std::string> ReadStaple(const config::SslFile& f) {
  REALIP_ASSIGN_OR_RETURN(std::string bytes, ReadFileOf("ssl_stapling_file", f));
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  OCSP_RESPONSE* response = d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(bytes.size()));
  if (response == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("d2i_OCSP_RESPONSE(\"", f.path, "\") failed in ", f.file, ":", f.line));
  }
  OCSP_RESPONSE_free(response);
  return bytes;
}

// ssl_dhparam: DH parameters in PEM, for the DHE cipher suites.
absl::Status LoadDhParams(SSL_CTX* ctx, const config::SslFile& f) {
  BIO* bio = BIO_new_file(f.path.c_str(), "r");
  if (bio == nullptr) return FileError("ssl_dhparam", f);
  EVP_PKEY* params = PEM_read_bio_Parameters(bio, nullptr);
  BIO_free(bio);
  if (params == nullptr || !EVP_PKEY_is_a(params, "DH")) {
    EVP_PKEY_free(params);
    return FileError("ssl_dhparam", f);
  }
  if (SSL_CTX_set0_tmp_dh_pkey(ctx, params) != 1) {  // takes `params` when it succeeds
    EVP_PKEY_free(params);
    return FileError("ssl_dhparam", f);
  }
  return absl::OkStatus();
}

int ServerNameCallback(SSL* ssl, int*, void*) {
  Connection* conn = ConnectionOf(ssl);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (conn == nullptr || conn->listener() == nullptr || name == nullptr) return SSL_TLSEXT_ERR_OK;
  // A name nginx's ngx_http_ssl_servername() refuses ("..", '/', control bytes, no name)
  // selects nothing: the handshake keeps the default server's context. Without this,
  // "x/..a.example" would pick the `*.example` server's certificate.
  if (!base::ValidHost(name)) return SSL_TLSEXT_ERR_OK;
  const config::Server& server = conn->listener()->FindServer(name);
  SSL_CTX* ctx = conn->set()->ServerContext(&server);
  if (ctx == nullptr || ctx == SSL_get_SSL_CTX(ssl)) return SSL_TLSEXT_ERR_OK;
  SSL_set_SSL_CTX(ssl, ctx);
  // SSL_set_SSL_CTX switches certificates only; take the verification settings along, as
  // nginx does in ngx_http_ssl_servername().
  SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
  SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
  SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(ctx));
  SSL_set_options(ssl, SSL_CTX_get_options(ctx));
  return SSL_TLSEXT_ERR_OK;
}

int AlpnCallback(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                 unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = "\x08http/1.1";
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof(kHttp11) - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // h2-only clients get no ALPN answer, not an alert
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// ssl_verify_client optional: the handshake continues, $ssl_client_verify tells the outcome.
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

int NewClientSession(SSL* ssl, SSL_SESSION* session) {
  Connection* conn = ConnectionOf(ssl);
  if (conn == nullptr || conn->cache() == nullptr) return 0;
  conn->cache()->Put(conn->cache_key(), session);
  return 1;  // we keep the reference
}

absl::Status LoadCertificates(SSL_CTX* ctx, const config::SslSettings& s, const config::Server& sv) {
  if (s.certificates.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in ",
                     sv.file, ":", sv.line));
  }
  if (s.certificate_keys.size() != s.certificates.size()) {
    const config::SslFile& f = s.certificates.back();
    return absl::InvalidArgumentError(absl::StrCat(
        "no \"ssl_certificate_key\" is defined for certificate \"", f.path, "\" in ", f.file, ":",
        f.line));
  }
  for (size_t i = 0; i < s.certificates.size(); ++i) {
    if (SSL_CTX_use_certificate_chain_file(ctx, s.certificates[i].path.c_str()) != 1) {
      return FileError("certificate", s.certificates[i]);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, s.certificate_keys[i].path.c_str(), SSL_FILETYPE_PEM) !=
        1) {
      return FileError("certificate key", s.certificate_keys[i]);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return FileError("certificate key (it does not match the certificate)",
                       s.certificate_keys[i]);
    }
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ContextSet

ContextSet::~ContextSet() = default;

absl::StatusOr<std::shared_ptr<const ContextSet>> ContextSet::Build(const config::Config& config) {
  std::shared_ptr<ContextSet> set(new ContextSet());
  int server_index = 0;
  for (const config::Listener& listener : config.listeners) {
    if (!listener.ssl) continue;
    for (const std::shared_ptr<const config::Server>& sv : listener.servers) {
      if (set->servers_.count(sv.get()) != 0) continue;
      const config::SslSettings& s = sv->settings.ssl;
      CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
      if (ctx == nullptr) return absl::InternalError(OpenSslErrors());
      SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                          SSL_OP_IGNORE_UNEXPECTED_EOF);
      SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                      SSL_MODE_RELEASE_BUFFERS);
      // Read what the socket holds in one recv() instead of a header-then-body pair per
      // record; a short recv() then also tells that the socket is drained.
      SSL_CTX_set_read_ahead(ctx.get(), 1);
      SetProtocols(ctx.get(), s.protocols);
      REALIP_RETURN_IF_ERROR(LoadCertificates(ctx.get(), s, *sv));
      if (SSL_CTX_set_cipher_list(ctx.get(), s.ciphers.c_str()) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("SSL_CTX_set_cipher_list(\"", s.ciphers,
                                                       "\") failed in ", sv->file, ":", sv->line));
      }
      if (s.prefer_server_ciphers) SSL_CTX_set_options(ctx.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
      if (s.ecdh_curve != "auto" &&
          SSL_CTX_set1_curves_list(ctx.get(), s.ecdh_curve.c_str()) != 1) {
        ERR_clear_error();
        return absl::InvalidArgumentError(absl::StrCat("SSL_CTX_set1_curves_list(\"", s.ecdh_curve,
                                                       "\") failed in ", sv->file, ":", sv->line));
      }
      if (!s.dhparam.empty()) REALIP_RETURN_IF_ERROR(LoadDhParams(ctx.get(), s.dhparam));
      if (!s.trusted_certificate.empty() &&
          SSL_CTX_load_verify_locations(ctx.get(), s.trusted_certificate.path.c_str(), nullptr) !=
              1) {
        return FileError("ssl_trusted_certificate", s.trusted_certificate);
      }
      if (s.stapling && !s.stapling_file.empty()) {
        REALIP_ASSIGN_OR_RETURN(std::string staple, ReadStaple(s.stapling_file));
        set->staples_.push_back(std::make_unique<std::string>(std::move(staple)));
        SSL_CTX_set_ex_data(ctx.get(), StapleIndex(), set->staples_.back().get());
        SSL_CTX_set_tlsext_status_cb(ctx.get(), StatusCallback);
      } else if (s.stapling) {
        REALIP_LOG(kWarn,
                   "\"ssl_stapling\" ignored, not supported without \"ssl_stapling_file\" "
                   "(OCSP responders are not queried) for the server in ",
                   sv->file, ":", sv->line);
      }
      SSL_CTX_set_alpn_select_cb(ctx.get(), AlpnCallback, nullptr);
      SSL_CTX_set_tlsext_servername_callback(ctx.get(), ServerNameCallback);
      // Sessions (cache and tickets) are bound to this server; the context id makes a
      // session of one server unusable on another.
      std::string sid = absl::StrCat("realip-proxy:", server_index++);
      SSL_CTX_set_session_id_context(ctx.get(), reinterpret_cast<const unsigned char*>(sid.data()),
                                     static_cast<unsigned int>(sid.size()));
      SSL_CTX_set_timeout(ctx.get(), static_cast<long>(absl::ToInt64Seconds(s.session_timeout)));
      switch (s.session_cache) {
        case config::SslSessionCache::kOff:
          SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
          break;
        case config::SslSessionCache::kNone:
          SSL_CTX_set_session_cache_mode(ctx.get(),
                                         SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL_STORE);
          break;
        case config::SslSessionCache::kBuiltin:
          SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_SERVER);
          SSL_CTX_sess_set_cache_size(ctx.get(), static_cast<long>(s.session_cache_sessions));
          break;
      }
      if (!s.session_tickets) {
        SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
      } else if (!s.session_ticket_keys.empty()) {
        REALIP_ASSIGN_OR_RETURN(std::vector<TicketKey> keys, ReadTicketKeys(s.session_ticket_keys));
        set->ticket_keys_.push_back(std::make_unique<std::vector<TicketKey>>(std::move(keys)));
        SSL_CTX_set_ex_data(ctx.get(), TicketKeysIndex(), set->ticket_keys_.back().get());
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx.get(), TicketCallback);
      }
      if (s.verify_client != config::SslVerifyClient::kOff) {
        const config::SslFile& ca = s.client_certificate;
        if (ca.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "no ssl_client_certificate for ssl_verify_client in ", sv->file, ":", sv->line));
        }
        if (SSL_CTX_load_verify_locations(ctx.get(), ca.path.c_str(), nullptr) != 1) {
          return FileError("client certificate", ca);
        }
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.path.c_str());
        if (names == nullptr) return FileError("client certificate", ca);
        SSL_CTX_set_client_CA_list(ctx.get(), names);
        if (s.verify_client == config::SslVerifyClient::kOn) {
          SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                             nullptr);
        } else {
          SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, AcceptAnyCertificate);
        }
        SSL_CTX_set_verify_depth(ctx.get(), s.verify_depth);
      }
      set->servers_.emplace(sv.get(), std::move(ctx));
    }
  }

  // Client contexts for `proxy_pass https://` locations.
  for (const std::shared_ptr<const config::Server>& sv : config.servers) {
    std::vector<const config::Location*> locations = {&sv->fallback};
    for (const config::Location& l : sv->locations) locations.push_back(&l);
    for (const config::Location& l : sv->named_locations) locations.push_back(&l);
    for (const config::Location* loc : locations) {
      const config::HttpSettings& hs = loc->settings;
      if (hs.handler != config::ContentHandler::kProxyPass || hs.proxy_pass.scheme != "https") {
        continue;
      }
      if (hs.proxy_protocol) {
        // The PROXY header would have to precede the handshake on a connection that is
        // pooled per client; not supported rather than sent inside TLS.
        return absl::InvalidArgumentError(absl::StrCat(
            "\"proxy_protocol on\" is not supported with \"proxy_pass https://\" in ",
            loc->file, ":", loc->line));
      }
      const config::SslSettings& s = hs.ssl;
      CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
      if (ctx == nullptr) return absl::InternalError(OpenSslErrors());
      // A backend closing without close_notify ends a close-delimited response (as nginx).
      SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
      SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                      SSL_MODE_RELEASE_BUFFERS);
      SSL_CTX_set_read_ahead(ctx.get(), 1);
      SetProtocols(ctx.get(), s.proxy_protocols);
      if (SSL_CTX_set_cipher_list(ctx.get(), s.proxy_ciphers.c_str()) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("SSL_CTX_set_cipher_list(\"",
                                                       s.proxy_ciphers, "\") failed in ",
                                                       loc->file, ":", loc->line));
      }
      if (s.proxy_verify) {
        const config::SslFile& ca = s.proxy_trusted_certificate;
        if (ca.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("no proxy_ssl_trusted_certificate for proxy_ssl_verify in ", loc->file,
                           ":", loc->line));
        }
        if (SSL_CTX_load_verify_locations(ctx.get(), ca.path.c_str(), nullptr) != 1) {
          return FileError("trusted certificate", ca);
        }
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        SSL_CTX_set_verify_depth(ctx.get(), s.proxy_verify_depth);
      } else {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
      }
      if (!s.proxy_certificate.empty()) {
        if (s.proxy_certificate_key.empty()) {
          const config::SslFile& f = s.proxy_certificate;
          return absl::InvalidArgumentError(absl::StrCat(
              "no \"proxy_ssl_certificate_key\" is defined for certificate \"", f.path, "\" in ",
              f.file, ":", f.line));
        }
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), s.proxy_certificate.path.c_str()) != 1) {
          return FileError("certificate", s.proxy_certificate);
        }
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), s.proxy_certificate_key.path.c_str(),
                                        SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx.get()) != 1) {
          return FileError("certificate key", s.proxy_certificate_key);
        }
      }
      if (s.proxy_session_reuse) {
        SSL_CTX_set_session_cache_mode(ctx.get(),
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx.get(), NewClientSession);
      } else {
        SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
      }
      set->clients_.emplace(&hs, std::move(ctx));
    }
  }
  return std::shared_ptr<const ContextSet>(std::move(set));
}

SSL_CTX* ContextSet::ServerContext(const config::Server* server) const {
  auto it = servers_.find(server);
  return it == servers_.end() ? nullptr : it->second.get();
}

SSL_CTX* ContextSet::ClientContext(const config::HttpSettings* settings) const {
  auto it = clients_.find(settings);
  return it == clients_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::shared_ptr<const config::Config>> LoadConfigWithTls(
    const std::string& path, const config::Config* running) {
  REALIP_ASSIGN_OR_RETURN(std::shared_ptr<const config::Config> loaded,
                          config::LoadConfig(path, running));
  REALIP_ASSIGN_OR_RETURN(std::shared_ptr<const ContextSet> set, ContextSet::Build(*loaded));
  // A shallow copy: servers and upstreams are shared, so the contexts' keys stay valid.
  auto config = std::make_shared<config::Config>(*loaded);
  config->tls = std::move(set);
  return std::shared_ptr<const config::Config>(std::move(config));
}

// ---------------------------------------------------------------------------------------------
// ClientSessionCache

ClientSessionCache::ClientSessionCache() = default;
ClientSessionCache::~ClientSessionCache() = default;

void ClientSessionCache::Put(const std::string& key, SSL_SESSION* session) {
  sessions_[key] = SessionPtr(session);
}

SSL_SESSION* ClientSessionCache::Get(const std::string& key) const {
  auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void ClientSessionCache::Remove(const std::string& key) { sessions_.erase(key); }

// ---------------------------------------------------------------------------------------------
// Connection

absl::StatusOr<std::unique_ptr<Connection>> Connection::Accept(const ContextSet& set,
                                                               const config::Listener& listener,
                                                               int fd, std::string prefix) {
  SSL_CTX* ctx = set.ServerContext(listener.default_server.get());
  if (ctx == nullptr) return absl::InternalError("no TLS context for the default server");
  std::unique_ptr<Connection> conn(new Connection(fd, std::move(prefix)));
  conn->set_ = &set;
  conn->listener_ = &listener;
  conn->server_ = true;
  conn->ssl_.reset(SSL_new(ctx));
  if (conn->ssl_ == nullptr) return absl::InternalError(OpenSslErrors());
  BIO* bio = BIO_new(SocketMethod());
  BIO_set_data(bio, conn.get());
  SSL_set_bio(conn->ssl_.get(), bio, bio);
  SSL_set_ex_data(conn->ssl_.get(), ConnectionIndex(), conn.get());
  SSL_set_accept_state(conn->ssl_.get());
  return conn;
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(
    const ContextSet& set, const config::HttpSettings& settings, const std::string& host, int fd,
    ClientSessionCache* cache, std::string cache_key) {
  SSL_CTX* ctx = set.ClientContext(&settings);
  if (ctx == nullptr) return absl::InternalError("no TLS context for this location");
  std::unique_ptr<Connection> conn(new Connection(fd, ""));
  conn->set_ = &set;
  conn->sniffed_ = true;
  conn->cache_ = settings.ssl.proxy_session_reuse ? cache : nullptr;
  conn->cache_key_ = std::move(cache_key);
  SSL* ssl = SSL_new(ctx);
  conn->ssl_.reset(ssl);
  if (ssl == nullptr) return absl::InternalError(OpenSslErrors());
  BIO* bio = BIO_new(SocketMethod());
  BIO_set_data(bio, conn.get());
  SSL_set_bio(ssl, bio, bio);
  SSL_set_ex_data(ssl, ConnectionIndex(), conn.get());
  const std::string& name = settings.ssl.proxy_name.empty() ? host : settings.ssl.proxy_name;
  if (settings.ssl.proxy_server_name) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (settings.ssl.proxy_verify) {
    // The certificate must name the host (RFC 6125): DNS name or IP address.
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, name.c_str()) != 1) return absl::InternalError(OpenSslErrors());
  }
  if (conn->cache_ != nullptr) {
    if (SSL_SESSION* session = conn->cache_->Get(conn->cache_key_)) SSL_set_session(ssl, session);
  }
  SSL_set_connect_state(ssl);
  return conn;
}

Connection::~Connection() { Shutdown(); }

bool Connection::drained() const {
  if (!recv_short_ || !prefix_.empty()) return false;
  return plain_ || SSL_has_pending(ssl_.get()) == 0;
}

void Connection::Shutdown() {
  if (shut_down_ || failed_ || plain_ || !handshake_done_ || ssl_ == nullptr) return;
  shut_down_ = true;
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

Connection::Result Connection::Failure(int ret, bool reading) {
  int err = SSL_get_error(ssl_.get(), ret);
  read_wants_write_ = false;
  write_wants_read_ = false;
  switch (err) {
    case SSL_ERROR_WANT_READ:
      if (!reading) write_wants_read_ = true;
      return {Kind::kWouldBlock};
    case SSL_ERROR_WANT_WRITE:
      if (reading) read_wants_write_ = true;
      return {Kind::kWouldBlock};
    case SSL_ERROR_ZERO_RETURN:
      return {Kind::kEof};
    case SSL_ERROR_SYSCALL:
      failed_ = true;
      // An EOF without close_notify; OpenSSL 3 reports it as SSL_ERROR_SSL with a reason
      // unless SSL_OP_IGNORE_UNEXPECTED_EOF, and as SYSCALL with errno 0 otherwise.
      error_ = errno != 0 ? std::strerror(errno) : "unexpected eof";
      ERR_clear_error();
      return {errno == 0 && handshake_done_ ? Kind::kEof : Kind::kError};
    default:
      failed_ = true;
      error_ = OpenSslErrors();
      return {Kind::kError};
  }
}

Connection::Result Connection::PlainRead(char* buf, size_t len) {
  if (!prefix_.empty()) {
    size_t n = std::min(len, prefix_.size());
    std::memcpy(buf, prefix_.data(), n);
    prefix_.erase(0, n);
    return {Kind::kOk, n};
  }
  while (true) {
    ssize_t n = base::SocketRecv(fd_, buf, len);
    if (n > 0) {
      recv_short_ = static_cast<size_t>(n) < len;
      return {Kind::kOk, static_cast<size_t>(n)};
    }
    if (n == 0) return {Kind::kEof};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Kind::kWouldBlock};
    return {Kind::kError};
  }
}

bool Connection::Handshake(Result* result) {
  if (handshake_done_ || plain_) return true;
  if (server_ && !sniffed_) {
    // A TLS connection starts with a handshake record (RFC 8446 section 5.1, type 22); any
    // other first byte is a client speaking plain HTTP to this port.
    if (prefix_.empty()) {
      char buf[4096];
      Result r = PlainRead(buf, sizeof(buf));
      if (r.kind != Kind::kOk) {
        *result = r;
        return false;
      }
      prefix_.assign(buf, r.bytes);
    }
    sniffed_ = true;
    if (static_cast<unsigned char>(prefix_[0]) != 0x16) {
      plain_ = true;
      return true;
    }
  }
  ERR_clear_error();
  errno = 0;
  int ret = SSL_do_handshake(ssl_.get());
  if (ret != 1) {
    *result = Failure(ret, true);
    if (result->kind == Kind::kEof) result->kind = Kind::kError;  // no handshake, no EOF
    // A session that led to a failed handshake is not offered again.
    if (result->kind == Kind::kError && cache_ != nullptr) cache_->Remove(cache_key_);
    if (result->kind == Kind::kWouldBlock) {
      // During the handshake either direction may be needed; the caller retries on any event.
      read_wants_write_ = write_wants_read_ = true;
    }
    return false;
  }
  handshake_done_ = true;
  read_wants_write_ = write_wants_read_ = false;
  SSL* ssl = ssl_.get();
  info_.protocol = SSL_get_version(ssl);
  info_.cipher = SSL_get_cipher_name(ssl);
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
    info_.server_name = name;
  }
  info_.session_reused = SSL_session_reused(ssl) == 1;
  if (server_) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (cert == nullptr) {
      info_.client_verify = "NONE";
    } else {
      BIO* mem = BIO_new(BIO_s_mem());
      X509_NAME_print_ex(mem, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
      char* data = nullptr;
      long n = BIO_get_mem_data(mem, &data);  // NOLINT(runtime/int)
      info_.client_s_dn.assign(data, static_cast<size_t>(n));
      BIO_free(mem);
      X509_free(cert);
      long v = SSL_get_verify_result(ssl);  // NOLINT(runtime/int)
      info_.client_verify =
          v == X509_V_OK ? "SUCCESS" : absl::StrCat("FAILED:", X509_verify_cert_error_string(v));
    }
  }
  return true;
}

Connection::Result Connection::Read(char* buf, size_t len) {
  Result r{Kind::kWouldBlock};
  if (!Handshake(&r)) return r;
  if (plain_) return PlainRead(buf, len);
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int ret = SSL_read_ex(ssl_.get(), buf, len, &n);
  if (ret == 1) {
    read_wants_write_ = false;
    return {Kind::kOk, n};
  }
  return Failure(ret, true);
}

Connection::Result Connection::Write(std::string_view data) {
  Result r{Kind::kWouldBlock};
  if (!Handshake(&r)) return r;
  if (plain_) {
    while (true) {
      ssize_t n = base::SocketSend(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n >= 0) return {Kind::kOk, static_cast<size_t>(n)};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Kind::kWouldBlock};
      return {Kind::kError};
    }
  }
  if (data.empty()) return {Kind::kOk, 0};
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int ret = SSL_write_ex(ssl_.get(), data.data(), data.size(), &n);
  if (ret == 1) {
    write_wants_read_ = false;
    return {Kind::kOk, n};
  }
  return Failure(ret, false);
}

}  // namespace realip::tls
