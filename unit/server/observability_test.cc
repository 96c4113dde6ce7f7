#include "proxy/server/observability.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proxy/base/strings.h"
#include "proxy/http/parser.h"
#include "proxy/net/cidr_set.h"
#include "proxy/net/ip_address.h"

namespace realip::server {
namespace {

net::SocketAddress Addr(const char* ip, uint16_t port) {
  return net::SocketAddress{*net::IpAddress::Parse(ip), port, false};
}

TEST(UpstreamFailureReasonTest, BoundedReasons) {
  struct Case {
    int status;
    const char* why;
    const char* want;
  };
  for (const Case& c : {
           Case{504, "upstream timed out while reading", "timeout"},
           Case{502, "connect: Connection refused", "connect"},
           Case{502, "upstream prematurely closed connection", "closed"},
           Case{502, "upstream sent invalid response: bad status", "invalid_response"},
           Case{502, "upstream sent 101 without an upgrade request", "invalid_response"},
           Case{502, "recv: Connection reset by peer", "io"},
           Case{502, "send: Broken pipe", "io"},
       }) {
    EXPECT_EQ(UpstreamFailureReason(c.status, c.why), c.want) << c.why;
  }
}

TEST(ServerLabelTest, FirstNameOrUnderscore) {
  config::Server named;
  named.names = {"a.example", "b.example"};
  config::Server unnamed;
  EXPECT_EQ(ServerLabel(&named), "a.example");
  EXPECT_EQ(ServerLabel(&unnamed), "_");
  EXPECT_EQ(ServerLabel(nullptr), "_");
}

// The echo document for a request parsed from `raw`, with trusted 10.0.0.0/8 and the given
// real_ip_header sources.
std::string Echo(std::string_view raw, const char* source, bool recursive) {
  http::MessageParser parser(http::MessageKind::kRequest, http::ParseLimits{});
  EXPECT_EQ(parser.Parse(raw, nullptr).event, http::MessageParser::Event::kHeadComplete);
  http::MessageHead head = parser.head();
  config::HttpSettings settings;
  auto trusted = std::make_shared<net::CidrSet>();
  trusted->Add(*net::ParseCidr("10.0.0.0/8"));
  settings.realip.trusted = trusted;
  settings.realip.sources = {*realip::ParseRealIpSource(source)};
  settings.realip.recursive = recursive;
  std::vector<realip::HeaderField> fields;
  for (const http::Header& h : head.headers) fields.push_back({h.name, h.value});
  realip::ResolveInput input;
  input.peer = Addr("10.0.0.1", 5000);
  input.headers = fields;
  RequestContext ctx;
  ctx.head = &head;
  ctx.resolution = realip::Resolve(settings.realip, input);
  ctx.local = Addr("10.0.0.2", 80);
  return RealipEchoJson(ctx, EchoFacts{&settings, input.peer, false});
}

TEST(RealipEchoJsonTest, MarksEachHop) {
  struct Case {
    const char* name;
    const char* raw;
    const char* source;
    std::vector<std::string> want;  // substrings of the document
  };
  const Case cases[] = {
      {"xff_recursive",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.1, 10.1.1.1\r\n\r\n",
       "X-Forwarded-For",
       {R"("client":{"address":"192.0.2.1","port":null})", R"("source":"X-Forwarded-For")",
        R"("hops":[{"entry":"192.0.2.1","address":"192.0.2.1","trusted":false},)"
        R"({"entry":"10.1.1.1","address":"10.1.1.1","trusted":true}])",
        R"("trusted_hops":2)", R"("untrusted_headers":[])",
        R"("realip_x_forwarded_for":"192.0.2.1, 10.1.1.1, 10.0.0.1")", R"("proxy_protocol":null)"}},
      {"forwarded_with_garbage",
       "GET / HTTP/1.1\r\nHost: a\r\nForwarded: for=\"[2001:db8::1]:80\";proto=https, "
       "for=unknown\r\nX-Real-IP: \xff\r\n\r\n",
       "Forwarded",
       {R"({"entry":"[2001:db8::1]:80","address":"2001:db8::1","trusted":false})",
        R"({"entry":"unknown","address":null,"trusted":false})",
        // X-Real-IP is listed (a forwarded header) even though it is not a source here;
        // bytes outside ASCII are escaped so the document stays valid JSON.
        R"("name":"X-Real-IP","value":"\u00ff")"}},
  };
  for (const Case& c : cases) {
    std::string doc = Echo(c.raw, c.source, true);
    EXPECT_EQ(doc.back(), '\n') << c.name;
    for (const std::string& want : c.want) {
      EXPECT_NE(doc.find(want), std::string::npos) << c.name << ": " << want << "\n" << doc;
    }
  }
}

TEST(CountResolutionTest, SourcesLowerCaseAndUntrustedHeaders) {
  metrics::Registry registry("test");
  metrics::Shard* shard = registry.NewShard();
  RequestMetrics counts(shard);
  realip::Resolution r;
  r.source = "X-Forwarded-For";
  counts.CountResolution(r);
  r.source = "peer";
  r.untrusted_headers = {"x-forwarded-for", "forwarded"};
  counts.CountResolution(r);
  std::string text = registry.Scrape();
  for (const char* want :
       {"realip_client_ip_source_total{source=\"x-forwarded-for\"} 1",
        "realip_client_ip_source_total{source=\"peer\"} 1",
        "realip_untrusted_forwarded_headers_total{header=\"forwarded\"} 1",
        "realip_untrusted_forwarded_headers_total{header=\"x-forwarded-for\"} 1"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

// The value of the sample line `series` (name and labels exactly as exported), or -1.
double SampleValue(const std::string& text, std::string_view series) {
  const std::string prefix = absl::StrCat(base::AsAbsl(series), " ");
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    if (line.substr(0, prefix.size()) == prefix) {
      return std::stod(std::string(line.substr(prefix.size())));
    }
    at = end + 1;
  }
  return -1;
}

TEST(RequestMetricsTest, EachStatusCodeHasItsOwnSeries) {
  metrics::Registry registry("test");
  RequestMetrics counts(registry.NewShard());
  config::Server www;
  www.names = {"www"};
  RequestContext ctx;
  ctx.server = &www;
  ctx.start = absl::UnixEpoch() + absl::Seconds(100);
  ctx.status = 200;
  for (int i = 0; i < 50; ++i) counts.CountRequest(ctx, ctx.start + absl::Milliseconds(2));
  ctx.status = 404;
  counts.CountRequest(ctx, ctx.start + absl::Seconds(3));
  ctx.status = 200;
  counts.CountRequest(ctx, ctx.start + absl::Milliseconds(2));
  // Another server object with the same first name counts into the same series; a request
  // without a server (rejected before one was chosen) is "_".
  config::Server www_again;
  www_again.names = {"www", "www.example"};
  ctx.server = &www_again;
  counts.CountRequest(ctx, ctx.start);
  ctx.server = nullptr;
  ctx.status = 400;
  counts.CountRequest(ctx, ctx.start);
  const std::string text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 52);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="404"})"), 1);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="_",code="400"})"), 1);
  EXPECT_EQ(SampleValue(text, R"(realip_http_request_duration_seconds_count{server="www"})"), 53);
  EXPECT_EQ(
      SampleValue(text, R"(realip_http_request_duration_seconds_bucket{server="www",le="0.0025"})"),
      52);
  EXPECT_DOUBLE_EQ(SampleValue(text, R"(realip_http_request_duration_seconds_sum{server="www"})"),
                   51 * 0.002 + 3);
  EXPECT_EQ(SampleValue(text, R"(realip_http_request_duration_seconds_count{server="_"})"), 1);
}

