#include "proxy/realip/forwarded.h"

#include <gtest/gtest.h>

#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace realip::realip {
namespace {

using net::CidrSet;
using net::IpAddress;
using net::SocketAddress;

SocketAddress Peer(const char* ip, uint16_t port = 40000) {
  return SocketAddress{*IpAddress::Parse(ip), port, false};
}

std::shared_ptr<CidrSet> Trusted(std::initializer_list<const char*> entries) {
  auto set = std::make_shared<CidrSet>();
  for (const char* e : entries) EXPECT_TRUE(set->Add(e).ok()) << e;
  return set;
}

struct EntryCase {
  const char* name;
  std::string entry;
  std::optional<std::string> address;  // SocketAddress::ToString(); nullopt: invalid
};

void ExpectEntry(const std::optional<SocketAddress>& got, const EntryCase& c) {
  ASSERT_EQ(got.has_value(), c.address.has_value()) << c.entry;
  if (got) {
    EXPECT_EQ(got->ToString(), *c.address);
  }
}

class XffEntryTest : public testing::TestWithParam<EntryCase> {};

TEST_P(XffEntryTest, ParsesLikeNginx) { ExpectEntry(ParseXffEntry(GetParam().entry), GetParam()); }

INSTANTIATE_TEST_SUITE_P(
    Cases, XffEntryTest,
    testing::Values(EntryCase{"V4", "1.2.3.4", "1.2.3.4:0"},
                    EntryCase{"V4Port", "1.2.3.4:80", "1.2.3.4:80"},
                    EntryCase{"V4PortLeadingZeros", "1.2.3.4:0080", "1.2.3.4:80"},
                    EntryCase{"V4PortMax", "1.2.3.4:65535", "1.2.3.4:65535"},
                    EntryCase{"V4PortZero", "1.2.3.4:0", std::nullopt},
                    EntryCase{"V4PortTooBig", "1.2.3.4:65536", std::nullopt},
                    EntryCase{"V4PortEmpty", "1.2.3.4:", std::nullopt},
                    EntryCase{"V4PortLetters", "1.2.3.4:abc", std::nullopt},
                    EntryCase{"V4TwoPorts", "1.2.3.4:80:81", std::nullopt},
                    EntryCase{"V6", "2001:db8::1", "[2001:db8::1]:0"},
                    EntryCase{"V6Bracketed", "[2001:db8::1]", "[2001:db8::1]:0"},
                    EntryCase{"V6BracketedPort", "[2001:db8::1]:80", "[2001:db8::1]:80"},
                    EntryCase{"V6BracketedPortZero", "[2001:db8::1]:0", std::nullopt},
                    EntryCase{"V6BracketJunk", "[2001:db8::1]x", std::nullopt},
                    EntryCase{"V6Unclosed", "[2001:db8::1", std::nullopt},
                    EntryCase{"V4InBrackets", "[1.2.3.4]:80", "1.2.3.4:80"},
                    EntryCase{"Mapped", "::ffff:10.0.0.9", "10.0.0.9:0"},
                    EntryCase{"Zone", "fe80::1%eth0", std::nullopt},
                    EntryCase{"Quoted", "\"1.1.1.1\"", std::nullopt},
                    EntryCase{"Unknown", "unknown", std::nullopt},
                    EntryCase{"ThreeOctets", "1.1.1", std::nullopt},
                    // Deliberately stricter than nginx's ngx_inet_addr.
                    EntryCase{"LeadingZeroOctet", "01.1.1.1", std::nullopt},
                    EntryCase{"EmptyOctet", "1..1.1", std::nullopt},
                    EntryCase{"Tab", "\t2.2.2.2", std::nullopt},
                    EntryCase{"Empty", "", std::nullopt}),
    [](const testing::TestParamInfo<EntryCase>& info) { return info.param.name; });

std::vector<std::string> SplitAll(std::string_view value) {
  std::vector<std::string> out;
  XffReverseSplitter s(value);
  while (std::optional<std::string_view> e = s.Next()) out.emplace_back(*e);
  return out;
}

TEST(XffReverseSplitterTest, NginxTokenization) {
  using V = std::vector<std::string>;
  EXPECT_EQ(SplitAll("1.1.1.1, 2.2.2.2"), (V{"2.2.2.2", "1.1.1.1"}));
  EXPECT_EQ(SplitAll("1.1.1.1,2.2.2.2"), (V{"2.2.2.2", "1.1.1.1"}));
  EXPECT_EQ(SplitAll("1.1.1.1 2.2.2.2"), (V{"2.2.2.2", "1.1.1.1"}));
  EXPECT_EQ(SplitAll("1.1.1.1,,  ,2.2.2.2, "), (V{"2.2.2.2", "1.1.1.1"}));
  EXPECT_EQ(SplitAll("1.1.1.1,\t2.2.2.2"), (V{"\t2.2.2.2", "1.1.1.1"}));
  EXPECT_EQ(SplitAll("3.3.3.3"), (V{"3.3.3.3"}));
  // A separator at index 0 is never looked at: it stays part of the first entry.
  EXPECT_EQ(SplitAll(",1.1.1.1"), (V{",1.1.1.1"}));
  EXPECT_EQ(SplitAll(", 1.1.1.1"), (V{"1.1.1.1", ","}));
  EXPECT_EQ(SplitAll(" ,, 1.1.1.1"), (V{"1.1.1.1", " "}));
  EXPECT_EQ(SplitAll(""), (V{""}));
  EXPECT_EQ(SplitAll(","), (V{","}));
  EXPECT_EQ(SplitAll(" "), (V{" "}));
}

// The splitter as it was before the word-at-a-time scan, kept as the reference.
std::vector<std::string> ReferenceSplitAll(std::string_view value) {
  std::vector<std::string> out;
  auto is_sep = [](char c) { return c == ' ' || c == ','; };
  size_t end = value.size();
  while (true) {
    if (end == 0) {
      out.emplace_back();
      return out;
    }
    size_t p = end - 1;
    while (p > 0 && is_sep(value[p])) {
      --p;
      --end;
    }
    while (p > 0) {
      if (is_sep(value[p])) {
        ++p;
        break;
      }
      --p;
    }
    out.emplace_back(value.substr(p, end - p));
    if (p == 0) return out;
    end = p - 1;
  }
}

// Random values of 0 to 40 bytes (so that both the word and the byte scans run, with
// separators at every position of a word) split alike, and so do all their prefixes.
TEST(XffReverseSplitterTest, MatchesReferenceOnRandomValues) {
  const std::string alphabet = "  ,,1.:a\t\xa0\xac";
  std::mt19937 rng(6);
  for (int i = 0; i < 20000; ++i) {
    std::string value;
    const size_t len = rng() % 41;
    const size_t sep_every = 1 + rng() % 12;
    for (size_t j = 0; j < len; ++j) {
      value.push_back(rng() % sep_every == 0 ? alphabet[rng() % alphabet.size()]
                                             : "0123456789."[rng() % 11]);
    }
    for (size_t k = 0; k <= value.size(); ++k) {
      std::string_view v = std::string_view(value).substr(0, k);
      ASSERT_EQ(SplitAll(v), ReferenceSplitAll(v)) << "\"" << v << "\"";
    }
  }
}

// WalkXff against the walk written from its definition over the reference splitter, on
// random multi-line values of trusted, untrusted and malformed entries.
TEST(XffWalkRandomTest, MatchesReferenceWalk) {
  auto trusted = Trusted({"10.0.0.0/8", "2001:db8::/32"});
  const char* entries[] = {"10.0.0.1", "10.1.2.3:80", "[2001:db8::5]", "2001:db8::7",
                           "1.2.3.4",  "[::1]:443",   "010.0.0.1",     "unknown",
                           "",         "10.0.0.9",    "203.0.113.7",   "10.0.0.300"};
  const char* seps[] = {", ", ",", " ", ",, ", " ,"};
  std::mt19937 rng(8);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::string> owned(rng() % 4);
    for (std::string& line : owned) {
      const size_t n = rng() % 5;
      for (size_t j = 0; j < n; ++j) {
        if (j > 0 || rng() % 8 == 0) line += seps[rng() % std::size(seps)];
        line += entries[rng() % std::size(entries)];
      }
      if (rng() % 8 == 0) line += seps[rng() % std::size(seps)];
    }
    std::vector<std::string_view> lines(owned.begin(), owned.end());
    const bool recursive = rng() % 4 != 0;
    const SocketAddress start = Peer(rng() % 4 == 0 ? "192.0.2.1" : "10.0.0.2");

    WalkResult want;
    want.client = start;
    std::vector<SocketAddress> want_hops;
    std::vector<std::string> all;
    for (size_t l = lines.size(); l-- > 0;) {
      for (std::string& e : ReferenceSplitAll(lines[l])) all.push_back(std::move(e));
    }
    for (const std::string& e : all) {
      if (!trusted->Contains(want.client)) break;
      std::optional<SocketAddress> a = ParseXffEntry(e);
      if (!a) break;
      want.client = *a;
      want.replaced = true;
      want_hops.push_back(*a);
      if (!recursive) break;
    }

    HopList hops;
    WalkResult got = WalkXff(lines, *trusted, recursive, start, &hops);
    ASSERT_EQ(got.client, want.client) << i;
    ASSERT_EQ(got.replaced, want.replaced) << i;
    ASSERT_EQ(std::vector<SocketAddress>(hops.begin(), hops.end()), want_hops) << i;
  }
}

