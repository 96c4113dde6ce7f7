#include "proxy/server/request_context.h"

#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proxy/base/build_config.h"
#include "proxy/net/ip_address.h"

namespace realip::server {
namespace {

net::SocketAddress Addr(const char* ip, uint16_t port) {
  return net::SocketAddress{*net::IpAddress::Parse(ip), port, false};
}

// Recycle() resets field by field (a fresh context moved in was measurably slower); every
// field set here must come back equal to a fresh context's, and the strings keep their memory.
TEST(RequestContextTest, RecycleResetsEveryField) {
  static const config::Server kServer{};
  static const config::Location kLocation{};
  static const http::MessageHead kHead{};
  static const realip::ProxyHeader kProxy{};
  static const tls::HandshakeInfo* kTls = reinterpret_cast<const tls::HandshakeInfo*>(&kHead);
  static const config::AccessConfig* kAccess =
      reinterpret_cast<const config::AccessConfig*>(&kHead);

  RequestContext ctx;
  ctx.server = &kServer;
  ctx.location = &kLocation;
  ctx.head = &kHead;
  ctx.uri = "/normalized";
  ctx.rejected_line = "G@T / HTTP/1.1";
  ctx.args = "a=1";
  ctx.method = "GET";
  ctx.redirected = true;
  ctx.proxy_header = &kProxy;
  ctx.resolution.client = Addr("203.0.113.7", 1234);
  ctx.resolution.source = "X-Forwarded-For";
  ctx.resolution.realip_remote = Addr("127.0.0.1", 5678);
  ctx.resolution.trusted_hops = 3;
  ctx.resolution.untrusted_forwarded = true;
  ctx.resolution.untrusted_headers = {"x-real-ip"};
  ctx.resolution.realip_x_forwarded_for = "203.0.113.7, 198.51.100.2, 127.0.0.5 and more text";
  ctx.resolution.connecting = Addr("127.0.0.5", 0);
  ctx.local = Addr("127.0.0.1", 8080);
  ctx.https = true;
  ctx.request_completion = true;
  ctx.rejected_protocol = true;
  ctx.tls = kTls;
  ctx.connection_id = 42;
  ctx.connection_requests = 7;
  ctx.accepted_ms = 99;
  ctx.start = absl::FromUnixSeconds(1700000000);
  ctx.request_id = "0123456789abcdef0123456789abcdef";
  ctx.status = 502;
  ctx.upstream_head_bytes = 120;
  ctx.response_head_bytes = 10;
  ctx.bytes_sent = 200;
  ctx.request_length = 300;
  ctx.upstream_addr = "127.0.0.1:9001, 127.0.0.1:9002, 127.0.0.1:9003";
  ctx.access = kAccess;
  ctx.limit_req_status = "PASSED";
  ctx.BeginUpstreamAttempt(false);
  ctx.EndUpstreamAttempt(502, absl::Milliseconds(4));
  ctx.BeginUpstreamAttempt(false);
  ctx.NoteUpstreamConnected(absl::Milliseconds(3));
  ctx.upstream_head = &kHead;
  static const std::string kSentHead = "HTTP/1.1 200 OK\r\n";
  ctx.sent_head = &kSentHead;
  const size_t kept_capacity = ctx.upstream_addr.capacity();

  ctx.Recycle();

  const RequestContext fresh;
  EXPECT_EQ(ctx.server, fresh.server);
  EXPECT_EQ(ctx.location, fresh.location);
  EXPECT_EQ(ctx.head, fresh.head);
  EXPECT_EQ(ctx.uri, fresh.uri);
  EXPECT_EQ(ctx.rejected_line, fresh.rejected_line);
  EXPECT_EQ(ctx.args, fresh.args);
  EXPECT_EQ(ctx.method, fresh.method);
  EXPECT_EQ(ctx.redirected, fresh.redirected);
  EXPECT_EQ(ctx.proxy_header, fresh.proxy_header);
  EXPECT_EQ(ctx.resolution.client, fresh.resolution.client);
  EXPECT_EQ(ctx.resolution.source, fresh.resolution.source);
  EXPECT_EQ(ctx.resolution.realip_remote, fresh.resolution.realip_remote);
  EXPECT_EQ(ctx.resolution.trusted_hops, fresh.resolution.trusted_hops);
  EXPECT_EQ(ctx.resolution.untrusted_forwarded, fresh.resolution.untrusted_forwarded);
  EXPECT_EQ(ctx.resolution.untrusted_headers, fresh.resolution.untrusted_headers);
  EXPECT_EQ(ctx.resolution.realip_x_forwarded_for, fresh.resolution.realip_x_forwarded_for);
  EXPECT_EQ(ctx.resolution.connecting, fresh.resolution.connecting);
  EXPECT_EQ(ctx.local, fresh.local);
  EXPECT_EQ(ctx.https, fresh.https);
  EXPECT_EQ(ctx.request_completion, fresh.request_completion);
  EXPECT_EQ(ctx.rejected_protocol, fresh.rejected_protocol);
  EXPECT_EQ(ctx.tls, fresh.tls);
  EXPECT_EQ(ctx.accepted_ms, fresh.accepted_ms);
  EXPECT_EQ(ctx.upstream_head_bytes, fresh.upstream_head_bytes);
  EXPECT_EQ(ctx.upstream_head, fresh.upstream_head);
  EXPECT_EQ(ctx.sent_head, fresh.sent_head);
  EXPECT_EQ(ctx.connection_id, fresh.connection_id);
  EXPECT_EQ(ctx.connection_requests, fresh.connection_requests);
  EXPECT_EQ(ctx.start, fresh.start);
  EXPECT_EQ(ctx.request_id, fresh.request_id);
  EXPECT_EQ(ctx.status, fresh.status);
  EXPECT_EQ(ctx.response_head_bytes, fresh.response_head_bytes);
  EXPECT_EQ(ctx.bytes_sent, fresh.bytes_sent);
  EXPECT_EQ(ctx.request_length, fresh.request_length);
  EXPECT_EQ(ctx.upstream_addr, fresh.upstream_addr);
  EXPECT_EQ(ctx.access, fresh.access);
  EXPECT_EQ(ctx.limit_req_status, fresh.limit_req_status);
  EXPECT_EQ(ctx.upstream_attempts.size(), fresh.upstream_attempts.size());
  EXPECT_EQ(ctx.upstream_addr.capacity(), kept_capacity);
}

std::string Eval(const RequestContext& ctx, config::VariableId id) {
  std::string out;
  AppendVariable(config::VariableRef{id, "", 0}, ctx, &out);
  return out;
}

// nginx's ngx_http_upstream_status_variable and ngx_http_upstream_response_time_variable: one
// entry per attempt, ", " separated, "-" for what an attempt did not reach.
TEST(RequestContextTest, UpstreamVariablesListEveryAttempt) {
  using config::VariableId;
  RequestContext ctx;
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamStatus), "");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamConnectTime), "");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamHeaderTime), "");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamResponseTime), "");

  // Connection refused.
  ctx.BeginUpstreamAttempt(false);
  ctx.EndUpstreamAttempt(502, absl::Microseconds(300));
  // Connected, answered 502 (proxy_next_upstream http_502).
  ctx.BeginUpstreamAttempt(false);
  ctx.NoteUpstreamConnected(absl::Milliseconds(2));
  ctx.NoteUpstreamHead(502, absl::Milliseconds(1234));
  ctx.EndUpstreamAttempt(502, absl::Milliseconds(1240));
  // Connected, timed out before a head.
  ctx.BeginUpstreamAttempt(false);
  ctx.NoteUpstreamConnected(absl::Milliseconds(1));
  ctx.EndUpstreamAttempt(504, absl::Seconds(60));
  // A pooled connection, 200.
  ctx.BeginUpstreamAttempt(false);
  ctx.NoteUpstreamConnected(absl::ZeroDuration());
  ctx.NoteUpstreamHead(200, absl::Milliseconds(5));
  EXPECT_TRUE(ctx.UpstreamAttemptOpen());
  ctx.EndUpstreamAttempt(0, absl::Milliseconds(7));
  EXPECT_FALSE(ctx.UpstreamAttemptOpen());
  ctx.EndUpstreamAttempt(0, absl::Milliseconds(9));  // ended once only

  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamStatus), "502, 502, 504, 200");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamConnectTime), "-, 0.002, 0.001, 0.000");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamHeaderTime), "-, 1.234, -, 0.005");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamResponseTime), "0.000, 1.240, 60.000, 0.007");
}

