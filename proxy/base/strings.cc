#include "proxy/base/strings.h"

#include <cstdint>
#include <cstring>

namespace realip::base {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool EqualsIgnoreCaseSameLength(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    // Word by word; the last word overlaps the one before it.
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (LowerAsciiWord<uint64_t>(a + i) != LowerAsciiWord<uint64_t>(b + i)) return false;
    }
    return LowerAsciiWord<uint64_t>(a + n - 8) == LowerAsciiWord<uint64_t>(b + n - 8);
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

std::string CallFailedText(std::string_view call, std::string_view path, int err) {
  std::string out(call);
  out.append("() \"").append(path).append("\" failed (").append(std::to_string(err));
  out.append(": ").append(std::strerror(err)).append(")");
  return out;
}

}  // namespace realip::base
