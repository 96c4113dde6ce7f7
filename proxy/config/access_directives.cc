// allow/deny, geo, limit_req and limit_conn: directive handlers, zone creation and merging.
#include "proxy/config/access_directives.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"
#include "proxy/config/directive_table.h"
#include "proxy/config/values.h"

namespace realip::config::internal {
namespace {

using base::AsAbsl;

std::vector<std::string_view> ArgViews(const Directive& d) {
  return std::vector<std::string_view>(d.args.begin(), d.args.end());
}

absl::Status AddRule(Scope& s, const Directive& d, access::Verdict verdict) {
  AccessLevelDraft& level = s.level->access;
  if (level.rules == nullptr) level.rules = std::make_shared<access::AccessRules>();
  absl::Status added = level.rules->Add(verdict, d.args[0]);
  if (!added.ok()) return Error(d, base::AsStd(added.message()));
  return absl::OkStatus();
}

// ngx_conf_set_num_slot with ngx_conf_check_num_bounds, as limit_req_status declares it.
absl::Status SetStatus(const Directive& d, std::optional<int>* out) {
  absl::StatusOr<int64_t> v = ParseInt(d.args[0], 0, 1 << 30);
  if (!v.ok()) return Error(d, absl::StrCat("\"", d.name, "\" directive invalid number"));
  if (*v < 400 || *v > 599) return Error(d, "value must be between 400 and 599");
  *out = static_cast<int>(*v);
  return absl::OkStatus();
}

absl::Status SetFlagValue(const Directive& d, std::optional<bool>* out) {
  absl::StatusOr<bool> v = ParseFlag(d.args[0]);
  if (!v.ok()) return InvalidValue(d, d.args[0], base::AsStd(v.status().message()));
  *out = *v;
  return absl::OkStatus();
}

// nginx's limit_req / limit_conn handlers refuse the same zone twice in one block.
absl::Status AddLimitRule(const Directive& d, LimitRuleDraft rule,
                          std::optional<std::vector<LimitRuleDraft>>* list) {
  if (!list->has_value()) list->emplace();
  for (const LimitRuleDraft& other : **list) {
    if (other.zone == rule.zone) {
      return Error(d, absl::StrCat("\"", d.name, "\" directive is duplicate"));
    }
  }
  rule.file = d.file;
  rule.line = d.line;
  (*list)->push_back(std::move(rule));
  return absl::OkStatus();
}

absl::StatusOr<CompiledString> CompileKey(const Directive& d, const std::string& key) {
  absl::StatusOr<CompiledString> compiled = CompileString(key);
  if (!compiled.ok()) return Error(d, base::AsStd(compiled.status().message()));
  return compiled;
}

// limit_req_zone / limit_conn_zone: a zone name may be bound once (nginx's message).
template <typename Spec>
absl::Status AddZone(const Directive& d, absl::StatusOr<Spec> spec, std::vector<Spec>* zones,
                     std::vector<CompiledString>* keys,
                     std::vector<std::pair<std::string, int>>* origins) {
  if (!spec.ok()) return Error(d, base::AsStd(spec.status().message()));
  for (const Spec& other : *zones) {
    if (other.name == spec->name) {
      return Error(d, absl::StrCat(d.name, " \"", spec->name, "\" is already bound to key \"",
                                   other.key, "\""));
    }
  }
  REALIP_ASSIGN_OR_RETURN(CompiledString key, CompileKey(d, spec->key));
  keys->push_back(std::move(key));
  origins->emplace_back(d.file, d.line);
  zones->push_back(*std::move(spec));
  return absl::OkStatus();
}

// The limiter of the zone of `running` with this name, key and size (nginx keeps a shared memory
// zone of the previous cycle with the same name and size; a different key is refused later, by
// CheckZonesOnReload); null if there is none.
template <typename Zone>
auto CarriedLimiter(const std::vector<std::shared_ptr<const Zone>>* running,
                    const std::string& name, const CompiledString& key, size_t size)
    -> decltype(Zone::limiter) {
  if (running == nullptr) return nullptr;
  for (const auto& old : *running) {
    if (old->name == name && old->size == size && old->key.source == key.source) {
      return old->limiter;
    }
  }
  return nullptr;
}

// The name, without '$' and in lower case (as every variable name in nginx), of the variable a
// geo or map block defines with the argument `var`. ngx_http_add_variable() refuses to
// redefine a built-in variable; geo and map variables may be redefined by later blocks.
absl::StatusOr<std::string> DefinedVariableName(const Directive& d, const std::string& var) {
  if (var.size() < 2 || var[0] != '$') {
    return Error(d, absl::StrCat("invalid variable name \"", var, "\""));
  }
  std::string name = absl::AsciiStrToLower(var.substr(1));
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return Error(d, absl::StrCat("invalid variable name \"", var, "\""));
    }
  }
  // geo and map names are known before the blocks are read (CollectDefinedVariables), so a
  // block finds its own name, as a geo or a map (that of the name's last block).
  const std::optional<VariableRef> known = LookupVariable(name);
  if (known.has_value() && known->id != VariableId::kGeo && known->id != VariableId::kMap) {
    return Error(d, absl::StrCat("the duplicate \"", var.substr(1), "\" variable"));
  }
  return name;
}