struct WalkCase {
  const char* name;
  const char* peer;
  bool recursive;
  std::vector<std::string> lines;
  std::string want;  // SocketAddress::ToString() of the result
  bool replaced;
  std::vector<std::string> hops;  // addresses stepped onto, rightmost first
};

class XffWalkTest : public testing::TestWithParam<WalkCase> {};

// The conformance vectors of the reference's section 1.6 (trusted 10.0.0.0/8) and the
// nginx-tests realip.t cases, byte for byte.
TEST_P(XffWalkTest, MatchesNginx) {
  const WalkCase& c = GetParam();
  auto trusted = Trusted({"10.0.0.0/8", "127.0.0.1/32", "10.0.1.0/24"});
  std::vector<std::string_view> lines(c.lines.begin(), c.lines.end());
  HopList hops;
  WalkResult r = WalkXff(lines, *trusted, c.recursive, Peer(c.peer), &hops);
  EXPECT_EQ(r.client.ToString(), c.want);
  EXPECT_EQ(r.replaced, c.replaced);
  std::vector<std::string> got_hops;
  for (const SocketAddress& h : hops) got_hops.push_back(h.HostToString());
  EXPECT_EQ(got_hops, c.hops);
  // The hop list is optional.
  EXPECT_EQ(WalkXff(lines, *trusted, c.recursive, Peer(c.peer), nullptr).client, r.client);
}