// A response head keeps its status when the attempt then fails (the body was cut short).
TEST(RequestContextTest, FailureAfterHeadKeepsTheHeadStatus) {
  RequestContext ctx;
  ctx.BeginUpstreamAttempt(false);
  ctx.NoteUpstreamConnected(absl::Milliseconds(1));
  ctx.NoteUpstreamHead(200, absl::Milliseconds(2));
  ctx.EndUpstreamAttempt(502, absl::Milliseconds(3));
  EXPECT_EQ(Eval(ctx, config::VariableId::kUpstreamStatus), "200");
}

// The request sent again on a fresh connection after a stale pooled one is one entry, as in
// $upstream_addr.
TEST(RequestContextTest, FreshRetryReplacesTheEntry) {
  RequestContext ctx;
  ctx.BeginUpstreamAttempt(false);
  ctx.NoteUpstreamConnected(absl::ZeroDuration());
  ctx.EndUpstreamAttempt(502, absl::Milliseconds(1));
  ctx.BeginUpstreamAttempt(/*same_entry=*/true);
  ctx.NoteUpstreamConnected(absl::Milliseconds(1));
  ctx.NoteUpstreamHead(200, absl::Milliseconds(2));
  ctx.EndUpstreamAttempt(0, absl::Milliseconds(3));
  EXPECT_EQ(Eval(ctx, config::VariableId::kUpstreamStatus), "200");
  EXPECT_EQ(Eval(ctx, config::VariableId::kUpstreamConnectTime), "0.001");
}

