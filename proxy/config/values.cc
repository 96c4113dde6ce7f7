#include "proxy/config/values.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "proxy/base/strings.h"

namespace realip::config {

namespace {

// Reads the digits at `pos`; false if there are none or the value exceeds `limit`.
bool ReadNumber(std::string_view text, size_t& pos, uint64_t limit, uint64_t& value) {
  const size_t start = pos;
  value = 0;
  while (pos < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[pos]))) {
    const uint64_t digit = static_cast<uint64_t>(text[pos] - '0');
    if (value > (limit - digit) / 10) return false;
    value = value * 10 + digit;
    ++pos;
  }
  return pos > start;
}

}  // namespace

absl::StatusOr<uint64_t> ParseSize(std::string_view text) {
  std::optional<uint64_t> size = base::ParseNginxSize(text);
  if (!size.has_value()) return absl::InvalidArgumentError("not a size");
  return *size;
}

absl::StatusOr<absl::Duration> ParseTime(std::string_view text) {
  // ngx_parse_time(): units must appear in decreasing order, each at most once.
  struct Unit {
    std::string_view suffix;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {
      {"y", 365LL * 24 * 3600 * 1000},
      {"M", 30LL * 24 * 3600 * 1000},
      {"w", 7LL * 24 * 3600 * 1000},
      {"d", 24LL * 3600 * 1000},
      {"h", 3600LL * 1000},
      {"ms", 1},
      {"m", 60LL * 1000},
      {"s", 1000},
  };
  // Rank of each unit from largest to smallest (ms is listed before m to match greedily).
  static constexpr int kRank[] = {0, 1, 2, 3, 4, 7, 5, 6};
  constexpr uint64_t kMaxMs = uint64_t{1} << 53;

  size_t pos = 0;
  uint64_t total_ms = 0;
  int last_rank = -1;
  bool any = false;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    uint64_t value = 0;
    if (!ReadNumber(text, pos, kMaxMs, value)) return absl::InvalidArgumentError("not a time");
    int rank = 6;  // a bare number is seconds
    int64_t unit_ms = 1000;
    bool bare = true;
    for (size_t i = 0; i < std::size(kUnits); ++i) {
      if (text.substr(pos).substr(0, kUnits[i].suffix.size()) == kUnits[i].suffix) {
        rank = kRank[i];
        unit_ms = kUnits[i].ms;
        pos += kUnits[i].suffix.size();
        bare = false;
        break;
      }
    }
    if (bare && pos != text.size()) return absl::InvalidArgumentError("not a time");
    if (rank <= last_rank) return absl::InvalidArgumentError("not a time");
    last_rank = rank;
    if (value > (kMaxMs - total_ms) / static_cast<uint64_t>(unit_ms)) {
      return absl::InvalidArgumentError("time too large");
    }
    total_ms += value * static_cast<uint64_t>(unit_ms);
    any = true;
  }
  if (!any) return absl::InvalidArgumentError("not a time");
  return absl::Milliseconds(static_cast<int64_t>(total_ms));
}

absl::StatusOr<bool> ParseFlag(std::string_view text) {
  if (absl::EqualsIgnoreCase(base::AsAbsl(text), "on")) return true;
  if (absl::EqualsIgnoreCase(base::AsAbsl(text), "off")) return false;
  return absl::InvalidArgumentError("it must be \"on\" or \"off\"");
}

absl::StatusOr<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max) {
  size_t pos = 0;
  bool negative = false;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    pos = 1;
  }
  uint64_t value = 0;
  if (!ReadNumber(text, pos, uint64_t{1} << 62, value) || pos != text.size()) {
    return absl::InvalidArgumentError("not a number");
  }
  const int64_t v = negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  if (v < min || v > max) return absl::InvalidArgumentError("out of range");
  return v;
}

}  // namespace realip::config
