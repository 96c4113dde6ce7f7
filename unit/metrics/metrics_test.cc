#include "proxy/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace realip::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The value of the sample line `series` (name and labels exactly as exported), or -1.
double SampleValue(const std::string& text, const std::string& series) {
  std::string prefix = series + " ";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
  }
  return -1;
}

// Every line is a comment (# HELP / # TYPE) or `name{labels} value` in exposition format 0.0.4.
void ExpectValidExposition(const std::string& text) {
  static const std::regex kSample(
      R"re(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? )re"
      R"re(([-+]?[0-9.eE+-]+|\+Inf|-Inf|NaN)$)re");
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, kSample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 0);
}

TEST(MetricsTest, EveryFamilyIsExportedWithItsType) {
  Registry registry("1.2.3");
  std::string text = registry.Scrape();
  ExpectValidExposition(text);
  for (int m = 0; m < static_cast<int>(Metric::kCount); ++m) {
    const Definition& def = GetDefinition(static_cast<Metric>(m));
    EXPECT_THAT(text, HasSubstr("# TYPE " + std::string(def.name))) << def.name;
  }
  EXPECT_THAT(text, HasSubstr("realip_build_info{version=\"1.2.3\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("realip_connections_active 0\n"));
}

TEST(MetricsTest, ShardsAreMergedAtScrape) {
  Registry registry("t");
  Shard* a = registry.NewShard();
  Shard* b = registry.NewShard();
  a->Add(Metric::kClientIpSource, {"proxy_protocol"});
  b->Add(Metric::kClientIpSource, {"proxy_protocol"}, 2);
  b->Add(Metric::kClientIpSource, {"X-Forwarded-For"});
  a->Add(Metric::kConnectionsActive, {}, 3);
  b->Add(Metric::kConnectionsActive, {}, -1);
  registry.Add(Metric::kConfigReloads, {"success"});
  registry.Set(Metric::kUpstreamPeerUp, {"app", "127.0.0.1:8081"}, 1);
  std::string text = registry.Scrape();
  ExpectValidExposition(text);
  EXPECT_THAT(text, HasSubstr("realip_client_ip_source_total{source=\"proxy_protocol\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("realip_client_ip_source_total{source=\"X-Forwarded-For\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("realip_connections_active 2\n"));
  EXPECT_THAT(text, HasSubstr("realip_config_reloads_total{result=\"success\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("realip_upstream_peer_up{upstream=\"app\",peer=\"127.0.0.1:8081\"} 1\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry registry("t");
  Shard* s = registry.NewShard();
  s->Observe(Metric::kHttpRequestDuration, {"www"}, 0.0001);
  s->Observe(Metric::kHttpRequestDuration, {"www"}, 0.003);
  s->Observe(Metric::kHttpRequestDuration, {"www"}, 20);
  std::string text = registry.Scrape();
  ExpectValidExposition(text);
  EXPECT_THAT(text, HasSubstr(
      "realip_http_request_duration_seconds_bucket{server=\"www\",le=\"0.0005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(
      "realip_http_request_duration_seconds_bucket{server=\"www\",le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(
      "realip_http_request_duration_seconds_bucket{server=\"www\",le=\"10\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(
      "realip_http_request_duration_seconds_bucket{server=\"www\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("realip_http_request_duration_seconds_count{server=\"www\"} 3\n"));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry registry("t");
  registry.NewShard()->Add(Metric::kHttpRequests, {"a\"b\\c", "200"});
  std::string text = registry.Scrape();
  ExpectValidExposition(text);
  EXPECT_THAT(text, HasSubstr("server=\"a\\\"b\\\\c\""));
}

TEST(MetricsTest, ConcurrentWorkersAndScrapesLoseNothing) {
  Registry registry("t");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    Shard* shard = registry.NewShard();
    threads.emplace_back([shard] {
      for (int i = 0; i < kPerThread; ++i) shard->Add(Metric::kBytesSent, {}, 2);
    });
  }
  for (int i = 0; i < 20; ++i) EXPECT_THAT(registry.Scrape(), Not(HasSubstr("NaN")));
  for (auto& t : threads) t.join();
  EXPECT_THAT(registry.Scrape(),
              HasSubstr("realip_bytes_sent_total " + std::to_string(2 * kThreads * kPerThread) +
                        "\n"));
}

TEST(MetricsTest, ValuesAfterUpdates) {
  Registry registry("t");
  Shard* s = registry.NewShard();
  s->Add(Metric::kHttpRequests, {"www", "200"});
  s->Add(Metric::kHttpRequests, {"www", "200"}, 4);
  s->Add(Metric::kHttpRequests, {"www", "404"});
  s->Add(Metric::kBytesReceived, {}, 100);
  s->Add(Metric::kBytesReceived, {}, 23);
  std::string text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 5);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="404"})"), 1);
  EXPECT_EQ(SampleValue(text, "realip_bytes_received_total"), 123);
  EXPECT_EQ(SampleValue(text, "realip_bytes_sent_total"), 0);
}

// Lookups compare label values piece by piece against joined keys: values that join to
// similar strings stay separate series.
TEST(MetricsTest, LabelValuesThatJoinAlikeAreDistinctSeries) {
  Registry registry("t");
  Shard* s = registry.NewShard();
  s->Add(Metric::kHttpRequests, {"ab", ""});
  s->Add(Metric::kHttpRequests, {"a", "b"}, 2);
  s->Add(Metric::kHttpRequests, {"", "ab"}, 3);
  s->Add(Metric::kHttpRequests, {"a", "b"}, 10);
  s->Add(Metric::kHttpRequests, {"", ""}, 7);
  s->Add(Metric::kClientIpSource, {""}, 5);
  std::string text = registry.Scrape();
  ExpectValidExposition(text);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="ab",code=""})"), 1);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="a",code="b"})"), 12);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="",code="ab"})"), 3);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="",code=""})"), 7);
  EXPECT_EQ(SampleValue(text, R"(realip_client_ip_source_total{source=""})"), 5);
}

