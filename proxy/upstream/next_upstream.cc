#include "proxy/upstream/next_upstream.h"

namespace realip::upstream {
namespace {

uint32_t FlagOf(FailureKind kind) {
  switch (kind) {
    case FailureKind::kError:
      return kRetryOnError;
    case FailureKind::kTimeout:
      return kRetryOnTimeout;
    case FailureKind::kInvalidHeader:
      return kRetryOnInvalidHeader;
    case FailureKind::kHttp500:
      return kRetryOnHttp500;
    case FailureKind::kHttp502:
      return kRetryOnHttp502;
    case FailureKind::kHttp503:
      return kRetryOnHttp503;
    case FailureKind::kHttp504:
      return kRetryOnHttp504;
    case FailureKind::kHttp403:
      return kRetryOnHttp403;
    case FailureKind::kHttp404:
      return kRetryOnHttp404;
    case FailureKind::kHttp429:
      return kRetryOnHttp429;
  }
  return 0;
}

bool IsHttpStatusKind(FailureKind kind) {
  return kind != FailureKind::kError && kind != FailureKind::kTimeout &&
         kind != FailureKind::kInvalidHeader;
}

}  // namespace

NextUpstreamDecision DecideNextUpstream(uint32_t conditions, int tries, const AttemptFacts& facts) {
  const uint32_t flag = FlagOf(facts.failure);
  NextUpstreamDecision d;
  // nginx counts error, timeout and invalid_header against the peer whatever the directive
  // says; a listed 5xx/429 status is a failure too; 403 and 404 never are (they describe the
  // request, not the server's health).
  if (!IsHttpStatusKind(facts.failure)) {
    d.peer_failed = true;
  } else {
    d.peer_failed = (conditions & flag) != 0 && facts.failure != FailureKind::kHttp403 &&
                    facts.failure != FailureKind::kHttp404;
  }
  d.status = facts.failure == FailureKind::kTimeout ? 504 : 502;
  if (IsHttpStatusKind(facts.failure)) d.status = 0;

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
