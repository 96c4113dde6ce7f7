#include "proxy/upstream/balancer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "unit/upstream/test_peers.h"

namespace realip::upstream {
namespace {

using test_support::kT0;
using test_support::PeerSpec;

// Peers 10.0.0.1:80, 10.0.0.2:80, ... with the given parameters.
std::vector<PeerConfig> Peers(const std::vector<PeerSpec>& specs) {
  return test_support::MakePeers(specs,
                                 [](size_t i) { return absl::StrCat("10.0.0.", i + 1, ":80"); });
}

std::unique_ptr<Balancer> Make(BalancerKind kind, const std::vector<PeerSpec>& specs) {
  return test_support::MakeBalancer(kind, Peers(specs));
}

// `n` picks with nothing tried and nothing reported. 'a' is peer 0, '-' no peer.
std::string Sequence(Balancer& b, int n, absl::Time now = kT0, std::string_view key = "") {
  std::string out;
  for (int i = 0; i < n; ++i) {
    std::optional<PeerIndex> p = b.Pick({key, nullptr, now});
    out += p ? static_cast<char>('a' + *p) : '-';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// smooth weighted round-robin

struct SequenceCase {
  const char* name;
  std::vector<PeerSpec> peers;
  int picks;
  std::string want;
};

const SequenceCase kRoundRobinCases[] = {
    // The example in nginx's ngx_http_upstream_round_robin.c change log: { a, a, b, a, c, a, a }.
    // Real nginx 1.22 gives the same (measured while writing this test).
    {"weights_5_1_1_interleave", {{5}, {1}, {1}}, 14, "aabacaaaabacaa"},
    {"equal_weights_rotate", {{1}, {1}, {1}}, 6, "abcabc"},
    {"weights_2_1", {{2}, {1}}, 6, "abaaba"},
    {"weights_3_2", {{3}, {2}}, 10, "ababaababa"},
    {"single_peer", {{4}}, 3, "aaa"},
    {"down_peer_is_never_used", {{1}, {1, false, true}, {1}}, 6, "acacac"},
    {"backup_unused_while_a_primary_is_up", {{1}, {1, true}}, 4, "aaaa"},
    {"backup_used_when_every_primary_is_down", {{1, false, true}, {1, true}, {1, true}}, 4, "bcbc"},
    {"all_down_picks_nothing", {{1, false, true}, {1, false, true}}, 2, "--"},
};

TEST(RoundRobinTest, Sequences) {
  for (const SequenceCase& c : kRoundRobinCases) {
    std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, c.peers);
    EXPECT_EQ(Sequence(*b, c.picks), c.want) << c.name;
  }
}

TEST(RoundRobinTest, ExactProportionsOverManyCycles) {
  struct {
    const char* name;
    std::vector<PeerSpec> peers;
  } cases[] = {{"5_1_1", {{5}, {1}, {1}}},
               {"10_3_2_1", {{10}, {3}, {2}, {1}}},
               {"7_7", {{7}, {7}}},
               {"1_100", {{1}, {100}}}};
  for (const auto& c : cases) {
    std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, c.peers);
    int total_weight = 0;
    for (const PeerSpec& s : c.peers) total_weight += s.weight;
    const int cycles = 1000;
    std::string seq = Sequence(*b, total_weight * cycles);
    for (size_t i = 0; i < c.peers.size(); ++i) {
      EXPECT_EQ(std::count(seq.begin(), seq.end(), static_cast<char>('a' + i)),
                c.peers[i].weight * cycles)
          << c.name << " peer " << i;
    }
  }
}

TEST(RoundRobinTest, TriedPeersAreSkipped) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, {{1}, {1}, {1}});
  TriedPeers tried;
  std::vector<PeerIndex> got;
  for (int i = 0; i < 3; ++i) {
    std::optional<PeerIndex> p = b->Pick({"", &tried, kT0});
    ASSERT_TRUE(p.has_value());
    EXPECT_FALSE(tried.Contains(*p));
    tried.Insert(*p);
    got.push_back(*p);
  }
  EXPECT_THAT(got, ::testing::UnorderedElementsAre(0, 1, 2));
  EXPECT_EQ(tried.count(), 3u);
  EXPECT_FALSE(b->Pick({"", &tried, kT0}).has_value()) << "every peer tried: 502 at once";
}

TEST(RoundRobinTest, TriedPrimariesFallBackToBackup) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, {{1}, {1, true}});
  TriedPeers tried;
  tried.Insert(0);
  EXPECT_EQ(b->Pick({"", &tried, kT0}), std::optional<PeerIndex>(1));
}

