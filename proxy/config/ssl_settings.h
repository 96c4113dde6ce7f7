// TLS settings: the client side (ssl_* directives, per server) and the backend side
// (proxy_ssl_* directives, per location). Only paths and options live here; the tls/ library
// reads the files and builds the OpenSSL contexts when a configuration is loaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace realip::config {

// ssl_protocols / proxy_ssl_protocols, a bit set.
enum SslProtocol : uint32_t {
  kTlsV1 = 1u << 0,
  kTlsV11 = 1u << 1,
  kTlsV12 = 1u << 2,
  kTlsV13 = 1u << 3,
};

enum class SslVerifyClient { kOff, kOn, kOptional };
enum class SslSessionCache { kNone, kOff, kBuiltin };  // "shared" is kBuiltin (workers are threads)

// A file named by a directive, with where the directive was (for load errors).
struct SslFile {
  std::string path;  // absolute (relative paths are resolved against the main file's folder)
  std::string file;
  int line = 0;
  bool empty() const { return path.empty(); }
};

// Every TLS setting after merging (http -> server -> location).
struct SslSettings {
  // Client side, read from the server level.
  std::vector<SslFile> certificates;  // ssl_certificate, paired in order with the keys
  std::vector<SslFile> certificate_keys;
  uint32_t protocols = kTlsV12 | kTlsV13;
  std::string ciphers = "HIGH:!aNULL:!MD5";
  bool prefer_server_ciphers = false;
  SslSessionCache session_cache = SslSessionCache::kNone;
  uint64_t session_cache_sessions = 20480;  // builtin: sessions; shared: size / 256 bytes
  bool session_tickets = true;
  std::vector<SslFile> session_ticket_keys;  // the first encrypts, all decrypt
  absl::Duration session_timeout = absl::Minutes(5);
  SslFile client_certificate;
  SslVerifyClient verify_client = SslVerifyClient::kOff;
  int verify_depth = 1;
  absl::Duration handshake_timeout = absl::Seconds(60);
  SslFile dhparam;                  // empty: no DHE cipher suites (OpenSSL's and nginx's default)
  std::string ecdh_curve = "auto";  // "auto": OpenSSL's default groups
  // More CAs for client certificates, not sent in the CertificateRequest (nginx's
  // ssl_trusted_certificate; its OCSP use needs responder queries, not done here).
  SslFile trusted_certificate;
  bool stapling = false;
  SslFile stapling_file;  // the DER OCSP response stapled when `stapling` is on

  // Backend side, read from the location of a `proxy_pass https://...`.
  bool proxy_verify = false;
  SslFile proxy_trusted_certificate;
  bool proxy_server_name = false;
  std::string proxy_name;  // empty: the proxy_pass host
  SslFile proxy_certificate;
  SslFile proxy_certificate_key;
  uint32_t proxy_protocols = kTlsV12 | kTlsV13;
  std::string proxy_ciphers = "DEFAULT";
  bool proxy_session_reuse = true;
  int proxy_verify_depth = 1;
};

// What one http, server or location block sets itself; unset = inherit.
struct SslDraft {
  std::optional<std::vector<SslFile>> certificates;
  std::optional<std::vector<SslFile>> certificate_keys;
  std::optional<uint32_t> protocols;
  std::optional<std::string> ciphers;
  std::optional<bool> prefer_server_ciphers;
  std::optional<SslSessionCache> session_cache;
  std::optional<uint64_t> session_cache_sessions;
  std::optional<bool> session_tickets;
  std::optional<std::vector<SslFile>> session_ticket_keys;
  std::optional<absl::Duration> session_timeout;
  std::optional<SslFile> client_certificate;
  std::optional<SslVerifyClient> verify_client;
  std::optional<int> verify_depth;
  std::optional<absl::Duration> handshake_timeout;
  std::optional<SslFile> dhparam;
  std::optional<std::string> ecdh_curve;
  std::optional<SslFile> trusted_certificate;
  std::optional<bool> stapling;
  std::optional<SslFile> stapling_file;

  std::optional<bool> proxy_verify;
  std::optional<SslFile> proxy_trusted_certificate;
  std::optional<bool> proxy_server_name;
  std::optional<std::string> proxy_name;
  std::optional<SslFile> proxy_certificate;
  std::optional<SslFile> proxy_certificate_key;
  std::optional<uint32_t> proxy_protocols;
  std::optional<std::string> proxy_ciphers;
  std::optional<bool> proxy_session_reuse;
  std::optional<int> proxy_verify_depth;
};

// Applies the settings a block sets itself over the inherited ones.
void MergeSsl(SslSettings& settings, const SslDraft& draft);

}  // namespace realip::config
