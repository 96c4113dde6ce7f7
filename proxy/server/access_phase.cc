#include "proxy/server/access_phase.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "proxy/access/rate_limiter.h"
#include "proxy/base/logging.h"

namespace realip::server {

namespace {

// The result label of realip_limit_req_total: $limit_req_status in lower case.
std::string_view ResultLabel(access::LimitReqResult result, bool dry_run) {
  switch (result) {
    case access::LimitReqResult::kDeclined:
      return "";
    case access::LimitReqResult::kPassed:
      return "passed";
    case access::LimitReqResult::kDelayed:
      return dry_run ? "delayed_dry_run" : "delayed";
    case access::LimitReqResult::kRejected:
      return dry_run ? "rejected_dry_run" : "rejected";
  }
  return "";
}

}  // namespace

LimitReqVerdict ApplyLimitReq(const config::AccessSettings& settings, const RequestContext& ctx,
                              uint64_t now_ms, metrics::Shard* shard) {
  LimitReqVerdict verdict;
  if (settings.limit_req.empty()) return verdict;
  std::vector<std::string> keys;
  keys.reserve(settings.limit_req.size());
  std::vector<access::LimitReqCheck> checks;
  checks.reserve(settings.limit_req.size());
  for (const config::LimitReqRule& rule : settings.limit_req) {
    keys.push_back(Evaluate(rule.zone->key, ctx));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const config::LimitReqRule& rule = settings.limit_req[i];
    checks.push_back(
        access::LimitReqCheck{rule.zone->limiter.get(), rule.zone->rate, keys[i], rule.policy});
  }
  const access::LimitReqDecision d = access::CheckLimitReq(checks, now_ms);
  if (d.result == access::LimitReqResult::kDeclined) return verdict;
  const bool dry_run = settings.limit_req_dry_run;
  verdict.status_name = access::LimitReqStatusName(d.result, dry_run);
  const std::string& zone =
      settings.limit_req[d.zone_index < checks.size() ? d.zone_index : 0].zone->name;
  shard->Add(metrics::Metric::kLimitReq, {zone, ResultLabel(d.result, dry_run)});
  switch (d.result) {
    case access::LimitReqResult::kDeclined:
    case access::LimitReqResult::kPassed:
      return verdict;
    case access::LimitReqResult::kRejected:
      // nginx logs these at error level ("limiting requests, excess: 1.000 by zone ...").
      REALIP_LOG(kInfo, "limiting requests", dry_run ? ", dry run" : "",
                 ", excess: ", absl::StrFormat("%d.%03d", d.excess / 1000, d.excess % 1000),
                 " by zone \"", zone, "\", client: ", ctx.resolution.client.HostToString());
      if (!dry_run) {
        verdict.action = LimitReqVerdict::Action::kReject;
        verdict.status = settings.limit_req_status;
      }
      return verdict;
    case access::LimitReqResult::kDelayed:
      if (!dry_run && d.delay_ms > 0) {
        verdict.action = LimitReqVerdict::Action::kDelay;
        verdict.delay_ms = d.delay_ms;
      }
      return verdict;
  }
  return verdict;
}

int ApplyLimitConn(const config::AccessSettings& settings, const RequestContext& ctx,
                   std::vector<access::ConnLimitLease>* leases) {
  for (const config::LimitConnRule& rule : settings.limit_conn) {
    access::ConnLimiter* zone = rule.zone->limiter.get();
    const std::string key = Evaluate(rule.zone->key, ctx);
    switch (zone->TryAcquire(key, rule.limit)) {
      case access::ConnLimitResult::kAcquired:
        leases->emplace_back(zone, key);
        continue;
      case access::ConnLimitResult::kSkipped:
        continue;
      case access::ConnLimitResult::kLimited:
      case access::ConnLimitResult::kZoneFull:
        REALIP_LOG(kInfo, "limiting connections", settings.limit_conn_dry_run ? ", dry run" : "",
                   " by zone \"", rule.zone->name,
                   "\", client: ", ctx.resolution.client.HostToString());
        if (settings.limit_conn_dry_run) continue;
        leases->clear();
        return settings.limit_conn_status;
    }
  }
  return 0;
}

bool AccessAllowed(const config::AccessSettings& settings, const RequestContext& ctx,
                   metrics::Shard* shard) {
  if (settings.rules == nullptr ||
      settings.rules->Evaluate(ctx.resolution.client) == access::Verdict::kAllow) {
    return true;
  }
  REALIP_LOG(kInfo, "access forbidden by rule, client: ", ctx.resolution.client.HostToString());
  std::string_view server;
  if (ctx.server != nullptr && !ctx.server->names.empty()) server = ctx.server->names.front();
  shard->Add(metrics::Metric::kAccessDenied, {server});
  return false;
}

}  // namespace realip::server
