#include "proxy/access/limit_args.h"

#include <bit>
#include <optional>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"

namespace realip::access {
namespace {

using base::AsAbsl;
using base::ParseDecimal;

absl::Status InvalidParameter(std::string_view arg) {
  return absl::InvalidArgumentError(absl::StrCat("invalid parameter \"", AsAbsl(arg), "\""));
}

absl::Status MissingZone(std::string_view directive) {
  return absl::InvalidArgumentError(
      absl::StrCat("\"", AsAbsl(directive), "\" must have \"zone\" parameter"));
}

// The common shape of limit_req_zone and limit_conn_zone: KEY then name=value parameters.
// `rate` is null for limit_conn_zone, which takes no rate.
absl::Status ParseZoneDirective(std::string_view directive, std::span<const std::string_view> args,
                                std::string* key, std::string* name, size_t* size,
                                uint64_t* rate) {
  if (args.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid number of arguments in \"", AsAbsl(directive), "\""));
  }
  *key = std::string(args[0]);
  for (std::string_view arg : args.subspan(1)) {
    if (absl::StartsWith(AsAbsl(arg), "zone=")) {
      absl::StatusOr<std::pair<std::string, size_t>> zone = ParseZoneArg(arg);
      if (!zone.ok()) return zone.status();
      *name = std::move(zone->first);
      *size = zone->second;
      continue;
    }
    if (rate != nullptr && absl::StartsWith(AsAbsl(arg), "rate=")) {
      absl::StatusOr<uint64_t> parsed = ParseRateArg(arg);
      if (!parsed.ok()) return parsed.status();
      *rate = *parsed;
      continue;
    }
    return InvalidParameter(arg);
  }
  if (name->empty()) return MissingZone(directive);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> ParseRateArg(std::string_view arg) {
  const auto invalid = [arg] {
    return absl::InvalidArgumentError(absl::StrCat("invalid rate \"", AsAbsl(arg), "\""));
  };
  if (!absl::StartsWith(AsAbsl(arg), "rate=")) return invalid();
  std::string_view number = arg.substr(5);
  uint64_t scale = 1;
  if (absl::EndsWith(AsAbsl(number), "r/s")) {
    number.remove_suffix(3);
  } else if (absl::EndsWith(AsAbsl(number), "r/m")) {
    number.remove_suffix(3);
    scale = 60;
  }
  // Bounded so that rate x 1000 and the bucket arithmetic (rate x elapsed ms) stay in range.
  std::optional<uint64_t> rate = ParseDecimal(number, uint64_t{1} << 32);
  if (!rate || *rate == 0) return invalid();
  return *rate * 1000 / scale;
}

absl::StatusOr<std::pair<std::string, size_t>> ParseZoneArg(std::string_view arg) {
  if (!absl::StartsWith(AsAbsl(arg), "zone=")) return InvalidParameter(arg);
  const std::string_view value = arg.substr(5);
  const size_t colon = value.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid zone size \"", AsAbsl(arg), "\""));
  }
  std::string name(value.substr(0, colon));
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid zone name \"", AsAbsl(arg), "\""));
  }
  std::optional<uint64_t> size = base::ParseNginxSize(value.substr(colon + 1));
  if (!size) {
    return absl::InvalidArgumentError(absl::StrCat("invalid zone size \"", AsAbsl(arg), "\""));
  }
  if (*size < kMinZoneSize) {
    return absl::InvalidArgumentError(absl::StrCat("zone \"", AsAbsl(arg), "\" is too small"));
  }
  return std::make_pair(std::move(name), static_cast<size_t>(*size));
}

absl::StatusOr<LimitReqZoneSpec> ParseLimitReqZoneArgs(std::span<const std::string_view> args) {
  LimitReqZoneSpec spec;
  // nginx starts from rate 1 (1r/s) when no rate= is given.
  spec.rate = 1000;
  REALIP_RETURN_IF_ERROR(ParseZoneDirective("limit_req_zone", args, &spec.key, &spec.name,
                                            &spec.size, &spec.rate));
  return spec;
}

absl::StatusOr<LimitConnZoneSpec> ParseLimitConnZoneArgs(std::span<const std::string_view> args) {
  LimitConnZoneSpec spec;
  REALIP_RETURN_IF_ERROR(
      ParseZoneDirective("limit_conn_zone", args, &spec.key, &spec.name, &spec.size, nullptr));
  return spec;
}

absl::StatusOr<LimitReqSpec> ParseLimitReqArgs(std::span<const std::string_view> args) {
  // burst and delay are stored x 1000; bounding them keeps that product below kNoDelay.
  constexpr uint64_t kMaxCount = kNoDelay / 1000;
  LimitReqSpec spec;
  for (std::string_view arg : args) {
    const absl::string_view a = AsAbsl(arg);
    if (absl::StartsWith(a, "zone=")) {
      spec.zone = std::string(arg.substr(5));
      continue;
    }
    if (a == "nodelay") {
      spec.delay = kNoDelay;
      continue;
    }
    const bool is_burst = absl::StartsWith(a, "burst=");
    if (is_burst || absl::StartsWith(a, "delay=")) {
      // Both names are six bytes long; both values must be positive.
      std::optional<uint64_t> count = ParseDecimal(arg.substr(6), kMaxCount);
      if (!count || *count == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid ", is_burst ? "burst" : "delay", " value \"", a, "\""));
      }
      (is_burst ? spec.burst : spec.delay) = *count * 1000;
      continue;
    }
    return InvalidParameter(arg);
  }
  if (spec.zone.empty()) return MissingZone("limit_req");
  return spec;
}

absl::StatusOr<LimitConnSpec> ParseLimitConnArgs(std::span<const std::string_view> args) {
  if (args.size() != 2) {
    return absl::InvalidArgumentError("invalid number of arguments in \"limit_conn\"");
  }
  LimitConnSpec spec;
  spec.zone = std::string(args[0]);
  std::optional<uint64_t> n = ParseDecimal(args[1], UINT64_MAX);
  if (!n || *n == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid number of connections \"", AsAbsl(args[1]), "\""));
  }
  // The per-key counter is 16 bits in nginx's zone node.
  if (*n > 65535) return absl::InvalidArgumentError("connection limit must be less 65536");
  spec.limit = static_cast<uint32_t>(*n);
  return spec;
}

namespace internal {

size_t SlabSize(size_t bytes) { return std::bit_ceil(bytes < 8 ? size_t{8} : bytes); }

size_t ShardIndex(std::string_view key, size_t shards) {
  return absl::Hash<absl::string_view>{}(AsAbsl(key)) % shards;
}

}  // namespace internal
}  // namespace realip::access