std::string EvalRef(const RequestContext& ctx, config::VariableId id, const char* param) {
  std::string out;
  AppendVariable(config::VariableRef{id, param, 0}, ctx, &out);
  return out;
}

// ngx_http_arg(): first "name=" at the start or after '&', any case, the raw value.
TEST(RequestContextTest, ArgFollowsNginx) {
  struct Case {
    const char* args;
    const char* name;
    std::optional<std::string_view> want;
  };
  const Case cases[] = {
      {"a=1&b=2", "a", "1"},
      {"a=1&b=2", "b", "2"},
      {"A=1", "a", "1"},               // any case
      {"a=1&a=2", "a", "1"},           // the first
      {"a=&b=2", "a", ""},             // empty value
      {"a&b=2", "a", std::nullopt},    // no '='
      {"ba=1&a=2", "a", "2"},          // not inside another name
      {"x=a=1", "a", std::nullopt},    // not inside a value
      {"a=%20x+y", "a", "%20x+y"},     // raw, not unescaped
      {"a=1;b=2", "b", std::nullopt},  // only '&' separates
      {"a=1&&b=2", "b", "2"},
      {"", "a", std::nullopt},
      {"a", "a", std::nullopt},
      {"a=", "a", ""},
      {"utm_source=x", "utm_source", "x"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FindArg(c.args, c.name), c.want) << c.args << " " << c.name;
  }
}

// ngx_http_parse_multi_header_lines() over every Cookie header.
TEST(RequestContextTest, CookieFollowsNginx) {
  struct Case {
    std::vector<std::string> cookies;
    const char* name;
    std::optional<std::string_view> want;
  };
  const Case cases[] = {
      {{"a=1; b=2"}, "b", "2"},
      {{"a=1; b=2"}, "a", "1"},
      {{"A=1"}, "a", "1"},            // any case
      {{"a = 1 ;b=2"}, "a", "1 "},    // spaces around '=' skipped, not before ';'
      {{"ab=1; a=2"}, "a", "2"},      // a longer name is another cookie
      {{"a=1, b=2"}, "a", "1, b=2"},  // the value runs to ';'
      {{"x=1, b=2"}, "b", "2"},       // ',' also ends a skipped pair
      {{"a="}, "a", ""},
      {{"a"}, "a", std::nullopt},
      {{"b=1", "a=2"}, "a", "2"},  // a later Cookie header
      {{"a=1", "a=2"}, "a", "1"},  // the first
      {{"x=a=1"}, "a", std::nullopt},
      {{}, "a", std::nullopt},
  };
  for (const Case& c : cases) {
    http::MessageHead head;
    for (const std::string& v : c.cookies) head.headers.Add("Cookie", v);
    EXPECT_EQ(FindCookie(head, c.name), c.want) << c.name;
  }
}