TEST(RequestMetricsTest, UpstreamResponsesByPeerAndCode) {
  metrics::Registry registry("test");
  RequestMetrics counts(registry.NewShard());
  config::Upstream app;
  app.name = "app";
  for (int i = 0; i < 3; ++i) {
    counts.CountUpstreamResponse(app, 0, "10.0.0.1:80", 200, absl::Milliseconds(1));
  }
  counts.CountUpstreamResponse(app, 1, "10.0.0.2:80", 200, absl::Milliseconds(20));
  counts.CountUpstreamResponse(app, 0, "10.0.0.1:80", 502, absl::Seconds(1));
  counts.CountUpstreamResponse(app, 0, "10.0.0.1:80", 200, absl::Milliseconds(1));
  const std::string text = registry.Scrape();
  const std::string prefix = R"(realip_upstream_requests_total{upstream="app",peer=)";
  EXPECT_EQ(SampleValue(text, prefix + R"("10.0.0.1:80",code="200"})"), 4);
  EXPECT_EQ(SampleValue(text, prefix + R"("10.0.0.1:80",code="502"})"), 1);
  EXPECT_EQ(SampleValue(text, prefix + R"("10.0.0.2:80",code="200"})"), 1);
  EXPECT_EQ(SampleValue(text, R"(realip_upstream_response_seconds_count{upstream="app"})"), 6);
  EXPECT_EQ(
      SampleValue(text, R"(realip_upstream_response_seconds_bucket{upstream="app",le="0.001"})"),
      4);
  EXPECT_DOUBLE_EQ(SampleValue(text, R"(realip_upstream_response_seconds_sum{upstream="app"})"),
                   0.004 + 0.02 + 1);
}

