// What the engine tells operators: metric counting at the session's checkpoints, the
// `realip_echo;` diagnostics document, and the startup lines describing each listener.
#pragma once

#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "proxy/config/config.h"
#include "proxy/metrics/metrics.h"
#include "proxy/net/socket_address.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/realip/resolver.h"
#include "proxy/server/remembered_map.h"
#include "proxy/server/request_context.h"
#include "proxy/upstream/balancer.h"

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

// realip_proxy_protocol_total{version,command} for an accepted PROXY header.
void CountProxyHeader(metrics::Shard& shard, const realip::ProxyHeader& header);

// The metrics every request updates, counted through series found once and kept (a label
// lookup costs about as much as the rest of the counting together). One per worker, used by
// its thread only; like Shard::Add, each Count* does nothing while collection is off.
//
// Servers and upstreams are keyed by their addresses in configuration memory, which a reload
// may free and hand to other objects: the worker calls Clear() when it takes a new
// configuration, before any connection uses it. An older snapshot's objects are kept alive by
// the connections still using them, so their addresses are not reused before a later reload,
// which clears again.
class RequestMetrics {
 public:
  explicit RequestMetrics(metrics::Shard* shard) : shard_(shard) {}
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // Forgets every series found so far; their counts stay in the shard.
  void Clear();

  // realip_http_requests_total{server,code} and the request-duration histogram, once per
  // answered (or abandoned, 499) request.
  void CountRequest(const RequestContext& ctx, absl::Time now);
  // realip_upstream_requests_total{upstream,peer,code} and
  // realip_upstream_response_seconds{upstream} for a response head with `status` from peer
  // `peer` (its balancer index; `peer_label` its address text) of `upstream`, `elapsed` after
  // the attempt started.
  void CountUpstreamResponse(const config::Upstream& upstream, upstream::PeerIndex peer,
                             std::string_view peer_label, int status, absl::Duration elapsed);
  // realip_client_ip_source_total{source} (lower case) and, for a request whose forwarded
  // headers came from an untrusted sender, realip_untrusted_forwarded_headers_total{header}.
  void CountResolution(const realip::Resolution& resolution);

 private:
  // One metric's series by status code, its other labels fixed: the codes seen so far, which
  // are few, scanned in order.
  struct ByStatus {
    metrics::SeriesRef Get(int status) const {
      for (const auto& [code, series] : codes) {
        if (code == status) return series;
      }
      return {};
    }
    std::vector<std::pair<int, metrics::SeriesRef>> codes;
  };
  struct ServerSeries {
    ByStatus requests;
    metrics::SeriesRef duration;
  };
  struct PeerSeries {
    ByStatus requests;
    metrics::SeriesRef response;
  };
  using PeerKey = std::pair<const config::Upstream*, upstream::PeerIndex>;

  metrics::Shard* shard_;
  RememberedMap<const config::Server*, ServerSeries> servers_;
  RememberedMap<PeerKey, PeerSeries> peers_;
  // Client address sources as Resolution spells them (a few: "peer", "proxy_protocol" and the
  // header names of the configuration), with their series.
  std::vector<std::pair<std::string, metrics::SeriesRef>> sources_;
};

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
