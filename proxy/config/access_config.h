// The typed configuration of allow/deny, geo, limit_req and limit_conn (issue 11): zones and
// geo maps owned by the Config snapshot, and the merged per-level settings the engine reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proxy/access/access_rules.h"
#include "proxy/access/conn_limiter.h"
#include "proxy/access/geo_map.h"
#include "proxy/access/rate_limiter.h"
#include "proxy/config/map_variable.h"
#include "proxy/config/variables.h"

namespace realip::config {

// One limit_req_zone. The limiter is shared by every worker thread and carried over to the
// next configuration when a reload keeps the zone's name, key and size; `rate` belongs to this
// configuration, and requests running on it charge the shared states at that rate.
struct LimitReqZone {
  std::string name;
  CompiledString key;
  size_t size = 0;
  uint64_t rate = 0;  // requests per second x 1000
  std::shared_ptr<access::RateLimiter> limiter;
  std::string file;  // where limit_req_zone is (messages)
  int line = 0;
};

// One limit_conn_zone; carried over on reload like LimitReqZone (same name, key and size).
struct LimitConnZone {
  std::string name;
  CompiledString key;
  size_t size = 0;
  std::shared_ptr<access::ConnLimiter> limiter;
  std::string file;  // where limit_conn_zone is (messages)
  int line = 0;
};

// One `limit_req zone=NAME ...` after its zone was resolved.
struct LimitReqRule {
  std::shared_ptr<const LimitReqZone> zone;
  access::LimitReqPolicy policy;
};

// One `limit_conn NAME N` after its zone was resolved.
struct LimitConnRule {
  std::shared_ptr<const LimitConnZone> zone;
  uint32_t limit = 0;
};

// A `geo [$address] $name { ... }` block: the variable $name (VariableId::kGeo, indexed by
// its position in AccessConfig::geo) looks the client, or the address text, up in `map`.
struct GeoVariable {
  std::string name;          // without '$'
  bool has_address = false;  // the two-argument form
  CompiledString address;    // evaluated and parsed as an address when has_address
  std::shared_ptr<const access::GeoMap> map;
};

// Everything of issue 11 that belongs to the whole configuration.
struct AccessConfig {
  std::vector<GeoVariable> geo;
  std::vector<MapVariable> maps;  // $name of a map block: VariableId::kMap, indexed here
  std::vector<std::shared_ptr<const LimitReqZone>> limit_req_zones;
  std::vector<std::shared_ptr<const LimitConnZone>> limit_conn_zones;
};

// Whether a reload may replace `running` by `next`, as nginx's ngx_http_limit_req_init_zone and
// ngx_http_limit_conn_init_zone decide when a zone keeps its name and its size (nginx then keeps
// the zone's state): its key must be unchanged too. A resized zone starts empty and may change
// its key. The error is nginx's message with the new zone's file:line.
[[nodiscard]] absl::Status CheckZonesOnReload(const AccessConfig& running,
                                              const AccessConfig& next);

// The merged settings of one http, server or location level. Lists are inherited whole by a
// level that has none of its own (nginx's array merge).
struct AccessSettings {
  std::shared_ptr<const access::AccessRules> rules;  // null: no allow/deny applies
  std::vector<LimitReqRule> limit_req;
  int limit_req_status = 503;
  bool limit_req_dry_run = false;
  std::vector<LimitConnRule> limit_conn;
  int limit_conn_status = 503;
  bool limit_conn_dry_run = false;
};

}  // namespace realip::config
