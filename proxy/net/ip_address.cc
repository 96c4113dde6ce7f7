#include "proxy/net/ip_address.h"

#include <cstring>

#include "proxy/base/check.h"

namespace realip::net {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The dotted-quad grammar of inet_pton(AF_INET) (POSIX): exactly four decimal octets of
// 0-255, no leading zeros ("01" is rejected because some libraries read it as octal), no
// empty octets. nginx's ngx_inet_addr accepts both; we deliberately do not.
bool ParseV4Bytes(std::string_view s, uint8_t out[4]) {
  int octets = 0;
  bool saw_digit = false;
  unsigned value = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      if (saw_digit && value == 0) return false;
      value = value * 10 + static_cast<unsigned>(c - '0');
      if (value > 255) return false;
      if (!saw_digit) {
        if (++octets > 4) return false;
        saw_digit = true;
      }
    } else if (c == '.' && saw_digit) {
      if (octets == 4) return false;
      out[octets - 1] = static_cast<uint8_t>(value);
      value = 0;
      saw_digit = false;
    } else {
      return false;
    }
  }
  if (octets < 4 || !saw_digit) return false;
  out[3] = static_cast<uint8_t>(value);
  return true;
}

// inet_pton(AF_INET6) (RFC 4291 section 2.2): groups of 1-4 hex digits, at most one "::",
// an optional trailing dotted quad in the last 32 bits; anything else, zone ids included,
// is rejected.
bool ParseV6Bytes(std::string_view s, uint8_t out[16]) {
  uint8_t tmp[16] = {};
  size_t tp = 0;
  std::optional<size_t> colonp;
  size_t i = 0;
  const size_t n = s.size();
  if (n == 0) return false;
  if (s[0] == ':') {
    if (n < 2 || s[1] != ':') return false;
    i = 1;
  }
  size_t curtok = i;
  int digits = 0;
  unsigned value = 0;
  while (i < n) {
    char c = s[i++];
    int d = HexValue(c);
    if (d >= 0) {
      if (digits == 4) return false;
      value = (value << 4) | static_cast<unsigned>(d);
      ++digits;
      continue;
    }
    if (c == ':') {
      curtok = i;
      if (digits == 0) {
        if (colonp) return false;
        colonp = tp;
        continue;
      }
      if (i == n) return false;
      if (tp + 2 > 16) return false;
      tmp[tp++] = static_cast<uint8_t>(value >> 8);
      tmp[tp++] = static_cast<uint8_t>(value);
      digits = 0;
      value = 0;
      continue;
    }
    if (c == '.' && tp + 4 <= 16 && ParseV4Bytes(s.substr(curtok), tmp + tp)) {
      tp += 4;
      digits = 0;
      break;
    }
    return false;
  }
  if (digits > 0) {
    if (tp + 2 > 16) return false;
    tmp[tp++] = static_cast<uint8_t>(value >> 8);
    tmp[tp++] = static_cast<uint8_t>(value);
  }
  if (colonp) {
    // "::" must stand for at least one zero group.
    if (tp == 16) return false;
    size_t moved = tp - *colonp;
    std::memmove(tmp + 16 - moved, tmp + *colonp, moved);
    std::memset(tmp + *colonp, 0, 16 - moved - *colonp);
    tp = 16;
  }
  if (tp != 16) return false;
  std::memcpy(out, tmp, 16);
  return true;
}

// Writes `v` in lowercase hex without leading zeros at `p`; returns the end.
char* WriteHex(uint16_t v, char* p) {
  static constexpr char kDigits[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    int d = (v >> shift) & 0xf;
    if (d == 0 && !started && shift != 0) continue;
    started = true;
    *p++ = kDigits[d];
  }
  return p;
}

// Writes `v` in decimal at `p`; returns the end.
char* WriteDecimalOctet(uint8_t v, char* p) {
  if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
  if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
  *p++ = static_cast<char>('0' + v % 10);
  return p;
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // A dotted quad has no ':'; an IPv6 text always has one.
  if (text.find(':') == std::string_view::npos) return ParseV4(text);
  return ParseV6(text);
}

std::optional<IpAddress> IpAddress::ParseV4(std::string_view text) {
  IpAddress a;
  if (!ParseV4Bytes(text, a.bytes_.data())) return std::nullopt;
  return a;
}

std::optional<IpAddress> IpAddress::ParseV6(std::string_view text) {
  uint8_t bytes[16];
  if (!ParseV6Bytes(text, bytes)) return std::nullopt;
  return FromV6Bytes(bytes);
}

IpAddress IpAddress::FromV4(uint32_t host_order) {
  IpAddress a;
  a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::FromV6Bytes(const uint8_t bytes[16]) {
  IpAddress a;
  if (std::memcmp(bytes, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    std::memcpy(a.bytes_.data(), bytes + 12, 4);
    return a;
  }
  a.v6_ = true;
  std::memcpy(a.bytes_.data(), bytes, 16);
  return a;
}

std::optional<IpAddress> IpAddress::FromBytes(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() == 4) {
    return FromV4(static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
                  static_cast<uint32_t>(p[2]) << 8 | p[3]);
  }
  if (bytes.size() == 16) return FromV6Bytes(p);
  return std::nullopt;
}

uint32_t IpAddress::v4_host_order() const {
  REALIP_DCHECK(!v6_);
  return static_cast<uint32_t>(bytes_[0]) << 24 | static_cast<uint32_t>(bytes_[1]) << 16 |
         static_cast<uint32_t>(bytes_[2]) << 8 | bytes_[3];
}

std::array<uint8_t, 16> IpAddress::ToV6Bytes() const {
  if (v6_) return bytes_;
  std::array<uint8_t, 16> out{};
  std::memcpy(out.data(), kMappedPrefix, sizeof(kMappedPrefix));
  std::memcpy(out.data() + 12, bytes_.data(), 4);
  return out;
}

std::string IpAddress::ToString() const {
  std::string out;
  out.reserve(kMaxStringLength);
  AppendTo(&out);
  return out;
}

void IpAddress::AppendTo(std::string* out) const {
  char buf[kMaxStringLength];
  out->append(buf, Format(buf));
}

size_t IpAddress::Format(char* buf) const {
  char* p = buf;
  if (!v6_) {
    for (size_t i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      p = WriteDecimalOctet(bytes_[i], p);
    }
    return static_cast<size_t>(p - buf);
  }
  uint16_t groups[8];
  for (size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<uint16_t>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  }
  // RFC 5952 section 4.2: compress the longest run of two or more zero groups, the first one
  // on a tie; a single zero group is written as "0".
  int best_start = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_start = -1;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      *p++ = ':';
      *p++ = ':';
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best_start + best_len) *p++ = ':';
    p = WriteHex(groups[i], p);
  }
  return static_cast<size_t>(p - buf);
}

}  // namespace realip::net
