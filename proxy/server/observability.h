// What the engine tells operators: metric counting at the session's checkpoints, the
// `realip_echo;` diagnostics document, and the startup lines describing each listener.
#pragma once

#include <charconv>
#include <string>
#include <system_error>
#include <string_view>

#include "absl/time/time.h"
#include "proxy/config/config.h"
#include "proxy/metrics/metrics.h"
#include "proxy/net/socket_address.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/realip/resolver.h"
#include "proxy/server/request_context.h"

namespace realip::server {

// The `server` label of a request: the server's first server_name, "_" for a server without
// one. Bounded by the configuration, never taken from the Host header.
std::string_view ServerLabel(const config::Server* server);

// A status code as a metric label, written to `buf` (no allocation, no printf).
inline std::string_view StatusLabel(int status, char (&buf)[12]) {
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), status);
  return std::string_view(buf, ec == std::errc() ? static_cast<size_t>(end - buf) : 0);
}

// A bounded `reason` label for an upstream failure reported with `status` and message `why`:
// "timeout", "connect", "closed", "invalid_response" or "io".
std::string_view UpstreamFailureReason(int status, std::string_view why);

// realip_client_ip_source_total{source} (lower case) and, for a request whose forwarded
// headers came from an untrusted sender, realip_untrusted_forwarded_headers_total{header}.
void CountResolution(metrics::Shard& shard, const realip::Resolution& resolution);

// realip_proxy_protocol_total{version,command} for an accepted PROXY header.
void CountProxyHeader(metrics::Shard& shard, const realip::ProxyHeader& header);

// realip_http_requests_total{server,code} and the request-duration histogram, once per
// answered (or abandoned, 499) request.
void CountRequest(metrics::Shard& shard, const RequestContext& ctx, absl::Time now);

// What realip_echo reports besides the request context.
struct EchoFacts {
  const config::HttpSettings* settings = nullptr;  // the location's (trust list, sources)
  net::SocketAddress peer;                         // TCP peer of the connection
  bool listener_ssl = false;
};

// The realip_echo JSON document (with a trailing newline): resolved address and port, its
// source, the TCP peer, the PROXY header with its TLVs by name, each forwarded header line as
// received with every hop marked trusted or not, trusted_hops, the untrusted header names,
// $realip_x_forwarded_for, $proxy_add_x_forwarded_for, the scheme and TLS facts.
std::string RealipEchoJson(const RequestContext& ctx, const EchoFacts& facts);

// Logs one notice line per listener of `config` with its flags and the size of the trusted
// set of its default server, e.g.
// `listening on 127.0.0.1:8080 (proxy_protocol, default server "a", 3 trusted networks)`.
void LogListeners(const config::Config& config);

}  // namespace realip::server
