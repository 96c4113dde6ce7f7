// Parsers for nginx's argument value types: sizes, times, flags and counts.
// Errors carry only a reason; the caller adds `invalid value "x" in "name" directive`.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace realip::config {

// "512", "1k"/"1K", "8m"/"8M", "1g"/"1G" -> bytes (ngx_parse_offset). At most 2^62.
[[nodiscard]] absl::StatusOr<uint64_t> ParseSize(std::string_view text);

// nginx time values: "500ms", "30s", "5m", "1h", "2d", "1w", "1M" (30 days), "1y" (365 days),
// combined in decreasing units ("1h 30m", "1m30s"); a bare number means seconds.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseTime(std::string_view text);

// "on" / "off", case-insensitive as ngx_conf_set_flag_slot.
[[nodiscard]] absl::StatusOr<bool> ParseFlag(std::string_view text);

// A decimal integer in [min, max].
[[nodiscard]] absl::StatusOr<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max);

}  // namespace realip::config