// A reload may free configuration objects and build new ones at the same addresses: after
// Clear(), an object at a reused address counts under its own labels, and the counts of the
// series found before stay.
TEST(RequestMetricsTest, ClearForgetsAddressesButCountsStay) {
  metrics::Registry registry("test");
  RequestMetrics counts(registry.NewShard());
  std::optional<config::Server> server;
  std::optional<config::Upstream> upstream;
  server.emplace().names = {"old"};
  upstream.emplace().name = "old_app";
  RequestContext ctx;
  ctx.server = &*server;
  ctx.status = 200;
  counts.CountRequest(ctx, ctx.start);
  counts.CountUpstreamResponse(*upstream, 0, "10.0.0.1:80", 200, absl::ZeroDuration());

  counts.Clear();
  server.reset();
  server.emplace().names = {"new"};  // the same address
  upstream.reset();
  upstream.emplace().name = "new_app";
  counts.CountRequest(ctx, ctx.start);
  counts.CountRequest(ctx, ctx.start);
  counts.CountUpstreamResponse(*upstream, 0, "10.0.0.9:80", 200, absl::ZeroDuration());
  const std::string text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="old",code="200"})"), 1);
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="new",code="200"})"), 2);
  EXPECT_EQ(SampleValue(text, R"(realip_upstream_requests_total{upstream="old_app",)"
                              R"(peer="10.0.0.1:80",code="200"})"),
            1);
  EXPECT_EQ(SampleValue(text, R"(realip_upstream_requests_total{upstream="new_app",)"
                              R"(peer="10.0.0.9:80",code="200"})"),
            1);
  EXPECT_EQ(SampleValue(text, R"(realip_upstream_response_seconds_count{upstream="new_app"})"), 1);
}

TEST(RequestMetricsTest, NothingCountedOrCreatedWhileCollectionIsOff) {
  metrics::Registry registry("test");
  metrics::Shard* shard = registry.NewShard();
  RequestMetrics counts(shard);
  config::Server www;
  www.names = {"www"};
  config::Upstream app;
  app.name = "app";
  RequestContext ctx;
  ctx.server = &www;
  ctx.status = 200;
  realip::Resolution r;
  r.source = "peer";
  counts.CountRequest(ctx, ctx.start);  // its series are found and kept
  shard->set_collecting(false);
  counts.CountRequest(ctx, ctx.start);
  ctx.status = 503;
  counts.CountRequest(ctx, ctx.start);
  counts.CountUpstreamResponse(app, 0, "10.0.0.1:80", 200, absl::ZeroDuration());
  counts.CountResolution(r);
  std::string text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 1);
  EXPECT_EQ(text.find("code=\"503\""), std::string::npos) << text;
  EXPECT_EQ(text.find("upstream=\"app\""), std::string::npos) << text;
  EXPECT_EQ(text.find("source=\"peer\""), std::string::npos) << text;

  shard->set_collecting(true);
  ctx.status = 200;
  counts.CountRequest(ctx, ctx.start);
  counts.CountResolution(r);
  text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_http_requests_total{server="www",code="200"})"), 2);
  EXPECT_EQ(SampleValue(text, R"(realip_http_request_duration_seconds_count{server="www"})"), 2);
  EXPECT_EQ(SampleValue(text, R"(realip_client_ip_source_total{source="peer"})"), 1);
}

TEST(RequestMetricsTest, SourcesSpelledDifferentlyShareTheLowerCaseSeries) {
  metrics::Registry registry("test");
  RequestMetrics counts(registry.NewShard());
  realip::Resolution r;
  for (const char* source : {"X-Real-IP", "x-real-ip", "X-Real-IP", "proxy_protocol"}) {
    r.source = source;
    counts.CountResolution(r);
  }
  const std::string text = registry.Scrape();
  EXPECT_EQ(SampleValue(text, R"(realip_client_ip_source_total{source="x-real-ip"})"), 3);
  EXPECT_EQ(SampleValue(text, R"(realip_client_ip_source_total{source="proxy_protocol"})"), 1);
  EXPECT_EQ(text.find("X-Real-IP"), std::string::npos) << text;
}

}  // namespace
}  // namespace realip::server
