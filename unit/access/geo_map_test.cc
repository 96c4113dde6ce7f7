#include "proxy/access/geo_map.h"

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proxy/base/status.h"

namespace realip::access {
namespace {

using ::testing::ElementsAre;

net::IpAddress Ip(std::string_view text) {
  std::optional<net::IpAddress> ip = net::IpAddress::Parse(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return ip.value_or(net::IpAddress());
}

// How a parse run splits its input: whole, one byte at a time, or in two at `offset`.
struct Split {
  std::string name;
  size_t offset;  // SIZE_MAX: whole; 0: byte by byte
};

absl::Status FeedSplit(GeoTextParser& parser, std::string_view text, size_t split) {
  if (split == SIZE_MAX) {
    REALIP_RETURN_IF_ERROR(parser.Feed(text));
  } else if (split == 0) {
    for (char c : text) REALIP_RETURN_IF_ERROR(parser.Feed(std::string_view(&c, 1)));
  } else {
    REALIP_RETURN_IF_ERROR(parser.Feed(text.substr(0, split)));
    REALIP_RETURN_IF_ERROR(parser.Feed(text.substr(split)));
  }
  return parser.Finish();
}

// Every way of splitting `text` that the parser must treat alike.
std::vector<size_t> AllSplits(std::string_view text) {
  std::vector<size_t> splits = {SIZE_MAX, 0};
  for (size_t i = 1; i < text.size(); ++i) splits.push_back(i);
  return splits;
}

struct ParseCase {
  std::string name;
  std::string text;
  std::vector<std::pair<std::string_view, std::string_view>> lookups;  // address -> value
  std::string error;  // empty: success
};

class GeoParseTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(GeoParseTest, SameResultForEverySplit) {
  const ParseCase& c = GetParam();
  for (size_t split : AllSplits(c.text)) {
    GeoMapBuilder builder;
    GeoTextParser parser(&builder, "geo.conf");
    const absl::Status status = FeedSplit(parser, c.text, split);
    if (!c.error.empty()) {
      EXPECT_EQ(status.message(), c.error) << "split " << split;
      continue;
    }
    ASSERT_TRUE(status.ok()) << status << " split " << split;
    std::shared_ptr<const GeoMap> map = builder.Build();
    for (const auto& [address, want] : c.lookups) {
      EXPECT_EQ(map->Lookup(Ip(address)), want) << address << " split " << split;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GeoParseTest,
    ::testing::Values(
        ParseCase{"Empty", "", {{"192.0.2.1", ""}, {"2001:db8::1", ""}}, ""},
        ParseCase{"DefaultOnly", "default ZZ;\n", {{"192.0.2.1", "ZZ"}, {"::1", "ZZ"}}, ""},
        ParseCase{"LongestPrefixV4",
                  "default XX;\n10.0.0.0/8 A;\n10.1.0.0/16 B;\n10.1.2.0/24 C;\n10.1.2.3 D;\n",
                  {{"10.9.9.9", "A"},
                   {"10.1.9.9", "B"},
                   {"10.1.2.9", "C"},
                   {"10.1.2.3", "D"},
                   {"11.0.0.0", "XX"}},
                  ""},
        ParseCase{"OrderDoesNotMatterForLongestPrefix",
                  "10.1.2.0/24 C; 10.0.0.0/8 A;",
                  {{"10.1.2.200", "C"}, {"10.2.0.0", "A"}, {"12.0.0.1", ""}},
                  ""},
        ParseCase{"LongestPrefixV6",
                  "2001:db8::/32 doc;\n2001:db8:1::/48 site;\n::1 lo;\n",
                  {{"2001:db8:ffff::1", "doc"},
                   {"2001:db8:1:2::3", "site"},
                   {"::1", "lo"},
                   {"::2", ""},
                   {"2001:db9::", ""}},
                  ""},
        ParseCase{"FamiliesAreSeparate",
                  "0.0.0.0/0 v4any;\n::/0 v6any;\n",
                  {{"8.8.8.8", "v4any"}, {"2001:db8::8", "v6any"}},
                  ""},
        ParseCase{"MappedAddressUsesV4Networks",
                  "192.0.2.0/24 doc4;\n::/0 v6any;\n::ffff:198.51.100.0/120 mapped;\n",
                  {{"::ffff:192.0.2.5", "doc4"}, {"198.51.100.7", "mapped"}},
                  ""},
        ParseCase{"HostBitsCleared", "192.0.2.77/24 net;", {{"192.0.2.1", "net"}}, ""},
        ParseCase{"LaterDuplicateWins", "10.0.0.0/8 a;\n10.0.0.0/8 b;\n", {{"10.0.0.1", "b"}},
                  ""},
        ParseCase{"DeleteFallsBackToShorterPrefix",
                  "10.0.0.0/8 A;\n10.1.0.0/16 B;\ndelete 10.1.0.0/16;\n",
                  {{"10.1.0.1", "A"}},
                  ""},
        ParseCase{"DeleteThenAddAgain",
                  "10.1.0.0/16 B;\ndelete 10.1.0.0/16;\n10.1.0.0/16 C;\n",
                  {{"10.1.0.1", "C"}},
                  ""},
        ParseCase{"CommentsAndBlankLines",
                  "# regions\n\n  10.0.0.0/8   A ; # trailing\n#10.1.0.0/16 B;\n",
                  {{"10.1.0.1", "A"}},
                  ""},
        ParseCase{"HashInsideWord", "10.0.0.0/8 a#b;", {{"10.0.0.1", "a#b"}}, ""},
        ParseCase{"QuotedValues",
                  "10.0.0.0/8 \"two words\";\n11.0.0.0/8 'it\\'s';\n12.0.0.0/8 \"a\\\"b\";\n"
                  "13.0.0.0/8 \"\";\ndefault 'tab\\there';\n",
                  {{"10.0.0.1", "two words"},
                   {"11.0.0.1", "it's"},
                   {"12.0.0.1", "a\"b"},
                   {"13.0.0.1", ""},
                   {"14.0.0.1", "tab\there"}},
                  ""},
        ParseCase{"StatementAcrossLines", "10.0.0.0/8\n  A\n;", {{"10.0.0.1", "A"}}, ""},
        ParseCase{"CrLfLines", "10.0.0.0/8 A;\r\n11.0.0.0/8 B;\r\n", {{"11.0.0.1", "B"}}, ""},
        ParseCase{"BadNetwork", "10.0.0.0/8 A;\n\n10.0.0.300/8 B;\n", {},
                  "invalid network \"10.0.0.300/8\" in geo.conf:3"},
        ParseCase{"BadDelete", "delete nowhere;", {}, "invalid network \"nowhere\" in geo.conf:1"},
        ParseCase{"TooManyWords", "10.0.0.0/8 A B;", {},
                  "invalid number of the geo parameters in geo.conf:1"},
        ParseCase{"OneWord", "\n10.0.0.0/8;", {},
                  "invalid number of the geo parameters in geo.conf:2"},
        ParseCase{"Ranges", "ranges;", {}, "\"ranges\" is not supported in geo in geo.conf:1"},
        ParseCase{"Proxy", "proxy 10.0.0.0/8;", {},
                  "\"proxy\" is not supported in geo in geo.conf:1"},
        ParseCase{"EmptyStatement", "10.0.0.0/8 A;;", {}, "unexpected \";\" in geo.conf:1"},
        ParseCase{"BlockOpen", "10.0.0.0/8 {", {}, "unexpected \"{\" in geo.conf:1"},
        ParseCase{"BlockCloseInWord", "10.0.0.0/8 a}", {}, "unexpected \"}\" in geo.conf:1"},
        ParseCase{"MissingSemicolon", "10.0.0.0/8 A;\n11.0.0.0/8 B\n", {},
                  "unexpected end of file, expecting \";\" in geo.conf:3"},
        ParseCase{"UnterminatedQuote", "10.0.0.0/8 \"A;\n", {},
                  "unexpected end of file, unterminated quoted string in geo.conf:2"},
        ParseCase{"TextAfterQuote", "10.0.0.0/8 \"A\"B;", {}, "unexpected \"B\" in geo.conf:1"},
        ParseCase{"IncludeWithoutLoader", "include more.conf;", {},
                  "\"include\" is not allowed here in geo.conf:1"}),
    [](const auto& info) { return info.param.name; });

TEST(GeoMapTest, IncludeReadsFilesThroughLoader) {
  const std::map<std::string, std::string, std::less<>> files = {
      {"eu.conf", "# Europe\n192.0.2.0/24 eu;\ninclude nested.conf;\n"},
      {"nested.conf", "192.0.2.128/25 eu-west;\n"},
      {"broken.conf", "\n\n192.0.2.0/24;\n"},
      {"loop.conf", "include loop.conf;\n"},
  };
  const GeoIncludeLoader loader = [&files](std::string_view path) -> absl::StatusOr<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return absl::NotFoundError("no such file or directory");
    return it->second;
  };

  GeoMapBuilder builder;
  ASSERT_TRUE(ParseGeoText("default none;\ninclude eu.conf;\n198.51.100.0/24 us;\n", "main.conf",
                           &builder, loader)
                  .ok());
  std::shared_ptr<const GeoMap> map = builder.Build();
  EXPECT_EQ(map->Lookup(Ip("192.0.2.1")), "eu");
  EXPECT_EQ(map->Lookup(Ip("192.0.2.200")), "eu-west");
  EXPECT_EQ(map->Lookup(Ip("198.51.100.1")), "us");
  EXPECT_EQ(map->Lookup(Ip("203.0.113.1")), "none");

  GeoMapBuilder b2;
  EXPECT_EQ(ParseGeoText("include broken.conf;", "main.conf", &b2, loader).message(),
            "invalid number of the geo parameters in broken.conf:3");
  EXPECT_EQ(ParseGeoText("\ninclude missing.conf;", "main.conf", &b2, loader).message(),
            "include \"missing.conf\": no such file or directory in main.conf:2");
  EXPECT_EQ(ParseGeoText("include loop.conf;", "main.conf", &b2, loader).message(),
            "includes nested too deeply at \"loop.conf\" in loop.conf:1");
}

TEST(GeoMapTest, WarnsLikeNginxOnDuplicatesAndMissingDeletes) {
  GeoMapBuilder builder;
  ASSERT_TRUE(
      ParseGeoText("10.0.0.0/8 a;\n10.0.0.0/8 b;\ndelete 11.0.0.0/8;\n", "g", &builder).ok());
  EXPECT_THAT(builder.warnings(),
              ElementsAre("duplicate network \"10.0.0.0/8\", value: \"b\", old value: \"a\"",
                          "no network \"11.0.0.0/8\" to delete"));
  EXPECT_EQ(builder.Build()->networks(), 1u);
}

TEST(GeoMapTest, ApplyStatementTakesPreTokenizedWords) {
  GeoMapBuilder builder;
  const std::vector<std::string_view> def = {"default", "x"};
  const std::vector<std::string_view> net = {"2001:db8::/32", "doc"};
  const std::vector<std::string_view> inc = {"include", "f"};
  ASSERT_TRUE(builder.ApplyStatement(def).ok());
  ASSERT_TRUE(builder.ApplyStatement(net).ok());
  EXPECT_EQ(builder.ApplyStatement(inc).message(), "\"include\" is not allowed here");
  std::shared_ptr<const GeoMap> map = builder.Build();
  EXPECT_EQ(map->Lookup(Ip("2001:db8::1")), "doc");
  EXPECT_EQ(map->Lookup(Ip("192.0.2.1")), "x");
}

TEST(GeoMapTest, UnixPeersAndUnparsableTextUseAllOnes) {
  GeoMapBuilder builder;
  ASSERT_TRUE(ParseGeoText("default d; 255.255.255.255 none; 10.0.0.0/8 ten;", "g", &builder)
                  .ok());
  std::shared_ptr<const GeoMap> map = builder.Build();
  EXPECT_EQ(map->Lookup(net::SocketAddress{{}, 0, true}), "none");
  EXPECT_EQ(map->Lookup(net::SocketAddress{Ip("10.1.1.1"), 80, false}), "ten");
  EXPECT_EQ(map->LookupText("10.2.3.4"), "ten");
  EXPECT_EQ(map->LookupText("not an address"), "none");
  EXPECT_EQ(map->LookupText("2001:db8::1"), "d");
}

TEST(GeoMapTest, DeleteDefaultRestoresEmptyValue) {
  GeoMapBuilder builder;
  ASSERT_TRUE(ParseGeoText("0.0.0.0/0 any; delete 0.0.0.0/0;", "g", &builder).ok());
  EXPECT_EQ(builder.Build()->Lookup(Ip("1.2.3.4")), "");
}

TEST(GeoMapTest, BuildLeavesBuilderEmpty) {
  GeoMapBuilder builder;
  ASSERT_TRUE(ParseGeoText("10.0.0.0/8 a;", "g", &builder).ok());
  std::shared_ptr<const GeoMap> first = builder.Build();
  std::shared_ptr<const GeoMap> second = builder.Build();
  EXPECT_EQ(first->Lookup(Ip("10.0.0.1")), "a");
  EXPECT_EQ(second->Lookup(Ip("10.0.0.1")), "");
  EXPECT_EQ(second->networks(), 0u);
}

// A geo file of 100,000 networks (90,000 IPv4 /24s and 10,000 IPv6 /48s, 250 distinct values)
// loads, and each network answers with its value. The load time is printed, not asserted.
TEST(GeoMapTest, LoadsAHundredThousandLineFile) {
  std::string text = "default unknown;\n";
  text.reserve(3 << 20);
  for (uint32_t i = 0; i < 90000; ++i) {
    absl::StrAppend(&text, (i >> 16) + 1, ".", (i >> 8) & 0xff, ".", i & 0xff, ".0/24 r",
                    i % 250, ";\n");
  }
  for (uint32_t i = 0; i < 10000; ++i) {
    absl::StrAppend(&text, "2001:db8:", absl::Hex(i), "::/48 r", i % 250, ";\n");
  }

  const auto start = std::chrono::steady_clock::now();
  GeoMapBuilder builder;
  ASSERT_TRUE(ParseGeoText(text, "big.conf", &builder).ok());
  std::shared_ptr<const GeoMap> map = builder.Build();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  std::printf("geo: loaded 100000 networks (%zu bytes) in %.1f ms\n", text.size(),
              std::chrono::duration<double, std::milli>(elapsed).count());

  EXPECT_EQ(map->networks(), 100000u);
  for (uint32_t i = 0; i < 90000; i += 997) {
    const net::IpAddress inside = net::IpAddress::FromV4(((i >> 16) + 1) << 24 |
                                                         ((i >> 8) & 0xff) << 16 |
                                                         (i & 0xff) << 8 | 0x7f);
    EXPECT_EQ(map->Lookup(inside), absl::StrCat("r", i % 250)) << inside.ToString();
  }
  EXPECT_EQ(map->Lookup(Ip("2001:db8:2a::1")), absl::StrCat("r", 0x2a % 250));
  EXPECT_EQ(map->Lookup(Ip("2001:db8:ffff::1")), "unknown");
  EXPECT_EQ(map->Lookup(Ip("200.0.0.1")), "unknown");
}

}  // namespace
}  // namespace realip::access