INSTANTIATE_TEST_SUITE_P(
    Conformance, XffWalkTest,
    testing::Values(
        WalkCase{"V1LastEntry", "10.0.0.1", false, {"1.1.1.1, 2.2.2.2"}, "2.2.2.2:0", true,
                 {"2.2.2.2"}},
        WalkCase{"V2LastEvenIfTrusted", "10.0.0.1", false, {"1.1.1.1, 10.0.0.2"}, "10.0.0.2:0",
                 true, {"10.0.0.2"}},
        WalkCase{"V3Recursive", "10.0.0.1", true, {"1.1.1.1, 10.0.0.2"}, "1.1.1.1:0", true,
                 {"10.0.0.2", "1.1.1.1"}},
        WalkCase{"V4AllTrustedLeftmost", "10.0.0.1", true, {"10.0.0.3, 10.0.0.2"},
                 "10.0.0.3:0", true, {"10.0.0.2", "10.0.0.3"}},
        WalkCase{"V5UntrustedPeer", "192.0.2.9", true, {"1.1.1.1"}, "192.0.2.9:40000", false,
                 {}},
        WalkCase{"V6StopsAtInvalid", "10.0.0.1", true, {"1.1.1.1, bogus, 10.0.0.2"},
                 "10.0.0.2:0", true, {"10.0.0.2"}},
        WalkCase{"V7RightmostInvalidOn", "10.0.0.1", true, {"1.1.1.1, bogus"},
                 "10.0.0.1:40000", false, {}},
        WalkCase{"V7RightmostInvalidOff", "10.0.0.1", false, {"1.1.1.1, bogus"},
                 "10.0.0.1:40000", false, {}},
        WalkCase{"V8TrailingSeparators", "10.0.0.1", false, {"1.1.1.1, 2.2.2.2, "},
                 "2.2.2.2:0", true, {"2.2.2.2"}},
        WalkCase{"V8DoubleComma", "10.0.0.1", false, {"1.1.1.1,,2.2.2.2"}, "2.2.2.2:0", true,
                 {"2.2.2.2"}},
        WalkCase{"V9SpaceOnly", "10.0.0.1", false, {"1.1.1.1 2.2.2.2"}, "2.2.2.2:0", true,
                 {"2.2.2.2"}},
        WalkCase{"V10TabIsNotSeparator", "10.0.0.1", false, {"1.1.1.1,\t2.2.2.2"},
                 "10.0.0.1:40000", false, {}},
        WalkCase{"V11Port", "10.0.0.1", false, {"1.1.1.1:8080"}, "1.1.1.1:8080", true,
                 {"1.1.1.1"}},
        WalkCase{"V12BracketedPort", "10.0.0.1", false, {"[2001:db8::1]:8080"},
                 "[2001:db8::1]:8080", true, {"2001:db8::1"}},
        WalkCase{"V12Bracketed", "10.0.0.1", false, {"[2001:db8::1]"}, "[2001:db8::1]:0", true,
                 {"2001:db8::1"}},
        WalkCase{"V12Bare", "10.0.0.1", false, {"2001:db8::1"}, "[2001:db8::1]:0", true,
                 {"2001:db8::1"}},
        WalkCase{"V13PortZero", "10.0.0.1", false, {"1.1.1.1:0"}, "10.0.0.1:40000", false, {}},
        WalkCase{"V13PortTooBig", "10.0.0.1", false, {"1.1.1.1:65536"}, "10.0.0.1:40000",
                 false, {}},
        WalkCase{"V13Quoted", "10.0.0.1", false, {"\"1.1.1.1\""}, "10.0.0.1:40000", false, {}},
        WalkCase{"V13Unknown", "10.0.0.1", false, {"unknown"}, "10.0.0.1:40000", false, {}},
        WalkCase{"V13Zone", "10.0.0.1", false, {"fe80::1%eth0"}, "10.0.0.1:40000", false, {}},
        WalkCase{"V13ThreeOctets", "10.0.0.1", false, {"1.1.1"}, "10.0.0.1:40000", false, {}},
        WalkCase{"V14MappedPeer", "::ffff:10.0.0.1", false, {"1.1.1.1"}, "1.1.1.1:0", true,
                 {"1.1.1.1"}},
        WalkCase{"V15MappedEntryTrusted", "10.0.0.1", true, {"1.1.1.1, ::ffff:10.0.0.9"},
                 "1.1.1.1:0", true, {"10.0.0.9", "1.1.1.1"}},
        WalkCase{"V16AllTrustedAcrossLines", "10.0.0.1", true, {"10.0.0.5", "10.0.0.6"},
                 "10.0.0.5:0", true, {"10.0.0.6", "10.0.0.5"}},
        WalkCase{"V17InvalidInEarlierLine", "10.0.0.1", true, {"1.1.1.1", "bogus, 10.0.0.6"},
                 "10.0.0.6:0", true, {"10.0.0.6"}},
        WalkCase{"NonRecursiveReadsLastLineOnly", "10.0.0.1", false, {"1.1.1.1", "2.2.2.2"},
                 "2.2.2.2:0", true, {"2.2.2.2"}},
        WalkCase{"EmptyLineStops", "10.0.0.1", true, {"1.1.1.1", ""}, "10.0.0.1:40000", false,
                 {}},
        WalkCase{"LeadingSeparatorStops", "10.0.0.1", true, {", 10.0.0.2"}, "10.0.0.2:0", true,
                 {"10.0.0.2"}},
        WalkCase{"NoLines", "10.0.0.1", true, {}, "10.0.0.1:40000", false, {}},
        // nginx-tests realip.t (trusted 127.0.0.1/32 and 10.0.1.0/24, peer 127.0.0.1).
        WalkCase{"RealipT1", "127.0.0.1", false, {"10.0.0.1, 192.0.2.1"}, "192.0.2.1:0", true,
                 {"192.0.2.1"}},
        WalkCase{"RealipT2", "127.0.0.1", false, {"192.0.2.1, 10.0.1.1, 127.0.0.1"},
                 "127.0.0.1:0", true, {"127.0.0.1"}},
        WalkCase{"RealipT3", "127.0.0.1", true, {"10.0.1.1, 192.0.2.1, 127.0.0.1"},
                 "192.0.2.1:0", true, {"127.0.0.1", "192.0.2.1"}},
        WalkCase{"RealipT4", "127.0.0.1", false, {"192.0.2.1", "127.0.0.1, 10.0.1.1"},
                 "10.0.1.1:0", true, {"10.0.1.1"}},
        WalkCase{"RealipT5", "127.0.0.1", true, {"10.0.1.1", "192.0.2.1", "127.0.0.1"},
                 "192.0.2.1:0", true, {"127.0.0.1", "192.0.2.1"}}),
    [](const testing::TestParamInfo<WalkCase>& info) { return info.param.name; });