TEST(MetricsTest, SeriesKeyHashAndEqualityAgreeForBothForms) {
  internal::SeriesHash hash;
  internal::SeriesEq eq;
  const std::string joined("www\0" "200\0", 8);
  EXPECT_EQ(hash(joined), hash(internal::LabelValues{{"www", "200"}}));
  EXPECT_TRUE(eq(joined, internal::LabelValues{{"www", "200"}}));
  EXPECT_FALSE(eq(joined, internal::LabelValues{{"www", "20"}}));
  EXPECT_FALSE(eq(joined, internal::LabelValues{{"www2", "00"}}));
  EXPECT_FALSE(eq(joined, internal::LabelValues{{"www"}}));
  EXPECT_FALSE(eq(joined, internal::LabelValues{{"www", "200", ""}}));
  const std::string empty_values("\0\0", 2);
  EXPECT_EQ(hash(empty_values), hash(internal::LabelValues{{"", ""}}));
  EXPECT_TRUE(eq(empty_values, internal::LabelValues{{"", ""}}));
}

TEST(MetricsTest, HistogramSumCountAndBucketBounds) {
  Registry registry("t");
  Shard* s = registry.NewShard();
  // A value equal to a bound belongs to that bucket (le is "less than or equal").
  s->Observe(Metric::kUpstreamResponse, {"app"}, 0.005);
  s->Observe(Metric::kUpstreamResponse, {"app"}, 0.0050001);
  s->Observe(Metric::kUpstreamResponse, {"app"}, 0.25);
  s->Observe(Metric::kUpstreamResponse, {"other"}, 1);
  std::string text = registry.Scrape();
  ExpectValidExposition(text);
  const std::string app = R"(realip_upstream_response_seconds_bucket{upstream="app",le=)";
  EXPECT_EQ(SampleValue(text, app + R"("0.0025"})"), 0);
  EXPECT_EQ(SampleValue(text, app + R"("0.005"})"), 1);
  EXPECT_EQ(SampleValue(text, app + R"("0.01"})"), 2);
  EXPECT_EQ(SampleValue(text, app + R"("0.25"})"), 3);
  EXPECT_EQ(SampleValue(text, app + R"("+Inf"})"), 3);
  EXPECT_EQ(SampleValue(text, R"(realip_upstream_response_seconds_count{upstream="app"})"), 3);
  EXPECT_DOUBLE_EQ(SampleValue(text, R"(realip_upstream_response_seconds_sum{upstream="app"})"),
                   0.005 + 0.0050001 + 0.25);
  EXPECT_EQ(SampleValue(text, R"(realip_upstream_response_seconds_count{upstream="other"})"), 1);
}

