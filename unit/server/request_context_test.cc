#include "proxy/server/request_context.h"

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
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
  ctx.tls = kTls;
  ctx.connection_id = 42;
  ctx.connection_requests = 7;
  ctx.start = absl::FromUnixSeconds(1700000000);
  ctx.request_id = "0123456789abcdef0123456789abcdef";
  ctx.status = 502;
  ctx.body_bytes_sent = 10;
  ctx.bytes_sent = 200;
  ctx.request_length = 300;
  ctx.upstream_addr = "127.0.0.1:9001, 127.0.0.1:9002, 127.0.0.1:9003";
  ctx.access = kAccess;
  ctx.limit_req_status = "PASSED";
  ctx.BeginUpstreamAttempt(false);
  ctx.EndUpstreamAttempt(502, absl::Milliseconds(4));
  ctx.BeginUpstreamAttempt(false);
  ctx.NoteUpstreamConnected(absl::Milliseconds(3));
  const size_t kept_capacity = ctx.upstream_addr.capacity();

  ctx.Recycle();

  const RequestContext fresh;
  EXPECT_EQ(ctx.server, fresh.server);
  EXPECT_EQ(ctx.location, fresh.location);
  EXPECT_EQ(ctx.head, fresh.head);
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
  EXPECT_EQ(ctx.tls, fresh.tls);
  EXPECT_EQ(ctx.connection_id, fresh.connection_id);
  EXPECT_EQ(ctx.connection_requests, fresh.connection_requests);
  EXPECT_EQ(ctx.start, fresh.start);
  EXPECT_EQ(ctx.request_id, fresh.request_id);
  EXPECT_EQ(ctx.status, fresh.status);
  EXPECT_EQ(ctx.body_bytes_sent, fresh.body_bytes_sent);
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

}  // namespace
}  // namespace realip::server
