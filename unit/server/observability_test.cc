#include "proxy/server/observability.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
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
  realip::Resolution r;
  r.source = "X-Forwarded-For";
  CountResolution(*shard, r);
  r.source = "peer";
  r.untrusted_headers = {"x-forwarded-for", "forwarded"};
  CountResolution(*shard, r);
  std::string text = registry.Scrape();
  for (const char* want :
       {"realip_client_ip_source_total{source=\"x-forwarded-for\"} 1",
        "realip_client_ip_source_total{source=\"peer\"} 1",
        "realip_untrusted_forwarded_headers_total{header=\"forwarded\"} 1",
        "realip_untrusted_forwarded_headers_total{header=\"x-forwarded-for\"} 1"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
}

}  // namespace
}  // namespace realip::server
