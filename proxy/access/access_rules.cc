#include "proxy/access/access_rules.h"

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"

namespace realip::access {

absl::Status AccessRules::Add(Verdict action, std::string_view value) {
  if (value == "all") {
    rules_.push_back({action, Match::kAll, {}});
    return absl::OkStatus();
  }
  if (value == "unix:") {
    rules_.push_back({action, Match::kUnix, {}});
    return absl::OkStatus();
  }
  absl::StatusOr<net::Cidr> cidr = net::ParseCidr(value);
  if (!cidr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid parameter \"", base::AsAbsl(value), "\""));
  }
  rules_.push_back({action, Match::kCidr, *cidr});
  return absl::OkStatus();
}

Verdict AccessRules::Evaluate(const net::IpAddress& client) const {
  for (const Rule& rule : rules_) {
    if (rule.match == Match::kAll ||
        (rule.match == Match::kCidr && internal::CidrContains(rule.cidr, client))) {
      return rule.action;
    }
  }
  return Verdict::kAllow;
}

Verdict AccessRules::Evaluate(const net::SocketAddress& client) const {
  if (!client.is_unix) return Evaluate(client.ip);
  for (const Rule& rule : rules_) {
    if (rule.match == Match::kAll || rule.match == Match::kUnix) return rule.action;
  }
  return Verdict::kAllow;
}

namespace internal {

bool CidrContains(const net::Cidr& cidr, const net::IpAddress& ip) {
  if (cidr.address.is_v4() != ip.is_v4()) return false;
  const std::string_view want = cidr.address.Bytes();
  const std::string_view have = ip.Bytes();
  const int full = cidr.prefix_len / 8;
  if (want.substr(0, full) != have.substr(0, full)) return false;
  const int rest = cidr.prefix_len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (static_cast<uint8_t>(want[full]) & mask) == (static_cast<uint8_t>(have[full]) & mask);
}

}  // namespace internal
}  // namespace realip::access
