// nginx's preaccess and access phases for one request, after real-IP resolution: limit_req
// (may delay or reject), limit_conn (holds a slot per zone until the request ends), then
// allow/deny. Keys and addresses come from the resolved client ($remote_addr & co.).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/access/conn_limiter.h"
#include "proxy/config/config.h"
#include "proxy/metrics/metrics.h"
#include "proxy/server/request_context.h"

namespace realip::server {

// What limit_req decided for a request.
struct LimitReqVerdict {
  enum class Action { kContinue, kDelay, kReject };
  Action action = Action::kContinue;
  uint64_t delay_ms = 0;         // kDelay
  int status = 0;                // kReject: limit_req_status
  std::string_view status_name;  // $limit_req_status ("" when no zone applied)
};

// Runs the location's limit_req rules once for this request at `now_ms` (a monotonic clock)
// and counts the result in realip_limit_req_total. Dry run turns kDelay and kReject into kContinue.
LimitReqVerdict ApplyLimitReq(const config::AccessSettings& settings, const RequestContext& ctx,
                              uint64_t now_ms, metrics::Shard* shard);

// Takes a slot in every limit_conn zone of the location into *leases. Returns 0 to go on, or
// the status to refuse with (limit_conn_status; no slot is kept then). Dry run never refuses.
int ApplyLimitConn(const config::AccessSettings& settings, const RequestContext& ctx,
                   std::vector<access::ConnLimitLease>* leases);

// allow/deny on the resolved client: true if the request may go on; a denial is counted in
// realip_access_denied_total.
bool AccessAllowed(const config::AccessSettings& settings, const RequestContext& ctx,
                   metrics::Shard* shard);

}  // namespace realip::server
