#include "proxy/net/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <iterator>
#include <random>
#include <string>

#include "absl/hash/hash_testing.h"

namespace realip::net {
namespace {

struct ParseCase {
  const char* name;
  std::string text;
  std::optional<std::string> formatted;  // nullopt: rejected
};

class IpAddressParseTest : public testing::TestWithParam<ParseCase> {};

TEST_P(IpAddressParseTest, ParsesAndFormats) {
  const ParseCase& c = GetParam();
  std::optional<IpAddress> ip = IpAddress::Parse(c.text);
  ASSERT_EQ(ip.has_value(), c.formatted.has_value()) << c.text;
  if (ip) {
    EXPECT_EQ(ip->ToString(), *c.formatted);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IpAddressParseTest,
    testing::Values(
        ParseCase{"V4", "192.0.2.1", "192.0.2.1"},
        ParseCase{"V4Zero", "0.0.0.0", "0.0.0.0"},
        ParseCase{"V4Max", "255.255.255.255", "255.255.255.255"},
        ParseCase{"V4LeadingZero", "01.2.3.4", std::nullopt},
        ParseCase{"V4LeadingZeroLast", "1.2.3.04", std::nullopt},
        ParseCase{"V4EmptyOctet", "1..1.1", std::nullopt},
        ParseCase{"V4ThreeOctets", "1.1.1", std::nullopt},
        ParseCase{"V4FiveOctets", "1.1.1.1.1", std::nullopt},
        ParseCase{"V4TrailingDot", "1.1.1.1.", std::nullopt},
        ParseCase{"V4LeadingDot", ".1.1.1.1", std::nullopt},
        ParseCase{"V4OutOfRange", "256.1.1.1", std::nullopt},
        ParseCase{"V4Huge", "1.1.1.99999999999", std::nullopt},
        ParseCase{"V4Space", " 1.1.1.1", std::nullopt},
        ParseCase{"V4Hex", "0x1.1.1.1", std::nullopt},
        ParseCase{"V4Sign", "+1.1.1.1", std::nullopt},
        ParseCase{"Empty", "", std::nullopt},
        ParseCase{"V6Loopback", "::1", "::1"},
        ParseCase{"V6Any", "::", "::"},
        ParseCase{"V6Doc", "2001:DB8::1", "2001:db8::1"},
        ParseCase{"V6Full", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        // RFC 5952 section 4.2.2: a single zero group is not compressed.
        ParseCase{"V6SingleZero", "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
        // Section 4.2.3: the longest run; the first one on a tie.
        ParseCase{"V6LongestRun", "2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
        ParseCase{"V6TieFirst", "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
        ParseCase{"V6TrailingRun", "1:0:0:0:0:0:0:0", "1::"},
        ParseCase{"V6NoZero", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
        ParseCase{"V6Embedded", "64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
        ParseCase{"V6Compat", "::1.2.3.4", "::102:304"},
        ParseCase{"V6Mapped", "::ffff:1.2.3.4", "1.2.3.4"},
        ParseCase{"V6MappedHex", "::FFFF:c000:0201", "192.0.2.1"},
        ParseCase{"V6MappedLong", "0:0:0:0:0:ffff:10.0.0.1", "10.0.0.1"},
        ParseCase{"V6Zone", "fe80::1%eth0", std::nullopt},
        ParseCase{"V6TwoDoubleColons", "1::2:3::4", std::nullopt},
        ParseCase{"V6TripleColon", ":::1", std::nullopt},
        ParseCase{"V6LeadingSingleColon", ":1::2", std::nullopt},
        ParseCase{"V6TrailingSingleColon", "1::2:", std::nullopt},
        ParseCase{"V6FiveHex", "12345::1", std::nullopt},
        ParseCase{"V6NineGroups", "1:2:3:4:5:6:7:8:9", std::nullopt},
        ParseCase{"V6SevenGroups", "1:2:3:4:5:6:7", std::nullopt},
        ParseCase{"V6DoubleColonForNothing", "1:2:3:4:5:6:7::8", std::nullopt},
        ParseCase{"V6DoubleColonAtEndOfSeven", "1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
        ParseCase{"V6Brackets", "[::1]", std::nullopt},
        ParseCase{"V6EmbeddedLeadingZero", "::ffff:01.2.3.4", std::nullopt},
        ParseCase{"V6EmbeddedNotLast", "::1.2.3.4:1", std::nullopt},
        ParseCase{"V6EmbeddedTooLate", "1:2:3:4:5:6:7:1.2.3.4", std::nullopt},
        ParseCase{"V6EmbeddedFull", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
        ParseCase{"V6Garbage", "g::1", std::nullopt}),
    [](const testing::TestParamInfo<ParseCase>& info) { return info.param.name; });

TEST(IpAddressTest, DefaultIsV4Zero) {
  IpAddress a;
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.ToString(), "0.0.0.0");
  EXPECT_EQ(a.Bytes(), std::string(4, '\0'));
}

TEST(IpAddressTest, FamilySpecificParsers) {
  EXPECT_TRUE(IpAddress::ParseV4("1.2.3.4"));
  EXPECT_FALSE(IpAddress::ParseV4("::1"));
  EXPECT_FALSE(IpAddress::ParseV4("::ffff:1.2.3.4"));
  EXPECT_FALSE(IpAddress::ParseV6("1.2.3.4"));
  std::optional<IpAddress> mapped = IpAddress::ParseV6("::ffff:1.2.3.4");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->is_v4());
}

TEST(IpAddressTest, FromV4AndBytes) {
  IpAddress a = IpAddress::FromV4(0x7f000001);
  EXPECT_EQ(a.ToString(), "127.0.0.1");
  EXPECT_EQ(a.v4_host_order(), 0x7f000001u);
  EXPECT_EQ(a.Bytes(), std::string("\x7f\x00\x00\x01", 4));
  EXPECT_EQ(IpAddress::FromBytes(a.Bytes()), a);
  EXPECT_FALSE(IpAddress::FromBytes("abc"));
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  IpAddress b = IpAddress::FromV6Bytes(v6);
  EXPECT_TRUE(b.is_v6());
  EXPECT_EQ(b.ToString(), "2001:db8::1");
  EXPECT_EQ(b.Bytes().size(), 16u);
  EXPECT_EQ(IpAddress::FromBytes(b.Bytes()), b);
}

TEST(IpAddressTest, MappedIsNormalizedEverywhere) {
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
  IpAddress a = IpAddress::FromV6Bytes(mapped);
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a, *IpAddress::Parse("10.0.0.1"));
  EXPECT_EQ(a, *IpAddress::Parse("::ffff:10.0.0.1"));
  std::array<uint8_t, 16> back = a.ToV6Bytes();
  EXPECT_EQ(std::string(back.begin(), back.end()), std::string(mapped, mapped + 16));
}

TEST(IpAddressTest, OrderingAndHashing) {
  IpAddress v4a = *IpAddress::Parse("1.2.3.4"), v4b = *IpAddress::Parse("1.2.3.5");
  IpAddress v6 = *IpAddress::Parse("::1");
  EXPECT_LT(v4a, v4b);
  EXPECT_LT(v4b, v6);  // IPv4 before IPv6
  EXPECT_NE(v4a, v6);
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly(
      {IpAddress(), v4a, v4b, v6, *IpAddress::Parse("::"), *IpAddress::Parse("2001:db8::")}));
}

// Differential test against the C library: same acceptance as inet_pton, same bytes, and
// the same text as inet_ntop wherever inet_ntop follows RFC 5952 (it prints IPv4-compatible
// addresses in dotted form, which RFC 5952 does not ask for).
TEST(IpAddressTest, MatchesInetPtonOnGeneratedInputs) {
  std::mt19937 rng(42);
  const std::string alphabet = "0123456789abcdefABCDEF:.%[] x";
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    size_t len = rng() % 20;
    for (size_t j = 0; j < len; ++j) s.push_back(alphabet[rng() % alphabet.size()]);
    unsigned char buf[16];
    const bool want4 = inet_pton(AF_INET, s.c_str(), buf) == 1;
    const bool want6 = inet_pton(AF_INET6, s.c_str(), buf) == 1;
    std::optional<IpAddress> got = IpAddress::Parse(s);
    ASSERT_EQ(got.has_value(), want4 || want6) << "\"" << s << "\"";
    if (!got) continue;
    ++accepted;
    if (want4) {
      EXPECT_EQ(got->Bytes(), std::string(reinterpret_cast<char*>(buf), 4)) << s;
    } else {
      EXPECT_EQ(IpAddress::FromV6Bytes(buf), *got) << s;
    }
  }
  EXPECT_GT(accepted, 100);
}

// The dotted-quad parser as it was before the octet-at-a-time rewrite, kept as the reference:
// the rewrite must accept and reject exactly the same texts.
std::optional<std::array<uint8_t, 4>> ReferenceParseV4(std::string_view s) {
  std::array<uint8_t, 4> out{};
  int octets = 0;
  bool saw_digit = false;
  unsigned value = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      if (saw_digit && value == 0) return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
      if (value > 255) return std::nullopt;
      if (!saw_digit) {
        if (++octets > 4) return std::nullopt;
        saw_digit = true;
      }
    } else if (c == '.' && saw_digit) {
      if (octets == 4) return std::nullopt;
      out[static_cast<size_t>(octets - 1)] = static_cast<uint8_t>(value);
      value = 0;
      saw_digit = false;
    } else {
      return std::nullopt;
    }
  }
  if (octets < 4 || !saw_digit) return std::nullopt;
  out[3] = static_cast<uint8_t>(value);
  return out;
}

void ExpectSameAsReferenceV4(std::string_view text) {
  std::optional<std::array<uint8_t, 4>> want = ReferenceParseV4(text);
  std::optional<IpAddress> got = IpAddress::ParseV4(text);
  ASSERT_EQ(got.has_value(), want.has_value()) << "\"" << text << "\"";
  if (got) {
    ASSERT_EQ(got->Bytes(), std::string_view(reinterpret_cast<const char*>(want->data()), 4))
        << text;
  }
  // Parse agrees for texts without ':'; with a ':' it is IPv6's business.
  if (text.find(':') == std::string_view::npos) {
    ASSERT_EQ(IpAddress::Parse(text), got) << text;
  }
}

// Every text of up to eight bytes over some digits and dots: valid quads, leading zeros,
// out-of-range octets (259, 299) and empty octets at every position.
TEST(IpAddressTest, ParseV4MatchesReferenceOnAllShortTexts) {
  const std::string alphabet = "01259.";
  std::string s;
  std::function<void(size_t)> rec = [&](size_t left) {
    ExpectSameAsReferenceV4(s);
    if (left == 0) return;
    for (char c : alphabet) {
      s.push_back(c);
      rec(left - 1);
      s.pop_back();
    }
  };
  rec(8);
}

// Texts made of octet-like tokens (leading zeros, out of range, empty, long) and separators,
// each whole, every prefix and every suffix of it.
TEST(IpAddressTest, ParseV4MatchesReferenceOnOctetTokens) {
  const std::string tokens[] = {"0",   "1",   "9",     "10",  "99",   "100",  "199",    "200",
                                "249", "250", "255",   "256", "259",  "260",  "300",    "999",
                                "00",  "01",  "000",   "010", "0255", "1000", "2555",   "",
                                ".",   " ",   "1.2.3", "x",   "+1",   "-1",   "::ffff:"};
  std::mt19937 rng(3);
  for (int i = 0; i < 100000; ++i) {
    std::string s;
    const int parts = 1 + static_cast<int>(rng() % 6);
    for (int j = 0; j < parts; ++j) {
      if (j > 0) s.push_back(rng() % 8 == 0 ? ',' : '.');
      s += tokens[rng() % std::size(tokens)];
    }
    ExpectSameAsReferenceV4(s);
    for (size_t k = 0; k < s.size(); ++k) {
      ExpectSameAsReferenceV4(std::string_view(s).substr(0, k));
      ExpectSameAsReferenceV4(std::string_view(s).substr(k));
    }
  }
}

// Every value of every octet, and random addresses, against inet_ntop; text that parses back.
TEST(IpAddressTest, FormatsDottedQuadsLikeInetNtop) {
  std::mt19937 rng(5);
  auto check = [](uint32_t v) {
    IpAddress a = IpAddress::FromV4(v);
    const uint32_t net = htonl(v);
    char want[INET_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET, &net, want, sizeof(want)), nullptr);
    ASSERT_EQ(a.ToString(), want);
    std::string appended = "x";
    a.AppendTo(&appended);
    ASSERT_EQ(appended.front(), 'x');
    ASSERT_EQ(appended.substr(1), want);
    char buf[IpAddress::kMaxStringLength];
    ASSERT_EQ(std::string_view(buf, a.Format(buf)), want);
    ASSERT_EQ(IpAddress::Parse(want), a);
  };
  for (int shift = 0; shift < 32; shift += 8) {
    for (uint32_t octet = 0; octet < 256; ++octet) {
      check(octet << shift);
      check((octet << shift) | (static_cast<uint32_t>(rng()) & ~(uint32_t{0xff} << shift)));
    }
  }
  for (int i = 0; i < 100000; ++i) check(static_cast<uint32_t>(rng()));
  check(0xffffffff);
}

TEST(IpAddressTest, FormatsLikeInetNtopForRandomV6) {
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint8_t b[16];
    for (uint8_t& x : b) {
      // Plenty of zero groups so that run compression is exercised.
      x = (rng() % 3 == 0) ? static_cast<uint8_t>(rng()) : 0;
    }
    IpAddress a = IpAddress::FromV6Bytes(b);
    if (a.is_v4()) continue;
    char want[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, b, want, sizeof(want)), nullptr);
    std::string got = a.ToString();
    if (std::string(want).find('.') != std::string::npos) continue;  // IPv4-compatible form
    EXPECT_EQ(got, want);
    EXPECT_EQ(IpAddress::Parse(got), a);
  }
}

}  // namespace
}  // namespace realip::net
