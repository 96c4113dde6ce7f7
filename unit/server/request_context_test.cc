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
  ctx.upstream_status = "502, 502, 200 and some more text";
  ctx.access = kAccess;
  ctx.limit_req_status = "PASSED";
  ctx.upstream_connect_time = absl::Milliseconds(3);
  ctx.upstream_response_time = absl::Milliseconds(4);
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
  EXPECT_EQ(ctx.upstream_status, fresh.upstream_status);
  EXPECT_EQ(ctx.access, fresh.access);
  EXPECT_EQ(ctx.limit_req_status, fresh.limit_req_status);
  EXPECT_EQ(ctx.upstream_connect_time, fresh.upstream_connect_time);
  EXPECT_EQ(ctx.upstream_response_time, fresh.upstream_response_time);
  EXPECT_EQ(ctx.upstream_addr.capacity(), kept_capacity);
}

}  // namespace
}  // namespace realip::server
