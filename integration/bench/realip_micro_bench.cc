// Microbenchmarks for the client-IP core (docs/client-ip.md, "Benchmarks"): PROXY v1/v2
// decoding, and an 8-hop X-Forwarded-For walk against a 10,000-entry trusted set; and the
// metric updates of one request (docs/observability.md). Timings are reported, never asserted.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "proxy/base/check.h"
#include "proxy/metrics/metrics.h"
#include "proxy/net/cidr_set.h"
#include "proxy/realip/forwarded.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/realip/resolver.h"

namespace realip::realip {
namespace {

using net::IpAddress;
using net::SocketAddress;

SocketAddress Addr(const char* text) { return *net::ParseHostPort(text, std::nullopt); }

void DecodeLoop(benchmark::State& state, const std::string& header) {
  for (auto _ : state) {
    DecodeResult r = DecodeProxyHeader(header);
    benchmark::DoNotOptimize(r);
  }
  REALIP_CHECK(DecodeProxyHeader(header).status == DecodeStatus::kDone);
}

void BM_DecodeProxyV1Tcp4(benchmark::State& state) {
  DecodeLoop(state, "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
}
BENCHMARK(BM_DecodeProxyV1Tcp4);

void BM_DecodeProxyV1Tcp6(benchmark::State& state) {
  DecodeLoop(state, "PROXY TCP6 2001:db8:85a3::8a2e:370:7334 2001:db8::2 56324 443\r\n");
}
BENCHMARK(BM_DecodeProxyV1Tcp6);

void BM_DecodeProxyV2Tcp4(benchmark::State& state) {
  DecodeLoop(state, EncodeProxyV2(Addr("192.168.0.1:56324"), Addr("192.168.0.11:443"), {}, false));
}
BENCHMARK(BM_DecodeProxyV2Tcp4);

void BM_DecodeProxyV2Tcp6(benchmark::State& state) {
  DecodeLoop(state,
             EncodeProxyV2(Addr("[2001:db8::1]:56324"), Addr("[2001:db8::2]:443"), {}, false));
}
BENCHMARK(BM_DecodeProxyV2Tcp6);

std::vector<ProxyTlv> TypicalTlvs() {
  std::string ssl("\x01\x00\x00\x00\x00", 5);
  for (auto [type, value] : {std::pair<uint8_t, std::string>{0x21, "TLSv1.3"},
                             {0x22, "client.example.com"},
                             {0x23, "TLS_AES_128_GCM_SHA256"}}) {
    ssl.push_back(static_cast<char>(type));
    ssl.push_back(0);
    ssl.push_back(static_cast<char>(value.size()));
    ssl += value;
  }
  return {{pp2::kTypeAlpn, "h2"},
          {pp2::kTypeAuthority, "www.example.com"},
          {pp2::kTypeUniqueId, "4d2f0f7c-7f1e-4b8e-9a53-0c6a0c1a2b3c"},
          {pp2::kTypeSsl, ssl},
          {pp2::kTypeAws, "\x01vpce-08d2bf15fac5001c9"}};
}

// A header as an AWS NLB or HAProxy sends it: five TLVs and a CRC32C over 150-odd bytes.
void BM_DecodeProxyV2Tcp4Tlvs(benchmark::State& state) {
  DecodeLoop(state, EncodeProxyV2(Addr("192.168.0.1:56324"), Addr("192.168.0.11:443"),
                                  TypicalTlvs(), true));
}
BENCHMARK(BM_DecodeProxyV2Tcp4Tlvs);

void BM_DecodeProxyV2Tcp4TlvsNoCrc(benchmark::State& state) {
  DecodeLoop(state, EncodeProxyV2(Addr("192.168.0.1:56324"), Addr("192.168.0.11:443"),
                                  TypicalTlvs(), false));
}
BENCHMARK(BM_DecodeProxyV2Tcp4TlvsNoCrc);

void BM_EncodeProxyV2Tcp4(benchmark::State& state) {
  SocketAddress src = Addr("192.168.0.1:56324"), dst = Addr("192.168.0.11:443");
  for (auto _ : state) {
    std::string h = EncodeProxyV2(src, dst, {}, false);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_EncodeProxyV2Tcp4);

// 10,000 disjoint IPv4 prefixes (/20 to /28) in random order, like a cloud provider's list,
// plus the eight proxies of the walk below.
struct WalkFixture {
  net::CidrSet trusted;
  std::string xff;
  SocketAddress peer;

  WalkFixture() {
    std::mt19937 rng(2026);
    for (int i = 0; i < 9992; ++i) {
      int len = 20 + static_cast<int>(rng() % 9);
      trusted.Add(net::Cidr{IpAddress::FromV4(static_cast<uint32_t>(rng())), len});
    }
    // Client, then seven trusted proxies; the peer is the eighth.
    xff = "203.0.113.7";
    for (int i = 1; i <= 7; ++i) {
      std::string hop = "100.64." + std::to_string(i * 16) + "." + std::to_string(i);
      REALIP_CHECK(trusted.Add(hop).ok());
      xff += ", " + hop;
    }
    REALIP_CHECK(trusted.Add("100.127.0.1").ok());
    peer = Addr("100.127.0.1:40000");
    REALIP_CHECK(trusted.size() == 10000);
  }
};

const WalkFixture& Fixture() {
  static const WalkFixture* f = new WalkFixture;
  return *f;
}

void BM_XffWalk8Hops10kTrusted(benchmark::State& state) {
  const WalkFixture& f = Fixture();
  std::string_view lines[] = {f.xff};
  WalkResult check = WalkXff(lines, f.trusted, true, f.peer, nullptr);
  REALIP_CHECK(check.client.ip == *IpAddress::Parse("203.0.113.7"));
  for (auto _ : state) {
    WalkResult r = WalkXff(lines, f.trusted, true, f.peer, nullptr);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_XffWalk8Hops10kTrusted);

// The whole per-request resolution, provenance strings included.
void BM_Resolve8Hops10kTrusted(benchmark::State& state) {
  const WalkFixture& f = Fixture();
  RealIpSettings settings;
  settings.trusted = std::shared_ptr<const net::CidrSet>(&f.trusted, [](const net::CidrSet*) {});
  settings.sources = {*ParseRealIpSource("X-Forwarded-For")};
  settings.recursive = true;
  HeaderField headers[] = {{"Host", "example.com"},
                           {"User-Agent", "curl/7.88.1"},
                           {"X-Forwarded-For", f.xff}};
  ResolveInput input;
  input.peer = f.peer;
  input.headers = headers;
  REALIP_CHECK(Resolve(settings, input).trusted_hops == 8);
  for (auto _ : state) {
    Resolution r = Resolve(settings, input);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Resolve8Hops10kTrusted);

void BM_CidrSetContains10k(benchmark::State& state) {
  const WalkFixture& f = Fixture();
  std::vector<IpAddress> probes;
  std::mt19937 rng(7);
  for (int i = 0; i < 1024; ++i) probes.push_back(IpAddress::FromV4(static_cast<uint32_t>(rng())));
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.trusted.Contains(probes[i++ & 1023]));
  }
}
BENCHMARK(BM_CidrSetContains10k);

// The shape of the proxied-request benchmark (docs/performance.md, perf-tools/cgx.sh):
// set_real_ip_from 127.0.0.0/8, real_ip_recursive on, a 3-entry X-Forwarded-For whose two
// rightmost entries are trusted. Resolution plus the one address the upstream head prints.
void BM_ResolveSmallTrustedSet(benchmark::State& state) {
  auto trusted = std::make_shared<net::CidrSet>();
  REALIP_CHECK(trusted->Add("127.0.0.0/8").ok());
  RealIpSettings settings;
  settings.trusted = trusted;
  settings.sources = {*ParseRealIpSource("X-Forwarded-For")};
  settings.recursive = true;
  HeaderField headers[] = {{"Host", "127.0.0.1:8080"},
                           {"User-Agent", "wrk"},
                           {"X-Forwarded-For", "203.0.113.7, 198.51.100.2, 127.0.0.5"}};
  ResolveInput input;
  input.peer = Addr("127.0.0.1:40000");
  input.headers = headers;
  Resolution r;
  Resolve(settings, input, &r);
  REALIP_CHECK(r.client.ip == *IpAddress::Parse("198.51.100.2"));
  std::string out;
  for (auto _ : state) {
    Resolve(settings, input, &r);
    out.clear();
    r.client.AppendHostTo(&out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ResolveSmallTrustedSet);

void BM_CidrSetContainsOnePrefix(benchmark::State& state) {
  net::CidrSet trusted;
  REALIP_CHECK(trusted.Add("127.0.0.0/8").ok());
  std::vector<IpAddress> probes;
  std::mt19937 rng(7);
  for (int i = 0; i < 1024; ++i) {
    uint32_t v = static_cast<uint32_t>(rng());
    probes.push_back(IpAddress::FromV4(i % 2 == 0 ? (v & 0x00ffffff) | 0x7f000000 : v));
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(trusted.Contains(probes[i++ & 1023]));
  }
}
BENCHMARK(BM_CidrSetContainsOnePrefix);

std::vector<std::string> DottedQuads() {
  std::vector<std::string> texts;
  std::mt19937 rng(11);
  for (int i = 0; i < 1024; ++i) {
    texts.push_back(IpAddress::FromV4(static_cast<uint32_t>(rng())).ToString());
  }
  return texts;
}

void BM_ParseDottedQuad(benchmark::State& state) {
  const std::vector<std::string> texts = DottedQuads();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(IpAddress::Parse(texts[i++ & 1023]));
  }
}
BENCHMARK(BM_ParseDottedQuad);

void BM_AppendDottedQuad(benchmark::State& state) {
  std::vector<IpAddress> addrs;
  for (const std::string& t : DottedQuads()) addrs.push_back(*IpAddress::Parse(t));
  std::string out;
  size_t i = 0;
  for (auto _ : state) {
    out.clear();
    addrs[i++ & 1023].AppendTo(&out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AppendDottedQuad);

// The metric updates of one proxied keep-alive request (docs/observability.md, "Cost"): the
// client-IP source, bytes in and out, the upstream request and latency, the request and its
// duration, with realistic label values, into one worker's shard.
void BM_MetricsPerRequest(benchmark::State& state) {
  // As the server does at startup (Debian's Abseil has deadlock detection on).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using metrics::Metric;
  metrics::Registry registry("bench");
  metrics::Shard* shard = registry.NewShard();
  for (auto _ : state) {
    shard->Add(Metric::kClientIpSource, {"x-forwarded-for"});
    shard->Add(Metric::kBytesReceived, {}, 100);
    shard->Add(Metric::kBytesSent, {}, 300);
    shard->Add(Metric::kUpstreamRequests, {"app", "127.0.0.1:8080", "200"});
    shard->Observe(Metric::kUpstreamResponse, {"app"}, 0.0004);
    shard->Add(Metric::kHttpRequests, {"example.com", "200"});
    shard->Observe(Metric::kHttpRequestDuration, {"example.com"}, 0.0007);
  }
  benchmark::DoNotOptimize(registry.Scrape());
}
BENCHMARK(BM_MetricsPerRequest);

}  // namespace
}  // namespace realip::realip

BENCHMARK_MAIN();
