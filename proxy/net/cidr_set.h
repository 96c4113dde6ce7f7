// The trusted-address set behind set_real_ip_from.
#pragma once

#include <array>
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
// number of disjoint ranges (a B-tree of merged intervals per family); a family with at most
// kSmallRanges ranges (the usual set_real_ip_from list) is scanned linearly from a flat copy
// instead. Not thread-safe to modify; const lookups from many threads are safe.
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
  bool Contains(const IpAddress& ip) const {
    if (ip.is_v4()) {
      const uint32_t key = ip.v4_host_order();
      if (v4_small_size_ <= kSmallRanges) return ScanSmall(v4_small_, v4_small_size_, key);
      return LookupV4Tree(key);
    }
    return ContainsV6(ip);
  }
  // As above for IP peers; a Unix peer matches only after AddUnix() / Add("unix:").
  bool Contains(const SocketAddress& peer) const {
    if (peer.is_unix) return unix_;
    return Contains(peer.ip);
  }
  // Contains() answered by the B-trees alone, bypassing the small-set scan (for tests).
  bool ContainsInTreeForTesting(const IpAddress& ip) const;

  // True if nothing was added.
  bool empty() const { return entries_ == 0; }
  // Number of entries added (before merging overlaps).
  size_t size() const { return entries_; }

  // Most ranges per family that Contains() scans linearly (a scan of a few ranges costs less
  // than a B-tree descent).
  static constexpr size_t kSmallRanges = 8;

 private:
  using Uint128 = unsigned __int128;
  template <typename K>
  struct Range {
    K first, last;
  };
  // A flat copy of a family's ranges; the size is kLarge once the B-tree holds more.
  template <typename K>
  using SmallRanges = std::array<Range<K>, kSmallRanges>;
  static constexpr size_t kLarge = kSmallRanges + 1;

  template <typename K>
  static void Insert(absl::btree_map<K, K>& ranges, K first, K last);
  template <typename K>
  static bool Lookup(const absl::btree_map<K, K>& ranges, K key);
  template <typename K>
  static size_t CopySmall(const absl::btree_map<K, K>& ranges, SmallRanges<K>& small);
  template <typename K>
  static bool ScanSmall(const SmallRanges<K>& small, size_t size, K key) {
    for (size_t i = 0; i < size; ++i) {
      if (key >= small[i].first && key <= small[i].last) return true;
    }
    return false;
  }
  bool LookupV4Tree(uint32_t key) const;
  bool ContainsV6(const IpAddress& ip) const;

  // Disjoint inclusive ranges, first -> last.
  absl::btree_map<uint32_t, uint32_t> v4_;
  absl::btree_map<Uint128, Uint128> v6_;
  // The same ranges while a family has at most kSmallRanges of them.
  SmallRanges<uint32_t> v4_small_{};
  size_t v4_small_size_ = 0;
  SmallRanges<Uint128> v6_small_{};
  size_t v6_small_size_ = 0;
  bool unix_ = false;
  size_t entries_ = 0;
};

}  // namespace realip::net
