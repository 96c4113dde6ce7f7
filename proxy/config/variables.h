// The variable registry and compiled strings.
//
// Arguments that may contain `$name` / `${name}` (proxy_set_header values, return text,
// log_format, hash keys) are compiled once at load into literal and variable segments; the
// request path evaluates variable ids against a request and never looks at names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/base/field_id.h"

namespace realip::config {

// Every variable the proxy knows. The ones marked "parameterised" carry a suffix in
// VariableRef::param (e.g. $http_user_agent -> kHttp, param "user-agent").
enum class VariableId : uint8_t {
  kRemoteAddr,               // client address after real-IP resolution
  kBinaryRemoteAddr,         // same, as 4 or 16 network-order bytes
  kRemotePort,               // client port after resolution; empty when unknown
  kRemoteUser,               // always empty: there is no auth module
  kRealipRemoteAddr,         // the TCP peer (or PROXY source) before header resolution
  kRealipRemotePort,         //
  kRealipSource,             // which source gave $remote_addr ("peer", "proxy_protocol", header)
  kProxyProtocolAddr,        // PROXY header source address; empty without a PROXY header
  kProxyProtocolPort,        //
  kProxyProtocolServerAddr,  // PROXY header destination address
  kProxyProtocolServerPort,  //
  kProxyProtocolTlv,         // parameterised: TLV name for realip::ProxyHeader::TlvByName
  kProxyAddXForwardedFor,    // incoming X-Forwarded-For lines joined by ", " plus $remote_addr
  kRealipXForwardedFor,      // incoming X-Forwarded-For plus $realip_remote_addr (the peer)
  kProxyHost,                // host[:port] of the proxy_pass target, as nginx
  kProxyPort,                // port of the proxy_pass target
  kScheme,                   // "http" or "https"
  kHost,                     // Host without port, lower case; else the server name
  kHttp,                     // parameterised: request header, param lower case with '-'
  kRequest,                  // full request line
  kRequestMethod,            //
  kRequestUri,               // original URI with arguments
  kUri,                      // normalised path without arguments
  kArgs,                     // query string without '?'
  kServerAddr,               // local address of the accepted connection
  kServerPort,               //
  kServerName,               // first server_name of the chosen server
  kStatus,                   // response status code
  kBodyBytesSent,            //
  kBytesSent,                //
  kRequestLength,            // request head + body bytes received
  kRequestTime,              // seconds with millisecond resolution, "0.012"
  kUpstreamAddr,             // "ip:port" of each upstream tried, ", " separated
  kUpstreamStatus,           // one entry per attempt, as $upstream_addr; "-": none
  kUpstreamConnectTime,      // seconds per attempt, "0.002, -"; "-": not reached
  kUpstreamHeaderTime,       //
  kUpstreamResponseTime,     //
  kMsec,                     // current time in seconds with millisecond resolution
  kTimeLocal,                // "26/Nov/2026:07:40:00 +0000"
  kTimeIso8601,              // "2026-11-26T07:40:00+00:00"
  kRequestId,                // 32 random hex digits, one per request
  kConnection,               // connection serial number
  kConnectionRequests,       // requests served on this connection so far
  kLimitReqStatus,           // PASSED, DELAYED, REJECTED, ..._DRY_RUN; empty when not limited
  kGeo,                      // a geo block's variable: param is its name, index its block
  kMap,                      // a map block's variable: param is its name, index its block
  kSslProtocol,              // "TLSv1.2", "TLSv1.3"; empty on a plain connection
  kSslCipher,                // OpenSSL cipher name
  kSslServerName,            // SNI sent by the client
  kSslSessionReused,         // "r" when the session was resumed, else "."
  kSslClientSDn,             // client certificate subject, RFC 2253
  kSslClientVerify,          // "NONE", "SUCCESS" or "FAILED:reason"
  kServerProtocol,           // "HTTP/1.1" or "HTTP/1.0"
  kIsArgs,                   // "?" when the request has arguments, else empty
  kContentType,              // the request's Content-Type
  kContentLength,            // the request's Content-Length
  kHttps,                    // "on" on a TLS connection, else empty
  kRequestCompletion,        // "OK" once the response was sent whole, else empty
  kConnectionTime,           // seconds since the connection was accepted, "1.234"
  kPid,                      // the process id
  kHostname,                 // gethostname()
  kNginxVersion,             // our own version (there is no nginx in the process)
  kArg,                      // parameterised: query argument, param lower case
  kCookie,                   // parameterised: cookie, param lower case
  kSentHttp,                 // parameterised: response header sent to the client
  kUpstreamHttp,             // parameterised: response header of the last upstream attempt
  kUpstreamResponseLength,   // response body bytes per attempt, as $upstream_status
  kUpstreamBytesReceived,    // bytes read from the upstream per attempt
  kUpstreamBytesSent,        // bytes written to the upstream per attempt
};

// One variable occurrence with its parameter.
struct VariableRef {
  VariableId id = VariableId::kRemoteAddr;
  // kHttp, kSentHttp, kUpstreamHttp: header name, lower case, '_' turned into '-'; kArg,
  // kCookie: the name, lower case (nginx matches both without regard to case);
  // kProxyProtocolTlv: the TLV name ("alpn", "ssl_cn", "0x05"), valid for
  // realip::IsValidTlvName.
  std::string param;
  // kGeo: index into Config::access.geo; kMap: into Config::access.maps.
  uint32_t index = 0;
  // kHttp, kSentHttp, kUpstreamHttp: the id of the header name in `param`.
  base::FieldId field = base::FieldId::kOther;
  friend bool operator==(const VariableRef&, const VariableRef&) = default;
};

// A literal run or a variable.
struct Segment {
  std::string literal;  // used when `variable` is empty
  std::optional<VariableRef> variable;
  friend bool operator==(const Segment&, const Segment&) = default;
};

// A string argument compiled at load. Adjacent literals are merged; an argument without
// variables is a single literal segment (or none when empty).
struct CompiledString {
  std::string source;  // the argument as written, for dumps and messages
  std::vector<Segment> segments;