TEST(RequestContextTest, RequestVariables) {
  using config::VariableId;
  http::MessageHead head;
  head.method = "POST";
  head.target = "/p?q=1&Name=x%20y";
  head.version_minor = 0;
  head.headers.Add("Content-Type", "text/plain");
  head.headers.Add("Content-Length", "12");
  head.headers.Add("Cookie", "sid=abc; theme=dark");
  RequestContext ctx;
  ctx.head = &head;
  EXPECT_EQ(Eval(ctx, VariableId::kServerProtocol), "HTTP/1.0");
  EXPECT_EQ(Eval(ctx, VariableId::kIsArgs), "?");
  EXPECT_EQ(Eval(ctx, VariableId::kContentType), "text/plain");
  EXPECT_EQ(Eval(ctx, VariableId::kContentLength), "12");
  EXPECT_EQ(EvalRef(ctx, VariableId::kArg, "name"), "x%20y");
  EXPECT_EQ(EvalRef(ctx, VariableId::kArg, "none"), "");
  EXPECT_EQ(EvalRef(ctx, VariableId::kCookie, "theme"), "dark");
  EXPECT_EQ(Eval(ctx, VariableId::kHttps), "");
  ctx.https = true;
  EXPECT_EQ(Eval(ctx, VariableId::kHttps), "on");
  EXPECT_EQ(Eval(ctx, VariableId::kRequestCompletion), "");
  ctx.request_completion = true;
  EXPECT_EQ(Eval(ctx, VariableId::kRequestCompletion), "OK");
  head.target = "/p?";
  EXPECT_EQ(Eval(ctx, VariableId::kIsArgs), "");  // nginx: "?" only with arguments
  head.target = "/p";
  EXPECT_EQ(Eval(ctx, VariableId::kIsArgs), "");
  EXPECT_EQ(Eval(ctx, VariableId::kPid), std::to_string(getpid()));
  EXPECT_FALSE(Eval(ctx, VariableId::kHostname).empty());
  EXPECT_EQ(Eval(ctx, VariableId::kNginxVersion), base::kVersion);
}

// After an error_page's internal redirect: the page URI's arguments, GET; the request line
// and $request_uri stay.
TEST(RequestContextTest, ErrorPageRedirectVariables) {
  using config::VariableId;
  http::MessageHead head;
  head.method = "POST";
  head.target = "/orig?q=1";
  RequestContext ctx;
  ctx.head = &head;
  ctx.redirected = true;
  ctx.uri = "/page";
  ctx.method = "GET";
  EXPECT_EQ(Eval(ctx, VariableId::kArgs), "");
  EXPECT_EQ(Eval(ctx, VariableId::kIsArgs), "");
  EXPECT_EQ(EvalRef(ctx, VariableId::kArg, "q"), "");
  ctx.args = "from=x&q=2";
  EXPECT_EQ(Eval(ctx, VariableId::kArgs), "from=x&q=2");
  EXPECT_EQ(Eval(ctx, VariableId::kIsArgs), "?");
  EXPECT_EQ(EvalRef(ctx, VariableId::kArg, "q"), "2");
  EXPECT_EQ(Eval(ctx, VariableId::kUri), "/page");
  EXPECT_EQ(Eval(ctx, VariableId::kRequestMethod), "GET");
  EXPECT_EQ(Eval(ctx, VariableId::kRequestUri), "/orig?q=1");
  EXPECT_EQ(Eval(ctx, VariableId::kRequest), "POST /orig?q=1 HTTP/1.1");
}

