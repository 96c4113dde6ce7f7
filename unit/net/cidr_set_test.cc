#include "proxy/net/cidr_set.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace realip::net {
namespace {

struct CidrCase {
  const char* name;
  std::string text;
  std::optional<std::string> address;  // nullopt: rejected
  int prefix_len = 0;
};

class ParseCidrTest : public testing::TestWithParam<CidrCase> {};

TEST_P(ParseCidrTest, Parses) {
  const CidrCase& c = GetParam();
  absl::StatusOr<Cidr> got = ParseCidr(c.text);
  ASSERT_EQ(got.ok(), c.address.has_value()) << c.text << ": " << got.status();
  if (!got.ok()) {
    EXPECT_EQ(got.status().message(), "invalid CIDR \"" + c.text + "\"");
    return;
  }
  EXPECT_EQ(got->address.ToString(), *c.address);
  EXPECT_EQ(got->prefix_len, c.prefix_len);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseCidrTest,
    testing::Values(CidrCase{"V4Address", "10.0.0.1", "10.0.0.1", 32},
                    CidrCase{"V4Prefix", "10.0.0.0/8", "10.0.0.0", 8},
                    // nginx: "low address bits of 10.0.0.1/8 are meaningless" and masks them.
                    CidrCase{"V4HostBitsMasked", "10.1.2.3/8", "10.0.0.0", 8},
                    CidrCase{"V4Zero", "0.0.0.0/0", "0.0.0.0", 0},
                    CidrCase{"V4AnyHostBits", "1.2.3.4/0", "0.0.0.0", 0},
                    CidrCase{"V4Prefix32", "1.2.3.4/32", "1.2.3.4", 32},
                    CidrCase{"V4Prefix33", "1.2.3.4/33", std::nullopt},
                    CidrCase{"V4PrefixLeadingZero", "10.0.0.0/08", std::nullopt},
                    CidrCase{"V4PrefixEmpty", "10.0.0.0/", std::nullopt},
                    CidrCase{"V4PrefixNegative", "10.0.0.0/-1", std::nullopt},
                    CidrCase{"V4Lax", "010.0.0.0/8", std::nullopt},
                    CidrCase{"V6Address", "::1", "::1", 128},
                    CidrCase{"V6Prefix", "2001:db8::/32", "2001:db8::", 32},
                    CidrCase{"V6HostBits", "2001:db8:ffff::1/32", "2001:db8::", 32},
                    CidrCase{"V6Prefix128", "2001:db8::1/128", "2001:db8::1", 128},
                    CidrCase{"V6Prefix129", "2001:db8::1/129", std::nullopt},
                    CidrCase{"V6Any", "::/0", "::", 0},
                    CidrCase{"MappedPrefixBecomesV4", "::ffff:10.0.0.0/104", "10.0.0.0", 8},
                    CidrCase{"MappedAddressBecomesV4", "::ffff:10.0.0.1", "10.0.0.1", 32},
                    CidrCase{"MappedShortPrefixStaysV6", "::ffff:10.0.0.0/80", "::", 80},
                    CidrCase{"HostName", "localhost", std::nullopt},
                    CidrCase{"Empty", "", std::nullopt},
                    CidrCase{"Zone", "fe80::1%eth0/64", std::nullopt}),
    [](const testing::TestParamInfo<CidrCase>& info) { return info.param.name; });

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

TEST(CidrSetTest, EmptyMatchesNothing) {
  CidrSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.size(), 0u);
  EXPECT_FALSE(set.Contains(Ip("0.0.0.0")));
  EXPECT_FALSE(set.Contains(Ip("::")));
  SocketAddress unix_peer;
  unix_peer.is_unix = true;
  EXPECT_FALSE(set.Contains(unix_peer));
}

TEST(CidrSetTest, ErrorNamesTheEntry) {
  CidrSet set;
  absl::Status s = set.Add("10.0.0.0/40");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "invalid CIDR \"10.0.0.0/40\"");
  EXPECT_TRUE(set.empty());
}

