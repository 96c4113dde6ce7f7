#include "proxy/base/strings.h"

#include <cstdint>
#include <cstring>

namespace realip::base {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Eight bytes at `p` with 'A'-'Z' lowered, each byte on its own (no carry crosses a byte:
// the high bit is cleared before the additions and bytes that had it are excluded after).
uint64_t LowerWord(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHigh = 0x8080808080808080;
  uint64_t x;
  std::memcpy(&x, p, 8);
  const uint64_t low7 = x & ~kHigh;
  const uint64_t ge_upper_a = low7 + (0x80 - 'A') * kOnes;      // high bit set for bytes >= 'A'
  const uint64_t gt_upper_z = low7 + (0x80 - 'Z' - 1) * kOnes;  // and for bytes > 'Z'
  const uint64_t upper = ge_upper_a & ~gt_upper_z & ~x & kHigh;
  return x | (upper >> 2);  // 0x80 >> 2 is the case bit 0x20
}

}  // namespace

bool EqualsIgnoreCaseSameLength(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    // Word by word; the last word overlaps the one before it.
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (LowerWord(a + i) != LowerWord(b + i)) return false;
    }
    return LowerWord(a + n - 8) == LowerWord(b + n - 8);
  }
  for (size_t i = 0; i < n; ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

std::string UnescapeNginxWord(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      switch (raw[i + 1]) {
        case '"':
        case '\'':
        case '\\':
          out.push_back(raw[++i]);
          continue;
        case 't':
          out.push_back('\t');
          ++i;
          continue;
        case 'r':
          out.push_back('\r');
          ++i;
          continue;
        case 'n':
          out.push_back('\n');
          ++i;
          continue;
        default:
          break;
      }
    }
    out.push_back(raw[i]);
  }
  return out;
}

std::optional<uint64_t> ParseNginxSize(std::string_view text) {
  constexpr uint64_t kMax = uint64_t{1} << 62;
  uint64_t scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K':
        scale = uint64_t{1} << 10;
        break;
      case 'm':
      case 'M':
        scale = uint64_t{1} << 20;
        break;
      case 'g':
      case 'G':
        scale = uint64_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  std::optional<uint64_t> value = ParseDecimal(text, kMax / scale);
  if (!value.has_value()) return std::nullopt;
  return *value * scale;
}

std::optional<uint64_t> ParseDecimal(std::string_view text, uint64_t max) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace realip::base
