// ip_hash, hash KEY and hash KEY consistent. The golden strings were produced by nginx 1.22
// (Debian's nginx-light) with the same upstream blocks on 127.0.0.1:28081-28084, the client
// address set through the realip module and the key taken from a query argument; matching
// them means a client lands on the same server behind nginx and behind us.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proxy/net/ip_address.h"
#include "proxy/upstream/balancer.h"
#include "unit/upstream/test_peers.h"

namespace realip::upstream {
namespace {

using test_support::kT0;
using test_support::PeerSpec;

// Servers "127.0.0.1:28081", "127.0.0.1:28082", ... as in the nginx configuration.
std::unique_ptr<Balancer> Make(BalancerKind kind, const std::vector<PeerSpec>& servers) {
  return test_support::MakeBalancer(kind, test_support::MakePeers(servers, [](size_t i) {
                                      return absl::StrCat("127.0.0.1:", 28081 + i);
                                    }));
}

char PickChar(Balancer& b, std::string_view key, const TriedPeers* tried = nullptr) {
  std::optional<PeerIndex> p = b.Pick({key, tried, kT0});
  return p ? static_cast<char>('a' + *p) : '-';
}

std::vector<std::string> GoldenIps() {
  std::vector<std::string> ips;
  for (int i = 0; i < 256; i += 7) ips.push_back(absl::StrCat("203.0.113.", i));
  for (int i = 0; i < 30; ++i) ips.push_back(absl::StrCat("10.", i, ".", i * 3 % 256, ".1"));
  for (int i = 1; i < 40; ++i) ips.push_back(absl::StrFormat("2001:db8::%x", i));
  for (int i = 1; i < 20; ++i) ips.push_back(absl::StrFormat("2001:db8:%x::1", i));
  return ips;
}

std::vector<std::string> GoldenKeys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 120; ++i) keys.push_back(absl::StrCat("k", i));
  for (int i = 0; i < 80; ++i) keys.push_back(absl::StrCat("203.0.113.", i));
  return keys;
}

struct GoldenCase {
  const char* name;
  BalancerKind kind;
  std::vector<PeerSpec> servers;
  std::string want;  // one letter per golden IP or key
};

const GoldenCase kIpHashGolden[] = {
    {"ip_hash_weights_1_2_1",
     BalancerKind::kIpHash,
     {{1}, {2}, {1}},
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbabbcabbca"
     "bbcabbcabbcabbcabbcabbcabbcabbbababababababababab"},
    {"ip_hash_middle_down",
     BalancerKind::kIpHash,
     {{1}, {1, false, true}, {1}},
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaccacaaccaccaccaccaccacaaccacccaccaacac"
     "caccaacaacaccaccaccaacaacaccaaaacaacaccaccaccaaca"},
};

const GoldenCase kHashGolden[] = {
    {"hash_weights_1_2_3",
     BalancerKind::kHash,
     {{1}, {2}, {3}},
     "babaccacaccacabbbcccbccccabccbccccabacacbbbccbcbccbbbaacbbccbbcbccbabaccbcbb"
     "ccaccacabbbcbcabbccccbccccccababbbbccbcabcccacabcabcbcbbbabbacacacacccbabacc"
     "baacbcbcabcccbbabbcacaacccbcccbccabccbcabcccccbc"},
    {"hash_middle_down",
     BalancerKind::kHash,
     {{1}, {1, false, true}, {1}},
     "caaaacacaaaaaacccccaccaaaaacaccaccaaacaacacaacacccccaaaaccaccaccaacacaacaccc"
     "acaacacacacccaaacccaaccaaaccaaaacccccccaaacaacaccacccccccaccaaaaaaacaacacaca"
     "caaccaccaccaacaaccaaaaaaaaccaaccaaaaaccaaacccacc"},
    {"consistent_weights_1_2_1_1",
     BalancerKind::kConsistentHash,
     {{1}, {2}, {1}, {1}},
     "abdbbbddaddabbcdabbbcababbdbbbdbbcbadbbaadcabaaddacbdbcbdbdbbdcddaabdbaabbbc"
     "bbbabaddcbdbbabbccbbbdbbbdacdadacbdbbbbbabbbcbcabddbbbdaabbcabbaabcabdddbcdd"
     "caccbbddaccbadacbddbbbddbdbadddaadbbcccbccadcbbb"},
    {"consistent_third_down",
     BalancerKind::kConsistentHash,
     {{1}, {2}, {1, false, true}, {1}},
     "abdbbbddaddabbbdabbbbababbdbbbdbbabadbbaadbabaaddaabdbabdbdbbdbddaabdbaabbbd"
     "bbbabaddbbdbbabbdbbbbdbbbdabdadaabdbbbbbabbbbbbabddbbbdaabbdabbaabbabdddbadd"
     "babbbbddabbbadaabddbbbddbdbadddaadbbbbdbbbadbbbb"},
};

