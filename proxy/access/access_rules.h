// The allow/deny list of one http, server or location block (nginx's ngx_http_access_module).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "proxy/net/cidr_set.h"
#include "proxy/net/ip_address.h"
#include "proxy/net/socket_address.h"

namespace realip::access {

// What a rule does when it matches, and the outcome of an evaluation.
enum class Verdict { kAllow, kDeny };

// Ordered allow/deny rules: the first rule that matches the client decides; when none does the
// client is allowed. Evaluate it on $remote_addr after real-IP resolution. Immutable once
// built; const evaluation is safe from many threads.
class AccessRules {
 public:
  // Appends one `allow VALUE;` / `deny VALUE;`: an address, a CIDR (net::ParseCidr; host bits
  // cleared), "all" or "unix:". Errors read `invalid parameter "x"`.
  [[nodiscard]] absl::Status Add(Verdict action, std::string_view value);

  // The verdict for an IP client. An IPv4-mapped IPv6 client is IPv4 (net::IpAddress) and meets
  // only IPv4 rules and "all"; "unix:" rules never match an IP client.
  Verdict Evaluate(const net::IpAddress& client) const;
  // As above; a Unix-socket client meets only "unix:" and "all" rules.
  Verdict Evaluate(const net::SocketAddress& client) const;

  // True if no rule was added (nginx then inherits the enclosing block's rules).
  bool empty() const { return rules_.empty(); }
  size_t size() const { return rules_.size(); }

 private:
  enum class Match { kAll, kCidr, kUnix };
  struct Rule {
    Verdict action;
    Match match;
    net::Cidr cidr;  // for kCidr
  };

  std::vector<Rule> rules_;
};

namespace internal {

// True if `cidr` contains `ip`; families must be equal (IPv4 never matches an IPv6 prefix).
bool CidrContains(const net::Cidr& cidr, const net::IpAddress& ip);

}  // namespace internal
}  // namespace realip::access
