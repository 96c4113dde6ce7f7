#include "proxy/server/upstream.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proxy/config/config.h"
#include "proxy/config/variables.h"
#include "proxy/event/loop.h"
#include "proxy/net/ip_address.h"
#include "proxy/realip/proxy_protocol.h"

namespace realip::server {
namespace {

net::SocketAddress Addr(const char* ip, uint16_t port) {
  return net::SocketAddress{*net::IpAddress::Parse(ip), port, false};
}

config::UpstreamServer Server(const char* name, std::vector<net::SocketAddress> addresses,
                              int weight = 1, bool backup = false, bool down = false) {
  config::UpstreamServer s;
  s.name = name;
  s.addresses = std::move(addresses);
  s.weight = weight;
  s.backup = backup;
  s.down = down;
  return s;
}

TEST(PeersOfTest, OnePeerPerAddressWithTheLinesParameters) {
  config::Upstream u;
  u.servers = {Server("app:80", {Addr("10.0.0.1", 80), Addr("10.0.0.2", 80)}, 3),
               Server("10.0.0.9:81", {Addr("10.0.0.9", 81)}, 1, true),
               Server("10.0.0.8:80", {Addr("10.0.0.8", 80)}, 1, false, true)};
  u.servers[0].max_fails = 4;
  u.servers[0].fail_timeout = absl::Seconds(3);
  std::vector<upstream::PeerConfig> peers = PeersOf(u);
  ASSERT_EQ(peers.size(), 4u);
  EXPECT_EQ(peers[0].server, "app:80");
  EXPECT_EQ(peers[1].address, Addr("10.0.0.2", 80));
  EXPECT_EQ(peers[1].weight, 3);
  EXPECT_EQ(peers[1].max_fails, 4);
  EXPECT_EQ(peers[1].fail_timeout, absl::Seconds(3));
  EXPECT_TRUE(peers[2].backup);
  EXPECT_FALSE(peers[2].down);
  EXPECT_TRUE(peers[3].down);
}

TEST(UpstreamBalancersTest, OnePerUpstreamObjectAndPrunedWhenUnused) {
  auto make = [](config::Balancer kind, bool consistent) {
    auto u = std::make_shared<config::Upstream>();
    u->name = "app";
    u->balancer = kind;
    u->hash_consistent = consistent;
    u->servers = {Server("10.0.0.1:80", {Addr("10.0.0.1", 80)}, 5),
                  Server("10.0.0.2:80", {Addr("10.0.0.2", 80)})};
    return std::shared_ptr<const config::Upstream>(u);
  };
  struct Case {
    const char* name;
    config::Balancer kind;
    bool consistent;
    upstream::BalancerKind want;
  };
  const Case cases[] = {
      {"round robin", config::Balancer::kRoundRobin, false, upstream::BalancerKind::kRoundRobin},
      {"least_conn", config::Balancer::kLeastConn, false, upstream::BalancerKind::kLeastConn},
      {"ip_hash", config::Balancer::kIpHash, false, upstream::BalancerKind::kIpHash},
      {"hash", config::Balancer::kHash, false, upstream::BalancerKind::kHash},
      {"hash consistent", config::Balancer::kHash, true, upstream::BalancerKind::kConsistentHash},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    UpstreamBalancers balancers;
    std::shared_ptr<const config::Upstream> u = make(c.kind, c.consistent);
    upstream::Balancer* b = balancers.For(u);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->kind(), c.want);
    EXPECT_EQ(b->size(), 2u);
    EXPECT_EQ(balancers.For(u), b);  // state persists across requests
    // A reload: the old snapshot still holds the upstream, so the balancer stays.
    balancers.Prune();
    EXPECT_EQ(balancers.size(), 1u);
    u.reset();  // the last snapshot referring to it is gone
    balancers.Prune();
    EXPECT_EQ(balancers.size(), 0u);
  }
}

TEST(UpstreamBalancersTest, EveryWorkerPrunesOnceNoSnapshotUsesTheUpstream) {
  // Found by the chaos soak (RSS grew by about 1.3 KB per upstream, worker and reload): each
  // worker has a balancer for the same upstream object, and while each one also owned it, the
  // object was never seen as unused, so no balancer of an old snapshot was ever freed.
  auto u = std::make_shared<config::Upstream>();
  u->name = "app";
  u->servers = {Server("10.0.0.1:80", {Addr("10.0.0.1", 80)})};
  std::shared_ptr<const config::Upstream> snapshot = u;
  u.reset();
  std::vector<UpstreamBalancers> workers(3);
  for (UpstreamBalancers& w : workers) ASSERT_NE(w.For(snapshot), nullptr);
  for (UpstreamBalancers& w : workers) {
    w.Prune();  // a reload while the old snapshot is still in use
    EXPECT_EQ(w.size(), 1u);
  }
  std::weak_ptr<const config::Upstream> watch = snapshot;
  snapshot.reset();  // the last connection on the old snapshot closed
  EXPECT_TRUE(watch.expired());
  for (UpstreamBalancers& w : workers) {
    w.Prune();  // the next reload
    EXPECT_EQ(w.size(), 0u);
  }
}

TEST(UpstreamBalancersTest, InvalidPeersGiveNoBalancer) {
  auto u = std::make_shared<config::Upstream>();
  u->name = "only-backups";
  u->servers = {Server("10.0.0.9:80", {Addr("10.0.0.9", 80)}, 1, true)};
  UpstreamBalancers balancers;
  EXPECT_EQ(balancers.For(u), nullptr);
}

TEST(UpstreamBalancersTest, PrepareBuildsNamedUpstreams) {
  config::Config config;
  auto u = std::make_shared<config::Upstream>();
  u->name = "app";
  u->servers = {Server("10.0.0.1:80", {Addr("10.0.0.1", 80)})};
  config.upstreams["app"] = u;
  UpstreamBalancers balancers;
  balancers.Prepare(config);
  EXPECT_EQ(balancers.size(), 1u);
}

TEST(HashKeyForTest, ResolvedClientBytesOrEvaluatedKey) {
  RequestContext ctx;
  ctx.resolution.client = Addr("203.0.113.7", 5555);
  config::Upstream u;
  u.balancer = config::Balancer::kIpHash;
  EXPECT_EQ(HashKeyFor(u, ctx), std::string("\xcb\x00\x71\x07", 4));
  ctx.resolution.client = Addr("2001:db8::1", 5555);
  EXPECT_EQ(HashKeyFor(u, ctx).size(), 16u);
  u.balancer = config::Balancer::kHash;
  absl::StatusOr<config::CompiledString> key = config::CompileString("$remote_addr");
  ASSERT_TRUE(key.ok());
  u.hash_key = *key;
  EXPECT_EQ(HashKeyFor(u, ctx), "2001:db8::1");
  u.balancer = config::Balancer::kRoundRobin;
  EXPECT_EQ(HashKeyFor(u, ctx), "");
}

TEST(UpstreamProxyHeaderTest, AddressesAndPassedOnTlvs) {
  const net::SocketAddress client = Addr("198.51.100.4", 40000);
  const net::SocketAddress local = Addr("127.0.0.1", 8080);
  EXPECT_EQ(UpstreamProxyHeader(1, client, local, nullptr),
            "PROXY TCP4 198.51.100.4 127.0.0.1 40000 8080\r\n");

  // The client came in a PROXY header: its destination is what the client connected to.
  realip::ProxyHeader received;
  received.version = 2;
  received.local = false;
  received.source = client;
  received.destination = Addr("192.0.2.10", 443);
  received.tlvs = {{realip::pp2::kTypeAlpn, "h2"},
                   {realip::pp2::kTypeAuthority, "example.com"},
                   {realip::pp2::kTypeNoop, "x"},
                   {realip::pp2::kTypeUniqueId, "id-1"}};
  EXPECT_EQ(UpstreamProxyHeader(1, client, local, &received),
            "PROXY TCP4 198.51.100.4 192.0.2.10 40000 443\r\n");

  struct Case {
    const char* name;
    net::SocketAddress client;
    net::SocketAddress want_dst;
  };
  const Case cases[] = {
      {"client from the header", client, Addr("192.0.2.10", 443)},
      // Resolved from a forwarding header instead: only our own address is known.
      {"client from elsewhere", Addr("203.0.113.9", 0), local},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string v2 = UpstreamProxyHeader(2, c.client, local, &received);
    realip::DecodeResult r = realip::DecodeProxyHeader(v2);
    ASSERT_EQ(r.status, realip::DecodeStatus::kDone) << r.error;
    EXPECT_EQ(r.consumed, v2.size());
    EXPECT_EQ(r.header.source, c.client);
    EXPECT_EQ(r.header.destination, c.want_dst);
    std::vector<realip::ProxyTlv> want = {{realip::pp2::kTypeAlpn, "h2"},
                                  {realip::pp2::kTypeAuthority, "example.com"},
                                  {realip::pp2::kTypeUniqueId, "id-1"}};
    EXPECT_EQ(r.header.tlvs, want);
  }
}

// Buckets of keys that are not used again go once their connections have: with a PROXY header
// to the backends, each client's connections have a key of their own.
TEST(UpstreamPoolTest, EmptyBucketsAreErasedBySweep) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t len = sizeof(sin);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  const net::SocketAddress peer = Addr("127.0.0.1", ntohs(sin.sin_port));