TEST(IpHashTest, MatchesNginx) {
  std::vector<std::string> ips = GoldenIps();
  for (const GoldenCase& c : kIpHashGolden) {
    ASSERT_EQ(c.want.size(), ips.size()) << c.name;
    std::unique_ptr<Balancer> b = Make(c.kind, c.servers);
    for (size_t i = 0; i < ips.size(); ++i) {
      std::optional<net::IpAddress> ip = net::IpAddress::Parse(ips[i]);
      ASSERT_TRUE(ip.has_value()) << ips[i];
      EXPECT_EQ(PickChar(*b, ip->Bytes()), c.want[i]) << c.name << " " << ips[i];
    }
  }
}

TEST(HashTest, MatchesNginx) {
  std::vector<std::string> keys = GoldenKeys();
  for (const GoldenCase& c : kHashGolden) {
    ASSERT_EQ(c.want.size(), keys.size()) << c.name;
    std::unique_ptr<Balancer> b = Make(c.kind, c.servers);
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(PickChar(*b, keys[i]), c.want[i]) << c.name << " " << keys[i];
    }
  }
}

TEST(IpHashTest, SameSlash24SameServerAndWholeIpv6) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kIpHash, {{1}, {1}, {1}, {1}, {1}});
  auto pick = [&](const char* text) { return PickChar(*b, net::IpAddress::Parse(text)->Bytes()); };
  for (int i = 0; i < 256; ++i) {
    EXPECT_EQ(pick(absl::StrCat("198.51.100.", i).c_str()), pick("198.51.100.1")) << i;
  }
  // A v4-mapped IPv6 client is the IPv4 client (net::IpAddress normalizes it).
  EXPECT_EQ(pick("::ffff:198.51.100.9"), pick("198.51.100.1"));
  // IPv6 hashes all 16 bytes: the last bits alone spread clients over servers.
  std::map<char, int> seen;
  for (int i = 1; i <= 64; ++i) ++seen[pick(absl::StrFormat("2001:db8::%x", i).c_str())];
  EXPECT_GT(seen.size(), 1u);
}

TEST(IpHashTest, OddKeyLengthHashesLikeNginxPseudoAddress) {
  // nginx hashes a non-IP client (Unix socket) as three zero bytes, i.e. like 0.0.0.x.
  std::unique_ptr<Balancer> b = Make(BalancerKind::kIpHash, {{1}, {1}, {1}});
  EXPECT_EQ(PickChar(*b, ""), PickChar(*b, net::IpAddress::Parse("0.0.0.7")->Bytes()));
  EXPECT_EQ(PickChar(*b, "unix:"), PickChar(*b, net::IpAddress::Parse("0.0.0.7")->Bytes()));
}

// Every hash algorithm: a retry (proxy_next_upstream) never goes to a tried peer, and after
// every peer was tried there is none.
TEST(HashTest, RetriesWalkThroughEveryPeerOnce) {
  for (BalancerKind kind :
       {BalancerKind::kIpHash, BalancerKind::kHash, BalancerKind::kConsistentHash}) {
    for (const std::string& key :
         {std::string("\xcb\x00\x71\x07", 4), std::string("k1"), std::string("203.0.113.9")}) {
      std::unique_ptr<Balancer> b = Make(kind, {{1}, {3}, {1}, {2}});
      TriedPeers tried;
      for (int attempt = 0; attempt < 4; ++attempt) {
        std::optional<PeerIndex> p = b->Pick({key, &tried, kT0});
        ASSERT_TRUE(p.has_value()) << static_cast<int>(kind) << " " << attempt;
        EXPECT_FALSE(tried.Contains(*p));
        tried.Insert(*p);
      }
      EXPECT_FALSE(b->Pick({key, &tried, kT0}).has_value());
    }
  }
}

TEST(HashTest, EmptyKeyOrSinglePeerFallsBackToRoundRobin) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kHash, {{1}, {1}});
  EXPECT_EQ(std::string() + PickChar(*b, "") + PickChar(*b, "") + PickChar(*b, ""), "aba");
  std::unique_ptr<Balancer> c = Make(BalancerKind::kConsistentHash, {{1}, {1}});
  EXPECT_EQ(std::string() + PickChar(*c, "") + PickChar(*c, "") + PickChar(*c, ""), "aba");
  std::unique_ptr<Balancer> one = Make(BalancerKind::kConsistentHash, {{1}});
  EXPECT_EQ(PickChar(*one, "x"), 'a');
}

