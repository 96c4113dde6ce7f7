#include "proxy/net/cidr_set.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "proxy/base/check.h"
#include "proxy/base/strings.h"

namespace realip::net {
namespace {

using Uint128 = unsigned __int128;

Uint128 ToUint128(std::string_view bytes16) {
  Uint128 v = 0;
  for (char c : bytes16) v = v << 8 | static_cast<uint8_t>(c);
  return v;
}

IpAddress FromUint128(Uint128 v) {
  uint8_t out[16];
  for (int i = 15; i >= 0; --i, v >>= 8) out[i] = static_cast<uint8_t>(v);
  return IpAddress::FromV6Bytes(out);
}

// Mask with the top `prefix_len` of `bits` bits set.
template <typename K>
K PrefixMask(int prefix_len) {
  constexpr int kBits = static_cast<int>(sizeof(K) * 8);
  if (prefix_len <= 0) return 0;
  if (prefix_len >= kBits) return ~K{0};
  return ~K{0} << (kBits - prefix_len);
}

std::optional<int> ParsePrefixLength(std::string_view s, int max) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

absl::Status InvalidCidr(std::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("invalid CIDR \"", base::AsAbsl(text), "\""));
}

}  // namespace

absl::StatusOr<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  // An IPv4-mapped IPv6 text is normalized to IPv4 by IpAddress; keep the textual family to
  // interpret the prefix length.
  const bool v6_text = addr_text.find(':') != std::string_view::npos;
  std::optional<IpAddress> ip = IpAddress::Parse(addr_text);
  if (!ip) return InvalidCidr(text);
  const int max_len = v6_text ? 128 : 32;
  int prefix_len = max_len;
  if (slash != std::string_view::npos) {
    std::optional<int> parsed = ParsePrefixLength(text.substr(slash + 1), max_len);
    if (!parsed) return InvalidCidr(text);
    prefix_len = *parsed;
  }
  Cidr cidr;
  if (v6_text && ip->is_v4()) {
    if (prefix_len >= 96) {
      prefix_len -= 96;
    } else {
      // Shorter than the mapped block: the prefix spans plain IPv6 space, so it stays IPv6
      // (masking clears part of the ffff marker, so the result is never a mapped address).
      std::array<uint8_t, 16> raw = ip->ToV6Bytes();
      cidr.address = FromUint128(ToUint128({reinterpret_cast<const char*>(raw.data()), 16}) &
                                 PrefixMask<Uint128>(prefix_len));
      cidr.prefix_len = prefix_len;
      return cidr;
    }
  }
  if (ip->is_v4()) {
    cidr.address = IpAddress::FromV4(ip->v4_host_order() & PrefixMask<uint32_t>(prefix_len));
  } else {
    cidr.address = FromUint128(ToUint128(ip->Bytes()) & PrefixMask<Uint128>(prefix_len));
  }
  cidr.prefix_len = prefix_len;
  return cidr;
}

template <typename K>
void CidrSet::Insert(absl::btree_map<K, K>& ranges, K first, K last) {
  // Merge with every range that overlaps or touches [first, last], so ranges stay disjoint
  // and a lookup needs one predecessor search.
  auto it = ranges.upper_bound(first);
  if (it != ranges.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= first || (first > 0 && prev->second == first - 1)) {
      if (prev->second >= last) return;
      first = prev->first;
      it = ranges.erase(prev);
    }
  }
  while (it != ranges.end() && (it->first <= last || (last < ~K{0} && it->first == last + 1))) {
    if (it->second > last) last = it->second;
    it = ranges.erase(it);
  }
  ranges.emplace(first, last);
}

template <typename K>
bool CidrSet::Lookup(const absl::btree_map<K, K>& ranges, K key) {
  auto it = ranges.upper_bound(key);
  if (it == ranges.begin()) return false;
  return std::prev(it)->second >= key;
}

template <typename K>
size_t CidrSet::CopySmall(const absl::btree_map<K, K>& ranges, SmallRanges<K>& small) {
  if (ranges.size() > kSmallRanges) return kLarge;
  size_t n = 0;
  for (const auto& [first, last] : ranges) small[n++] = Range<K>{first, last};
  return n;
}

absl::Status CidrSet::Add(std::string_view entry) {
  if (entry == "unix:") {
    AddUnix();
    return absl::OkStatus();
  }
  absl::StatusOr<Cidr> cidr = ParseCidr(entry);
  if (!cidr.ok()) return cidr.status();
  Add(*cidr);
  return absl::OkStatus();
}

void CidrSet::Add(const Cidr& cidr) {
  if (cidr.address.is_v4()) {
    REALIP_CHECK(cidr.prefix_len >= 0 && cidr.prefix_len <= 32);
    uint32_t mask = PrefixMask<uint32_t>(cidr.prefix_len);
    uint32_t first = cidr.address.v4_host_order() & mask;
    Insert<uint32_t>(v4_, first, first | ~mask);
    v4_small_size_ = CopySmall<uint32_t>(v4_, v4_small_);
  } else {
    REALIP_CHECK(cidr.prefix_len >= 0 && cidr.prefix_len <= 128);
    Uint128 mask = PrefixMask<Uint128>(cidr.prefix_len);
    Uint128 first = ToUint128(cidr.address.Bytes()) & mask;
    Insert<Uint128>(v6_, first, first | ~mask);
    v6_small_size_ = CopySmall<Uint128>(v6_, v6_small_);
  }
  ++entries_;
}

void CidrSet::AddUnix() {
  unix_ = true;
  ++entries_;
}

bool CidrSet::LookupV4Tree(uint32_t key) const { return Lookup<uint32_t>(v4_, key); }

bool CidrSet::ContainsV6(const IpAddress& ip) const {
  const Uint128 key = ToUint128(ip.Bytes());
  if (v6_small_size_ <= kSmallRanges) return ScanSmall(v6_small_, v6_small_size_, key);
  return Lookup<Uint128>(v6_, key);
}

bool CidrSet::ContainsInTreeForTesting(const IpAddress& ip) const {
  if (ip.is_v4()) return !v4_.empty() && Lookup<uint32_t>(v4_, ip.v4_host_order());
  return !v6_.empty() && Lookup<Uint128>(v6_, ToUint128(ip.Bytes()));
}

}  // namespace realip::net
