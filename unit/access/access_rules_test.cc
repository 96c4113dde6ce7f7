#include "proxy/access/access_rules.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace realip::access {
namespace {

using Rule = std::pair<Verdict, std::string_view>;

AccessRules Build(const std::vector<Rule>& rules) {
  AccessRules out;
  for (const auto& [action, value] : rules) {
    EXPECT_TRUE(out.Add(action, value).ok()) << value;
  }
  return out;
}

net::SocketAddress Peer(std::string_view text) {
  if (text == "unix:") return net::SocketAddress{{}, 0, true};
  std::optional<net::IpAddress> ip = net::IpAddress::Parse(text);
  EXPECT_TRUE(ip.has_value()) << text;
  return net::SocketAddress{ip.value_or(net::IpAddress()), 0, false};
}

constexpr Verdict kAllow = Verdict::kAllow;
constexpr Verdict kDeny = Verdict::kDeny;

struct EvalCase {
  std::string name;
  std::vector<Rule> rules;
  std::string_view client;
  Verdict want;
};

class AccessRulesEvalTest : public ::testing::TestWithParam<EvalCase> {};

TEST_P(AccessRulesEvalTest, FirstMatchWins) {
  const EvalCase& c = GetParam();
  const AccessRules rules = Build(c.rules);
  EXPECT_EQ(rules.Evaluate(Peer(c.client)), c.want);
  if (c.client != "unix:") {
    EXPECT_EQ(rules.Evaluate(Peer(c.client).ip), c.want);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AccessRulesEvalTest,
    ::testing::Values(
        EvalCase{"NoRulesAllows", {}, "192.0.2.1", kAllow},
        EvalCase{"NoMatchAllows", {{kDeny, "192.0.2.0/24"}}, "198.51.100.1", kAllow},
        EvalCase{"DenyAddress", {{kDeny, "192.0.2.1"}}, "192.0.2.1", kDeny},
        EvalCase{"DenyAddressOtherHost", {{kDeny, "192.0.2.1"}}, "192.0.2.2", kAllow},
        EvalCase{"AllowThenDenyAll", {{kAllow, "10.0.0.0/8"}, {kDeny, "all"}}, "10.9.8.7",
                 kAllow},
        EvalCase{"AllowThenDenyAllOutside", {{kAllow, "10.0.0.0/8"}, {kDeny, "all"}},
                 "11.0.0.1", kDeny},
        EvalCase{"DenyBeforeBroaderAllow",
                 {{kDeny, "192.168.1.1"}, {kAllow, "192.168.1.0/24"}, {kDeny, "all"}},
                 "192.168.1.1", kDeny},
        EvalCase{"BroaderAllowAfterDeny",
                 {{kDeny, "192.168.1.1"}, {kAllow, "192.168.1.0/24"}, {kDeny, "all"}},
                 "192.168.1.2", kAllow},
        EvalCase{"OrderMattersAllowAllFirst", {{kAllow, "all"}, {kDeny, "192.0.2.1"}},
                 "192.0.2.1", kAllow},
        EvalCase{"PrefixBoundaryInside", {{kDeny, "203.0.113.0/25"}}, "203.0.113.127", kDeny},
        EvalCase{"PrefixBoundaryOutside", {{kDeny, "203.0.113.0/25"}}, "203.0.113.128",
                 kAllow},
        EvalCase{"OddPrefixLength", {{kDeny, "10.0.0.0/13"}}, "10.7.255.255", kDeny},
        EvalCase{"OddPrefixLengthOutside", {{kDeny, "10.0.0.0/13"}}, "10.8.0.0", kAllow},
        EvalCase{"HostBitsCleared", {{kDeny, "192.0.2.77/24"}}, "192.0.2.1", kDeny},
        EvalCase{"ZeroPrefixMatchesAllV4", {{kDeny, "0.0.0.0/0"}}, "8.8.8.8", kDeny},
        EvalCase{"ZeroPrefixV4SparesV6", {{kDeny, "0.0.0.0/0"}}, "2001:db8::1", kAllow},
        EvalCase{"V6Prefix", {{kDeny, "2001:db8::/32"}}, "2001:db8:1::5", kDeny},
        EvalCase{"V6PrefixOutside", {{kDeny, "2001:db8::/32"}}, "2001:db9::5", kAllow},
        EvalCase{"V6PrefixSparesV4", {{kDeny, "::/0"}}, "192.0.2.1", kAllow},
        EvalCase{"V6Address", {{kDeny, "::1"}, {kAllow, "all"}}, "::1", kDeny},
        EvalCase{"AllMatchesV6", {{kDeny, "all"}}, "2001:db8::1", kDeny},
        EvalCase{"MappedClientMeetsV4Rule", {{kDeny, "192.0.2.0/24"}}, "::ffff:192.0.2.9",
                 kDeny},
        EvalCase{"MappedRuleIsV4", {{kDeny, "::ffff:192.0.2.0/120"}}, "192.0.2.9", kDeny},
        EvalCase{"MappedClientSkipsV6Rule", {{kDeny, "::/0"}}, "::ffff:192.0.2.9", kAllow},
        EvalCase{"UnixRuleSparesIp", {{kDeny, "unix:"}}, "127.0.0.1", kAllow},
        EvalCase{"UnixClientMeetsUnixRule", {{kDeny, "unix:"}}, "unix:", kDeny},
        EvalCase{"UnixClientSkipsIpRules", {{kDeny, "0.0.0.0/0"}, {kDeny, "::/0"}}, "unix:",
                 kAllow},
        EvalCase{"UnixClientMeetsAll", {{kAllow, "127.0.0.1"}, {kDeny, "all"}}, "unix:",
                 kDeny},
        EvalCase{"UnixAllowBeforeDenyAll", {{kAllow, "unix:"}, {kDeny, "all"}}, "unix:",
                 kAllow}),
    [](const auto& info) { return info.param.name; });

TEST(AccessRulesTest, RejectsInvalidValues) {
  for (std::string_view bad : {"", "al", "ALL", "192.0.2.256", "192.0.2.1/33", "2001:db8::/129",
                               "unix", "unix:/tmp/sock", "10.0.0.0/8 ", "[::1]", "01.2.3.4",
                               "localhost"}) {
    AccessRules rules;
    const absl::Status status = rules.Add(Verdict::kDeny, bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(status.message(), "invalid parameter \"" + std::string(bad) + "\"");
    EXPECT_TRUE(rules.empty());
  }
}

TEST(AccessRulesTest, CountsRules) {
  const AccessRules rules = Build({{kAllow, "10.0.0.0/8"}, {kAllow, "unix:"}, {kDeny, "all"}});
  EXPECT_FALSE(rules.empty());
  EXPECT_EQ(rules.size(), 3u);
}

}  // namespace
}  // namespace realip::access