// ---------------------------------------------------------------------------------------------
// passive health through the balancer

TEST(BalancerHealthTest, FailedPeerIsSkippedThenTriedOnceThenBack) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, {{1}, {1}});
  b->Report(0, Outcome::kFailure, kT0);
  EXPECT_FALSE(b->IsUp(0));
  EXPECT_TRUE(b->IsUp(1));
  EXPECT_EQ(Sequence(*b, 4, kT0 + absl::Seconds(5)), "bbbb");
  // fail_timeout (10 s) over: the next pick that reaches peer 0 is its trial, then it is held
  // back until the trial reports.
  absl::Time later = kT0 + absl::Seconds(10);
  std::string seq = Sequence(*b, 4, later);
  EXPECT_EQ(std::count(seq.begin(), seq.end(), 'a'), 1) << seq;
  EXPECT_EQ(b->health(0).state(), PassiveHealth::State::kTrial);
  b->Report(0, Outcome::kSuccess, later);
  EXPECT_TRUE(b->IsUp(0));
  seq = Sequence(*b, 4, later);
  EXPECT_EQ(std::count(seq.begin(), seq.end(), 'a'), 2) << seq;
}

TEST(BalancerHealthTest, EveryPeerDownPicksNothingWithEveryAlgorithm) {
  const std::string ip(4, '\x0a');
  for (BalancerKind kind :
       {BalancerKind::kRoundRobin, BalancerKind::kLeastConn, BalancerKind::kIpHash,
        BalancerKind::kHash, BalancerKind::kConsistentHash}) {
    std::unique_ptr<Balancer> b = Make(kind, {{1}, {2}, {1, true}});
    for (PeerIndex p = 0; p < 3; ++p) b->Report(p, Outcome::kFailure, kT0);
    for (PeerIndex p = 0; p < 3; ++p) EXPECT_FALSE(b->IsUp(p));
    EXPECT_EQ(Sequence(*b, 3, kT0 + absl::Seconds(1), ip), "---") << static_cast<int>(kind);
    EXPECT_NE(Sequence(*b, 1, kT0 + absl::Seconds(10), ip), "-")
        << static_cast<int>(kind) << ": a trial starts after fail_timeout";
  }
}

TEST(BalancerHealthTest, BackupTakesOverWhilePrimariesAreDown) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, {{1}, {1}, {1, true}});
  b->Report(0, Outcome::kFailure, kT0);
  b->Report(1, Outcome::kFailure, kT0);
  EXPECT_EQ(Sequence(*b, 3, kT0 + absl::Seconds(1)), "ccc");
}

TEST(BalancerHealthTest, LonePeerIsNeverMarkedDown) {
  // nginx: "If there is only a single server in a group, max_fails, fail_timeout and
  // slow_start parameters are ignored, and such a server will never be considered unavailable."
  std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, {{1}});
  for (int i = 0; i < 5; ++i) b->Report(0, Outcome::kFailure, kT0);
  EXPECT_TRUE(b->IsUp(0));
  EXPECT_EQ(Sequence(*b, 2, kT0), "aa");
  TriedPeers tried;
  tried.Insert(0);
  EXPECT_FALSE(b->Pick({"", &tried, kT0}).has_value());
}

TEST(BalancerHealthTest, MaxFailsZeroNeverMarksDown) {
  std::unique_ptr<Balancer> b =
      Make(BalancerKind::kRoundRobin, {{1, false, false, 0}, {1, false, false, 0}});
  for (int i = 0; i < 5; ++i) b->Report(0, Outcome::kFailure, kT0);
  EXPECT_TRUE(b->IsUp(0));
  EXPECT_EQ(Sequence(*b, 4, kT0), "abab");
}

TEST(BalancerHealthTest, FailureLowersEffectiveWeightWhichRecovers) {
  // weight 4, max_fails 2: a failure takes 4/2 = 2 off peer a's effective weight (nginx); a
  // stays up but loses its first turn, and one unit comes back per selection round.
  std::unique_ptr<Balancer> control =
      Make(BalancerKind::kRoundRobin, {{4, false, false, 2}, {4, false, false, 2}});
  std::unique_ptr<Balancer> b =
      Make(BalancerKind::kRoundRobin, {{4, false, false, 2}, {4, false, false, 2}});
  b->Report(0, Outcome::kFailure, kT0);
  EXPECT_TRUE(b->IsUp(0));
  EXPECT_EQ(Sequence(*control, 8), "abababab");
  EXPECT_EQ(Sequence(*b, 8), "babababa");
  std::string steady = Sequence(*b, 800);
  EXPECT_EQ(std::count(steady.begin(), steady.end(), 'a'), 400);
}