TEST(CidrSetTest, FamiliesAndMappedAddresses) {
  CidrSet set;
  ASSERT_TRUE(set.Add("10.0.0.0/8").ok());
  ASSERT_TRUE(set.Add("2001:db8::/32").ok());
  ASSERT_TRUE(set.Add("192.0.2.7").ok());
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.Contains(Ip("10.255.255.255")));
  EXPECT_TRUE(set.Contains(Ip("::ffff:10.0.0.1")));  // mapped peer matches the IPv4 CIDR
  EXPECT_FALSE(set.Contains(Ip("11.0.0.0")));
  EXPECT_FALSE(set.Contains(Ip("9.255.255.255")));
  EXPECT_TRUE(set.Contains(Ip("192.0.2.7")));
  EXPECT_FALSE(set.Contains(Ip("192.0.2.8")));
  EXPECT_TRUE(set.Contains(Ip("2001:db8:ffff::1")));
  EXPECT_FALSE(set.Contains(Ip("2001:db9::")));
  // IPv6 prefixes never contain IPv4 addresses, whatever their bits (as nginx).
  CidrSet any6;
  ASSERT_TRUE(any6.Add("::/0").ok());
  EXPECT_TRUE(any6.Contains(Ip("2001:db8::1")));
  EXPECT_FALSE(any6.Contains(Ip("1.2.3.4")));
}

TEST(CidrSetTest, UnixEntry) {
  CidrSet set;
  SocketAddress unix_peer;
  unix_peer.is_unix = true;
  ASSERT_TRUE(set.Add("10.0.0.0/8").ok());
  EXPECT_FALSE(set.Contains(unix_peer));
  ASSERT_TRUE(set.Add("unix:").ok());
  EXPECT_TRUE(set.Contains(unix_peer));
  EXPECT_TRUE(set.Contains(SocketAddress{Ip("10.1.1.1"), 5, false}));
  EXPECT_FALSE(set.Contains(SocketAddress{Ip("11.1.1.1"), 5, false}));
}

