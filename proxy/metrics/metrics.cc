#include "proxy/metrics/metrics.h"

#include <array>
#include <cstring>
#include <iterator>
#include <limits>
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
      {{"realip_connections_reused_total",
        "Idle client connections closed to make room for new ones (worker_connections), by "
        "the state they were in (new, keepalive, lingering).",
        {"state"}},
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

// The hash of a series' label values, fed one value at a time, so that a stored key (values
// joined, each followed by '\0') and a lookup's views hash alike. wyhash's mixing step: the
// values are a few short strings, for which absl::Hash's per-value combine cost about three
// times as many instructions; a flat_hash_map needs no more than well-mixed bits.
constexpr uint64_t kSeed = 0xa0761d6478bd642f;
constexpr uint64_t kMul = 0xe7037ed1a0b428db;

uint64_t Mix(uint64_t a, uint64_t b) {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// memcmp() == 0 without the call, for the short values labels are.
bool SameBytes(const char* a, const char* b, size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return Load64(a) == Load64(b) && Load64(a + n - 8) == Load64(b + n - 8);
  if (n >= 4) return Load32(a) == Load32(b) && Load32(a + n - 4) == Load32(b + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

uint64_t HashValue(uint64_t h, std::string_view v) {
  const char* p = v.data();
  size_t n = v.size();
  uint64_t a = 0;
  uint64_t b = 0;
  if (n > 16) {
    for (; n > 16; p += 16, n -= 16) h = Mix(Load64(p) ^ kMul, Load64(p + 8) ^ h);
    a = Load64(p + n - 16);  // the last 16 bytes, overlapping what the loop read
    b = Load64(p + n - 8);
  } else if (n >= 8) {
    a = Load64(p);
    b = Load64(p + n - 8);
  } else if (n >= 4) {
    a = Load32(p);
    b = Load32(p + n - 4);
  } else if (n > 0) {
    a = (uint64_t{static_cast<unsigned char>(p[0])} << 16) |
        (uint64_t{static_cast<unsigned char>(p[n / 2])} << 8) |
        static_cast<unsigned char>(p[n - 1]);
  }
  return Mix(a ^ kMul, b ^ h ^ v.size());
}

// Sums of all shards for one metric, keyed by label values; sorted for a stable output.
struct Merged {
  int64_t value = 0;
  double sum = 0;
  std::vector<uint64_t> buckets;
};

}  // namespace

const Definition& GetDefinition(Metric metric) { return GetEntry(metric).def; }

namespace internal {

size_t SeriesHash::operator()(const std::string& joined) const {
  uint64_t h = kSeed;
  std::string_view rest = joined;
  for (size_t end; (end = rest.find('\0')) != std::string_view::npos;
       rest.remove_prefix(end + 1)) {
    h = HashValue(h, rest.substr(0, end));
  }
  return h;
}

size_t SeriesHash::operator()(const LabelValues& key) const {
  uint64_t h = kSeed;
  for (std::string_view v : key.values) h = HashValue(h, v);
  return h;
}

bool SeriesEq::operator()(const std::string& joined, const LabelValues& key) const {
  const char* p = joined.data();
  const char* const end = p + joined.size();
  for (std::string_view v : key.values) {
    // The cheap tests first: room for the value and its terminator, the terminator in place.
    if (static_cast<size_t>(end - p) <= v.size() || p[v.size()] != '\0') return false;
    if (!SameBytes(p, v.data(), v.size())) return false;
    p += v.size() + 1;
  }
  return p == end;
}

}  // namespace internal

Shard::Shard() = default;
Shard::~Shard() = default;

Shard::Cell& Shard::LabeledCell(Metric metric, std::initializer_list<std::string_view> labels) {
  REALIP_DCHECK(labels.size() == GetEntry(metric).def.labels.size());
  const internal::LabelValues key{labels};
  // Consecutive updates of a metric mostly carry the same values (one server, status 200):
  // comparing with the last series found skips the hash and the probe.
  Last& last = last_[Index(metric)];
  if (last.key != nullptr && internal::SeriesEq()(*last.key, key)) return *last.cell;
  Series& series = series_[Index(metric)];
  // Lock-free: only this thread changes `series`.
  auto it = series.find(key);
  if (it == series.end()) {
    absl::MutexLock lock(&mu_);
    it = series.emplace(JoinLabels(labels), std::make_unique<Cell>()).first;
  }
  // Keys move when the map grows, which only an insert above does: `last` is set afresh here
  // after every insert, so it never points at a moved key.
  last = {&it->first, it->second.get()};
  return *it->second;
}

void Shard::Record(Cell& cell, double seconds) {
  // The first bound not below the value (le: "less than or equal"), searched from the
  // smallest: most requests are quick, and then this takes a compare or two where a binary
  // search takes four.
  size_t bucket = 0;
  while (bucket < std::size(kLatencyBuckets) && seconds > kLatencyBuckets[bucket]) ++bucket;
  std::atomic<uint64_t>& count = cell.buckets[bucket];
  count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  cell.sum.store(cell.sum.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
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
  set_gauges_[static_cast<size_t>(metric)][JoinLabels(labels)] = value;
}

void Registry::Add(Metric metric, std::initializer_list<std::string_view> labels, int64_t n) {
  main_.Add(metric, labels, n);
}

std::string Registry::Scrape() const {
  absl::MutexLock lock(&mu_);
  std::vector<prometheus::MetricFamily> families;
  for (size_t m = 0; m < kMetricCount; ++m) {
    const Entry& entry = Entries()[m];
    std::map<std::string, Merged> merged;
    auto merge_cell = [&](const Shard::Cell& cell, Merged& out) {
      if (entry.type == MetricType::Histogram) {
        out.buckets.resize(kBucketCount);
        for (size_t i = 0; i < kBucketCount; ++i) {
          out.buckets[i] += cell.buckets[i].load(std::memory_order_relaxed);
        }
        out.sum += cell.sum.load(std::memory_order_relaxed);
      } else {
        out.value += cell.value.load(std::memory_order_relaxed);
      }
    };
    auto merge_shard = [&](const Shard& shard) {
      if (entry.def.labels.empty()) {
        merge_cell(shard.fixed_[m], merged[std::string()]);
        return;
      }
      absl::MutexLock shard_lock(&shard.mu_);
      for (const auto& [key, cell] : shard.series_[m]) merge_cell(*cell, merged[key]);
    };
    merge_shard(main_);
    for (const auto& shard : shards_) merge_shard(*shard);
    for (const auto& [key, value] : set_gauges_[m]) merged[key].value = value;

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