TEST(MetricsTest, HistogramsOfSeveralShardsAreSummed) {
  Registry registry("t");
  Shard* a = registry.NewShard();
  Shard* b = registry.NewShard();
  a->Observe(Metric::kHttpRequestDuration, {"www"}, 0.001);
  b->Observe(Metric::kHttpRequestDuration, {"www"}, 0.002);
  b->Observe(Metric::kHttpRequestDuration, {"www"}, 3);
  std::string text = registry.Scrape();
  const std::string www = R"(realip_http_request_duration_seconds_bucket{server="www",le=)";
  EXPECT_EQ(SampleValue(text, www + R"("0.001"})"), 1);
  EXPECT_EQ(SampleValue(text, www + R"("0.0025"})"), 2);
  EXPECT_EQ(SampleValue(text, www + R"("+Inf"})"), 3);
  EXPECT_DOUBLE_EQ(
      SampleValue(text, R"(realip_http_request_duration_seconds_sum{server="www"})"), 3.003);
}

TEST(MetricsTest, CollectionOffSkipsUpdatesButKeepsFamiliesAndLevels) {
  Registry registry("9.9");
  Shard* s = registry.NewShard();
  s->Add(Metric::kHttpRequests, {"www", "200"});
  s->set_collecting(false);
  EXPECT_FALSE(s->collecting());
  s->Add(Metric::kHttpRequests, {"www", "200"});
  s->Add(Metric::kHttpRequests, {"www", "500"});
  s->Add(Metric::kBytesSent, {}, 10);
  s->Observe(Metric::kHttpRequestDuration, {"www"}, 0.1);
  // Levels follow the truth whatever the switch says.
  s->AddLevel(Metric::kConnectionsActive, 2);
  registry.Add(Metric::kConfigReloads, {"success"});
  std::string text = registry.Scrape();
  ExpectValidExposition(text);
  for (int m = 0; m < static_cast<int>(Metric::kCount); ++m) {
    const Definition& def = GetDefinition(static_cast<Metric>(m));
    EXPECT_THAT(text, HasSubstr("# TYPE " + std::string(def.name))) << def.name;
  }
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 1);
  EXPECT_THAT(text, Not(HasSubstr("code=\"500\"")));
  EXPECT_THAT(text, Not(HasSubstr("realip_http_request_duration_seconds_count")));
  EXPECT_EQ(SampleValue(text, "realip_bytes_sent_total"), 0);
  EXPECT_EQ(SampleValue(text, "realip_connections_active"), 2);
  EXPECT_EQ(SampleValue(text, R"(realip_config_reloads_total{result="success"})"), 1);
  EXPECT_EQ(SampleValue(text, R"(realip_build_info{version="9.9"})"), 1);

  s->set_collecting(true);
  s->Add(Metric::kHttpRequests, {"www", "200"});
  s->AddLevel(Metric::kConnectionsActive, -1);
  text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 2);
  EXPECT_EQ(SampleValue(text, "realip_connections_active"), 1);
}