TEST(BalancerTest, AcquireReleaseCountActiveRequests) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kRoundRobin, {{1}, {1}});
  b->Acquire(1);
  b->Acquire(1);
  b->Release(1);
  EXPECT_EQ(b->active(0), 0);
  EXPECT_EQ(b->active(1), 1);
}

TEST(BalancerTest, RejectsBadPeers) {
  struct {
    const char* name;
    std::vector<PeerConfig> peers;
  } cases[] = {{"no_peers", {}},
               {"only_backups", Peers({{1, true}})},
               {"zero_weight", Peers({{0}})},
               {"negative_max_fails", Peers({{1, false, false, -1}})}};
  for (const auto& c : cases) {
    for (BalancerKind kind : {BalancerKind::kRoundRobin, BalancerKind::kConsistentHash}) {
      EXPECT_FALSE(NewBalancer(kind, c.peers).ok()) << c.name;
    }
  }
  std::vector<PeerConfig> negative_timeout = Peers({{1}});
  negative_timeout[0].fail_timeout = absl::Seconds(-1);
  EXPECT_FALSE(NewBalancer(BalancerKind::kRoundRobin, negative_timeout).ok());
}

TEST(TriedPeersTest, BeyondOneWord) {
  TriedPeers t;
  for (PeerIndex p : {0u, 63u, 64u, 200u}) t.Insert(p);
  t.Insert(64);
  EXPECT_EQ(t.count(), 4u);
  for (PeerIndex p : {0u, 63u, 64u, 200u}) EXPECT_TRUE(t.Contains(p)) << p;
  for (PeerIndex p : {1u, 62u, 65u, 199u, 201u, 100000u}) EXPECT_FALSE(t.Contains(p)) << p;
}

// ---------------------------------------------------------------------------------------------
// least_conn

TEST(LeastConnTest, PicksFewestActivePerWeight) {
  struct {
    const char* name;
    std::vector<PeerSpec> peers;
    std::vector<int> active;
    char want;
  } cases[] = {
      {"fewest_wins", {{1}, {1}, {1}}, {3, 1, 2}, 'b'},
      {"weight_scales_the_count", {{1}, {3}}, {1, 2}, 'b'},            // 1/1 > 2/3
      {"weight_scales_the_count_other_way", {{1}, {3}}, {1, 4}, 'a'},  // 1/1 < 4/3
      {"down_peer_ignored", {{1, false, true}, {1}}, {0, 5}, 'b'},
      {"backup_only_when_primaries_unavailable", {{1}, {1, true}}, {9, 0}, 'a'},
  };
  for (const auto& c : cases) {
    std::unique_ptr<Balancer> b = Make(BalancerKind::kLeastConn, c.peers);
    for (size_t i = 0; i < c.active.size(); ++i) {
      for (int k = 0; k < c.active[i]; ++k) b->Acquire(i);
    }
    std::optional<PeerIndex> p = b->Pick({"", nullptr, kT0});
    ASSERT_TRUE(p.has_value()) << c.name;
    EXPECT_EQ(static_cast<char>('a' + *p), c.want) << c.name;
  }
}

TEST(LeastConnTest, TiesGoRoundRobinByWeight) {
  // Nothing in flight: every pick is a tie among all peers, so least_conn degenerates into
  // smooth weighted round-robin, as in nginx.
  std::unique_ptr<Balancer> b = Make(BalancerKind::kLeastConn, {{5}, {1}, {1}});
  EXPECT_EQ(Sequence(*b, 7), "aabacaa");
  std::unique_ptr<Balancer> equal = Make(BalancerKind::kLeastConn, {{1}, {1}, {1}});
  EXPECT_EQ(Sequence(*equal, 6), "abcabc");
}

TEST(LeastConnTest, SlowPeerGetsFewerRequests) {
  // Peer b answers in 10 ticks, a and c in 1: with requests arriving every tick, least_conn
  // sends b only a small share while round-robin would give it a third.
  std::unique_ptr<Balancer> b = Make(BalancerKind::kLeastConn, {{1}, {1}, {1}});
  std::multimap<int, PeerIndex> finishing;  // tick -> peer
  int counts[3] = {0, 0, 0};
  for (int tick = 0; tick < 3000; ++tick) {
    for (auto it = finishing.begin(); it != finishing.end() && it->first <= tick;) {
      b->Release(it->second);
      it = finishing.erase(it);
    }
    for (int r = 0; r < 2; ++r) {
      std::optional<PeerIndex> p = b->Pick({"", nullptr, kT0});
      ASSERT_TRUE(p.has_value());
      b->Acquire(*p);
      ++counts[*p];
      finishing.emplace(tick + (*p == 1 ? 10 : 1), *p);
    }
  }
  EXPECT_LT(counts[1], 6000 / 6) << counts[0] << " " << counts[1] << " " << counts[2];
  EXPECT_NEAR(counts[0], counts[2], 6000 / 50);
}