  std::unique_ptr<event::EventLoop> loop = std::move(event::EventLoop::Create()).value();
  config::Upstream upstream;
  upstream.name = "backend";
  upstream.keepalive = 8;
  upstream.keepalive_timeout = absl::Milliseconds(10);
  {
    UpstreamPool pool(*loop);
    for (int client = 0; client < 3; ++client) {
      absl::StatusOr<std::unique_ptr<UpstreamConnection>> conn =
          UpstreamConnection::Connect(*loop, peer, /*nodelay=*/true);
      ASSERT_TRUE(conn.ok()) << conn.status();
      (*conn)->set_proxy_header(absl::StrCat("PROXY TCP4 192.0.2.", client, " ..."));
      pool.Put(upstream, *std::move(conn));
    }
    EXPECT_EQ(pool.idle(), 3u);
    EXPECT_EQ(pool.buckets(), 3u);
    event::Timer stop;
    ASSERT_TRUE(stop.Init(*loop, [&] { loop->Stop(); }).ok());
    stop.Arm(std::chrono::milliseconds(100));
    loop->Run();  // the idle connections expire and the sweep closes them
    EXPECT_EQ(pool.idle(), 0u);
    EXPECT_EQ(pool.buckets(), 0u);
  }
  close(listener);
}

}  // namespace
}  // namespace realip::server
