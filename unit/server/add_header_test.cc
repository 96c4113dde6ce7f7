#include "proxy/server/add_header.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "proxy/config/config.h"
#include "proxy/http/parser.h"
#include "proxy/net/ip_address.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/server/request_context.h"

namespace realip::server {
namespace {

// The add_header list of location "/" with `body` in it.
std::shared_ptr<const config::Config> Load(const std::string& body) {
  std::string text = "http {\n  server {\n    listen 127.0.0.1:8080;\n    location / {\n" + body +
                     "\n    }\n  }\n}\n";
  auto config = config::LoadConfigFromString(text, "/test/realip-proxy.conf");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : nullptr;
}

struct Case {
  const char* name;
  const char* config;
  int status;
  const char* head;      // the head before, without the status line
  const char* expected;  // the head after, without the status line
};

const Case kCases[] = {
    {"added_at_end_in_order", "add_header X-A a; add_header X-B b; add_header X-A a2;", 200,
     "Content-Length: 3\r\nConnection: keep-alive\r\n\r\n",
     "Content-Length: 3\r\nConnection: keep-alive\r\nX-A: a\r\nX-B: b\r\nX-A: a2\r\n\r\n"},
    {"not_on_404", "add_header X-A a;", 404, "Connection: close\r\n\r\n",
     "Connection: close\r\n\r\n"},
    {"always_on_404", "add_header X-A a; add_header X-B b always;", 404,
     "Connection: close\r\n\r\n", "Connection: close\r\nX-B: b\r\n\r\n"},
    {"redirect_308", "add_header X-A a;", 308, "\r\n", "X-A: a\r\n\r\n"},
    {"interim_101_only_always", "add_header X-A a; add_header X-B b always;", 101,
     "Connection: upgrade\r\n\r\n", "Connection: upgrade\r\nX-B: b\r\n\r\n"},
    {"empty_value_adds_nothing", "add_header X-E \"\"; add_header X-V $http_x_none;", 200, "\r\n",
     "\r\n"},
    {"same_name_as_upstream_both_sent", "add_header Cache-Control c; add_header Server s;", 200,
     "Server: up\r\nCache-Control: no-store\r\n\r\n",
     "Server: up\r\nCache-Control: no-store\r\nCache-Control: c\r\nServer: s\r\n\r\n"},
    {"etag_replaced_in_place", "add_header ETag mine;", 200, "ETag: \"up\"\r\nX-Up: 1\r\n\r\n",
     "ETag: mine\r\nX-Up: 1\r\n\r\n"},
    {"etag_added_when_absent", "add_header ETag mine;", 200, "X-Up: 1\r\n\r\n",
     "X-Up: 1\r\nETag: mine\r\n\r\n"},
    {"etag_second_replaces_first", "add_header ETag a; add_header X-B b; add_header etag c;", 200,
     "\r\n", "etag: c\r\nX-B: b\r\n\r\n"},
    {"last_modified_empty_removes", "add_header Last-Modified \"\";", 304,
     "last-modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Up: 1\r\n\r\n", "X-Up: 1\r\n\r\n"},
    {"etag_kept_when_status_does_not_apply", "add_header ETag \"\";", 404, "ETag: x\r\n\r\n",
     "ETag: x\r\n\r\n"},
    {"variables", "add_header X-Who \"$remote_addr $status $http_x_id\";", 201, "\r\n",
     "X-Who: 192.0.2.7 201 abc\r\n\r\n"},
};

class AddHeaderCaseTest : public testing::TestWithParam<Case> {};

TEST_P(AddHeaderCaseTest, Head) {
  const Case& c = GetParam();
  auto config = Load(c.config);
  ASSERT_NE(config, nullptr);
  const config::Location& location = config->servers[0]->FindLocation("/");
  http::MessageParser parser(http::MessageKind::kRequest, http::ParseLimits{});
  ASSERT_EQ(parser.Parse("GET / HTTP/1.1\r\nHost: a\r\nX-Id: abc\r\n\r\n", nullptr).event,
            http::MessageParser::Event::kHeadComplete);
  const http::MessageHead& request = parser.head();
  RequestContext ctx;
  ctx.server = config->servers[0].get();
  ctx.location = &location;
  ctx.head = &request;
  ctx.resolution.client = net::SocketAddress{*net::IpAddress::Parse("192.0.2.7"), 1234, false};
  ctx.status = c.status;
  const std::string status_line = "HTTP/1.1 " + std::to_string(c.status) + " X\r\n";
  std::string head = status_line + c.head;
  ApplyAddHeaders(location.settings.add_headers, c.status, ctx, &head);
  EXPECT_EQ(head, status_line + c.expected);
}

INSTANTIATE_TEST_SUITE_P(Cases, AddHeaderCaseTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(AddHeaderSentHttpTest, SeesFieldsAlreadyInTheHead) {
  auto config = Load("add_header X-A a; add_header X-Copy \"$sent_http_x_a/$sent_http_x_up\";");
  ASSERT_NE(config, nullptr);
  const config::Location& location = config->servers[0]->FindLocation("/");
  RequestContext ctx;
  ctx.location = &location;
  std::string head = "HTTP/1.1 200 OK\r\nX-Up: 1\r\n\r\n";
  ctx.sent_head = &head;
  ApplyAddHeaders(location.settings.add_headers, 200, ctx, &head);
  EXPECT_EQ(head, "HTTP/1.1 200 OK\r\nX-Up: 1\r\nX-A: a\r\nX-Copy: a/1\r\n\r\n");
}

// The configuration cannot hold a line end (config::CheckHeaderText); a variable can: a PROXY
// v2 TLV is bytes a load balancer or its client chose.
TEST(AddHeaderLineEndsTest, LineEndsFromAVariableBecomeSpaces) {
  auto config = Load("add_header X-A \"[$proxy_protocol_tlv_authority]\";");
  ASSERT_NE(config, nullptr);
  const config::Location& location = config->servers[0]->FindLocation("/");
  realip::ProxyHeader proxy;
  proxy.version = 2;
  proxy.tlvs = {{realip::pp2::kTypeAuthority, std::string("a\r\nX-Injected: 1\0b", 18)}};
  RequestContext ctx;
  ctx.location = &location;
  ctx.proxy_header = &proxy;
  std::string head = "HTTP/1.1 200 OK\r\n\r\n";
  ApplyAddHeaders(location.settings.add_headers, 200, ctx, &head);
  EXPECT_EQ(head, "HTTP/1.1 200 OK\r\nX-A: [a  X-Injected: 1 b]\r\n\r\n");
}

}  // namespace
}  // namespace realip::server