// Puts a geo or map block's variable at its name's place in *blocks (parallel to `names`),
// replacing an earlier block of the same name. A name missing from `names` is defined by a
// later block of the other kind: this block was checked and is dropped, as nginx drops it.
template <typename Block>
void Define(const std::vector<std::string>& names, Block block, std::vector<Block>* blocks) {
  const auto named = std::find(names.begin(), names.end(), block.name);
  if (named == names.end()) return;
  const auto index = static_cast<size_t>(named - names.begin());
  if (blocks->size() <= index) blocks->resize(index + 1);
  (*blocks)[index] = std::move(block);
}

}  // namespace

absl::Status AllowDirective(Scope& s, const Directive& d) {
  return AddRule(s, d, access::Verdict::kAllow);
}

absl::Status DenyDirective(Scope& s, const Directive& d) {
  return AddRule(s, d, access::Verdict::kDeny);
}

absl::Status GeoBlock(Scope& s, const Directive& d) {
  AccessDraft& draft = s.draft->access;
  GeoVariable geo;
  REALIP_ASSIGN_OR_RETURN(geo.name, DefinedVariableName(d, d.args.back()));
  if (d.args.size() == 2) {
    REALIP_ASSIGN_OR_RETURN(geo.address, CompileKey(d, d.args[0]));
    geo.has_address = true;
  }
  access::GeoMapBuilder builder;
  for (const Directive& statement : d.block) {
    if (statement.has_block) {
      return Error(statement, absl::StrCat("unexpected \"{\" in geo"));
    }
    // A value is a variable's, which a proxy_set_header or add_header may send.
    for (const std::string& word : statement.args) {
      REALIP_RETURN_IF_ERROR(CheckHeaderText(statement, word, "value", "geo"));
    }
    std::vector<std::string_view> words{statement.name};
    words.insert(words.end(), statement.args.begin(), statement.args.end());
    const size_t warned = builder.warnings().size();
    absl::Status applied = builder.ApplyStatement(words);
    if (!applied.ok()) return Error(statement, base::AsStd(applied.message()));
    for (size_t i = warned; i < builder.warnings().size(); ++i) {
      s.draft->warnings.push_back(
          AtLocation(builder.warnings()[i], statement.file, statement.line));
    }
  }
  geo.map = builder.Build();
  Define(draft.geo_names, std::move(geo), &draft.geo);
  return absl::OkStatus();
}

absl::Status MapBlock(Scope& s, const Directive& d) {
  AccessDraft& draft = s.draft->access;
  MapVariable map;
  REALIP_ASSIGN_OR_RETURN(map.name, DefinedVariableName(d, d.args[1]));
  REALIP_ASSIGN_OR_RETURN(map.source, CompileKey(d, d.args[0]));
  map.file = d.file;
  map.line = d.line;
  // ngx_http_map(): `hostnames;` and `volatile;` alone, else `KEY VALUE;` (include is expanded
  // by the parser).
  for (const Directive& entry : d.block) {
    if (entry.has_block) return Error(entry, "unexpected \"{\"");
    if (entry.args.empty() && (entry.name == "hostnames" || entry.name == "volatile")) {
      // Values are computed each time they are used: nothing is cached to turn off.
      if (entry.name == "hostnames") map.set_hostnames(true);
      continue;
    }
    if (entry.args.size() != 1) return Error(entry, "invalid number of the map parameters");
    // A value is a variable's, which a proxy_set_header or add_header may send.
    REALIP_RETURN_IF_ERROR(CheckHeaderText(entry, entry.args[0], "value", "map"));
    REALIP_ASSIGN_OR_RETURN(CompiledString value, CompileKey(entry, entry.args[0]));
    std::string_view key = entry.name;
    absl::Status added;
    if (key == "default") {
      added = map.SetDefault(std::move(value));
    } else if (!key.empty() && key[0] == '~') {
      return Error(entry, absl::StrCat("regular expressions in \"map\" are not supported: \"",
                                       AsAbsl(key), "\""));
    } else {
      // A leading backslash escapes a key that would be read otherwise ("\\default").
      if (!key.empty() && key[0] == '\\') key.remove_prefix(1);
      added = map.AddEntry(key, std::move(value), map.hostnames());
    }
    if (!added.ok()) return Error(entry, base::AsStd(added.message()));
  }
  Define(draft.map_names, std::move(map), &draft.maps);
  return absl::OkStatus();
}

