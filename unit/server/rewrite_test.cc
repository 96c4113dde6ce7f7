#include "proxy/server/rewrite.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/config/config.h"
#include "proxy/http/parser.h"
#include "proxy/net/ip_address.h"
#include "proxy/server/request_context.h"

namespace realip::server {
namespace {

std::shared_ptr<const config::Config> Load(const std::string& server_body) {
  std::string text = "events {}\nhttp {\n  upstream pool { server 127.0.0.1:9001; }\n"
                     "  server {\n    listen 127.0.0.1:8080;\n    server_name example.test;\n" +
                     server_body + "\n  }\n}\n";
  auto config = config::LoadConfigFromString(text, "/test/realip-proxy.conf");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : nullptr;
}

http::MessageHead ParseRequest(std::string_view raw) {
  http::MessageParser parser(http::MessageKind::kRequest, http::ParseLimits{});
  http::MessageParser::Result r = parser.Parse(raw, nullptr);
  EXPECT_EQ(r.event, http::MessageParser::Event::kHeadComplete) << parser.error().message;
  return parser.head();
}

http::MessageHead ParseResponse(std::string_view raw) {
  http::MessageParser parser(http::MessageKind::kResponse, http::ParseLimits{});
  http::MessageParser::Result r = parser.Parse(raw, nullptr);
  EXPECT_EQ(r.event, http::MessageParser::Event::kHeadComplete) << parser.error().message;
  return parser.head();
}

net::SocketAddress Addr(const char* ip, uint16_t port) {
  return net::SocketAddress{*net::IpAddress::Parse(ip), port, false};
}

// A routed request with a resolution, as the session builds it.
struct Routed {
  std::shared_ptr<const config::Config> config;
  http::MessageHead head;
  RequestContext ctx;
};

Routed Route(const std::string& server_body, std::string_view raw, const char* peer) {
  Routed r;
  r.config = Load(server_body);
  r.head = ParseRequest(raw);
  const config::Listener& listener = r.config->listeners.at(0);
  const config::Server& server = listener.FindServer("example.test");
  const config::Location& location = server.FindLocation(SplitTarget(r.head.target).path);
  std::vector<realip::HeaderField> fields;
  for (const http::Header& h : r.head.headers) fields.push_back({h.name, h.value});
  realip::ResolveInput input;
  input.peer = Addr(peer, 40000);
  input.headers = fields;
  r.ctx.server = &server;
  r.ctx.location = &location;
  r.ctx.resolution = realip::Resolve(location.settings.realip, input);
  r.ctx.local = Addr("127.0.0.1", 8080);
  return r;
}

std::string Upstream(Routed& r, UpstreamRequestOptions options = {}) {
  r.ctx.head = &r.head;
  std::string out;
  AppendUpstreamHead(r.ctx, options, &out);
  return out;
}

constexpr std::string_view kDate = "Sun, 06 Nov 1994 08:49:37 GMT";

std::string ResponseHead(const http::MessageHead& response, const config::HttpSettings& settings,
                         ClientFraming framing, bool keep_alive, bool tunnel) {
  std::string out;
  RequestContext ctx;
  AppendClientResponseHead(response, settings, ctx, {"realip-proxy/t", kDate}, framing, keep_alive,
                           tunnel, &out);
  return out;
}

std::string Target(const http::MessageHead& head, const config::Location& loc) {
  std::string storage;
  return std::string(UpstreamTargetView(head, loc, &storage));
}

TEST(SplitTargetTest, OriginAbsoluteAndQuery) {
  struct Case {
    const char* target;
    const char* path;
    const char* query;
    bool has_query;
  };
  for (const Case& c : {Case{"/a/b?x=1", "/a/b", "x=1", true}, Case{"/a", "/a", "", false},
                        Case{"/?", "/", "", true}, Case{"http://h:1/p?q", "/p", "q", true},
                        Case{"http://h", "/", "", false}, Case{"http://h?q", "/", "q", true},
                        Case{"*", "*", "", false}}) {
    TargetParts p = SplitTarget(c.target);
    EXPECT_EQ(p.path, c.path) << c.target;
    EXPECT_EQ(p.query, c.query) << c.target;
    EXPECT_EQ(p.has_query, c.has_query) << c.target;
  }
}

// nginx's r->unparsed_uri: for an absolute-form target, what follows the authority.
TEST(RequestUriTest, AbsoluteFormGivesWhatFollowsTheAuthority) {
  struct Case {
    const char* target;
    const char* want;
  };
  for (const Case& c :
       {Case{"/a/b?x=1", "/a/b?x=1"}, Case{"/a://b", "/a://b"}, Case{"http://h:1/p?q", "/p?q"},
        Case{"HTTP://h/p", "/p"}, Case{"http://h", "/"}, Case{"http://h?q", "?q"},
        Case{"http://h/", "/"}, Case{"*", "*"}}) {
    EXPECT_EQ(RequestUri(c.target), c.want) << c.target;
  }
}

TEST(RequestVariableTest, ProtocolVersionsAsParsedAndWhole) {
  http::MessageParser parser(http::MessageKind::kRequest, http::ParseLimits{});
  ASSERT_EQ(parser.Parse("GET /x HTTP/1.0\r\n\r\n", nullptr).event,
            http::MessageParser::Event::kHeadComplete);
  http::MessageHead head = parser.head();
  RequestContext ctx;
  ctx.head = &head;
  absl::StatusOr<config::CompiledString> text = config::CompileString("$request|$server_protocol");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(Evaluate(*text, ctx), "GET /x HTTP/1.0|HTTP/1.0");
  // Versions the parser never gives (it reads one digit each) are still printed whole.
  head.version_major = 12;
  head.version_minor = 3;
  EXPECT_EQ(Evaluate(*text, ctx), "GET /x HTTP/12.3|HTTP/12.3");
}

TEST(UpstreamTargetTest, NginxUriReplacement) {
  auto config = Load(
      "location /api/ { proxy_pass http://pool/v1/; }\n"
      "location /keep { proxy_pass http://pool; }\n"
      "location = /exact { proxy_pass http://pool/other; }");
  const config::Server& server = config->listeners[0].FindServer("example.test");
  struct Case {
    const char* target;
    const char* want;
  };
  for (const Case& c : {Case{"/api/users?id=1", "/v1/users?id=1"}, Case{"/api/", "/v1/"},
                        Case{"/keep/x%20y?z", "/keep/x%20y?z"},
                        Case{"http://example.test/keep/a?b", "/keep/a?b"},
                        Case{"/exact", "/other"}}) {
    http::MessageHead head;
    head.target = c.target;
    const config::Location& loc = server.FindLocation(SplitTarget(head.target).path);
    EXPECT_EQ(Target(head, loc), c.want) << c.target;
  }
}

TEST(BuildUpstreamHeadTest, DefaultsHopByHopAndUntrustedForwardedHeaders) {
  Routed r = Route(
      "set_real_ip_from 10.0.0.0/8;\nreal_ip_header X-Forwarded-For;\n"
      "location / { proxy_pass http://pool; }",
      "POST /p HTTP/1.1\r\nHost: example.test\r\nX-Real-IP: 6.6.6.6\r\n"
      "X-Forwarded-For: 1.1.1.1\r\nForwarded: for=1.1.1.1\r\nConnection: keep-alive, X-Drop\r\n"
      "X-Drop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nProxy-Connection: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 4\r\nAccept: */*\r\n\r\n",
      "192.0.2.9");
  EXPECT_EQ(Upstream(r),
            "POST /p HTTP/1.1\r\nHost: example.test\r\nX-Real-IP: 192.0.2.9\r\n"
            "X-Forwarded-For: 192.0.2.9\r\nX-Forwarded-Proto: http\r\nAccept: */*\r\n"
            "Content-Length: 4\r\nConnection: close\r\n\r\n");
}

TEST(BuildUpstreamHeadTest, TrustedPeerChainAndKeepAliveAndChunked) {
  Routed r = Route(
      "set_real_ip_from 10.0.0.0/8;\nreal_ip_header X-Forwarded-For;\n"
      "location / { proxy_pass http://pool; }",
      "POST / HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: 203.0.113.7\r\n"
      "Forwarded: for=203.0.113.7\r\nTransfer-Encoding: chunked\r\n\r\n",
      "10.0.0.1");
  UpstreamRequestOptions options;
  options.keep_alive = true;
  options.peer_trusted = true;
  EXPECT_EQ(Upstream(r, options),
            "POST / HTTP/1.1\r\nHost: example.test\r\nX-Real-IP: 203.0.113.7\r\n"
            "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-Proto: http\r\n"
            "Forwarded: for=203.0.113.7\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(BuildUpstreamHeadTest, ExplicitHeadersOverrideRemoveAndEvaluate) {
  Routed r = Route(
      "location / {\n"
      "  proxy_set_header X-Forwarded-Proto \"\";\n"
      "  proxy_set_header X-Who \"$remote_addr:$remote_port $http_user_agent\";\n"
      "  proxy_set_header Accept text/plain;\n"
      "  proxy_set_header Connection keep-alive;\n"
      "  proxy_pass http://pool;\n}",
      "GET /x HTTP/1.1\r\nHost: example.test\r\nUser-Agent: ua\r\nAccept: */*\r\n\r\n",
      "192.0.2.9");
  std::string head = Upstream(r);
  EXPECT_THAT(head, ::testing::HasSubstr("\r\nX-Who: 192.0.2.9:40000 ua\r\n"));
  EXPECT_THAT(head, ::testing::HasSubstr("\r\nAccept: text/plain\r\n"));
  EXPECT_THAT(head, ::testing::Not(::testing::HasSubstr("*/*")));
  EXPECT_THAT(head, ::testing::Not(::testing::HasSubstr("X-Forwarded-Proto")));
  // Connection management stays ours.
  EXPECT_THAT(head, ::testing::HasSubstr("\r\nConnection: close\r\n"));
  EXPECT_THAT(head, ::testing::Not(::testing::HasSubstr("keep-alive")));
}

TEST(BuildUpstreamHeadTest, Http10WithoutHostGetsTheProxyHost) {
  Routed r = Route("location / { proxy_pass http://pool; }", "GET / HTTP/1.0\r\n\r\n",
                   "192.0.2.9");
  EXPECT_THAT(Upstream(r), ::testing::StartsWith("GET / HTTP/1.1\r\nHost: pool\r\n"));
}

TEST(BuildUpstreamHeadTest, UpgradeKeepsUpgradeHeader) {
  Routed r = Route("location / { proxy_pass http://pool; }",
                   "GET /ws HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n",
                   "192.0.2.9");
  UpstreamRequestOptions options;
  options.upgrade = true;
  std::string head = Upstream(r, options);
  EXPECT_THAT(head, ::testing::HasSubstr("\r\nSec-WebSocket-Key: k\r\n"));
  EXPECT_THAT(head,
              ::testing::EndsWith("\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"));
}

// An error_page's internal redirect (nginx's ngx_http_proxy_create_request() for an internal
// request): the page's URI escaped after the location's prefix, its arguments, GET, no body.
TEST(BuildUpstreamHeadTest, ErrorPageRedirectSendsThePageUriWithoutTheBody) {
  Routed r = Route(
      "location /pages/ { proxy_pass http://pool/base/; }\n"
      "location /plain/ { proxy_pass http://pool; }",
      "POST /orig?a=1 HTTP/1.1\r\nHost: example.test\r\nContent-Length: 4\r\n\r\n", "192.0.2.9");
  const config::Server& server = *r.ctx.server;
  r.ctx.redirected = true;
  r.ctx.method = "GET";
  r.ctx.uri = "/pages/a b";
  r.ctx.args = "x=1";
  r.ctx.location = &server.FindLocation(r.ctx.uri);
  UpstreamRequestOptions options;
  options.send_body = false;
  std::string head = Upstream(r, options);
  EXPECT_THAT(head, ::testing::StartsWith("GET /base/a%20b?x=1 HTTP/1.1\r\n"));
  EXPECT_THAT(head, ::testing::Not(::testing::HasSubstr("Content-Length")));
  r.ctx.uri = "/plain/p";
  r.ctx.args = "";
  r.ctx.location = &server.FindLocation(r.ctx.uri);
  EXPECT_THAT(Upstream(r, options), ::testing::StartsWith("GET /plain/p HTTP/1.1\r\n"));
}

// error_page without `=`: the upstream's response goes out with the error's status.
TEST(BuildClientResponseHeadTest, ErrorPageStatusReplacesTheStatusLine) {
  auto config = Load("location / { proxy_pass http://pool; }");
  const config::HttpSettings& settings =
      config->listeners[0].FindServer("example.test").FindLocation("/").settings;
  http::MessageHead response = ParseResponse("HTTP/1.1 200 Fine\r\nContent-Length: 2\r\n\r\n");
  std::string out;
  RequestContext ctx;
  AppendClientResponseHead(response, settings, ctx, {"realip-proxy/t", kDate, 404},
                           ClientFraming::kContentLength, true, false, &out);
  EXPECT_THAT(out, ::testing::StartsWith("HTTP/1.1 404 Not Found\r\n"));
}

TEST(ClientFramingTest, Choices) {
  struct Case {
    const char* response;
    bool head_request;
    int minor;
    ClientFraming want;
  };
  for (const Case& c : {
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", false, 1,
                ClientFraming::kContentLength},
           Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, 1,
                ClientFraming::kChunked},
           Case{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, 0,
                ClientFraming::kClose},
           Case{"HTTP/1.1 200 OK\r\n\r\n", false, 1, ClientFraming::kChunked},
           Case{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", true, 1, ClientFraming::kNone},
           Case{"HTTP/1.1 204 No Content\r\n\r\n", false, 1, ClientFraming::kNone},
           Case{"HTTP/1.1 304 Not Modified\r\n\r\n", false, 1, ClientFraming::kNone},
       }) {
    EXPECT_EQ(ChooseClientFraming(ParseResponse(c.response), c.head_request, c.minor), c.want)
        << c.response;
  }
}

TEST(BuildClientResponseHeadTest, HopByHopHiddenAndFraming) {
  auto config = Load("proxy_hide_header X-Internal;\nlocation / { proxy_pass http://pool; }");
  const config::HttpSettings& settings =
      config->listeners[0].FindServer("example.test").FindLocation("/").settings;
  http::MessageHead response = ParseResponse(
      "HTTP/1.1 200 Fine\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n"
      "X-Internal: secret\r\nServer: backend\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string own = "Server: realip-proxy/t\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
  EXPECT_EQ(ResponseHead(response, settings, ClientFraming::kChunked, true, false),
            "HTTP/1.1 200 Fine\r\n" + own +
                "Transfer-Encoding: chunked\r\n"
                "Connection: keep-alive\r\n\r\n");
  EXPECT_EQ(ResponseHead(response, settings, ClientFraming::kClose, false, false),
            "HTTP/1.1 200 Fine\r\n" + own + "Connection: close\r\n\r\n");
  http::MessageHead head_reply =
      ParseResponse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  EXPECT_EQ(ResponseHead(head_reply, settings, ClientFraming::kNone, true, false),
            "HTTP/1.1 200 OK\r\n" + own + "Content-Length: 100\r\nConnection: keep-alive\r\n\r\n");
  http::MessageHead upgrade = ParseResponse(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Server: backend\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\n\r\n");
  EXPECT_EQ(ResponseHead(upgrade, settings, ClientFraming::kNone, false, true),
            "HTTP/1.1 101 Switching Protocols\r\n" + own +
                "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
}

// nginx's ngx_http_proxy_hide_headers: the upstream's Date, Server, X-Pad and X-Accel-* are
// dropped, in any case, and ours written first; other fields keep their order.
TEST(BuildClientResponseHeadTest, DefaultHiddenFieldsAndOursFirst) {
  auto config = Load("location / { proxy_pass http://pool; }");
  const config::HttpSettings& settings =
      config->listeners[0].FindServer("example.test").FindLocation("/").settings;
  http::MessageHead response = ParseResponse(
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nserver: backend\r\nDATE: Mon, 01 Jan 2001 00:00:00 GMT\r\n"
      "X-Pad: avoid browser bug\r\nX-Accel-Expires: 5\r\nX-Accel-Redirect: /x\r\n"
      "X-Accel-Limit-Rate: 1\r\nX-Accel-Buffering: no\r\nX-Accel-Charset: utf-8\r\n"
      "X-Accel-Other: kept\r\nX-Padding: kept\r\nDates: kept\r\nServers: kept\r\n"
      "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(ResponseHead(response, settings, ClientFraming::kContentLength, true, false),
            "HTTP/1.1 200 OK\r\nServer: realip-proxy/t\r\n"
            "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n"
            "Connection: keep-alive\r\nX-A: 1\r\nX-Accel-Other: kept\r\n"
            "X-Padding: kept\r\nDates: kept\r\nServers: kept\r\n\r\n");
}

// nginx's header filter order: Server, Date, then Content-Type, the length or the chunked
// coding and Connection, then the upstream's other fields in their order. A HEAD response
// keeps the upstream's length; a hidden Content-Type is not sent.
TEST(BuildClientResponseHeadTest, TypeFramingAndConnectionFollowServerAndDate) {
  auto config = Load(
      "location / { proxy_pass http://pool; }\n"
      "location /h { proxy_pass http://pool; proxy_hide_header content-type; }");
  const config::Server& server = config->listeners[0].FindServer("example.test");
  const config::HttpSettings& settings = server.FindLocation("/").settings;
  const std::string own = "Server: realip-proxy/t\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
  http::MessageHead sized = ParseResponse(
      "HTTP/1.1 200 OK\r\nX-A: 1\r\ncontent-type: text/plain\r\nX-B: 2\r\n"
      "content-length: 003\r\nX-C: 3\r\n\r\n");
  EXPECT_EQ(ResponseHead(sized, settings, ClientFraming::kContentLength, true, false),
            "HTTP/1.1 200 OK\r\n" + own +
                "Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n"
                "X-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n");
  EXPECT_EQ(ResponseHead(sized, settings, ClientFraming::kNone, false, false),
            "HTTP/1.1 200 OK\r\n" + own +
                "Content-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n"
                "X-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n");
  EXPECT_EQ(ResponseHead(sized, server.FindLocation("/h").settings, ClientFraming::kContentLength,
                         true, false),
            "HTTP/1.1 200 OK\r\n" + own +
                "Content-Length: 3\r\nConnection: keep-alive\r\nX-A: 1\r\nX-B: 2\r\n"
                "X-C: 3\r\n\r\n");
  http::MessageHead chunked = ParseResponse(
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nContent-Type: a/b\r\n\r\n");
  EXPECT_EQ(ResponseHead(chunked, settings, ClientFraming::kChunked, true, false),
            "HTTP/1.1 200 OK\r\n" + own +
                "Content-Type: a/b\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n"
                "X-A: 1\r\n\r\n");
  EXPECT_EQ(
      ResponseHead(chunked, settings, ClientFraming::kClose, false, false),
      "HTTP/1.1 200 OK\r\n" + own + "Content-Type: a/b\r\nConnection: close\r\nX-A: 1\r\n\r\n");
  // A repeated type: the last one, once, as nginx keeps it.
  http::MessageHead two_types = ParseResponse(
      "HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nX-A: 1\r\nContent-Type: c/d\r\n"
      "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(ResponseHead(two_types, settings, ClientFraming::kContentLength, true, false),
            "HTTP/1.1 200 OK\r\n" + own +
                "Content-Type: c/d\r\nContent-Length: 0\r\nConnection: keep-alive\r\n"
                "X-A: 1\r\n\r\n");
  http::MessageHead not_modified =
      ParseResponse("HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(
      ResponseHead(not_modified, settings, ClientFraming::kNone, true, false),
      "HTTP/1.1 304 Not Modified\r\n" + own + "Connection: keep-alive\r\nETag: \"e\"\r\n\r\n");
}

// proxy_pass_header Server / Date: the upstream's field where it stood and not ours; an
// upstream without one gets none at all (nginx 1.22 adds an empty placeholder that its header
// filter skips).
TEST(BuildClientResponseHeadTest, PassedServerAndDateReplaceOurs) {
  auto config = Load(
      "location /s { proxy_pass http://pool; proxy_pass_header Server; }\n"
      "location /d { proxy_pass http://pool; proxy_pass_header date; proxy_pass_header X-Pad; }");
  const config::Server& server = config->listeners[0].FindServer("example.test");
  http::MessageHead response = ParseResponse(
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nServer: backend\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\n"
      "X-Pad: p\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(ResponseHead(response, server.FindLocation("/s").settings,
                         ClientFraming::kContentLength, true, false),
            "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n"
            "Connection: keep-alive\r\nX-A: 1\r\nServer: backend\r\n\r\n");
  EXPECT_EQ(ResponseHead(response, server.FindLocation("/d").settings,
                         ClientFraming::kContentLength, true, false),
            "HTTP/1.1 200 OK\r\nServer: realip-proxy/t\r\nContent-Length: 0\r\n"
            "Connection: keep-alive\r\nX-A: 1\r\nDate: Mon, 01 Jan 2001 00:00:00 GMT\r\n"
            "X-Pad: p\r\n\r\n");
  http::MessageHead bare = ParseResponse("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(
      ResponseHead(bare, server.FindLocation("/s").settings, ClientFraming::kNone, true, false),
      "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
      "Connection: keep-alive\r\n\r\n");
}

TEST(EvaluateTest, VariablesFromTheRequest) {
  Routed r = Route("location / { proxy_pass http://pool; }",
                   "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: Example.Test:8080\r\nCookie: a=1\r\n"
                   "Cookie: b=2\r\nX-Multi: 1\r\nX-Multi: 2\r\n\r\n",
                   "192.0.2.9");
  r.ctx.head = &r.head;
  r.ctx.request_id = "0123456789abcdef0123456789abcdef";
  struct Case {
    const char* text;
    const char* want;
  };
  for (const Case& c : {
           Case{"$remote_addr", "192.0.2.9"},
           Case{"$remote_port", "40000"},
           Case{"$realip_remote_addr", "192.0.2.9"},
           Case{"$host", "example.test"},
           Case{"$http_cookie", "a=1; b=2"},
           Case{"$http_x_multi", "1, 2"},
           Case{"$http_missing", ""},
           Case{"$request", "GET /a/b?x=1&y=2 HTTP/1.1"},
           Case{"$request_uri|$uri|$args", "/a/b?x=1&y=2|/a/b|x=1&y=2"},
           Case{"$scheme://$proxy_host", "http://pool"},
           Case{"$server_addr:$server_port", "127.0.0.1:8080"},
           Case{"$server_name", "example.test"},
           Case{"$proxy_protocol_addr", ""},
           Case{"$request_id", "0123456789abcdef0123456789abcdef"},
       }) {
    absl::StatusOr<config::CompiledString> compiled = config::CompileString(c.text);
    ASSERT_TRUE(compiled.ok()) << c.text;
    EXPECT_EQ(Evaluate(*compiled, r.ctx), c.want) << c.text;
  }
}

TEST(EvaluateTest, HostIsTheRequestLinesThenHostsThenTheServerName) {
  const char* kConf = "server_name example.test; location / { proxy_pass http://pool; }";
  struct Case {
    const char* raw;
    const char* want;
  };
  for (const Case& c : {
           // nginx: an absolute-form target's host wins over the Host header.
           Case{"GET http://Named.Test:81/a HTTP/1.1\r\nHost: other.test\r\n\r\n", "named.test"},
           // Port and trailing dot dropped, lower case (ngx_http_validate_host).
           Case{"GET / HTTP/1.1\r\nHost: WWW.Example.Test.:8080\r\n\r\n", "www.example.test"},
           Case{"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "[::1]"},
           // No host at all: the server's first name.
           Case{"GET / HTTP/1.0\r\n\r\n", "example.test"},
       }) {
    Routed r = Route(kConf, c.raw, "192.0.2.9");
    r.ctx.head = &r.head;
    EXPECT_EQ(Evaluate(config::CompileString("$host").value(), r.ctx), c.want) << c.raw;
  }
}

TEST(RequestHostTest, AbsoluteFormTargetThenHostHeader) {
  EXPECT_EQ(RequestHost(ParseRequest("GET https://a.test:8443/x?y HTTP/1.1\r\nHost: b\r\n\r\n")),
            "a.test:8443");
  EXPECT_EQ(RequestHost(ParseRequest("GET /x HTTP/1.1\r\nHost: b.test:1\r\n\r\n")), "b.test:1");
  EXPECT_EQ(RequestHost(ParseRequest("GET /x HTTP/1.0\r\n\r\n")), "");
}

}  // namespace
}  // namespace realip::server
