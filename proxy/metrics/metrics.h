// The process's metric list and its Prometheus exposition.
//
// Counting must cost the request path almost nothing, so each worker thread owns a Shard and
// counts into it without locks and without touching other threads' memory; Registry::Scrape()
// merges all shards and renders them with prometheus-cpp's text serializer. Label values must
// come from bounded sets (server names, status codes, upstream peers): never a client address
// or a URL.
//
// A shard's protocol (one writer, concurrent scrapes; sound under ThreadSanitizer's model):
//  - Only the owning thread calls a shard's Add, Observe, AddLevel and set_collecting. It is
//    the only thread that writes a cell or changes a series map.
//  - Cells have stable addresses (maps hold them by unique_ptr; unlabeled metrics have a fixed
//    cell each, found without a lookup) and are never removed, so the owner may keep a
//    SeriesRef (a cell's address) for as long as the shard lives and count through it with no
//    lookup at all; a SeriesRef is owner-only state like the rest. Their fields are
//    std::atomic: the owner updates them
//    with a relaxed load and a relaxed store (no read-modify-write: nobody else writes), a
//    scrape reads them with relaxed loads. A scrape sees every value whole, but not all fields
//    of a histogram from the same instant (a bucket may be ahead of the sum); the next scrape
//    catches up. A histogram's _count is the sum of the bucket values that scrape loaded.
//  - The owner finds series without a lock: readers of a map that nobody is changing may run
//    concurrently. It inserts a new series under the shard's mutex, and a scrape walks the
//    maps under the same mutex, so a scrape never sees a map mid-insert or mid-rehash.
//  - Before hashing, the owner compares the label values with the series the metric's last
//    update went to (owner-only state, reset after each insert into that metric's map).
//  - The collecting switch (metrics_collection) is owner-only state too: Add and Observe (by
//    labels or by SeriesRef) test it first and return at once when it is off.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <iterator>
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
  kConnectionsReused,          // counter   realip_connections_reused_total{state}
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

inline constexpr size_t kMetricCount = static_cast<size_t>(Metric::kCount);
inline constexpr size_t kBucketCount = std::size(kLatencyBuckets) + 1;  // + the +Inf bucket

namespace internal {

// One series of one shard: written by the shard's owner only, read by scrapes.
struct Cell {
  std::atomic<int64_t> value{0};  // counters and summed gauges
  std::atomic<double> sum{0};     // histograms: sum of the observations
  // Histograms: per-bucket (not cumulative) counts, +Inf last.
  std::array<std::atomic<uint64_t>, kBucketCount> buckets{};
};

// A series' label values as a lookup key: hashed and compared piece by piece against the
// stored keys (the values joined, each followed by '\0'), so a lookup builds no string.
struct LabelValues {
  std::initializer_list<std::string_view> values;
};
struct SeriesHash {
  using is_transparent = void;
  size_t operator()(const std::string& joined) const;
  size_t operator()(const LabelValues& key) const;
};
struct SeriesEq {
  using is_transparent = void;
  bool operator()(const std::string& a, const std::string& b) const { return a == b; }
  bool operator()(const std::string& joined, const LabelValues& key) const;
  bool operator()(const LabelValues& key, const std::string& joined) const {
    return (*this)(joined, key);
  }
};

}  // namespace internal

// One series of one shard, found once with Shard::Find and then counted into without a
// lookup. Valid as long as the shard; only the shard's owner thread may use it.
class SeriesRef {
 public:
  SeriesRef() = default;
  bool valid() const { return cell_ != nullptr; }

 private:
  friend class Shard;
  explicit SeriesRef(internal::Cell* cell) : cell_(cell) {}
  internal::Cell* cell_ = nullptr;
};