void CollectDefinedVariables(const std::vector<Directive>& main, AccessDraft* draft) {
  // Each name with the kind of the last block seen for it, in order of first appearance.
  std::vector<std::pair<std::string, bool>> last_is_map;
  for (const Directive& http : main) {
    if (http.name != "http" || !http.has_block) continue;
    for (const Directive& d : http.block) {
      const bool is_map = d.name == "map";
      if (!d.has_block || d.args.empty() || (!is_map && d.name != "geo")) continue;
      // Malformed blocks are left to their handlers, which refuse them.
      const std::string& var = d.args.back();
      if (var.size() < 2 || var[0] != '$') continue;
      std::string name = absl::AsciiStrToLower(var.substr(1));
      auto it = std::find_if(last_is_map.begin(), last_is_map.end(),
                             [&](const auto& entry) { return entry.first == name; });
      if (it == last_is_map.end()) {
        last_is_map.emplace_back(std::move(name), is_map);
      } else {
        it->second = is_map;
      }
    }
  }
  for (auto& [name, is_map] : last_is_map) {
    (is_map ? draft->map_names : draft->geo_names).push_back(std::move(name));
  }
}

absl::Status LimitReqZoneDirective(Scope& s, const Directive& d) {
  AccessDraft& draft = s.draft->access;
  return AddZone(d, access::ParseLimitReqZoneArgs(ArgViews(d)), &draft.limit_req_zones,
                 &draft.limit_req_keys, &draft.limit_req_origins);
}

absl::Status LimitReqDirective(Scope& s, const Directive& d) {
  absl::StatusOr<access::LimitReqSpec> spec = access::ParseLimitReqArgs(ArgViews(d));
  if (!spec.ok()) return Error(d, base::AsStd(spec.status().message()));
  LimitRuleDraft rule;
  rule.zone = spec->zone;
  rule.policy = access::LimitReqPolicy{spec->burst, spec->delay};
  return AddLimitRule(d, std::move(rule), &s.level->access.limit_req);
}

absl::Status LimitReqStatus(Scope& s, const Directive& d) {
  return SetStatus(d, &s.level->access.limit_req_status);
}

absl::Status LimitReqDryRun(Scope& s, const Directive& d) {
  return SetFlagValue(d, &s.level->access.limit_req_dry_run);
}

absl::Status LimitConnZoneDirective(Scope& s, const Directive& d) {
  AccessDraft& draft = s.draft->access;
  return AddZone(d, access::ParseLimitConnZoneArgs(ArgViews(d)), &draft.limit_conn_zones,
                 &draft.limit_conn_keys, &draft.limit_conn_origins);
}

absl::Status LimitConnDirective(Scope& s, const Directive& d) {
  absl::StatusOr<access::LimitConnSpec> spec = access::ParseLimitConnArgs(ArgViews(d));
  if (!spec.ok()) return Error(d, base::AsStd(spec.status().message()));
  LimitRuleDraft rule;
  rule.zone = spec->zone;
  rule.limit = spec->limit;
  return AddLimitRule(d, std::move(rule), &s.level->access.limit_conn);
}

absl::Status LimitConnStatus(Scope& s, const Directive& d) {
  return SetStatus(d, &s.level->access.limit_conn_status);
}

absl::Status LimitConnDryRun(Scope& s, const Directive& d) {
  return SetFlagValue(d, &s.level->access.limit_conn_dry_run);
}

