#include "proxy/metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <thread>

namespace realip::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

}  // namespace
}  // namespace realip::metrics
