// When a failed attempt may go to the next upstream peer (proxy_next_upstream), and when a
// failed reused keep-alive connection may be replaced by a fresh one. Pure decisions.
#pragma once

#include <cstdint>
#include <string_view>

namespace realip::upstream {

// What went wrong with one attempt. The value is the bit position of its proxy_next_upstream
// condition, the layout of config::NextUpstream, so HttpSettings::proxy_next_upstream serves
// as the `conditions` mask unchanged (0 is `off`).
enum class FailureKind : uint32_t {
  kError = 0,          // connect/read/write error, reset or close before a complete response head
  kTimeout = 1,        // proxy_connect/send/read_timeout
  kInvalidHeader = 2,  // the upstream's response head is malformed or empty
  kHttp500 = 3,        // response head received with this status
  kHttp502 = 4,
  kHttp503 = 5,
  kHttp504 = 6,
  kHttp403 = 7,
  kHttp404 = 8,
  kHttp429 = 9,
};

// The proxy_next_upstream condition bit of a failure kind.
constexpr uint32_t RetryOn(FailureKind kind) { return 1u << static_cast<uint32_t>(kind); }
// The `non_idempotent` condition bit.
inline constexpr uint32_t kRetryNonIdempotent = 1u << 10;

// The facts of one failed attempt.
struct AttemptFacts {
  FailureKind failure = FailureKind::kError;
  int attempts = 1;               // attempts made for this request, the failed one included
  bool request_sent = false;      // any byte of the request reached the upstream socket
  bool response_started = false;  // any byte of the response was sent to the client
  bool idempotent = true;         // IsIdempotentMethod(method)
};

// The engine's next step after a failed attempt.
struct NextUpstreamDecision {
  bool retry = false;        // Pick again with this peer added to TriedPeers
  bool peer_failed = false;  // Balancer::Report(peer, Outcome::kFailure); else kSuccess
  // When !retry, or when the retry's Pick finds no peer: the status to answer with (502 or
  // 504), or 0 to pass the upstream's own response on (the HTTP-status kinds). Meaningless when
  // response_started: close the client connection instead.
  int status = 0;
};

// nginx's ngx_http_upstream_next: retry only if the failure kind is in `conditions`, fewer than
// `tries` attempts were made (0: no limit), no byte went to the client, and the request is
// idempotent or never reached the upstream, unless kRetryNonIdempotent is set.
NextUpstreamDecision DecideNextUpstream(uint32_t conditions, int tries, const AttemptFacts& facts);

// RFC 9110 section 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT and DELETE. Method names are
// case-sensitive; unknown methods are treated as not idempotent.
bool IsIdempotentMethod(std::string_view method);

// The facts of a failure on a keep-alive connection taken from the pool.
struct ReusedConnectionFacts {
  bool reused = false;  // the connection came from the keep-alive pool
  bool response_byte_received = false;
  bool idempotent = true;
  bool has_body = false;         // the request has a body (Content-Length > 0 or chunked)
  bool already_retried = false;  // this request already had its fresh-connection retry
};

// A pooled connection the backend closed while idle fails on first use; that is not the peer's
// fault. Retry once on a fresh connection to the same peer, without counting a failure or a
// proxy_next_upstream try, if no response byte arrived and the request can be sent again.
bool RetryOnFreshConnection(const ReusedConnectionFacts& facts);

}  // namespace realip::upstream
