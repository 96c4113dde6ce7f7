#include "proxy/net/ip_address.h"

#include <cstring>

#include "proxy/base/check.h"
#include "proxy/base/strings.h"

namespace realip::net {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// The dotted-quad grammar of inet_pton(AF_INET) (POSIX): exactly four decimal octets of
// 0-255, no leading zeros ("01" is rejected because some libraries read it as octal), no
// empty octets. nginx's ngx_inet_addr accepts both; we deliberately do not.
// One octet at a time: at most three digits, so a fourth digit is always out of range (a
// leading zero is rejected before it) and the value fits without overflow checks per digit.
bool ParseV4Bytes(std::string_view s, uint8_t out[4]) {
  const char* p = s.data();
  const char* const end = p + s.size();
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (p == end || *p != '.') return false;
      ++p;
    }
    if (p == end) return false;
    unsigned value = static_cast<unsigned char>(*p) - unsigned{'0'};
    if (value > 9) return false;
    ++p;
    if (p != end) {
      const unsigned d1 = static_cast<unsigned char>(*p) - unsigned{'0'};
      if (d1 <= 9) {
        if (value == 0) return false;
        value = value * 10 + d1;
        ++p;
        if (p != end) {
          const unsigned d2 = static_cast<unsigned char>(*p) - unsigned{'0'};
          if (d2 <= 9) {
            value = value * 10 + d2;
            if (value > 255) return false;
            ++p;
            if (p != end && static_cast<unsigned char>(*p) - unsigned{'0'} <= 9) return false;
          }
        }
      }
    }
    out[i] = static_cast<uint8_t>(value);
  }
  return p == end;
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
    int d = base::HexDigitValue(c);
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

// The decimal text of every octet followed by a '.', padded to four bytes, and its length
// with the dot: a dotted quad is four 4-byte copies, no divisions.
struct OctetText {
  char text[4];
  uint8_t len;
};
constexpr std::array<OctetText, 256> MakeOctetTexts() {
  std::array<OctetText, 256> t{};
  for (unsigned v = 0; v < 256; ++v) {
    OctetText& e = t[v];
    unsigned n = 0;
    if (v >= 100) e.text[n++] = static_cast<char>('0' + v / 100);
    if (v >= 10) e.text[n++] = static_cast<char>('0' + v / 10 % 10);
    e.text[n++] = static_cast<char>('0' + v % 10);
    e.text[n++] = '.';
    e.len = static_cast<uint8_t>(n);
  }
  return t;
}
constexpr std::array<OctetText, 256> kOctetTexts = MakeOctetTexts();

// Writes the dotted quad of `b` at `p` (which must have 16 writable bytes: the last copy
// spills up to three bytes past the text); returns its length.
size_t WriteDottedQuad(const uint8_t b[4], char* p) {
  char* const start = p;
  for (int i = 0; i < 4; ++i) {
    const OctetText& e = kOctetTexts[b[i]];
    std::memcpy(p, e.text, 4);
    p += e.len;
  }
  return static_cast<size_t>(p - start) - 1;  // without the last dot
}

}  // namespace

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // A dotted quad has no ':'; an IPv6 text always has one. Try the common form first: it
  // fails within five bytes of an IPv6 text, before any ':' or hex letter.
  IpAddress a;
  if (ParseV4Bytes(text, a.bytes_.data())) return a;
  if (text.find(':') == std::string_view::npos) return std::nullopt;
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
  // The IPv4 case inline: this is how the proxy prints the client for every request.
  out->append(buf, v6_ ? FormatV6(buf) : WriteDottedQuad(bytes_.data(), buf));
}

size_t IpAddress::FormatV4(char* buf) const {
  static_assert(kMaxStringLength >= 16, "WriteDottedQuad writes 16 bytes");
  return WriteDottedQuad(bytes_.data(), buf);
}

size_t IpAddress::FormatV6(char* buf) const {
  char* p = buf;
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