struct ForwardedCase {
  const char* name;
  std::string value;
  std::optional<std::vector<std::string>> for_nodes;  // nullopt: malformed; "-" no for=
};

class ForwardedParseTest : public testing::TestWithParam<ForwardedCase> {};

TEST_P(ForwardedParseTest, Parses) {
  const ForwardedCase& c = GetParam();
  std::optional<std::vector<ForwardedElement>> got = ParseForwarded(c.value);
  ASSERT_EQ(got.has_value(), c.for_nodes.has_value()) << c.value;
  if (!got) return;
  std::vector<std::string> nodes;
  for (const ForwardedElement& e : *got) nodes.push_back(e.for_node.value_or("-"));
  EXPECT_EQ(nodes, *c.for_nodes);
}

using Nodes = std::vector<std::string>;

INSTANTIATE_TEST_SUITE_P(
    Cases, ForwardedParseTest,
    testing::Values(
        // RFC 7239 sections 4, 7.1, 7.4 examples.
        ForwardedCase{"Obfuscated", "for=\"_gazonk\"", Nodes{"_gazonk"}},
        ForwardedCase{"QuotedV6", "For=\"[2001:db8:cafe::17]:4711\"",
                      Nodes{"[2001:db8:cafe::17]:4711"}},
        ForwardedCase{"Pairs", "for=192.0.2.60;proto=http;by=203.0.113.43",
                      Nodes{"192.0.2.60"}},
        ForwardedCase{"TwoElements", "for=192.0.2.43, for=198.51.100.17",
                      Nodes{"192.0.2.43", "198.51.100.17"}},
        ForwardedCase{"Transition", "for=192.0.2.43, for=\"[2001:db8:cafe::17]\"",
                      Nodes{"192.0.2.43", "[2001:db8:cafe::17]"}},
        ForwardedCase{"Unknown", "for=unknown", Nodes{"unknown"}},
        ForwardedCase{"QuotedPair", "for=\"1.2.3.\\4\"", Nodes{"1.2.3.4"}},
        ForwardedCase{"NoFor", "proto=https;host=example.com", Nodes{"-"}},
        ForwardedCase{"EmptyListElements", ", ,for=1.1.1.1,,", Nodes{"1.1.1.1"}},
        ForwardedCase{"SpacesAroundSemicolons", "for=1.1.1.1 ; proto=http", Nodes{"1.1.1.1"}},
        ForwardedCase{"ExtensionIgnored", "for=1.1.1.1;secret=x", Nodes{"1.1.1.1"}},
        ForwardedCase{"HaproxyValid", "for=\"unknown:132\";host=\"[::1]:65535\";"
                                      "by=\"_obfs:_port\";proto=https",
                      Nodes{"unknown:132"}},
        // HAProxy forwarded-header-7239.vtc invalid cases.
        ForwardedCase{"UnknownParamTypo", "fore=\"unknown:132\"", Nodes{"-"}},
        ForwardedCase{"DuplicateParam", "proto=http;proto=http", std::nullopt},
        ForwardedCase{"LoneQuote", "\"", std::nullopt},
        ForwardedCase{"UnquotedV6", "by=[::1]", std::nullopt},
        ForwardedCase{"UnquotedPort", "for=1.2.3.4:80", std::nullopt},
        ForwardedCase{"Unterminated", "for=\"1.2.3.4, for=5.6.7.8", std::nullopt},
        ForwardedCase{"MissingValue", "for=", std::nullopt},
        ForwardedCase{"MissingEquals", "for", std::nullopt},
        ForwardedCase{"ControlInQuotes", std::string("for=\"1.2\x01\"", 10), std::nullopt},
        ForwardedCase{"GarbageAfter", "for=1.1.1.1 x", std::nullopt}),
    [](const testing::TestParamInfo<ForwardedCase>& info) { return info.param.name; });

