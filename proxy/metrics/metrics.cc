#include "proxy/metrics/metrics.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <map>
#include <utility>

#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"
#include "proxy/base/check.h"

namespace realip::metrics {
namespace {

using prometheus::MetricType;

struct Entry {
  Definition def;
  MetricType type;
};

const std::array<Entry, static_cast<size_t>(Metric::kCount)>& Entries() {
  static const auto* entries = new std::array<Entry, static_cast<size_t>(Metric::kCount)>{{
      {{"realip_http_requests_total", "HTTP requests answered, by server and status code.",
        {"server", "code"}},
       MetricType::Counter},
      {{"realip_http_request_duration_seconds",
        "Time from the first byte of a request to the last byte of its response.", {"server"}},
       MetricType::Histogram},
      {{"realip_upstream_requests_total", "Requests sent to upstream peers, by response code.",
        {"upstream", "peer", "code"}},
       MetricType::Counter},
      {{"realip_upstream_response_seconds",
        "Time from sending a request upstream to the end of its response head.", {"upstream"}},
       MetricType::Histogram},
      {{"realip_upstream_failures_total", "Failed attempts to use an upstream peer, by reason.",
        {"upstream", "peer", "reason"}},
       MetricType::Counter},
      {{"realip_upstream_peer_up", "1 if the upstream peer is considered up, 0 if down.",
        {"upstream", "peer"}},
       MetricType::Gauge},
      {{"realip_connections_active", "Client connections currently open.", {}},
       MetricType::Gauge},
      {{"realip_connections_accepted_total", "Client connections accepted, by listener.",
        {"listener"}},
       MetricType::Counter},
      {{"realip_connections_rejected_total", "Client connections refused or dropped, by reason.",
        {"reason"}},
       MetricType::Counter},
      {{"realip_client_ip_source_total",
        "Requests by where their client address came from (peer, proxy_protocol, a header).",
        {"source"}},
       MetricType::Counter},
      {{"realip_untrusted_forwarded_headers_total",
        "Requests carrying forwarded headers from an untrusted peer: spoofing attempts or a "
        "trust list that is too short.",
        {"header"}},
       MetricType::Counter},
      {{"realip_proxy_protocol_errors_total", "Connections closed for a bad PROXY header.",
        {"reason"}},
       MetricType::Counter},
      {{"realip_proxy_protocol_total", "PROXY headers accepted, by version and command.",
        {"version", "command"}},
       MetricType::Counter},
      {{"realip_bytes_received_total", "Bytes read from clients.", {}}, MetricType::Counter},
      {{"realip_bytes_sent_total", "Bytes written to clients.", {}}, MetricType::Counter},
      {{"realip_config_reloads_total", "Configuration reloads, by result.", {"result"}},
       MetricType::Counter},
      {{"realip_limit_req_total", "Requests seen by limit_req zones, by result.",
        {"zone", "result"}},
       MetricType::Counter},
      {{"realip_access_denied_total", "Requests refused by allow/deny rules.", {"server"}},
       MetricType::Counter},
      {{"realip_build_info", "Build information; the value is always 1.", {"version"}},
       MetricType::Gauge},
      {{"realip_ssl_handshakes_total",
        "Client TLS handshakes, by result (success, failure, timeout).", {"result"}},
       MetricType::Counter},
  }};
  return *entries;
}

const Entry& GetEntry(Metric metric) {
  REALIP_CHECK(metric < Metric::kCount);
  return Entries()[static_cast<size_t>(metric)];
}

constexpr size_t kBucketCount = std::size(kLatencyBuckets) + 1;  // + the +Inf bucket

std::string JoinLabels(std::initializer_list<std::string_view> labels) {
  std::string key;
  for (std::string_view v : labels) {
    key.append(v);
    key.push_back('\0');
  }
  return key;
}

std::vector<prometheus::ClientMetric::Label> SplitLabels(const Definition& def,
                                                         const std::string& key) {
  std::vector<prometheus::ClientMetric::Label> labels;
  size_t start = 0;
  for (std::string_view name : def.labels) {
    size_t end = key.find('\0', start);
    REALIP_CHECK(end != std::string::npos);
    labels.push_back({std::string(name), key.substr(start, end - start)});
    start = end + 1;
  }
  return labels;
}

// Sums of all shards for one metric, keyed by label values; sorted for a stable output.
struct Merged {
  int64_t value = 0;
  double sum = 0;
  std::vector<uint64_t> buckets;
};

}  // namespace

const Definition& GetDefinition(Metric metric) { return GetEntry(metric).def; }

Shard::Cell& Shard::CellFor(Metric metric, std::initializer_list<std::string_view> labels) {
  REALIP_DCHECK(labels.size() == GetEntry(metric).def.labels.size());
  key_.clear();
  for (std::string_view v : labels) {
    key_.append(v);
    key_.push_back('\0');
  }
  Series& series = series_[static_cast<int>(metric)];
  auto it = series.find(key_);
  if (it != series.end()) return it->second;
  return series[key_];
}

void Shard::Add(Metric metric, std::initializer_list<std::string_view> labels, int64_t n) {
  absl::MutexLock lock(&mu_);
  CellFor(metric, labels).value += n;
}

void Shard::Observe(Metric metric, std::initializer_list<std::string_view> labels,
                    double seconds) {
  size_t bucket =
      std::lower_bound(std::begin(kLatencyBuckets), std::end(kLatencyBuckets), seconds) -
      std::begin(kLatencyBuckets);
  absl::MutexLock lock(&mu_);
  Cell& cell = CellFor(metric, labels);
  if (cell.buckets.empty()) cell.buckets.resize(kBucketCount);
  cell.buckets[bucket]++;
  cell.sum += seconds;
}

Registry::Registry(std::string version) {
  Set(Metric::kBuildInfo, {version}, 1);
}

Shard* Registry::NewShard() {
  absl::MutexLock lock(&mu_);
  shards_.push_back(std::make_unique<Shard>());
  return shards_.back().get();
}

void Registry::Set(Metric metric, std::initializer_list<std::string_view> labels,
                   int64_t value) {
  absl::MutexLock lock(&mu_);
  set_gauges_[static_cast<int>(metric)][JoinLabels(labels)] = value;
}

void Registry::Add(Metric metric, std::initializer_list<std::string_view> labels, int64_t n) {
  main_.Add(metric, labels, n);
}

std::string Registry::Scrape() const {
  absl::MutexLock lock(&mu_);
  std::vector<prometheus::MetricFamily> families;
  for (size_t m = 0; m < static_cast<size_t>(Metric::kCount); ++m) {
    const Entry& entry = Entries()[m];
    std::map<std::string, Merged> merged;
    auto merge_shard = [&](const Shard& shard) {
      absl::MutexLock shard_lock(&const_cast<Shard&>(shard).mu_);
      for (const auto& [key, cell] : shard.series_[m]) {
        Merged& out = merged[key];
        out.value += cell.value;
        out.sum += cell.sum;
        if (!cell.buckets.empty()) {
          out.buckets.resize(kBucketCount);
          for (size_t i = 0; i < kBucketCount; ++i) out.buckets[i] += cell.buckets[i];
        }
      }
    };
    merge_shard(main_);
    for (const auto& shard : shards_) merge_shard(*shard);
    for (const auto& [key, value] : set_gauges_[m]) merged[key].value = value;
    // A family without labels always has its one series, so a scrape shows it from the start.
    if (entry.def.labels.empty()) merged.try_emplace(std::string());

    prometheus::MetricFamily family;
    family.name = std::string(entry.def.name);
    family.help = std::string(entry.def.help);
    family.type = entry.type;
    for (const auto& [key, value] : merged) {
      prometheus::ClientMetric metric;
      metric.label = SplitLabels(entry.def, key);
      switch (entry.type) {
        case MetricType::Counter:
          metric.counter.value = static_cast<double>(value.value);
          break;
        case MetricType::Gauge:
          metric.gauge.value = static_cast<double>(value.value);
          break;
        case MetricType::Histogram: {
          uint64_t cumulative = 0;
          for (size_t i = 0; i < kBucketCount; ++i) {
            cumulative += value.buckets.empty() ? 0 : value.buckets[i];
            double bound = i < std::size(kLatencyBuckets)
                               ? kLatencyBuckets[i]
                               : std::numeric_limits<double>::infinity();
            metric.histogram.bucket.push_back({cumulative, bound});
          }
          metric.histogram.sample_count = cumulative;
          metric.histogram.sample_sum = value.sum;
          break;
        }
        default:
          REALIP_CHECK(false);
      }
      family.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace realip::metrics
