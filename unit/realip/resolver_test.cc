#include "proxy/realip/resolver.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

namespace realip::realip {
namespace {

using net::SocketAddress;

struct SourceCase {
  const char* name;
  std::string value;
  bool ok;
  RealIpSource::Kind kind = RealIpSource::Kind::kHeader;
  std::string lower;
};

class ParseRealIpSourceTest : public testing::TestWithParam<SourceCase> {};

TEST_P(ParseRealIpSourceTest, Parses) {
  const SourceCase& c = GetParam();
  absl::StatusOr<RealIpSource> got = ParseRealIpSource(c.value);
  ASSERT_EQ(got.ok(), c.ok) << got.status();
  if (!got.ok()) {
    EXPECT_EQ(got.status().message(), "invalid real_ip_header \"" + c.value + "\"");
    return;
  }
  EXPECT_EQ(got->kind, c.kind);
  EXPECT_EQ(got->name, c.value);
  EXPECT_EQ(got->lower_name, c.lower);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseRealIpSourceTest,
    testing::Values(
        SourceCase{"ProxyProtocol", "proxy_protocol", true, RealIpSource::Kind::kProxyProtocol,
                   "proxy_protocol"},
        SourceCase{"XRealIp", "X-Real-IP", true, RealIpSource::Kind::kHeader, "x-real-ip"},
        SourceCase{"Xff", "X-Forwarded-For", true, RealIpSource::Kind::kHeader,
                   "x-forwarded-for"},
        SourceCase{"Custom", "CF-Connecting-IP", true, RealIpSource::Kind::kHeader,
                   "cf-connecting-ip"},
        // Only the exact spelling is the PROXY source (nginx); this is a header name.
        SourceCase{"ProxyProtocolUpper", "Proxy_Protocol", true, RealIpSource::Kind::kHeader,
                   "proxy_protocol"},
        SourceCase{"Empty", "", false, RealIpSource::Kind::kHeader, ""},
        SourceCase{"Space", "X Real", false, RealIpSource::Kind::kHeader, ""},
        SourceCase{"Colon", "X-Real-IP:", false, RealIpSource::Kind::kHeader, ""}),
    [](const testing::TestParamInfo<SourceCase>& info) { return info.param.name; });

TEST(RealIpSettingsTest, DefaultsAreNginxs) {
  RealIpSettings s;
  EXPECT_EQ(s.trusted, nullptr);
  ASSERT_EQ(s.sources.size(), 1u);
  EXPECT_EQ(s.sources[0], *ParseRealIpSource("X-Real-IP"));
  EXPECT_FALSE(s.recursive);
}

struct ResolveCase {
  const char* name;
  std::vector<const char*> trusted;  // empty: no set at all
  std::vector<const char*> sources;
  bool recursive;
  const char* peer;           // "host:port" or "unix:"
  const char* proxy;          // PROXY source "host:port", "LOCAL", or null for none
  std::vector<std::pair<const char*, const char*>> headers;
  // Expected:
  std::string client;         // SocketAddress::ToString()
  std::string source;
  int hops;
  std::vector<std::string> untrusted;
  std::string realip_xff;
  std::string proxy_add_xff;
};

SocketAddress Addr(const char* text) {
  if (std::string_view(text) == "unix:") {
    SocketAddress a;
    a.is_unix = true;
    return a;
  }
  return *net::ParseHostPort(text, std::nullopt);
}

class ResolveTest : public testing::TestWithParam<ResolveCase> {};

TEST_P(ResolveTest, Resolves) {
  const ResolveCase& c = GetParam();
  RealIpSettings settings;
  if (!c.trusted.empty()) {
    auto set = std::make_shared<net::CidrSet>();
    for (const char* e : c.trusted) ASSERT_TRUE(set->Add(e).ok()) << e;
    settings.trusted = set;
  }
  if (!c.sources.empty()) {
    settings.sources.clear();
    for (const char* s : c.sources) settings.sources.push_back(*ParseRealIpSource(s));
  }
  settings.recursive = c.recursive;

  ProxyHeader proxy;
  ResolveInput input;
  input.peer = Addr(c.peer);
  if (c.proxy != nullptr) {
    proxy.version = 2;
    if (std::string_view(c.proxy) == "LOCAL") {
      proxy.command = "LOCAL";
    } else {
      proxy.command = "PROXY";
      proxy.local = false;
      proxy.source = Addr(c.proxy);
      proxy.destination = Addr("198.51.100.1:443");
    }
    input.proxy = &proxy;
  }
  std::vector<HeaderField> headers;
  for (auto [n, v] : c.headers) headers.push_back({n, v});
  input.headers = headers;

  Resolution r = Resolve(settings, input);
  EXPECT_EQ(r.client.ToString(), c.client);
  EXPECT_EQ(r.source, c.source);
  EXPECT_EQ(r.realip_remote, input.peer);
  EXPECT_EQ(r.trusted_hops, c.hops);
  EXPECT_EQ(r.untrusted_headers, c.untrusted);
  EXPECT_EQ(r.untrusted_forwarded, !c.untrusted.empty());
  EXPECT_EQ(r.realip_x_forwarded_for, c.realip_xff);
  std::string proxy_add;
  AppendProxyAddXForwardedFor(headers, r, &proxy_add);
  EXPECT_EQ(proxy_add, c.proxy_add_xff);
}

using H = std::vector<std::pair<const char*, const char*>>;
using U = std::vector<std::string>;
const std::vector<const char*> kTen = {"10.0.0.0/8"};
const std::vector<const char*> kXff = {"X-Forwarded-For"};

INSTANTIATE_TEST_SUITE_P(
    Cases, ResolveTest,
    testing::Values(
        ResolveCase{"NoTrustedSetDoesNothing", {}, kXff, true, "192.0.2.9:5000", nullptr,
                    H{{"X-Forwarded-For", "1.1.1.1"}}, "192.0.2.9:5000", "peer", 0,
                    U{"x-forwarded-for"}, "192.0.2.9", "1.1.1.1, 192.0.2.9"},
        ResolveCase{"DefaultXRealIp", kTen, {}, false, "10.0.0.1:5000", nullptr,
                    H{{"X-Real-IP", "192.0.2.1"}}, "192.0.2.1:0", "X-Real-IP", 1, U{},
                    "192.0.2.1, 10.0.0.1", "10.0.0.1"},
        ResolveCase{"XRealIpFirstLineOnly", kTen, {}, false, "10.0.0.1:5000", nullptr,
                    H{{"X-Real-IP", "192.0.2.1"}, {"x-real-ip", "192.0.2.2"}}, "192.0.2.1:0",
                    "X-Real-IP", 1, U{}, "192.0.2.1, 10.0.0.1", "10.0.0.1"},
        // Reference 1.2: X-Real-IP goes through the same walk as one XFF line.
        ResolveCase{"XRealIpListRecursive", kTen, {}, true, "10.0.0.1:5000", nullptr,
                    H{{"X-Real-IP", "1.1.1.1, 10.0.0.2"}}, "1.1.1.1:0", "X-Real-IP", 2, U{},
                    "1.1.1.1, 10.0.0.2, 10.0.0.1", "10.0.0.1"},
        ResolveCase{"XRealIpListNonRecursive", kTen, {}, false, "10.0.0.1:5000", nullptr,
                    H{{"X-Real-IP", "1.1.1.1, 10.0.0.2"}}, "10.0.0.2:0", "X-Real-IP", 1, U{},
                    "10.0.0.2, 10.0.0.1", "10.0.0.1"},
        ResolveCase{"CustomHeader", {"127.0.0.1/32"}, {"X-Real-IP-Custom"}, false,
                    "127.0.0.1:5000", nullptr, H{{"x-real-ip-custom", "192.0.2.1"}},
                    "192.0.2.1:0", "X-Real-IP-Custom", 1, U{}, "192.0.2.1, 127.0.0.1",
                    "127.0.0.1"},
        ResolveCase{"AbsentHeader", kTen, kXff, true, "10.0.0.1:5000", nullptr,
                    H{{"Host", "example.com"}}, "10.0.0.1:5000", "peer", 0, U{}, "10.0.0.1",
                    "10.0.0.1"},
        // ingress-nginx#11994: nginx would send "192.168.1.1, 192.168.1.1".
        ResolveCase{"ProxyAddXffHasNoDuplicate", {"10.20.30.40"}, kXff, true,
                    "10.20.30.40:5000", nullptr, H{{"X-Forwarded-For", "192.168.1.1"}},
                    "192.168.1.1:0", "X-Forwarded-For", 1, U{}, "192.168.1.1, 10.20.30.40",
                    "192.168.1.1, 10.20.30.40"},
        // Entries left of the resolved client were written by the client.
        ResolveCase{"LeftmostSpoofDropped", kTen, kXff, true, "10.0.0.1:5000", nullptr,
                    H{{"X-Forwarded-For", "6.6.6.6, 1.1.1.1, 10.0.0.2"}}, "1.1.1.1:0",
                    "X-Forwarded-For", 2, U{}, "1.1.1.1, 10.0.0.2, 10.0.0.1",
                    "6.6.6.6, 1.1.1.1, 10.0.0.2, 10.0.0.1"},
        ResolveCase{"AllTrustedLeftmost", kTen, kXff, true, "10.0.0.1:5000", nullptr,
                    H{{"X-Forwarded-For", "10.0.0.3, 10.0.0.2"}}, "10.0.0.3:0",
                    "X-Forwarded-For", 2, U{}, "10.0.0.3, 10.0.0.2, 10.0.0.1",
                    "10.0.0.3, 10.0.0.2, 10.0.0.1"},
        ResolveCase{"XffPortReplacesPort", kTen, kXff, false, "10.0.0.1:5000", nullptr,
                    H{{"X-Forwarded-For", "1.1.1.1:8080"}}, "1.1.1.1:8080", "X-Forwarded-For",
                    1, U{}, "1.1.1.1, 10.0.0.1", "1.1.1.1:8080, 10.0.0.1"},
        ResolveCase{"MultipleXffLines", kTen, kXff, true, "10.0.0.1:5000", nullptr,
                    H{{"X-Forwarded-For", "1.1.1.1"}, {"Host", "h"},
                      {"x-forwarded-for", "10.0.0.6"}},
                    "1.1.1.1:0", "X-Forwarded-For", 2, U{}, "1.1.1.1, 10.0.0.6, 10.0.0.1",
                    "1.1.1.1, 10.0.0.6, 10.0.0.1"},
        // nginx would treat a lowercase name as a generic header (first line only).
        ResolveCase{"ConfigNameCaseInsensitive", kTen, {"x-forwarded-for"}, true,
                    "10.0.0.1:5000", nullptr,
                    H{{"X-Forwarded-For", "1.1.1.1"}, {"X-Forwarded-For", "10.0.0.6"}},
                    "1.1.1.1:0", "x-forwarded-for", 2, U{}, "1.1.1.1, 10.0.0.6, 10.0.0.1",
                    "1.1.1.1, 10.0.0.6, 10.0.0.1"},
        ResolveCase{"UntrustedPeerHeadersReported", kTen, kXff, true, "192.0.2.9:5000",
                    nullptr,
                    H{{"X-Real-IP", "1.1.1.1"}, {"Forwarded", "for=1.1.1.1"},
                      {"X-Forwarded-For", "1.1.1.1"}, {"x-real-ip", "2.2.2.2"}},
                    "192.0.2.9:5000", "peer", 0, U{"x-real-ip", "forwarded", "x-forwarded-for"},
                    "192.0.2.9", "1.1.1.1, 192.0.2.9"},
        ResolveCase{"UntrustedPeerCustomHeader", kTen, {"CF-Connecting-IP"}, false,
                    "192.0.2.9:5000", nullptr, H{{"cf-connecting-ip", "1.1.1.1"}},
                    "192.0.2.9:5000", "peer", 0, U{"cf-connecting-ip"}, "192.0.2.9",
                    "192.0.2.9"},
        ResolveCase{"MappedPeerTrusted", kTen, kXff, false, "[::ffff:10.0.0.1]:5000", nullptr,
                    H{{"X-Forwarded-For", "1.1.1.1"}}, "1.1.1.1:0", "X-Forwarded-For", 1, U{},
                    "1.1.1.1, 10.0.0.1", "1.1.1.1, 10.0.0.1"},
        ResolveCase{"Ipv6Chain", {"2001:db8::/32"}, kXff, true, "[2001:db8::1]:5000", nullptr,
                    H{{"X-Forwarded-For", "[2001:db8:1::5]:443, 2001:db8::2"}},
                    "[2001:db8:1::5]:443", "X-Forwarded-For", 2, U{},
                    "2001:db8:1::5, 2001:db8::2, 2001:db8::1",
                    "[2001:db8:1::5]:443, 2001:db8::2, 2001:db8::1"},
        ResolveCase{"UnixPeerTrusted", {"unix:"}, kXff, false, "unix:", nullptr,
                    H{{"X-Forwarded-For", "1.1.1.1"}}, "1.1.1.1:0", "X-Forwarded-For", 1, U{},
                    "1.1.1.1, unix:", "1.1.1.1, unix:"},
        ResolveCase{"UnixPeerUntrusted", kTen, kXff, false, "unix:", nullptr,
                    H{{"X-Forwarded-For", "1.1.1.1"}}, "unix:", "peer", 0,
                    U{"x-forwarded-for"}, "unix:", "1.1.1.1, unix:"},
        ResolveCase{"Forwarded", kTen, {"Forwarded"}, true, "10.0.0.1:5000", nullptr,
                    H{{"Forwarded", "for=192.0.2.60;proto=http, for=10.0.0.3"}},
                    "192.0.2.60:0", "Forwarded", 2, U{}, "192.0.2.60, 10.0.0.3, 10.0.0.1",
                    "10.0.0.1"},
        // real_ip_header proxy_protocol (nginx 1.5.12+).
        ResolveCase{"ProxyProtocol", kTen, {"proxy_protocol"}, false, "10.0.0.1:5000",
                    "203.0.113.7:5555", H{}, "203.0.113.7:5555", "proxy_protocol", 1, U{},
                    "203.0.113.7", "203.0.113.7"},
        ResolveCase{"ProxyProtocolUntrustedPeer", kTen, {"proxy_protocol"}, false,
                    "192.0.2.9:5000", "203.0.113.7:5555", H{}, "192.0.2.9:5000", "peer", 0, U{},
                    "192.0.2.9", "192.0.2.9"},
        ResolveCase{"ProxyProtocolAbsent", kTen, {"proxy_protocol"}, false, "10.0.0.1:5000",
                    nullptr, H{}, "10.0.0.1:5000", "peer", 0, U{}, "10.0.0.1", "10.0.0.1"},
        ResolveCase{"ProxyProtocolLocal", kTen, {"proxy_protocol"}, false, "10.0.0.1:5000",
                    "LOCAL", H{}, "10.0.0.1:5000", "peer", 0, U{}, "10.0.0.1", "10.0.0.1"},
        // The extension: an NLB (10/8) sends PROXY for a CDN node (172.16/12) that sets XFF.
        ResolveCase{"ProxyThenXff", {"10.0.0.0/8", "172.16.0.0/12"},
                    {"proxy_protocol", "X-Forwarded-For"}, false, "10.0.0.1:5000",
                    "172.16.0.5:6000", H{{"X-Forwarded-For", "203.0.113.7"}},
                    "203.0.113.7:0", "X-Forwarded-For", 2, U{}, "203.0.113.7, 172.16.0.5",
                    "203.0.113.7, 172.16.0.5"},
        // A client reaching the NLB directly: its own XFF is not used, and is reported.
        ResolveCase{"ProxyThenXffClientDirect", {"10.0.0.0/8", "172.16.0.0/12"},
                    {"proxy_protocol", "X-Forwarded-For"}, true, "10.0.0.1:5000",
                    "198.51.100.77:6000", H{{"X-Forwarded-For", "1.2.3.4"}},
                    "198.51.100.77:6000", "proxy_protocol", 1, U{"x-forwarded-for"},
                    "198.51.100.77", "1.2.3.4, 198.51.100.77"},
        // Traffic that bypasses the NLB carries no PROXY header: XFF is walked from the peer.
        ResolveCase{"ProxyThenXffWithoutProxy", {"10.0.0.0/8", "172.16.0.0/12"},
                    {"proxy_protocol", "X-Forwarded-For"}, false, "172.16.0.5:5000", nullptr,
                    H{{"X-Forwarded-For", "203.0.113.7"}}, "203.0.113.7:0", "X-Forwarded-For",
                    1, U{}, "203.0.113.7, 172.16.0.5", "203.0.113.7, 172.16.0.5"},
        ResolveCase{"EmptyTrustedSet", {}, {"proxy_protocol"}, false, "10.0.0.1:5000",
                    "203.0.113.7:5555", H{}, "10.0.0.1:5000", "peer", 0, U{}, "10.0.0.1",
                    "10.0.0.1"}),
    [](const testing::TestParamInfo<ResolveCase>& info) { return info.param.name; });

constexpr const char* kTenHops =
    "203.0.113.7, 10.0.0.10, 10.0.0.9, 10.0.0.8, 10.0.0.7, 10.0.0.6, 10.0.0.5, 10.0.0.4, "
    "10.0.0.3, 10.0.0.2";
const std::string kLongV6 = "1111:2222:3333:4444:5555:6666:7777:888";
const std::string kLongV6Xff = kLongV6 + "9, [" + kLongV6 + "a]:65535";

// Header-name matching and the in-place $realip_x_forwarded_for.
INSTANTIATE_TEST_SUITE_P(
    NamesAndChains, ResolveTest,
    testing::Values(
        // Header names match in any ASCII case, and only letters fold: "\r" is not "-".
        ResolveCase{"HeaderNameAnyCase", kTen, kXff, true, "10.0.0.1:5000", nullptr,
                    H{{"x-FORWARDED-for", "1.1.1.1"},
                      {"X\rForwarded-For", "10.0.0.7"},
                      {"X-Forwarded-F\x4fR", "10.0.0.6"},
                      {"X-Forwarded-Fo\x92", "2.2.2.2"}},
                    "1.1.1.1:0", "X-Forwarded-For", 2, U{}, "1.1.1.1, 10.0.0.6, 10.0.0.1",
                    "1.1.1.1, 10.0.0.6, 10.0.0.1"},
        ResolveCase{
            "UntrustedHeaderNamesAnyCase", kTen, kXff, true, "192.0.2.9:5000", nullptr,
            H{{"X-REAL-ip", "1.1.1.1"}, {"X\rReal-IP", "1.1.1.1"}, {"fORWARDED", "for=1.1.1.1"}},
            "192.0.2.9:5000", "peer", 0, U{"x-real-ip", "forwarded"}, "192.0.2.9", "192.0.2.9"},
        // More hops than HopList keeps inline.
        ResolveCase{"TenHopChain", kTen, kXff, true, "10.0.0.1:5000", nullptr,
                    H{{"X-Forwarded-For", kTenHops}}, "203.0.113.7:0", "X-Forwarded-For", 10, U{},
                    std::string(kTenHops) + ", 10.0.0.1", std::string(kTenHops) + ", 10.0.0.1"},
        // Addresses of the longest text form.
        ResolveCase{"LongestIpv6Texts",
                    {"::/0"},
                    kXff,
                    true,
                    "[1111:2222:3333:4444:5555:6666:7777:8888]:5000",
                    nullptr,
                    H{{"X-Forwarded-For", kLongV6Xff.c_str()}},
                    "[" + kLongV6 + "9]:0",
                    "X-Forwarded-For",
                    2,
                    U{},
                    kLongV6 + "9, " + kLongV6 + "a, " + kLongV6 + "8",
                    kLongV6Xff + ", " + kLongV6 + "8"}),
    [](const testing::TestParamInfo<ResolveCase>& info) { return info.param.name; });

// The word-at-a-time name compare against absl::EqualsIgnoreCase (what it replaced), for
// names of every length up to 24 made of bytes around the letter ranges, in lowercase
// sought names that are equal, case-flipped or one byte off.
TEST(HeaderNameIsTest, MatchesEqualsIgnoreCase) {
  const std::string bytes = std::string("@AMZ[`amz{\r-_09~", 16) + "\x80\xc1\xe1\xfa\xff";
  std::mt19937 rng(4);
  int equal = 0;
  for (int i = 0; i < 200000; ++i) {
    const size_t len = rng() % 25;
    std::string lower;
    for (size_t j = 0; j < len; ++j) lower.push_back(bytes[rng() % bytes.size()]);
    lower = absl::AsciiStrToLower(lower);
    std::string name = lower;
    for (char& c : name) {
      if (rng() % 2) c = absl::ascii_toupper(static_cast<unsigned char>(c));
    }
    if (len > 0 && rng() % 3 == 0) name[rng() % len] = bytes[rng() % bytes.size()];
    const bool want = absl::EqualsIgnoreCase(name, lower);
    equal += want;
    ASSERT_EQ(internal::HeaderNameIs(name, lower), want)
        << absl::CEscape(name) << " " << absl::CEscape(lower);
  }
  EXPECT_GT(equal, 100000);
  EXPECT_FALSE(internal::HeaderNameIs("x-forwarded-for", "x-forwarded-fo"));
  EXPECT_TRUE(internal::HeaderNameIs("", ""));
}

// One Resolution reused across requests of different shapes ends every time equal to a fresh
// one: no member keeps a value from the request before.
TEST(ResolveTest, ReusedResolutionEqualsFreshOne) {
  RealIpSettings settings;
  auto set = std::make_shared<net::CidrSet>();
  ASSERT_TRUE(set->Add("10.0.0.0/8").ok());
  settings.trusted = set;
  settings.sources = {*ParseRealIpSource("proxy_protocol"), *ParseRealIpSource("X-Forwarded-For")};
  settings.recursive = true;
  ProxyHeader proxy;
  proxy.version = 2;
  proxy.command = "PROXY";
  proxy.local = false;
  proxy.source = Addr("10.9.9.9:7000");
  proxy.destination = Addr("198.51.100.1:443");
  const std::vector<HeaderField> long_chain = {
      {"X-Forwarded-For", "203.0.113.7, 10.0.0.5, 10.0.0.4, 10.0.0.3, 10.0.0.2"}};
  const std::vector<HeaderField> spoofed = {
      {"X-Real-IP", "1.1.1.1"}, {"X-Forwarded-For", "1.1.1.1"}, {"Forwarded", "for=1.1.1.1"}};
  const std::vector<HeaderField> none = {};
  struct Request {
    const char* peer;
    const ProxyHeader* proxy;
    const std::vector<HeaderField>* headers;
  };
  const Request requests[] = {
      {"10.0.0.1:1", nullptr, &long_chain}, {"192.0.2.9:2", nullptr, &spoofed},
      {"10.0.0.1:3", &proxy, &long_chain},  {"10.0.0.1:4", nullptr, &none},
      {"unix:", nullptr, &spoofed},         {"192.0.2.9:5", &proxy, &none},
      {"10.0.0.1:6", nullptr, &long_chain}};
  Resolution reused;
  for (int round = 0; round < 2; ++round) {
    for (const Request& q : requests) {
      ResolveInput input;
      input.peer = Addr(q.peer);
      input.proxy = q.proxy;
      input.headers = *q.headers;
      Resolution fresh = Resolve(settings, input);
      Resolve(settings, input, &reused);
      EXPECT_EQ(reused.client, fresh.client) << q.peer;
      EXPECT_EQ(reused.source, fresh.source) << q.peer;
      EXPECT_EQ(reused.realip_remote, fresh.realip_remote) << q.peer;
      EXPECT_EQ(reused.trusted_hops, fresh.trusted_hops) << q.peer;
      EXPECT_EQ(reused.untrusted_forwarded, fresh.untrusted_forwarded) << q.peer;
      EXPECT_EQ(reused.untrusted_headers, fresh.untrusted_headers) << q.peer;
      EXPECT_EQ(reused.realip_x_forwarded_for, fresh.realip_x_forwarded_for) << q.peer;
      EXPECT_EQ(reused.connecting, fresh.connecting) << q.peer;
    }
  }
}

TEST(ResolveTest, EmptyNonNullSetDoesNothing) {
  RealIpSettings settings;
  settings.trusted = std::make_shared<net::CidrSet>();
  std::vector<HeaderField> headers = {{"X-Real-IP", "1.1.1.1"}};
  ResolveInput input;
  input.peer = Addr("10.0.0.1:1");
  input.headers = headers;
  Resolution r = Resolve(settings, input);
  EXPECT_EQ(r.client, input.peer);
  EXPECT_EQ(r.untrusted_headers, U{"x-real-ip"});
}

}  // namespace
}  // namespace realip::realip
