// The process's metric list and its Prometheus exposition.
//
// Counting must cost the request path almost nothing, so each worker thread owns a Shard and
// counts into it without touching other threads' memory; Registry::Scrape() merges all shards
// and renders them with prometheus-cpp's text serializer. Label values must come from bounded
// sets (server names, status codes, upstream peers): never a client address or a URL.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace realip::metrics {

// Every metric the proxy exports. The order matches kDefinitions in metrics.cc.
enum class Metric : uint8_t {
  kHttpRequests,               // counter   realip_http_requests_total{server,code}
  kHttpRequestDuration,        // histogram realip_http_request_duration_seconds{server}
  kUpstreamRequests,           // counter   realip_upstream_requests_total{upstream,peer,code}
  kUpstreamResponse,           // histogram realip_upstream_response_seconds{upstream}
  kUpstreamFailures,           // counter   realip_upstream_failures_total{upstream,peer,reason}
  kUpstreamPeerUp,             // gauge     realip_upstream_peer_up{upstream,peer} (set)
  kConnectionsActive,          // gauge     realip_connections_active (summed over workers)
  kConnectionsAccepted,        // counter   realip_connections_accepted_total{listener}
  kConnectionsRejected,        // counter   realip_connections_rejected_total{reason}
  kClientIpSource,             // counter   realip_client_ip_source_total{source}
  kUntrustedForwardedHeaders,  // counter   realip_untrusted_forwarded_headers_total{header}
  kProxyProtocolErrors,        // counter   realip_proxy_protocol_errors_total{reason}
  kProxyProtocol,              // counter   realip_proxy_protocol_total{version,command}
  kBytesReceived,              // counter   realip_bytes_received_total
  kBytesSent,                  // counter   realip_bytes_sent_total
  kConfigReloads,              // counter   realip_config_reloads_total{result}
  kLimitReq,                   // counter   realip_limit_req_total{zone,result}
  kAccessDenied,               // counter   realip_access_denied_total{server}
  kBuildInfo,                  // gauge     realip_build_info{version} (always 1)
  kSslHandshakes,              // counter   realip_ssl_handshakes_total{result}
  kCount
};

// Upper bounds (seconds) of the latency histograms' buckets.
inline constexpr double kLatencyBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                             0.1,    0.25,  0.5,    1,     2.5,  5,     10};

// Name, help and label names of `metric`, as exported.
struct Definition {
  std::string_view name;
  std::string_view help;
  std::vector<std::string_view> labels;
};
const Definition& GetDefinition(Metric metric);

// One worker's counts. Only its owning thread writes to it; a scrape reads it under the
// shard's mutex, which the owner takes uncontended except during a scrape.
class Shard {
 public:
  // Adds `n` to a counter (or a summed gauge) for the given label values, in the order of
  // the metric's label names.
  void Add(Metric metric, std::initializer_list<std::string_view> labels, int64_t n = 1);
  // Records one observation of a histogram metric, in seconds.
  void Observe(Metric metric, std::initializer_list<std::string_view> labels, double seconds);

 private:
  friend class Registry;
  struct Cell {
    int64_t value = 0;  // counters and gauges
    double sum = 0;     // histograms
    std::vector<uint64_t> buckets;  // histograms: per-bucket (not cumulative) counts, +Inf last
  };
  using Series = absl::flat_hash_map<std::string, Cell>;  // key: label values joined by '\0'
  Cell& CellFor(Metric metric, std::initializer_list<std::string_view> labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  Series series_[static_cast<int>(Metric::kCount)] ABSL_GUARDED_BY(mu_);
  std::string key_ ABSL_GUARDED_BY(mu_);  // reused for lookups: no allocation per update
};

// Process-wide: owns the shards and the set-style gauges, renders the exposition.
class Registry {
 public:
  explicit Registry(std::string version);

  // A new shard for a worker thread; it lives as long as the registry.
  Shard* NewShard();
  // Sets a gauge whose value is a state, not a sum (realip_upstream_peer_up).
  void Set(Metric metric, std::initializer_list<std::string_view> labels, int64_t value);
  // Adds to a counter owned by the main thread (config reloads).
  void Add(Metric metric, std::initializer_list<std::string_view> labels, int64_t n = 1);

  // Every family in Prometheus text exposition format 0.0.4.
  std::string Scrape() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Shard>> shards_ ABSL_GUARDED_BY(mu_);
  Shard main_;  // written by the main thread under its own mutex
  absl::flat_hash_map<std::string, int64_t> set_gauges_[static_cast<int>(Metric::kCount)]
      ABSL_GUARDED_BY(mu_);
};

}  // namespace realip::metrics