TEST(CidrSetTest, BoundariesOfFullRanges) {
  CidrSet set;
  ASSERT_TRUE(set.Add("0.0.0.0/0").ok());
  EXPECT_TRUE(set.Contains(Ip("0.0.0.0")));
  EXPECT_TRUE(set.Contains(Ip("255.255.255.255")));
  CidrSet top;
  ASSERT_TRUE(top.Add("255.255.255.255").ok());
  ASSERT_TRUE(top.Add("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").ok());
  EXPECT_TRUE(top.Contains(Ip("255.255.255.255")));
  EXPECT_FALSE(top.Contains(Ip("255.255.255.254")));
  EXPECT_TRUE(top.Contains(Ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  ASSERT_TRUE(top.Add("::/0").ok());
  EXPECT_TRUE(top.Contains(Ip("::")));
}

// Overlapping, nested, adjacent and duplicate entries in random order against a linear scan.
TEST(CidrSetTest, MatchesLinearScanOnRandomSets) {
  std::mt19937 rng(1);
  for (int round = 0; round < 50; ++round) {
    CidrSet set;
    std::vector<std::pair<uint32_t, int>> prefixes;
    for (int i = 0; i < 200; ++i) {
      // A small address space so that entries overlap and touch.
      uint32_t addr = (rng() % 4096) << 20 | (rng() % 16);
      int len = 4 + static_cast<int>(rng() % 29);
      uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
      prefixes.emplace_back(addr & mask, len);
      set.Add(Cidr{IpAddress::FromV4(addr), len});
    }
    for (int q = 0; q < 2000; ++q) {
      uint32_t probe = (rng() % 4096) << 20 | (rng() % 64);
      if (q % 2) probe = prefixes[rng() % prefixes.size()].first + (rng() % 3) - 1;
      bool want = false;
      for (auto [a, len] : prefixes) {
        uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
        want |= (probe & mask) == a;
      }
      ASSERT_EQ(set.Contains(IpAddress::FromV4(probe)), want) << round << " " << probe;
    }
  }
}

// Sets of 0 to 20 random IPv4 and IPv6 prefixes, so that each family crosses the small-set
// limit: the linear scan, the B-tree and a naive scan of the prefixes agree on every probe.
TEST(CidrSetTest, SmallSetScanMatchesTreeAndNaiveScan) {
  using Uint128 = unsigned __int128;
  auto v6_value = [](const IpAddress& ip) {
    Uint128 v = 0;
    for (char c : ip.Bytes()) v = v << 8 | static_cast<uint8_t>(c);
    return v;
  };
  auto v6_address = [](Uint128 v) {
    uint8_t b[16];
    for (int i = 15; i >= 0; --i, v >>= 8) b[i] = static_cast<uint8_t>(v);
    return IpAddress::FromV6Bytes(b);
  };
  std::mt19937_64 rng(9);
  // Addresses from a few clusters, so that prefixes nest, overlap, touch and miss.
  auto v4_addr = [&] {
    static constexpr uint32_t kBases[] = {0x00000000, 0x0a000000, 0x7f000000, 0xc0a80000,
                                          0xfffffff0};
    return kBases[rng() % 5] + static_cast<uint32_t>(rng() % 1024) * (rng() % 2 ? 1 : 4096);
  };
  auto v6_addr = [&] {
    // 2001:db8::/32 and ::/8-ish: never the mapped block, which FromV6Bytes turns into IPv4.
    Uint128 base = rng() % 2 ? Uint128{0x20010db8} << 96 : 0;
    return base | (Uint128{rng() % 4096} << (rng() % 2 ? 0 : 100)) | (rng() % 2);
  };
  for (int round = 0; round < 200; ++round) {
    CidrSet set;
    std::vector<std::pair<uint32_t, int>> v4;
    std::vector<std::pair<Uint128, int>> v6;
    const int n = static_cast<int>(rng() % 21);
    for (int i = 0; i < n; ++i) {
      if (rng() % 2) {
        const int len = static_cast<int>(rng() % 33);
        const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
        const uint32_t a = v4_addr();
        v4.emplace_back(a & mask, len);
        set.Add(Cidr{IpAddress::FromV4(a), len});
      } else {
        const int len = static_cast<int>(rng() % 129);
        const Uint128 mask = len == 0 ? 0 : ~Uint128{0} << (128 - len);
        const Uint128 a = v6_addr();
        v6.emplace_back(a & mask, len);
        set.Add(Cidr{v6_address(a), len});
      }
      for (int q = 0; q < 100; ++q) {
        IpAddress probe;
        bool want = false;
        if (q % 2) {
          uint32_t p = v4_addr();
          if (q % 3 == 0 && !v4.empty()) p = v4[rng() % v4.size()].first + (rng() % 3) - 1;
          probe = IpAddress::FromV4(p);
          for (auto [a, len] : v4) {
            const uint32_t mask = len == 0 ? 0 : ~uint32_t{0} << (32 - len);
            want |= (p & mask) == a;
          }
        } else {
          Uint128 p = v6_addr();
          if (q % 3 == 0 && !v6.empty()) p = v6[rng() % v6.size()].first + (rng() % 3) - 1;
          probe = v6_address(p);
          if (probe.is_v4()) continue;
          p = v6_value(probe);
          for (auto [a, len] : v6) {
            const Uint128 mask = len == 0 ? 0 : ~Uint128{0} << (128 - len);
            want |= (p & mask) == a;
          }
        }
        ASSERT_EQ(set.Contains(probe), want) << round << " " << i << " " << probe.ToString();
        ASSERT_EQ(set.ContainsInTreeForTesting(probe), want) << round << " " << probe.ToString();
        ASSERT_EQ(set.Contains(SocketAddress{probe, 80, false}), want);
      }
    }
  }
}

TEST(CidrSetTest, TenThousandEntries) {
  CidrSet set;
  for (uint32_t i = 0; i < 10000; ++i) {
    // Disjoint /28s spread over 100.64.0.0/10-ish space, like a cloud provider's list.
    set.Add(Cidr{IpAddress::FromV4(0x64400000u + i * 64), 28});
  }
  EXPECT_EQ(set.size(), 10000u);
  EXPECT_TRUE(set.Contains(IpAddress::FromV4(0x64400000u + 9999 * 64 + 15)));
  EXPECT_FALSE(set.Contains(IpAddress::FromV4(0x64400000u + 9999 * 64 + 16)));
  EXPECT_FALSE(set.Contains(IpAddress::FromV4(0x64400000u - 1)));
}

}  // namespace
}  // namespace realip::net
