#include "proxy/upstream/next_upstream.h"

namespace realip::upstream {
namespace {

bool IsHttpStatusKind(FailureKind kind) {
  return kind != FailureKind::kError && kind != FailureKind::kTimeout &&
         kind != FailureKind::kInvalidHeader;
}

}  // namespace

NextUpstreamDecision DecideNextUpstream(uint32_t conditions, int tries, const AttemptFacts& facts) {
  const uint32_t flag = RetryOn(facts.failure);
  NextUpstreamDecision d;
  // nginx counts error, timeout and invalid_header against the peer whatever the directive
  // says; a listed 5xx/429 status is a failure too; 403 and 404 never are (they describe the
  // request, not the server's health).
  const bool http_status = IsHttpStatusKind(facts.failure);
  d.peer_failed =
      !http_status || ((conditions & flag) != 0 && facts.failure != FailureKind::kHttp403 &&
                       facts.failure != FailureKind::kHttp404);
  d.status = http_status ? 0 : (facts.failure == FailureKind::kTimeout ? 504 : 502);

  if ((conditions & flag) == 0) return d;
  if (facts.response_started) return d;
  if (tries > 0 && facts.attempts >= tries) return d;
  // A non-idempotent request that reached the upstream may have had its effect there
  // (RFC 9110 section 9.2.2); resend it only when the configuration says so.
  if (facts.request_sent && !facts.idempotent && (conditions & kRetryNonIdempotent) == 0) {
    return d;
  }
  d.retry = true;
  return d;
}

bool IsIdempotentMethod(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

bool RetryOnFreshConnection(const ReusedConnectionFacts& facts) {
  return facts.reused && !facts.response_byte_received && !facts.already_retried &&
         (facts.idempotent || !facts.has_body);
}

}  // namespace realip::upstream