absl::Status BuildAccessConfig(AccessDraft& draft, const AccessConfig* running, AccessConfig* out) {
  out->geo = std::move(draft.geo);
  out->maps = std::move(draft.maps);
  for (size_t i = 0; i < draft.limit_req_zones.size(); ++i) {
    const access::LimitReqZoneSpec& spec = draft.limit_req_zones[i];
    auto zone = std::make_shared<LimitReqZone>();
    zone->name = spec.name;
    zone->key = draft.limit_req_keys[i];
    zone->size = spec.size;
    zone->rate = spec.rate;
    zone->file = draft.limit_req_origins[i].first;
    zone->line = draft.limit_req_origins[i].second;
    // The rate is not part of the identity: as in nginx (ngx_http_limit_req_init_zone), a new
    // rate keeps the states, and each configuration charges them at its own rate.
    zone->limiter = CarriedLimiter(running ? &running->limit_req_zones : nullptr, zone->name,
                                   zone->key, zone->size);
    if (zone->limiter == nullptr) {
      zone->limiter = std::make_shared<access::RateLimiter>(spec.name, spec.size);
    }
    out->limit_req_zones.push_back(std::move(zone));
  }
  for (size_t i = 0; i < draft.limit_conn_zones.size(); ++i) {
    const access::LimitConnZoneSpec& spec = draft.limit_conn_zones[i];
    auto zone = std::make_shared<LimitConnZone>();
    zone->name = spec.name;
    zone->key = draft.limit_conn_keys[i];
    zone->size = spec.size;
    zone->file = draft.limit_conn_origins[i].first;
    zone->line = draft.limit_conn_origins[i].second;
    zone->limiter = CarriedLimiter(running ? &running->limit_conn_zones : nullptr, zone->name,
                                   zone->key, zone->size);
    if (zone->limiter == nullptr) {
      zone->limiter = std::make_shared<access::ConnLimiter>(spec.name, spec.size);
    }
    out->limit_conn_zones.push_back(std::move(zone));
  }
  return absl::OkStatus();
}

namespace {

template <typename Zone>
absl::StatusOr<std::shared_ptr<const Zone>> FindZone(
    const std::vector<std::shared_ptr<const Zone>>& zones, const LimitRuleDraft& rule,
    std::string_view directive) {
  for (const auto& zone : zones) {
    if (zone->name == rule.zone) return zone;
  }
  return absl::InvalidArgumentError(
      AtLocation(absl::StrCat("unknown ", AsAbsl(directive), "_zone \"", rule.zone, "\""),
                 rule.file, rule.line));
}

template <typename T>
void InheritValue(T& out, const std::optional<T>& own) {
  if (own.has_value()) out = *own;
}

}  // namespace

absl::Status MergeAccess(const AccessConfig& config, const AccessLevelDraft& own,
                         AccessSettings* settings) {
  if (own.rules != nullptr) settings->rules = own.rules;
  if (own.limit_req.has_value()) {
    settings->limit_req.clear();
    for (const LimitRuleDraft& rule : *own.limit_req) {
      REALIP_ASSIGN_OR_RETURN(std::shared_ptr<const LimitReqZone> zone,
                              FindZone(config.limit_req_zones, rule, "limit_req"));
      settings->limit_req.push_back(LimitReqRule{std::move(zone), rule.policy});
    }
  }
  if (own.limit_conn.has_value()) {
    settings->limit_conn.clear();
    for (const LimitRuleDraft& rule : *own.limit_conn) {
      REALIP_ASSIGN_OR_RETURN(std::shared_ptr<const LimitConnZone> zone,
                              FindZone(config.limit_conn_zones, rule, "limit_conn"));
      settings->limit_conn.push_back(LimitConnRule{std::move(zone), rule.limit});
    }
  }
  InheritValue(settings->limit_req_status, own.limit_req_status);
  InheritValue(settings->limit_req_dry_run, own.limit_req_dry_run);
  InheritValue(settings->limit_conn_status, own.limit_conn_status);
  InheritValue(settings->limit_conn_dry_run, own.limit_conn_dry_run);
  return absl::OkStatus();
}

}  // namespace realip::config::internal

namespace realip::config {
namespace {

// `what` is nginx's word for the zone in its message: "limit_req" for ngx_http_limit_req_module,
// "limit_conn_zone" for ngx_http_limit_conn_module.
template <typename Zone>
absl::Status CheckKeysKept(std::string_view what,
                           const std::vector<std::shared_ptr<const Zone>>& running,
                           const std::vector<std::shared_ptr<const Zone>>& next) {
  for (const auto& zone : next) {
    for (const auto& old : running) {
      // Another size is another shared memory zone in nginx (ngx_init_cycle): it starts empty.
      if (old->name != zone->name || old->size != zone->size) continue;
      if (old->key.source != zone->key.source) {
        return absl::InvalidArgumentError(AtLocation(
            absl::StrCat(base::AsAbsl(what), " \"", zone->name, "\" uses the \"", zone->key.source,
                         "\" key while previously it used the \"", old->key.source, "\" key"),
            zone->file, zone->line));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckZonesOnReload(const AccessConfig& running, const AccessConfig& next) {
  REALIP_RETURN_IF_ERROR(CheckKeysKept("limit_req", running.limit_req_zones, next.limit_req_zones));
  return CheckKeysKept("limit_conn_zone", running.limit_conn_zones, next.limit_conn_zones);
}

}  // namespace realip::config