TEST(ForwardedParseTest, AllParameters) {
  auto got = ParseForwarded("for=\"[::1]:10\";BY=_hidden;Host=\"example.com:8080\";proto=https");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].for_node, "[::1]:10");
  EXPECT_EQ((*got)[0].by, "_hidden");
  EXPECT_EQ((*got)[0].host, "example.com:8080");
  EXPECT_EQ((*got)[0].proto, "https");
}

class ForwardedNodeTest : public testing::TestWithParam<EntryCase> {};

TEST_P(ForwardedNodeTest, Parses) {
  ExpectEntry(ParseForwardedNode(GetParam().entry), GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ForwardedNodeTest,
    testing::Values(EntryCase{"V4", "192.0.2.60", "192.0.2.60:0"},
                    EntryCase{"V4Port", "192.0.2.60:4711", "192.0.2.60:4711"},
                    EntryCase{"V6", "[2001:db8:cafe::17]", "[2001:db8:cafe::17]:0"},
                    EntryCase{"V6Port", "[2001:db8:cafe::17]:4711", "[2001:db8:cafe::17]:4711"},
                    EntryCase{"ObfuscatedPort", "[::1]:_id", "[::1]:0"},
                    EntryCase{"Mapped", "[::ffff:10.0.0.1]", "10.0.0.1:0"},
                    EntryCase{"UnbracketedV6", "2001:db8::1", std::nullopt},
                    EntryCase{"Unknown", "unknown", std::nullopt},
                    EntryCase{"UnknownPort", "unknown:132", std::nullopt},
                    EntryCase{"ObfuscatedNode", "_gazonk", std::nullopt},
                    EntryCase{"EmptyPort", "[::1]:", std::nullopt},
                    EntryCase{"PortZero", "1.2.3.4:0", std::nullopt},
                    EntryCase{"PortTooBig", "1.2.3.4:65536", std::nullopt},
                    EntryCase{"PortSixDigits", "1.2.3.4:000080", std::nullopt},
                    EntryCase{"BadObfuscatedPort", "1.2.3.4:_", std::nullopt},
                    EntryCase{"V4InBrackets", "[1.2.3.4]", std::nullopt},
                    EntryCase{"LeadingZero", "01.2.3.4", std::nullopt}),
    [](const testing::TestParamInfo<EntryCase>& info) { return info.param.name; });

TEST(ForwardedWalkTest, WalksForNodesRightToLeftAcrossLines) {
  auto trusted = Trusted({"10.0.0.0/8"});
  std::vector<std::string_view> lines = {"for=192.0.2.43", "for=10.0.0.7;proto=https"};
  HopList hops;
  WalkResult r = WalkForwarded(lines, *trusted, true, Peer("10.0.0.1"), &hops);
  EXPECT_TRUE(r.replaced);
  EXPECT_EQ(r.client.ToString(), "192.0.2.43:0");
  ASSERT_EQ(hops.size(), 2u);
  EXPECT_EQ(hops[0].HostToString(), "10.0.0.7");

  r = WalkForwarded(lines, *trusted, false, Peer("10.0.0.1"), nullptr);
  EXPECT_EQ(r.client.ToString(), "10.0.0.7:0");

  std::vector<std::string_view> v6 = {"for=\"[2001:db8:cafe::17]:4711\""};
  r = WalkForwarded(v6, *trusted, false, Peer("10.0.0.1"), nullptr);
  EXPECT_EQ(r.client.ToString(), "[2001:db8:cafe::17]:4711");
}

TEST(ForwardedWalkTest, StopsAtUnusableNodes) {
  auto trusted = Trusted({"10.0.0.0/8"});
  struct Case {
    const char* name;
    std::vector<std::string_view> lines;
    const char* peer;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"Unknown", {"for=1.1.1.1, for=unknown, for=10.0.0.2"}, "10.0.0.1", "10.0.0.2:0"},
           {"Obfuscated", {"for=1.1.1.1, for=_hidden"}, "10.0.0.1", "10.0.0.1:40000"},
           {"NoFor", {"for=1.1.1.1, proto=http"}, "10.0.0.1", "10.0.0.1:40000"},
           {"MalformedLine", {"for=1.1.1.1", "for=\"10.0.0.2"}, "10.0.0.1", "10.0.0.1:40000"},
           {"MalformedEarlierLine", {"for=\"1.1.1.1", "for=10.0.0.2"}, "10.0.0.1", "10.0.0.2:0"},
           {"UntrustedPeer", {"for=1.1.1.1"}, "192.0.2.1", "192.0.2.1:40000"}}) {
    WalkResult r = WalkForwarded(c.lines, *trusted, true, Peer(c.peer), nullptr);
    EXPECT_EQ(r.client.ToString(), c.want) << c.name;
  }
}

}  // namespace
}  // namespace realip::realip
