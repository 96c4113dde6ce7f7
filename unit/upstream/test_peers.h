// Peers and balancers for the upstream unit tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxy/net/socket_address.h"
#include "proxy/upstream/balancer.h"

namespace realip::upstream::test_support {

inline const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// The parameters of one `server` line.
struct PeerSpec {
  int weight = 1;
  bool backup = false;
  bool down = false;
  int max_fails = 1;
};

// Peer i is the server `name(i)` (an IP literal with port) with the parameters of specs[i].
inline std::vector<PeerConfig> MakePeers(const std::vector<PeerSpec>& specs,
                                         const std::function<std::string(size_t)>& name) {
  std::vector<PeerConfig> out;
  for (size_t i = 0; i < specs.size(); ++i) {
    PeerConfig p;
    p.server = name(i);
    p.address = *net::ParseHostPort(p.server, std::nullopt);
    p.weight = specs[i].weight;
    p.backup = specs[i].backup;
    p.down = specs[i].down;
    p.max_fails = specs[i].max_fails;
    out.push_back(p);
  }
  return out;
}

// NewBalancer that must succeed.
inline std::unique_ptr<Balancer> MakeBalancer(BalancerKind kind, std::vector<PeerConfig> peers) {
  absl::StatusOr<std::unique_ptr<Balancer>> b = NewBalancer(kind, std::move(peers));
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? std::move(b).value() : nullptr;
}

}  // namespace realip::upstream::test_support