  // True when no segment is a variable.
  bool IsLiteral() const;
  // The literal text; valid only when IsLiteral().
  std::string LiteralText() const;
};

// What a configuration's compiled strings use, for the values that cost something to record
// on every request (a copy of the response head, byte counts): the request path records them
// only when some string of the configuration can print them.
struct VariableUsage {
  bool sent_http = false;       // $sent_http_*: the response head sent to the client
  bool upstream_http = false;   // $upstream_http_*: the last upstream response head
  bool upstream_bytes = false;  // $upstream_bytes_*, $upstream_response_length
};

// While an instance lives, CompileString on the same thread adds what it compiles to *usage
// (loading runs on one thread).
class ScopedVariableUsage {
 public:
  explicit ScopedVariableUsage(VariableUsage* usage);
  ~ScopedVariableUsage();
  ScopedVariableUsage(const ScopedVariableUsage&) = delete;
  ScopedVariableUsage& operator=(const ScopedVariableUsage&) = delete;

 private:
  VariableUsage* previous_;
};

// Looks a variable name up (without the '$'), including parameterised prefixes
// ("http_x_real_ip", "arg_page", "cookie_sid", "sent_http_x_id",
// "upstream_http_x_id", "proxy_protocol_tlv_0x05"). Returns nullopt for unknown names.
std::optional<VariableRef> LookupVariable(std::string_view name);

// Variables the configuration being loaded defines itself (geo and map blocks), by name
// without '$'; the position in a list is VariableRef::index. While an instance lives,
// LookupVariable and CompileString on the same thread also know these names (loading runs on
// one thread). `maps` may be null.
class ScopedConfigVariables {
 public:
  explicit ScopedConfigVariables(const std::vector<std::string>* geo,
                                 const std::vector<std::string>* maps = nullptr);
  ~ScopedConfigVariables();
  ScopedConfigVariables(const ScopedConfigVariables&) = delete;
  ScopedConfigVariables& operator=(const ScopedConfigVariables&) = delete;

 private:
  const std::vector<std::string>* previous_geo_;
  const std::vector<std::string>* previous_maps_;
};

// The canonical name of a variable, without '$' ("remote_addr", "http_x_real_ip").
std::string VariableName(const VariableRef& ref);

// Compiles `text`. Errors (message without file/line): `unknown "foo" variable`,
// `invalid variable name in "text"`, `the closing bracket in "foo" variable is missing`.
[[nodiscard]] absl::StatusOr<CompiledString> CompileString(std::string_view text);

}  // namespace realip::config
