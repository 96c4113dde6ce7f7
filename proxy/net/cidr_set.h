// The trusted-address set behind set_real_ip_from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/net/ip_address.h"
#include "proxy/net/socket_address.h"

namespace realip::net {

// One CIDR prefix. The address has its host bits cleared.
struct Cidr {
  IpAddress address;
  int prefix_len = 0;  // 0-32 for IPv4, 0-128 for IPv6

  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// Parses "A.B.C.D", "A.B.C.D/N", "IPv6", "IPv6/N" (addresses strict, as IpAddress::Parse; N in
// decimal without leading zeros). Host bits set are cleared, as nginx does. An IPv4-mapped
// prefix with N >= 96 (::ffff:10.0.0.0/104) becomes the IPv4 prefix (10.0.0.0/8).
[[nodiscard]] absl::StatusOr<Cidr> ParseCidr(std::string_view text);

// A set of prefixes plus an optional "any Unix-socket peer" entry. Lookups are O(log n) in the
// number of disjoint ranges (a B-tree of merged intervals per family). Not thread-safe to
// modify; const lookups from many threads are safe.
class CidrSet {
 public:
  // Adds one set_real_ip_from value: an address, a CIDR (see ParseCidr) or "unix:". The error
  // message names the entry: `invalid CIDR "x"`.
  [[nodiscard]] absl::Status Add(std::string_view entry);
  // Adds an already parsed prefix (for example a resolved host name as /32 or /128).
  void Add(const Cidr& cidr);
  // Makes every Unix-socket peer match.
  void AddUnix();

  // True if some prefix contains `ip`. IPv6 prefixes never contain IPv4 (or mapped) addresses.
  bool Contains(const IpAddress& ip) const;
  // As above for IP peers; a Unix peer matches only after AddUnix() / Add("unix:").
  bool Contains(const SocketAddress& peer) const;

  // True if nothing was added.
  bool empty() const { return entries_ == 0; }
  // Number of entries added (before merging overlaps).
  size_t size() const { return entries_; }

 private:
  using Uint128 = unsigned __int128;
  template <typename K>
  static void Insert(absl::btree_map<K, K>& ranges, K first, K last);
  template <typename K>
  static bool Lookup(const absl::btree_map<K, K>& ranges, K key);

  // Disjoint inclusive ranges, first -> last.
  absl::btree_map<uint32_t, uint32_t> v4_;
  absl::btree_map<Uint128, Uint128> v6_;
  bool unix_ = false;
  size_t entries_ = 0;
};

}  // namespace realip::net
