// Argument parsers for limit_req_zone, limit_req, limit_conn_zone and limit_conn, with nginx's
// accepted forms and error texts, and the zone memory model shared by both limiters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace realip::access {

// nginx refuses zones smaller than 8 pages ("zone ... is too small"); 8 x 4096 bytes here.
inline constexpr size_t kMinZoneSize = 8 * 4096;

// `limit_req_zone KEY zone=NAME:SIZE rate=R;` arguments after the directive name.
struct LimitReqZoneSpec {
  std::string key;   // the key expression, e.g. "$binary_remote_addr" (compiled by config)
  std::string name;  // zone name
  size_t size = 0;   // zone bytes, >= kMinZoneSize
  // Requests per second x 1000, as nginx stores it: 10r/s = 10000, 30r/m = 500, 1r/m = 16.
  uint64_t rate = 0;
};

// `limit_req zone=NAME [burst=N] [nodelay | delay=N];` arguments after the directive name.
struct LimitReqSpec {
  std::string zone;
  uint64_t burst = 0;  // excess requests x 1000 admitted before rejecting
  uint64_t delay = 0;  // excess requests x 1000 passed without delay (nodelay: kNoDelay)
};

// LimitReqSpec::delay for `nodelay`: nginx's NGX_MAX_INT_T_VALUE / 1000 * 1000.
inline constexpr uint64_t kNoDelay = static_cast<uint64_t>(INT64_MAX) / 1000 * 1000;

// `limit_conn_zone KEY zone=NAME:SIZE;` arguments after the directive name.
struct LimitConnZoneSpec {
  std::string key;
  std::string name;
  size_t size = 0;
};

// `limit_conn NAME N;` arguments after the directive name.
struct LimitConnSpec {
  std::string zone;
  uint32_t limit = 0;  // 1..65535
};

// Parses "rate=Nr/s", "rate=Nr/m" or, as nginx also accepts, "rate=N" (per second); N is
// decimal > 0. Returns requests per second x 1000, rounded down as nginx does.
[[nodiscard]] absl::StatusOr<uint64_t> ParseRateArg(std::string_view arg);
// Parses "zone=NAME:SIZE" (SIZE as nginx: digits with optional k/K, m/M, g/G) into name and
// size; errors for a missing ':', an empty name, a bad size or one below kMinZoneSize.
[[nodiscard]] absl::StatusOr<std::pair<std::string, size_t>> ParseZoneArg(std::string_view arg);

// Whole-directive parsers; `args` excludes the directive name. Errors carry nginx's messages
// (`invalid rate "rate=0r/s"`) and no location: the config layer prefixes file:line.
[[nodiscard]] absl::StatusOr<LimitReqZoneSpec> ParseLimitReqZoneArgs(
    std::span<const std::string_view> args);
[[nodiscard]] absl::StatusOr<LimitReqSpec> ParseLimitReqArgs(
    std::span<const std::string_view> args);
[[nodiscard]] absl::StatusOr<LimitConnZoneSpec> ParseLimitConnZoneArgs(
    std::span<const std::string_view> args);
[[nodiscard]] absl::StatusOr<LimitConnSpec> ParseLimitConnArgs(
    std::span<const std::string_view> args);

namespace internal {

// Bytes nginx's slab allocator hands out for a request of `bytes`: the next power of two,
// at least 8. Zones charge each state this much so that a SIZE holds as many states as nginx.
size_t SlabSize(size_t bytes);
// The shard of a sharded zone that holds `key`.
size_t ShardIndex(std::string_view key, size_t shards);

}  // namespace internal
}  // namespace realip::access