TEST(MetricsTest, SeriesRefCountsIntoTheSeriesOfItsLabels) {
  Registry registry("t");
  Shard* s = registry.NewShard();
  SeriesRef ok = s->Find(Metric::kHttpRequests, {"www", "200"});
  SeriesRef slow = s->Find(Metric::kUpstreamResponse, {"app"});
  SeriesRef sent = s->Find(Metric::kBytesSent, {});
  ASSERT_TRUE(ok.valid());
  EXPECT_FALSE(SeriesRef().valid());
  // Found series are exported at 0 until counted into.
  std::string text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 0);
  s->Add(ok);
  s->Add(Metric::kHttpRequests, {"www", "200"}, 2);
  s->Add(ok, 4);
  for (int i = 0; i < 100; ++i) s->Add(Metric::kHttpRequests, {"www", std::to_string(i)});
  s->Add(ok);  // still the same cell after the map grew
  s->Observe(slow, 0.003);
  s->Observe(Metric::kUpstreamResponse, {"app"}, 2);
  s->Add(sent, 7);
  s->set_collecting(false);
  s->Add(ok);
  s->Observe(slow, 1);
  s->Add(sent, 1);
  s->set_collecting(true);
  text = registry.Scrape();
  ExpectValidExposition(text);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 8);
  EXPECT_EQ(SampleValue(text, R"(realip_upstream_response_seconds_count{upstream="app"})"), 2);
  EXPECT_EQ(
      SampleValue(text, R"(realip_upstream_response_seconds_bucket{upstream="app",le="0.005"})"),
      1);
  EXPECT_DOUBLE_EQ(SampleValue(text, R"(realip_upstream_response_seconds_sum{upstream="app"})"),
                   2.003);
  EXPECT_EQ(SampleValue(text, "realip_bytes_sent_total"), 7);
}

// One writer per shard adds new series and updates old ones while another thread scrapes:
// every scrape parses, no value ever goes down, and the final scrape has every update.
TEST(MetricsTest, ConcurrentWriterAndScraperSeeMonotonicValues) {
  Registry registry("t");
  constexpr int kWriters = 2;
  constexpr int kRounds = 200000;
  constexpr int kCodes = 50;  // series inserted one after the other while scrapes run
  std::atomic<int> running{kWriters};
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    Shard* shard = registry.NewShard();
    writers.emplace_back([shard, &running, &go] {
      while (!go.load()) {
      }
      for (int i = 0; i < kRounds; ++i) {
        std::string code = std::to_string(100 + i / (kRounds / kCodes));
        shard->Add(Metric::kHttpRequests, {"www", code});
        shard->Observe(Metric::kHttpRequestDuration, {"www"}, (i % 7) * 0.001);
        shard->Add(Metric::kBytesSent, {}, 3);
      }
      running.fetch_sub(1);
    });
  }
  std::map<std::string, double> last;  // sample line -> value seen by the previous scrape
  int scrapes = 0;
  auto check = [&](const std::string& text) {
    ++scrapes;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      size_t space = line.rfind(' ');
      std::string series = line.substr(0, space);
      double v = std::stod(line.substr(space + 1));
      if (series.rfind("realip_http_re", 0) == 0 || series == "realip_bytes_sent_total") {
        EXPECT_GE(v, last[series]) << series;
        last[series] = v;
      }
    }
  };
  go.store(true);
  while (running.load() > 0) check(registry.Scrape());
  for (auto& t : writers) t.join();
  std::string text = registry.Scrape();
  check(text);
  EXPECT_GT(scrapes, 1);
  EXPECT_EQ(SampleValue(text, "realip_bytes_sent_total"), 3.0 * kWriters * kRounds);
  double requests = 0;
  for (int c = 0; c < kCodes; ++c) {
    double v = SampleValue(text, "realip_http_requests_total{server=\"www\",code=\"" +
                                     std::to_string(100 + c) + "\"}");
    EXPECT_EQ(v, kWriters * kRounds / kCodes) << c;
    requests += v;
  }
  EXPECT_EQ(requests, kWriters * kRounds);
  EXPECT_EQ(SampleValue(text, R"(realip_http_request_duration_seconds_count{server="www"})"),
            kWriters * kRounds);
}

}  // namespace
}  // namespace realip::metrics