TEST(HashTest, WeightsShapeTheShare) {
  // hash: sum % total_weight walks the weights, so shares follow them closely.
  std::unique_ptr<Balancer> b = Make(BalancerKind::kHash, {{1}, {2}, {3}});
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 12000; ++i) ++counts[PickChar(*b, absl::StrCat("client-", i)) - 'a'];
  EXPECT_NEAR(counts[0], 2000, 240);
  EXPECT_NEAR(counts[1], 4000, 240);
  EXPECT_NEAR(counts[2], 6000, 240);
}

// ---------------------------------------------------------------------------------------------
// consistent hashing: removing one of N servers moves about 1/N of the keys, and only theirs

std::unique_ptr<Balancer> MakeNamed(const std::vector<std::string>& names,
                                    const std::vector<bool>& down = {}) {
  std::vector<PeerConfig> peers;
  for (size_t i = 0; i < names.size(); ++i) {
    PeerConfig p;
    p.server = names[i];
    p.address = *net::ParseHostPort(names[i], 80);
    p.down = i < down.size() && down[i];
    peers.push_back(p);
  }
  return std::move(NewBalancer(BalancerKind::kConsistentHash, std::move(peers))).value();
}

std::string ServerOf(Balancer& b, std::string_view key) {
  std::optional<PeerIndex> p = b.Pick({key, nullptr, kT0});
  return p ? b.peer(*p).server : "-";
}

TEST(ConsistentHashTest, RemovingOneOfNMovesAboutOneNth) {
  for (size_t n : {3u, 5u, 8u}) {
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) names.push_back(absl::StrCat("10.1.0.", i + 1, ":8080"));
    std::unique_ptr<Balancer> all = MakeNamed(names);
    for (size_t removed = 0; removed < n; ++removed) {
      std::vector<std::string> rest = names;
      rest.erase(rest.begin() + static_cast<ptrdiff_t>(removed));
      std::unique_ptr<Balancer> fewer = MakeNamed(rest);
      std::vector<bool> down(n, false);
      down[removed] = true;
      std::unique_ptr<Balancer> marked = MakeNamed(names, down);
      int moved = 0;
      for (int k = 0; k < 10000; ++k) {
        std::string key = absl::StrCat("198.51.", k / 256, ".", k % 256);
        std::string before = ServerOf(*all, key);
        std::string after = ServerOf(*fewer, key);
        if (before == names[removed]) {
          ++moved;
        } else {
          EXPECT_EQ(after, before) << "a key on a surviving server moved: " << key;
        }
        // Marking the server down sends its keys exactly where removing it does.
        EXPECT_EQ(ServerOf(*marked, key), after) << key;
      }
      const double share = moved / 10000.0;
      EXPECT_NEAR(share, 1.0 / static_cast<double>(n), 0.3 / static_cast<double>(n))
          << "n=" << n << " removed=" << removed;
    }
  }
}

TEST(ConsistentHashTest, HostnamePeersGetPointsPerAddress) {
  // A headless Service "app.ns.svc:8080" resolving to four pods: each pod is its own point set,
  // so losing one pod moves only its keys (nginx would give all four one shared set).
  auto make = [](int pods, int skip) {
    std::vector<PeerConfig> peers;
    for (int i = 0; i < pods; ++i) {
      if (i == skip) continue;
      PeerConfig p;
      p.server = "app.ns.svc:8080";
      p.address = *net::ParseHostPort(absl::StrCat("10.2.0.", i + 1, ":8080"), std::nullopt);
      peers.push_back(p);
    }
    return std::move(NewBalancer(BalancerKind::kConsistentHash, std::move(peers))).value();
  };
  std::unique_ptr<Balancer> all = make(4, -1);
  std::unique_ptr<Balancer> fewer = make(4, 2);
  int moved = 0;
  for (int k = 0; k < 10000; ++k) {
    std::string key = absl::StrCat("key", k);
    std::optional<PeerIndex> a = all->Pick({key, nullptr, kT0});
    std::optional<PeerIndex> f = fewer->Pick({key, nullptr, kT0});
    ASSERT_TRUE(a && f);
    if (all->peer(*a).address != fewer->peer(*f).address) ++moved;
  }
  EXPECT_NEAR(moved / 10000.0, 0.25, 0.075);
}

}  // namespace
}  // namespace realip::upstream