TEST(RequestContextTest, ConnectionTimeIsSecondsWithMillis) {
  RequestContext ctx;
  // Accepted 2.5 s ago, in the wrapping 32-bit milliseconds.
  ctx.accepted_ms =
      static_cast<uint32_t>(absl::ToUnixMillis(absl::Now() - absl::Milliseconds(2500)));
  const std::string t = Eval(ctx, config::VariableId::kConnectionTime);
  // "2.500" or later (a slow machine may take longer, never less).
  const size_t dot = t.find('.');
  ASSERT_NE(dot, std::string::npos) << t;
  EXPECT_EQ(t.size() - dot, 4u) << t;
  EXPECT_GE(std::stoll(t.substr(0, dot)) * 1000 + std::stoll(t.substr(dot + 1)), 2500) << t;
}

TEST(RequestContextTest, SentAndUpstreamHeaders) {
  using config::VariableId;
  RequestContext ctx;
  EXPECT_EQ(EvalRef(ctx, VariableId::kSentHttp, "content-type"), "");
  EXPECT_EQ(EvalRef(ctx, VariableId::kUpstreamHttp, "x-a"), "");
  const std::string sent =
      "HTTP/1.1 200 OK\r\nServer: realip-proxy\r\nContent-Type: text/html\r\n"
      "Set-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\n\r\n";
  ctx.sent_head = &sent;
  EXPECT_EQ(EvalRef(ctx, VariableId::kSentHttp, "content-type"), "text/html");
  EXPECT_EQ(EvalRef(ctx, VariableId::kSentHttp, "set-cookie"), "a=1, b=2");
  EXPECT_EQ(EvalRef(ctx, VariableId::kSentHttp, "x-empty"), "");
  EXPECT_EQ(EvalRef(ctx, VariableId::kSentHttp, "ok"), "");  // the status line is no header
  http::MessageHead upstream;
  upstream.headers.Add("X-A", "1");
  upstream.headers.Add("Transfer-Encoding", "chunked");
  ctx.upstream_head = &upstream;
  EXPECT_EQ(EvalRef(ctx, VariableId::kUpstreamHttp, "x-a"), "1");
  EXPECT_EQ(EvalRef(ctx, VariableId::kUpstreamHttp, "transfer-encoding"), "chunked");
}

// ngx_http_upstream_response_length_variable(): a number for every attempt, never "-".
TEST(RequestContextTest, UpstreamByteListsHaveANumberPerAttempt) {
  using config::VariableId;
  RequestContext ctx;
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamBytesReceived), "");
  ctx.BeginUpstreamAttempt(false);  // refused
  ctx.EndUpstreamAttempt(502, absl::Milliseconds(1));
  ctx.BeginUpstreamAttempt(false);  // answered 503, retried on its status
  ctx.upstream_attempts.back().bytes_sent = 80;
  ctx.upstream_attempts.back().bytes_received = 90;
  ctx.EndUpstreamAttempt(503, absl::Milliseconds(2));
  ctx.BeginUpstreamAttempt(false);  // 200 with a 1000-byte body after a 150-byte head
  ctx.upstream_attempts.back().bytes_sent = 80;
  ctx.upstream_attempts.back().bytes_received = 1150;
  ctx.upstream_head_bytes = 150;
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamBytesSent), "0, 80, 80");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamBytesReceived), "0, 90, 1150");
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamResponseLength), "0, 0, 1000");
  ctx.BeginUpstreamAttempt(false);  // a new attempt forgets the head size
  EXPECT_EQ(Eval(ctx, VariableId::kUpstreamResponseLength), "0, 0, 0, 0");
}

TEST(RequestContextTest, RequestIdIsSixteenRandomBytesInHexOncePerRequest) {
  RequestContext a;
  RequestContext b;
  a.connection_id = b.connection_id = 1;
  const std::string first(RequestId(a));
  EXPECT_EQ(first.size(), 32u);
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos) << first;
  EXPECT_EQ(RequestId(a), first);  // computed once, then kept
  // Same connection and request number: only randomness tells them apart (nginx).
  EXPECT_NE(RequestId(b), first);
}

TEST(RequestContextTest, AttemptStaysSmall) {
  // Four times and a status fit 16 bytes, so the byte counters cost no more than the old
  // 64-bit times did.
  EXPECT_EQ(sizeof(UpstreamAttempt), 32u);
}

}  // namespace
}  // namespace realip::server
