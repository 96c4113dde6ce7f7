#include "proxy/server/request_context.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proxy/http/headers.h"

namespace realip::server {
namespace {

using config::VariableId;

void AppendPort(const net::SocketAddress& addr, std::string* out) {
  if (!addr.is_unix && addr.port != 0) absl::StrAppend(out, addr.port);
}

void AppendSeconds(absl::Duration d, std::string* out) {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%.3f", absl::ToDoubleSeconds(d));
  out->append(buf, static_cast<size_t>(n));
}

int64_t WholeMs(absl::Duration d) { return std::max<int64_t>(0, absl::ToInt64Milliseconds(d)); }

// One entry per attempt, ", " separated, as nginx's ngx_http_upstream_status_variable and
// ngx_http_upstream_response_time_variable (" : " separates upstream groups after an internal
// redirect, which we do not have). Nothing when no attempt was made.
void AppendAttemptStatuses(const RequestContext& ctx, std::string* out) {
  bool first = true;
  for (const UpstreamAttempt& a : ctx.upstream_attempts) {
    if (!first) out->append(", ");
    first = false;
    if (a.status != 0) {
      absl::StrAppend(out, a.status);
    } else {
      out->push_back('-');
    }
  }
}

void AppendAttemptTimes(const RequestContext& ctx, int64_t UpstreamAttempt::*field,
                        std::string* out) {
  bool first = true;
  for (const UpstreamAttempt& a : ctx.upstream_attempts) {
    if (!first) out->append(", ");
    first = false;
    const int64_t ms = a.*field;
    if (ms != UpstreamAttempt::kUnset) {
      absl::StrAppend(out, ms / 1000, ".", absl::Dec(ms % 1000, absl::kZeroPad3));
    } else {
      out->push_back('-');
    }
  }
}

}  // namespace

void AppendProxyAddXForwardedFor(const RequestContext& ctx, std::string* out) {
  absl::InlinedVector<realip::HeaderField, 16> fields;
  if (ctx.head != nullptr) {
    for (const http::Header& h : ctx.head->headers) fields.push_back({h.name, h.value});
  }
  realip::AppendProxyAddXForwardedFor(fields, ctx.resolution, out);
}

void RequestContext::Recycle() {
  // Field by field: building a fresh context and moving it in cost about 330 instructions,
  // twice per request. The size check fails when a field is added: reset it here too, then
  // update the size (the unit test RequestContextTest.RecycleResetsEveryField checks the rest).
#if defined(__GLIBCXX__) && defined(__x86_64__)
  static_assert(sizeof(RequestContext) == 424 && sizeof(realip::Resolution) == 168,
                "RequestContext changed: reset the new field in Recycle() and update the sizes");
#endif
  server = nullptr;
  location = nullptr;
  head = nullptr;
  proxy_header = nullptr;
  realip::Resolution& r = resolution;
  r.client = {};
  r.source.clear();
  r.realip_remote = {};
  r.trusted_hops = 0;
  r.untrusted_forwarded = false;
  r.untrusted_headers.clear();
  r.realip_x_forwarded_for.clear();
  r.connecting = {};
  local = {};
  https = false;
  tls = nullptr;
  connection_id = 0;
  connection_requests = 0;
  start = absl::Time();
  request_id.clear();
  status = 0;
  body_bytes_sent = 0;
  bytes_sent = 0;
  request_length = 0;
  upstream_addr.clear();
  access = nullptr;
  limit_req_status = {};
  upstream_attempts.clear();  // frees only what a retry put on the heap
}

void RequestContext::BeginUpstreamAttempt(bool same_entry) {
  if (same_entry && !upstream_attempts.empty()) {
    upstream_attempts.back() = UpstreamAttempt();
  } else {
    upstream_attempts.emplace_back();
  }
}

bool RequestContext::UpstreamAttemptOpen() const {
  return !upstream_attempts.empty() &&
         upstream_attempts.back().response_ms == UpstreamAttempt::kUnset;
}

void RequestContext::NoteUpstreamConnected(absl::Duration elapsed) {
  if (!upstream_attempts.empty()) upstream_attempts.back().connect_ms = WholeMs(elapsed);
}

void RequestContext::NoteUpstreamHead(int status, absl::Duration elapsed) {
  if (upstream_attempts.empty()) return;
  UpstreamAttempt& a = upstream_attempts.back();
  a.status = status;
  a.header_ms = WholeMs(elapsed);
}

void RequestContext::EndUpstreamAttempt(int status, absl::Duration elapsed) {
  if (!UpstreamAttemptOpen()) return;
  UpstreamAttempt& a = upstream_attempts.back();
  a.response_ms = WholeMs(elapsed);
  if (a.status == 0) a.status = status;
}

std::string_view RequestId(const RequestContext& ctx) {
  if (ctx.request_id.empty()) {
    // Unique per process run; not a secret, only a correlation id.
    static std::atomic<uint64_t> counter{0};
    uint64_t a = absl::ToUnixNanos(absl::Now()) ^ (ctx.connection_id << 20);
    uint64_t b = counter.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ULL +
                 static_cast<uint64_t>(ctx.connection_requests);
    char buf[33];
    std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(b));
    ctx.request_id.assign(buf, 32);
  }
  return ctx.request_id;
}