TEST(LeastConnTest, TriedAndFailedPeersAreSkipped) {
  std::unique_ptr<Balancer> b = Make(BalancerKind::kLeastConn, {{1}, {1}, {1}});
  b->Acquire(1);
  b->Acquire(2);
  b->Report(0, Outcome::kFailure, kT0);  // the idle one is down
  TriedPeers tried;
  tried.Insert(1);
  EXPECT_EQ(b->Pick({"", &tried, kT0}), std::optional<PeerIndex>(2));
}

}  // namespace
}  // namespace realip::upstream

namespace realip::upstream {
namespace {

// ---------------------------------------------------------------------------------------------
// invariants under a random mix of picks, outcomes and time, for every algorithm

bool Usable(const Balancer& b, PeerIndex p, const TriedPeers& tried, absl::Time now, bool lone) {
  if (tried.Contains(p) || b.peer(p).down) return false;
  return lone || b.health(p).Available(now);
}

TEST(BalancerInvariantTest, RandomTrafficNeverBreaksTheRules) {
  std::mt19937 rng(20221019);  // fixed seed: the run is reproducible
  for (BalancerKind kind :
       {BalancerKind::kRoundRobin, BalancerKind::kLeastConn, BalancerKind::kIpHash,
        BalancerKind::kHash, BalancerKind::kConsistentHash}) {
    std::unique_ptr<Balancer> b =
        Make(kind, {{3}, {1, false, false, 2}, {2, false, true}, {1}, {1, true}, {2, true}});
    absl::Time now = kT0;
    std::vector<PeerIndex> in_flight;
    int backup_picks = 0;
    int no_peer = 0;
    for (int request = 0; request < 4000; ++request) {
      now += absl::Milliseconds(rng() % 700);
      std::string key = absl::StrCat("client-", rng() % 50);
      if (kind == BalancerKind::kIpHash) key = std::string(4, static_cast<char>(rng() % 50));
      TriedPeers tried;
      for (int attempt = 0; attempt < 6; ++attempt) {
        std::optional<PeerIndex> p = b->Pick({key, &tried, now});
        if (!p) {
          ++no_peer;
          for (PeerIndex q = 0; q < b->size(); ++q) {
            EXPECT_FALSE(Usable(*b, q, tried, now, false)) << "kind " << static_cast<int>(kind);
          }
          break;
        }
        EXPECT_FALSE(tried.Contains(*p));
        EXPECT_FALSE(b->peer(*p).down);
        if (b->peer(*p).backup) {
          ++backup_picks;
          for (PeerIndex q = 0; q < b->size(); ++q) {
            if (!b->peer(q).backup) {
              EXPECT_FALSE(Usable(*b, q, tried, now, false))
                  << "backup picked while primary " << q << " was usable";
            }
          }
        }
        b->Acquire(*p);
        in_flight.push_back(*p);
        tried.Insert(*p);
        // Peer 1 fails often, peer 0 sometimes, the others rarely.
        int fail_percent = *p == 1 ? 60 : (*p == 0 ? 10 : 2);
        bool failed = static_cast<int>(rng() % 100) < fail_percent;
        b->Report(*p, failed ? Outcome::kFailure : Outcome::kSuccess, now);
        if (!failed) break;
      }
      // Requests finish out of order.
      while (in_flight.size() > 3) {
        size_t victim = rng() % in_flight.size();
        b->Release(in_flight[victim]);
        in_flight.erase(in_flight.begin() + static_cast<ptrdiff_t>(victim));
      }
    }
    for (PeerIndex p : in_flight) b->Release(p);
    for (PeerIndex p = 0; p < b->size(); ++p) EXPECT_EQ(b->active(p), 0);
    // The mix reaches the interesting paths: backups in use and requests with no peer left.
    EXPECT_GT(backup_picks, 0) << "kind " << static_cast<int>(kind);
    EXPECT_GT(no_peer, 0) << "kind " << static_cast<int>(kind);
  }
}

}  // namespace
}  // namespace realip::upstream
