// What one request knows about itself once routed and resolved: the input of variable
// evaluation ($remote_addr, $http_*, ...) and of the upstream request head.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "proxy/config/config.h"
#include "proxy/config/variables.h"
#include "proxy/http/parser.h"
#include "proxy/net/socket_address.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/realip/resolver.h"
#include "proxy/tls/tls.h"

namespace realip::server {

// One upstream attempt, as nginx keeps one ngx_http_upstream_state_t per attempt: the list
// variables ($upstream_status, $upstream_connect_time, ...) print one entry per attempt,
// aligned with $upstream_addr. Times are whole milliseconds since the attempt started (nginx's
// resolution; capped at kMaxMs, 24 days); kUnset is what the attempt did not reach, printed
// "-". 32 bytes, inline in RequestContext for the first attempt.
struct UpstreamAttempt {
  static constexpr int32_t kUnset = -1;
  static constexpr int32_t kMaxMs = INT32_MAX;
  int32_t connect_ms = kUnset;   // connected (0 on a pooled connection)
  int32_t header_ms = kUnset;    // final response head (or 101) parsed
  int32_t response_ms = kUnset;  // attempt over: response read, failed, or request finished
  int32_t status = 0;            // the response's status, or 502/504 for a failure; 0: "-"
  // Bytes read from / written to the upstream connection during the attempt (a new
  // connection's PROXY header included; a tunnel's bytes count as sent, not as received, as
  // in nginx). Counted only when the configuration prints them (VariableUsage).
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
};

// Pointers are borrowed from the session and must outlive every use of the context.
struct RequestContext {
  const config::Server* server = nullptr;
  const config::Location* location = nullptr;
  const http::MessageHead* head = nullptr;
  // $uri, nginx's r->uri: the path normalized (http::NormalizePath), which routing matched.
  // Empty before routing, or when the context was not routed: then the raw path stands in.
  std::string_view uri;
  // After an error_page's internal redirect to a URI (nginx's r->internal): $args, $is_args,
  // $arg_NAME and the upstream request's query come from `args`, split from the page's URI,
  // and `uri` is that URI as written (not normalized again).
  std::string_view args;
  // $request_method and the upstream request's method after that redirect ("GET", HEAD
  // staying HEAD); empty: the head's.
  std::string_view method;
  // A request rejected in its request line (head null): the line as received
  // (http::StoppedRequest::raw_line), which $request shows, as nginx's.
  std::string_view rejected_line;
  const realip::ProxyHeader* proxy_header = nullptr;  // null: the connection had none
  realip::Resolution resolution;
  net::SocketAddress local;  // the accepted connection's local address
  bool https = false;
  // $request_completion: the response was sent whole (set when the request is logged).
  bool request_completion = false;
  // A request rejected in its request line (head null): the line's start had reached its
  // protocol, so $server_protocol is empty rather than absent (nginx's).
  bool rejected_protocol = false;
  // Set by an error_page's internal redirect to a URI: see `args` and `method`.
  bool redirected = false;
  const tls::HandshakeInfo* tls = nullptr;  // null on a plain connection
  uint64_t connection_id = 0;
  int connection_requests = 0;
  // When the connection was accepted: Unix time in milliseconds, modulo 2^32 (the difference
  // to now is right for connections younger than 49 days).
  uint32_t accepted_ms = 0;
  absl::Time start;
  // $request_id: made on first use (most requests never ask), then stable for the request.
  mutable std::string request_id;
  int status = 0;
  // Bytes of the last attempt's response up to its body (heads, interim ones included); 0:
  // no response head. $upstream_response_length is the rest of bytes_received.
  uint32_t upstream_head_bytes = 0;
  // The final response head queued for the client (nginx's r->header_size); 0 before one.
  // $body_bytes_sent is bytes_sent minus this, as nginx's.
  uint32_t response_head_bytes = 0;
  // Bytes written to the client's socket for this request (TLS: the application bytes
  // SSL_write took, as nginx's c->sent), 100 Continue and a tunnel's bytes included.
  uint64_t bytes_sent = 0;
  uint64_t request_length = 0;
  std::string upstream_addr;
  const config::AccessConfig* access = nullptr;  // geo maps ($geo variables); null: none
  std::string_view limit_req_status;               // static text, or empty
  // One per attempt, in order; inline for the usual single attempt (no allocation per request).
  absl::InlinedVector<UpstreamAttempt, 1> upstream_attempts;
  // Set only while the request's log line is written, and only when the configuration prints
  // them (VariableUsage), or while add_header values are evaluated: the last attempt's final
  // response head ($upstream_http_*), the response head sent to the client (so far), status
  // line to the blank line ($sent_http_*).
  const http::MessageHead* upstream_head = nullptr;
  const std::string* sent_head = nullptr;

  // Resets every field for the connection's next request, keeping the strings' memory.
  void Recycle();