TargetParts SplitTarget(std::string_view target) {
  std::string_view rest = target;
  if (size_t scheme = rest.find("://"); scheme != std::string_view::npos && rest[0] != '/') {
    rest.remove_prefix(scheme + 3);
    size_t slash = rest.find_first_of("/?");
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  TargetParts parts;
  size_t q = rest.find('?');
  if (q == std::string_view::npos) {
    parts.path = rest;
  } else {
    parts.path = rest.substr(0, q);
    parts.query = rest.substr(q + 1);
    parts.has_query = true;
  }
  if (parts.path.empty()) parts.path = "/";
  return parts;
}

void AppendVariable(const config::VariableRef& ref, const RequestContext& ctx, std::string* out) {
  const realip::Resolution& r = ctx.resolution;
  const http::MessageHead* head = ctx.head;
  const realip::ProxyHeader* pp =
      ctx.proxy_header != nullptr && !ctx.proxy_header->local ? ctx.proxy_header : nullptr;
  switch (ref.id) {
    case VariableId::kRemoteAddr:
      r.client.AppendHostTo(out);
      return;
    case VariableId::kBinaryRemoteAddr:
      if (!r.client.is_unix) out->append(r.client.ip.Bytes());
      return;
    case VariableId::kRemotePort:
      AppendPort(r.client, out);
      return;
    case VariableId::kRemoteUser:
      return;
    case VariableId::kRealipRemoteAddr:
      r.realip_remote.AppendHostTo(out);
      return;
    case VariableId::kRealipRemotePort:
      AppendPort(r.realip_remote, out);
      return;
    case VariableId::kRealipSource:
      out->append(r.source);
      return;
    case VariableId::kProxyProtocolAddr:
      if (pp != nullptr) pp->source.AppendHostTo(out);
      return;
    case VariableId::kProxyProtocolPort:
      if (pp != nullptr) absl::StrAppend(out, pp->source.port);
      return;
    case VariableId::kProxyProtocolServerAddr:
      if (pp != nullptr) pp->destination.AppendHostTo(out);
      return;
    case VariableId::kProxyProtocolServerPort:
      if (pp != nullptr) absl::StrAppend(out, pp->destination.port);
      return;
    case VariableId::kProxyProtocolTlv:
      if (ctx.proxy_header != nullptr) {
        if (auto v = ctx.proxy_header->TlvByName(ref.param)) out->append(*v);
      }
      return;
    case VariableId::kProxyAddXForwardedFor:
      AppendProxyAddXForwardedFor(ctx, out);
      return;
    case VariableId::kRealipXForwardedFor:
      out->append(r.realip_x_forwarded_for);
      return;
    case VariableId::kProxyHost:
      if (ctx.location != nullptr) out->append(ctx.location->settings.proxy_pass.proxy_host);
      return;
    case VariableId::kProxyPort:
      if (ctx.location != nullptr) {
        absl::StrAppend(out, ctx.location->settings.proxy_pass.proxy_port);
      }
      return;
    case VariableId::kScheme:
      out->append(ctx.https ? "https" : "http");
      return;
    case VariableId::kHost: {
      const http::Header* host = head != nullptr ? head->headers.Find("host") : nullptr;
      if (host != nullptr && !host->value.empty()) {
        std::string_view v = host->value;
        if (v[0] == '[') {
          v = v.substr(0, v.find(']') == std::string_view::npos ? v.size() : v.find(']') + 1);
        } else {
          v = v.substr(0, v.find(':'));
        }
        for (char c : v) out->push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
      } else if (ctx.server != nullptr && !ctx.server->names.empty()) {
        out->append(ctx.server->names.front());
      }
      return;
    }
    case VariableId::kHttp:
      if (head != nullptr) {
        // Header names in `param` use '-' (the config turned '_' into '-').
        bool first = true;
        for (const http::Header& h : head->headers) {
          if (!http::EqualsIgnoreCase(h.name, ref.param)) continue;
          if (!first) out->append(ref.param == "cookie" ? "; " : ", ");
          out->append(h.value);
          first = false;
        }
      }
      return;
    case VariableId::kRequest:
      if (head != nullptr) {
        absl::StrAppend(out, head->method, " ", head->target, " HTTP/", head->version_major, ".",
                        head->version_minor);
      }
      return;
    case VariableId::kRequestMethod:
      if (head != nullptr) out->append(head->method);
      return;
    case VariableId::kRequestUri:
      if (head != nullptr) out->append(head->target);
      return;
    case VariableId::kUri:
      if (head != nullptr) out->append(SplitTarget(head->target).path);
      return;
    case VariableId::kArgs:
      if (head != nullptr) out->append(SplitTarget(head->target).query);
      return;
    case VariableId::kServerAddr:
      ctx.local.AppendHostTo(out);
      return;
    case VariableId::kServerPort:
      AppendPort(ctx.local, out);
      return;
    case VariableId::kServerName:
      if (ctx.server != nullptr && !ctx.server->names.empty()) {
        out->append(ctx.server->names.front());
      }
      return;
    case VariableId::kStatus:
      if (ctx.status != 0) absl::StrAppend(out, ctx.status);
      return;
    case VariableId::kBodyBytesSent:
      absl::StrAppend(out, ctx.body_bytes_sent);
      return;
    case VariableId::kBytesSent:
      absl::StrAppend(out, ctx.bytes_sent);
      return;
    case VariableId::kRequestLength:
      absl::StrAppend(out, ctx.request_length);
      return;
    case VariableId::kRequestTime:
      AppendSeconds(absl::Now() - ctx.start, out);
      return;
    case VariableId::kUpstreamAddr:
      out->append(ctx.upstream_addr);
      return;
    case VariableId::kUpstreamStatus:
      AppendAttemptStatuses(ctx, out);
      return;
    case VariableId::kUpstreamConnectTime:
      AppendAttemptTimes(ctx, &UpstreamAttempt::connect_ms, out);
      return;
    case VariableId::kUpstreamHeaderTime:
      AppendAttemptTimes(ctx, &UpstreamAttempt::header_ms, out);
      return;
    case VariableId::kUpstreamResponseTime:
      AppendAttemptTimes(ctx, &UpstreamAttempt::response_ms, out);
      return;
    case VariableId::kMsec:
      AppendSeconds(absl::Now() - absl::UnixEpoch(), out);
      return;
    case VariableId::kTimeLocal:
      out->append(absl::FormatTime("%d/%b/%Y:%H:%M:%S %z", absl::Now(), absl::UTCTimeZone()));
      return;
    case VariableId::kTimeIso8601:
      out->append(absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::Now(), absl::UTCTimeZone()));
      return;
    case VariableId::kRequestId:
      out->append(RequestId(ctx));
      return;
    case VariableId::kConnection:
      absl::StrAppend(out, ctx.connection_id);
      return;
    case VariableId::kConnectionRequests:
      absl::StrAppend(out, ctx.connection_requests);
      return;
    case VariableId::kLimitReqStatus:
      out->append(ctx.limit_req_status);
      return;
    case VariableId::kGeo:
      if (ctx.access != nullptr && ref.index < ctx.access->geo.size()) {
        const config::GeoVariable& geo = ctx.access->geo[ref.index];
        out->append(geo.has_address ? geo.map->LookupText(Evaluate(geo.address, ctx))
                                    : geo.map->Lookup(r.client));
      }
      return;
    case VariableId::kSslProtocol:
      if (ctx.tls != nullptr) out->append(ctx.tls->protocol);
      return;
    case VariableId::kSslCipher:
      if (ctx.tls != nullptr) out->append(ctx.tls->cipher);
      return;
    case VariableId::kSslServerName:
      if (ctx.tls != nullptr) out->append(ctx.tls->server_name);
      return;
    case VariableId::kSslSessionReused:
      if (ctx.tls != nullptr) out->append(ctx.tls->session_reused ? "r" : ".");
      return;
    case VariableId::kSslClientSDn:
      if (ctx.tls != nullptr) out->append(ctx.tls->client_s_dn);
      return;
    case VariableId::kSslClientVerify:
      if (ctx.tls != nullptr) out->append(ctx.tls->client_verify);
      return;
  }
}

void EvaluateTo(const config::CompiledString& value, const RequestContext& ctx,
                std::string* out) {
  for (const config::Segment& s : value.segments) {
    if (s.variable.has_value()) {
      AppendVariable(*s.variable, ctx, out);
    } else {
      out->append(s.literal);
    }
  }
}

std::string Evaluate(const config::CompiledString& value, const RequestContext& ctx) {
  std::string out;
  EvaluateTo(value, ctx, &out);
  return out;
}

}  // namespace realip::server
