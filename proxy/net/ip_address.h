// IP address value type: strict parsing (inet_pton rules) and RFC 5952 formatting.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "proxy/base/check.h"

namespace realip::net {

// An IPv4 or IPv6 address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is normalized to the
// IPv4 address on every construction path, so it compares, hashes and prints as IPv4.
class IpAddress {
 public:
  // Longest text ToString() produces (a full IPv6 address).
  static constexpr size_t kMaxStringLength = 39;

  // 0.0.0.0.
  IpAddress() = default;

  // Parses IPv4 dotted-quad or IPv6 text exactly as inet_pton does: no zone ids, no leading
  // zeros in IPv4 octets, no empty octets, no surrounding brackets or whitespace.
  static std::optional<IpAddress> Parse(std::string_view text);
  // Only the dotted-quad form (inet_pton(AF_INET)).
  static std::optional<IpAddress> ParseV4(std::string_view text);
  // Only the IPv6 text form (inet_pton(AF_INET6)); a mapped address still becomes IPv4.
  static std::optional<IpAddress> ParseV6(std::string_view text);

  // From a host-order IPv4 value (0x7f000001 is 127.0.0.1).
  static IpAddress FromV4(uint32_t host_order);
  // From 16 network-order bytes; mapped addresses become IPv4.
  static IpAddress FromV6Bytes(const uint8_t bytes[16]);
  // From 4 or 16 network-order bytes ($binary_remote_addr form); nullopt for other sizes.
  static std::optional<IpAddress> FromBytes(std::string_view bytes);

  bool is_v4() const { return !v6_; }
  bool is_v6() const { return v6_; }
  // The IPv4 value in host order. Requires is_v4().
  uint32_t v4_host_order() const {
    REALIP_DCHECK(!v6_);
    return static_cast<uint32_t>(bytes_[0]) << 24 | static_cast<uint32_t>(bytes_[1]) << 16 |
           static_cast<uint32_t>(bytes_[2]) << 8 | bytes_[3];
  }

  // Dotted quad, or IPv6 in RFC 5952 canonical form (lowercase, longest zero run compressed).
  std::string ToString() const;
  // Appends ToString() to *out without a temporary.
  void AppendTo(std::string* out) const;
  // Writes ToString() to `buf` (kMaxStringLength bytes); returns the length.
  size_t Format(char* buf) const { return v6_ ? FormatV6(buf) : FormatV4(buf); }
  // 4 or 16 network-order bytes ($binary_remote_addr). Valid while this object lives.
  std::string_view Bytes() const {
    return {reinterpret_cast<const char*>(bytes_.data()), v6_ ? size_t{16} : size_t{4}};
  }
  // 16 network-order bytes; IPv4 is returned in its mapped form ::ffff:a.b.c.d.
  std::array<uint8_t, 16> ToV6Bytes() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  // IPv4 orders before IPv6; within a family, by numeric value.
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.v6_, a.bytes_);
  }

 private:
  size_t FormatV4(char* buf) const;
  size_t FormatV6(char* buf) const;

  bool v6_ = false;
  // IPv4 uses bytes_[0..3]; the rest stays zero so that defaulted comparisons are exact.
  std::array<uint8_t, 16> bytes_{};
};

}  // namespace realip::net
