// Directive handlers and load-time resolution for allow/deny, geo, map, limit_req_zone, limit_req,
// limit_conn_zone, limit_conn and their _status/_dry_run settings (issue 11). The rows are in
// directives.cc's table; merging is called from the loader.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "proxy/access/limit_args.h"
#include "proxy/config/access_config.h"
#include "proxy/config/parser.h"

namespace realip::config::internal {

struct Scope;
struct Draft;

// A `limit_req` or `limit_conn` before its zone is resolved (zones may be defined later).
struct LimitRuleDraft {
  std::string zone;
  access::LimitReqPolicy policy;  // limit_req
  uint32_t limit = 0;             // limit_conn
  std::string file;
  int line = 0;
};

// What one http, server or location block sets itself; unset = inherit.
struct AccessLevelDraft {
  std::shared_ptr<access::AccessRules> rules;  // null: no allow/deny at this level
  std::optional<std::vector<LimitRuleDraft>> limit_req;
  std::optional<int> limit_req_status;
  std::optional<bool> limit_req_dry_run;
  std::optional<std::vector<LimitRuleDraft>> limit_conn;
  std::optional<int> limit_conn_status;
  std::optional<bool> limit_conn_dry_run;
};

// Zone definitions and geo blocks of the whole configuration.
struct AccessDraft {
  std::vector<access::LimitReqZoneSpec> limit_req_zones;
  std::vector<access::LimitConnZoneSpec> limit_conn_zones;
  std::vector<CompiledString> limit_req_keys;   // parallel to limit_req_zones
  std::vector<CompiledString> limit_conn_keys;  // parallel to limit_conn_zones
  // Where each zone is defined ("file", line), parallel to limit_req_zones / limit_conn_zones.
  std::vector<std::pair<std::string, int>> limit_req_origins;
  std::vector<std::pair<std::string, int>> limit_conn_origins;
  // The variables geo and map blocks define, collected before the blocks are read
  // (CollectDefinedVariables): each name is in the list of the kind of its last block, which
  // is the block that defines it. The blocks are parallel to their names' lists.
  std::vector<std::string> geo_names;
  std::vector<GeoVariable> geo;
  std::vector<std::string> map_names;
  std::vector<MapVariable> maps;
};

absl::Status AllowDirective(Scope& s, const Directive& d);
absl::Status DenyDirective(Scope& s, const Directive& d);
absl::Status GeoBlock(Scope& s, const Directive& d);
absl::Status MapBlock(Scope& s, const Directive& d);
absl::Status LimitReqZoneDirective(Scope& s, const Directive& d);
absl::Status LimitReqDirective(Scope& s, const Directive& d);
absl::Status LimitReqStatus(Scope& s, const Directive& d);
absl::Status LimitReqDryRun(Scope& s, const Directive& d);
absl::Status LimitConnZoneDirective(Scope& s, const Directive& d);
absl::Status LimitConnDirective(Scope& s, const Directive& d);
absl::Status LimitConnStatus(Scope& s, const Directive& d);
absl::Status LimitConnDryRun(Scope& s, const Directive& d);

// Fills draft->geo_names and draft->map_names from the `geo` and `map` blocks directly in an
// http block of `main` (the top-level directives). nginx resolves variable names after the
// whole configuration is read, so a geo or map variable may be used before its block; and a
// later block for the same name, of either kind, replaces the earlier one (ngx_http_add_variable
// returns the existing variable and the last block sets its handler). A name goes in the list
// of its last block's kind, once.
void CollectDefinedVariables(const std::vector<Directive>& main, AccessDraft* draft);

// Creates the zones and moves the geo maps into `out`. A zone of `running` (the configuration
// a reload replaces; null at start) with the same name, key and size lends its limiter, so the
// reload keeps its state; any other zone starts empty.
[[nodiscard]] absl::Status BuildAccessConfig(AccessDraft& draft, const AccessConfig* running,
                                             AccessConfig* out);

// Merges one level over its parent's settings; resolves zone names (`unknown limit_req_zone`).
[[nodiscard]] absl::Status MergeAccess(const AccessConfig& config, const AccessLevelDraft& own,
                                       AccessSettings* settings);

}  // namespace realip::config::internal