// One worker's counts. Only its owning thread updates it (see the protocol above); any
// thread may scrape it through the Registry.
class Shard {
 public:
  Shard();
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Adds `n` to a counter (or a summed gauge) for the given label values, in the order of
  // the metric's label names. Does nothing while collection is off.
  void Add(Metric metric, std::initializer_list<std::string_view> labels, int64_t n = 1) {
    if (!collecting_) return;
    Bump(CellFor(metric, labels).value, n);
  }
  // Records one observation of a histogram metric, in seconds. Does nothing while collection
  // is off.
  void Observe(Metric metric, std::initializer_list<std::string_view> labels, double seconds) {
    if (!collecting_) return;
    Record(CellFor(metric, labels), seconds);
  }
  // The series of `metric` with the given label values, for the overloads below. Creates it
  // (scrapes show it from then on, at 0 until counted into), so find a series when about to
  // count into it.
  SeriesRef Find(Metric metric, std::initializer_list<std::string_view> labels) {
    return SeriesRef(&CellFor(metric, labels));
  }
  // Add and Observe without a lookup, into a series this shard's Find returned.
  void Add(SeriesRef series, int64_t n = 1) {
    if (!collecting_) return;
    Bump(series.cell_->value, n);
  }
  void Observe(SeriesRef series, double seconds) {
    if (!collecting_) return;
    Record(*series.cell_, seconds);
  }
  // Adds `n` to a level without labels (realip_connections_active), collecting or not: a
  // level that missed its increments while off would stay wrong after collection resumes.
  void AddLevel(Metric metric, int64_t n) { Bump(fixed_[Index(metric)].value, n); }

  // Whether Add and Observe count (metrics_collection). Owner thread only.
  bool collecting() const { return collecting_; }
  void set_collecting(bool on) { collecting_ = on; }

 private:
  friend class Registry;
  using Cell = internal::Cell;
  using Series = absl::flat_hash_map<std::string, std::unique_ptr<Cell>, internal::SeriesHash,
                                     internal::SeriesEq>;

  static size_t Index(Metric metric) { return static_cast<size_t>(metric); }
  static void Bump(std::atomic<int64_t>& cell, int64_t n) {
    cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void Record(Cell& cell, double seconds);
  Cell& CellFor(Metric metric, std::initializer_list<std::string_view> labels) {
    return labels.size() == 0 ? fixed_[Index(metric)] : LabeledCell(metric, labels);
  }
  Cell& LabeledCell(Metric metric, std::initializer_list<std::string_view> labels);

  // The series each metric's last labeled update went to (owner thread only).
  struct Last {
    const std::string* key = nullptr;
    Cell* cell = nullptr;
  };

  bool collecting_ = true;                // owner thread only
  std::array<Cell, kMetricCount> fixed_;  // metrics without labels
  std::array<Last, kMetricCount> last_;
  // Inserted into by the owner under mu_; read by the owner without it and by scrapes under
  // it (see the protocol above), so deliberately not ABSL_GUARDED_BY.
  std::array<Series, kMetricCount> series_;
  mutable absl::Mutex mu_;
};

// Process-wide: owns the shards and the set-style gauges, renders the exposition.
class Registry {
 public:
  explicit Registry(std::string version);

  // A new shard for a worker thread; it lives as long as the registry.
  Shard* NewShard();
  // Sets a gauge whose value is a state, not a sum (realip_upstream_peer_up). Thread-safe.
  void Set(Metric metric, std::initializer_list<std::string_view> labels, int64_t value);
  // Adds to a counter owned by the main thread (config reloads): one thread at a time.
  void Add(Metric metric, std::initializer_list<std::string_view> labels, int64_t n = 1);

  // Every family in Prometheus text exposition format 0.0.4. Thread-safe.
  std::string Scrape() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Shard>> shards_ ABSL_GUARDED_BY(mu_);
  Shard main_;  // written by the main thread
  absl::flat_hash_map<std::string, int64_t> set_gauges_[kMetricCount] ABSL_GUARDED_BY(mu_);
};

}  // namespace realip::metrics