  // Starts the entry of a new attempt; `same_entry`: the attempt replaces the last one (a
  // request sent again on a fresh connection after a stale pooled one, not listed twice in
  // $upstream_addr either).
  void BeginUpstreamAttempt(bool same_entry);
  // Whether the last attempt has no end time yet.
  bool UpstreamAttemptOpen() const;
  // Marks the last attempt: connected / its response head (status) parsed, `elapsed` after it
  // started.
  void NoteUpstreamConnected(absl::Duration elapsed);
  void NoteUpstreamHead(int status, absl::Duration elapsed);
  // Ends the last attempt `elapsed` after it started, unless it already ended; `status` (502,
  // 504, ...) is kept unless the attempt already has one (a response head).
  void EndUpstreamAttempt(int status, absl::Duration elapsed);
};

// The request's query without '?' ($args): the request-target's, or after an error_page
// redirect the page URI's.
std::string_view RequestArgs(const RequestContext& ctx);
// $request_method: the head's, or "GET" after an error_page redirect to a URI.
std::string_view RequestMethod(const RequestContext& ctx);

// $proxy_add_x_forwarded_for of the request, appended to *out.
void AppendProxyAddXForwardedFor(const RequestContext& ctx, std::string* out);

// $request_id of the request: 32 hex digits, unique per process run.
std::string_view RequestId(const RequestContext& ctx);

// The value of the first argument `name` (compared without regard to case) in the query
// string `args`, as nginx's ngx_http_arg(): "name=value" pairs separated by '&', the value
// raw (not unescaped). nullopt when no argument of that name has a '='.
std::optional<std::string_view> FindArg(std::string_view args, std::string_view name);

// The value of the first cookie `name` in the Cookie headers, as nginx's
// ngx_http_parse_multi_header_lines(): name compared without regard to case, spaces around
// '=' skipped, the value up to ';'. nullopt when there is none.
std::optional<std::string_view> FindCookie(const http::MessageHead& head, std::string_view name);

// The first header `name` (lower case, '-') of a serialised response head and every later
// one joined with ", ", appended to *out. False when the head has no such header.
bool AppendSerializedHeader(std::string_view head, std::string_view name, std::string* out);
// The first field line `name` (any case) of a serialised head at or after offset `from` (0:
// from the start; else the end of a line found before): where its line starts, where it ends
// (after its CRLF), and its value without surrounding blanks. Not found: begin == npos.
struct SerializedField {
  size_t begin = std::string_view::npos;
  size_t end = std::string_view::npos;
  std::string_view value;
  bool found() const { return begin != std::string_view::npos; }
};
SerializedField FindSerializedField(std::string_view head, std::string_view name, size_t from);

// $request_uri, as nginx's r->unparsed_uri: the request-target, but for an absolute-form one
// (RFC 9112 section 3.2.2) what follows its authority ("http://a/p?q" gives "/p?q", "http://a?q"
// "?q", "http://a" "/").
std::string_view RequestUri(std::string_view target);

// Splits a request-target into path and query (without '?'). An absolute-form target
// (RFC 9112 section 3.2.2) gives the path after its authority ("/" when empty).
struct TargetParts {
  std::string_view path;
  std::string_view query;
  bool has_query = false;
};
TargetParts SplitTarget(std::string_view target);

// The host a request names, as nginx's r->headers_in.server: that of an absolute-form
// request-target ("http://host:port/path"), else the Host header's value; port included, as
// written. Empty when the request names none.
std::string_view RequestHost(const http::MessageHead& head);
// RequestHost() without its port or a trailing dot, in lower case, appended to *out (nginx's
// ngx_http_validate_host; what $host and an absolute Location use).
void AppendRequestHostName(const http::MessageHead& head, std::string* out);

// Appends the value of `ref` for this request to *out (nothing for an empty value). Returns
// true when the variable is set even if empty (nginx's found value, which a log line prints
// empty, not "-": $is_args, $https, $request_completion, an $arg_ or $cookie_ with an empty
// value, a present header of $sent_http_ / $upstream_http_ / $content_type); false
// otherwise, when only a non-empty value counts.
bool AppendVariable(const config::VariableRef& ref, const RequestContext& ctx, std::string* out);

// Evaluates a compiled string against the request.
std::string Evaluate(const config::CompiledString& value, const RequestContext& ctx);
// The same, appended to *out.
void EvaluateTo(const config::CompiledString& value, const RequestContext& ctx,
                std::string* out);
// EvaluateTo for a header field value (proxy_set_header, add_header, a Location): NUL, CR and
// LF that a variable puts in it become spaces, so that no value ends its line or the head
// (the configuration's own text cannot hold them: config::CheckHeaderText). A PROXY v2 TLV
// ($proxy_protocol_tlv_*) and a TLS server name ($ssl_server_name) are bytes the client or
// a load balancer chose; the request head's are refused by the parser already.
void EvaluateFieldTo(const config::CompiledString& value, const RequestContext& ctx,
                     std::string* out);

}  // namespace realip::server
