#include "proxy/server/request_context.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <deque>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proxy/base/build_config.h"
#include "proxy/base/logging.h"
#include "proxy/http/date.h"
#include "proxy/http/headers.h"

namespace realip::server {
namespace {

using config::VariableId;

// `h` is the header a $http_/$upstream_http_ variable names: by id when the name has one,
// else by name.
bool HeaderNamed(const http::Header& h, const config::VariableRef& ref) {
  if (ref.field != http::FieldId::kOther) return h.id == ref.field;
  return http::EqualsIgnoreCase(h.name, ref.param);
}

// " HTTP/1.1" ($request's end; $server_protocol without the space). A parsed head's
// versions are single digits (llhttp reads one digit of each); others are printed whole.
void AppendProtocol(const http::MessageHead& head, std::string* out, bool space = true) {
  if (head.version_major < 0 || head.version_major > 9 || head.version_minor < 0 ||
      head.version_minor > 9) {
    absl::StrAppend(out, space ? " HTTP/" : "HTTP/", head.version_major, ".", head.version_minor);
    return;
  }
  char text[] = " HTTP/0.0";
  text[6] = static_cast<char>('0' + head.version_major);
  text[8] = static_cast<char>('0' + head.version_minor);
  out->append(text + (space ? 0 : 1), sizeof(text) - (space ? 1 : 2));
}

void AppendPort(const net::SocketAddress& addr, std::string* out) {
  if (!addr.is_unix && addr.port != 0) absl::StrAppend(out, addr.port);
}

void AppendSeconds(absl::Duration d, std::string* out) {
  char buf[32];
  int n = std::snprintf(buf, sizeof(buf), "%.3f", absl::ToDoubleSeconds(d));
  out->append(buf, static_cast<size_t>(n));
}

int32_t WholeMs(absl::Duration d) {
  return static_cast<int32_t>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, UpstreamAttempt::kMaxMs));
}

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

// Milliseconds as nginx's "%T.%03M".
void AppendMs(uint64_t ms, std::string* out) {
  absl::StrAppend(out, ms / 1000, ".", absl::Dec(ms % 1000, absl::kZeroPad3));
}

void AppendAttemptTimes(const RequestContext& ctx, int32_t UpstreamAttempt::*field,
                        std::string* out) {
  bool first = true;
  for (const UpstreamAttempt& a : ctx.upstream_attempts) {
    if (!first) out->append(", ");
    first = false;
    const int32_t ms = a.*field;
    if (ms != UpstreamAttempt::kUnset) {
      AppendMs(static_cast<uint64_t>(ms), out);
    } else {
      out->push_back('-');
    }
  }
}

// ngx_http_upstream_response_length_variable(): a number for every attempt, 0 for what it
// did not get.
enum class AttemptBytes { kResponseLength, kReceived, kSent };

void AppendAttemptBytes(const RequestContext& ctx, AttemptBytes what, std::string* out) {
  const size_t n = ctx.upstream_attempts.size();
  for (size_t i = 0; i < n; ++i) {
    if (i != 0) out->append(", ");
    const UpstreamAttempt& a = ctx.upstream_attempts[i];
    uint64_t value = 0;
    switch (what) {
      case AttemptBytes::kReceived:
        value = a.bytes_received;
        break;
      case AttemptBytes::kSent:
        value = a.bytes_sent;
        break;
      case AttemptBytes::kResponseLength:
        // Only the last attempt can have passed a body on: an earlier one failed or was
        // retried on its status before its body was read (nginx counts 0 for those too).
        if (i + 1 == n && ctx.upstream_head_bytes != 0 &&
            a.bytes_received > ctx.upstream_head_bytes) {
          value = a.bytes_received - ctx.upstream_head_bytes;
        }
        break;
    }
    absl::StrAppend(out, value);
  }
}

const std::string& HostName() {
  static const std::string* const name = [] {
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) != 0) buf[0] = '\0';
    return new std::string(buf);
  }();
  return *name;
}

bool IsOws(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::optional<std::string_view> FindArg(std::string_view args, std::string_view name) {
  // ngx_http_arg(): an occurrence of the name counts when it starts the string or follows
  // '&', and is followed by '='; the value runs to the next '&'.
  if (name.empty() || args.size() <= name.size()) return std::nullopt;
  for (size_t pos = 0; pos + name.size() < args.size(); ++pos) {
    if ((pos != 0 && args[pos - 1] != '&') || args[pos + name.size()] != '=' ||
        !http::EqualsIgnoreCase(args.substr(pos, name.size()), name)) {
      continue;
    }
    const size_t start = pos + name.size() + 1;
    const size_t end = args.find('&', start);
    return args.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  }
  return std::nullopt;
}

std::optional<std::string_view> FindCookie(const http::MessageHead& head, std::string_view name) {
  for (const http::Header& h : head.headers) {
    if (h.id != http::FieldId::kCookie) continue;
    const std::string_view v = h.value;
    if (name.size() > v.size()) continue;
    // ngx_http_parse_multi_header_lines(): at each pair, the name (any case), spaces, '=',
    // spaces, then the value up to ';'. A pair that does not match is skipped up to the next
    // ';' or ',' and the spaces after it.
    size_t pos = 0;
    while (pos < v.size()) {
      size_t p = pos;
      if (v.size() - p >= name.size() && http::EqualsIgnoreCase(v.substr(p, name.size()), name)) {
        p += name.size();
        while (p < v.size() && v[p] == ' ') ++p;
        if (p < v.size() && v[p] == '=') {
          ++p;
          while (p < v.size() && v[p] == ' ') ++p;
          const size_t end = v.find(';', p);
          return v.substr(p, end == std::string_view::npos ? std::string_view::npos : end - p);
        }
      }
      while (p < v.size()) {
        const char c = v[p++];
        if (c == ';' || c == ',') break;
      }
      while (p < v.size() && v[p] == ' ') ++p;
      pos = p;
    }
  }
  return std::nullopt;
}

SerializedField FindSerializedField(std::string_view head, std::string_view name, size_t from) {
  // Our own serialiser wrote `head`: "Name: value" lines ending in CRLF after the status line,
  // then an empty line.
  size_t pos = from == 0 ? head.find("\r\n") : from - 2;
  while (pos != std::string_view::npos) {
    const size_t begin = pos + 2;
    const size_t end = head.find("\r\n", begin);
    if (end == begin) break;  // the empty line that ends the head
    const std::string_view line =
        head.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    pos = end;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !http::EqualsIgnoreCase(line.substr(0, colon), name)) {
      continue;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && IsOws(value.front())) value.remove_prefix(1);
    while (!value.empty() && IsOws(value.back())) value.remove_suffix(1);
    return {begin, end == std::string_view::npos ? head.size() : end + 2, value};
  }
  return {};
}

bool AppendSerializedHeader(std::string_view head, std::string_view name, std::string* out) {
  bool first = true;
  for (SerializedField f = FindSerializedField(head, name, 0); f.found();
       f = FindSerializedField(head, name, f.end)) {
    if (!first) out->append(", ");
    out->append(f.value);
    first = false;
  }
  return !first;
}

void AppendProxyAddXForwardedFor(const RequestContext& ctx, std::string* out) {
  absl::InlinedVector<realip::HeaderField, 16> fields;
  if (ctx.head != nullptr) {
    for (const http::Header& h : ctx.head->headers) fields.push_back({h.name, h.value});
  }
  realip::AppendProxyAddXForwardedFor(fields, ctx.resolution, out);
}

std::string_view RequestArgs(const RequestContext& ctx) {
  if (ctx.redirected) return ctx.args;
  return ctx.head != nullptr ? SplitTarget(ctx.head->target).query : std::string_view();
}

std::string_view RequestMethod(const RequestContext& ctx) {
  if (!ctx.method.empty()) return ctx.method;
  return ctx.head != nullptr ? std::string_view(ctx.head->method) : std::string_view();
}

void RequestContext::Recycle() {
  // Field by field: building a fresh context and moving it in cost about 330 instructions,
  // twice per request. The size check fails when a field is added: reset it here too, then
  // update the size (the unit test RequestContextTest.RecycleResetsEveryField checks the rest).
#if defined(__GLIBCXX__) && defined(__x86_64__)
  static_assert(sizeof(RequestContext) == 512 && sizeof(realip::Resolution) == 168,
                "RequestContext changed: reset the new field in Recycle() and update the sizes");
#endif
  server = nullptr;
  location = nullptr;
  head = nullptr;
  uri = {};
  rejected_line = {};
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
  request_completion = false;
  rejected_protocol = false;
  redirected = false;
  args = {};
  method = {};
  tls = nullptr;
  connection_id = 0;
  connection_requests = 0;
  accepted_ms = 0;
  start = absl::Time();
  request_id.clear();
  status = 0;
  upstream_head_bytes = 0;
  response_head_bytes = 0;
  bytes_sent = 0;
  request_length = 0;
  upstream_addr.clear();
  access = nullptr;
  limit_req_status = {};
  upstream_attempts.clear();  // frees only what a retry put on the heap
  upstream_head = nullptr;
  sent_head = nullptr;
}

void RequestContext::BeginUpstreamAttempt(bool same_entry) {
  if (same_entry && !upstream_attempts.empty()) {
    upstream_attempts.back() = UpstreamAttempt();
  } else {
    upstream_attempts.emplace_back();
  }
  upstream_head_bytes = 0;
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
    // nginx: 16 random bytes in hex, from OpenSSL's generator (per thread, no lock), so that
    // an id says nothing about the others.
    unsigned char id[16];
    if (RAND_bytes(id, sizeof(id)) != 1) {
      // The generator failed (no entropy): still unique in this process run.
      static std::atomic<uint64_t> counter{0};
      const uint64_t a = absl::ToUnixNanos(absl::Now()) ^ (ctx.connection_id << 20);
      const uint64_t b = counter.fetch_add(1, std::memory_order_relaxed) * 0x9E3779B97F4A7C15ULL +
                         static_cast<uint64_t>(ctx.connection_requests);
      for (int i = 0; i < 8; ++i) {
        id[i] = static_cast<unsigned char>(a >> (8 * i));
        id[8 + i] = static_cast<unsigned char>(b >> (8 * i));
      }
    }
    static constexpr char kHex[] = "0123456789abcdef";
    char buf[32];
    for (size_t i = 0; i < sizeof(id); ++i) {
      buf[2 * i] = kHex[id[i] >> 4];
      buf[2 * i + 1] = kHex[id[i] & 0xf];
    }
    ctx.request_id.assign(buf, sizeof(buf));
  }
  return ctx.request_id;
}

std::string_view RequestHost(const http::MessageHead& head) {
  if (auto absolute = http::SplitAbsoluteForm(head.target)) return absolute->authority;
  const http::Header* h = head.headers.Find(http::FieldId::kHost);
  return h != nullptr ? std::string_view(h->value) : std::string_view();
}

void AppendRequestHostName(const http::MessageHead& head, std::string* out) {
  std::string_view host = RequestHost(head);
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  for (char c : host) out->push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
}

std::string_view RequestUri(std::string_view target) {
  const auto absolute = http::SplitAbsoluteForm(target);
  if (!absolute.has_value()) return target;
  return absolute->rest.empty() ? std::string_view("/") : absolute->rest;
}

TargetParts SplitTarget(std::string_view target) {
  const std::string_view rest = RequestUri(target);
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

namespace {

// geo and map variables may name each other, or themselves, in their sources, addresses and
// values; nginx stops such a cycle where it meets it ("cycle while evaluating variable") and
// the variable is not found. The blocks being evaluated on this thread are kept to see that.
class Evaluation {
 public:
  Evaluation(const void* block, const std::string& name) : block_(block) {
    if (std::find(active_.begin(), active_.end(), block) != active_.end()) {
      REALIP_LOG(kError, "cycle while evaluating variable \"", name, "\"");
      block_ = nullptr;
      return;
    }
    active_.push_back(block);
  }
  ~Evaluation() {
    if (block_ != nullptr) active_.pop_back();
  }
  Evaluation(const Evaluation&) = delete;
  Evaluation& operator=(const Evaluation&) = delete;
  // False when the block was already being evaluated: the variable is not found.
  bool entered() const { return block_ != nullptr; }
  // How many blocks enclose this one.
  static size_t depth() { return active_.size() - 1; }

 private:
  static thread_local std::vector<const void*> active_;
  const void* block_;
};
thread_local std::vector<const void*> Evaluation::active_;

// The value of a map block's variable, with one source buffer per nesting depth, kept for
// later requests (a deque: a nested map adding a buffer leaves the outer ones in place).
bool AppendMapValue(const config::MapVariable& map, const RequestContext& ctx, std::string* out) {
  thread_local std::deque<std::string> sources;
  const Evaluation evaluation(&map, map.name);
  if (!evaluation.entered()) return false;
  const size_t depth = Evaluation::depth();
  if (sources.size() <= depth) sources.emplace_back();
  std::string& source = sources[depth];
  source.clear();
  EvaluateTo(map.source, ctx, &source);
  EvaluateTo(map.Select(&source), ctx, out);
  return true;
}

// The value of a geo block's variable: the client's address, or the address its first argument
// evaluates to, looked up in its ranges.
void AppendGeoValue(const config::GeoVariable& geo, const RequestContext& ctx, std::string* out) {
  if (!geo.has_address) {
    out->append(geo.map->Lookup(ctx.resolution.client));
    return;
  }
  const Evaluation evaluation(&geo, geo.name);
  if (evaluation.entered()) out->append(geo.map->LookupText(Evaluate(geo.address, ctx)));
}

}  // namespace

bool AppendVariable(const config::VariableRef& ref, const RequestContext& ctx, std::string* out) {
  const realip::Resolution& r = ctx.resolution;
  const http::MessageHead* head = ctx.head;
  const realip::ProxyHeader* pp =
      ctx.proxy_header != nullptr && !ctx.proxy_header->local ? ctx.proxy_header : nullptr;
  switch (ref.id) {
    case VariableId::kRemoteAddr:
      r.client.AppendHostTo(out);
      return false;
    case VariableId::kBinaryRemoteAddr:
      if (!r.client.is_unix) out->append(r.client.ip.Bytes());
      return false;
    case VariableId::kRemotePort:
      AppendPort(r.client, out);
      return false;
    case VariableId::kRemoteUser:
      return false;
    case VariableId::kRealipRemoteAddr:
      r.realip_remote.AppendHostTo(out);
      return false;
    case VariableId::kRealipRemotePort:
      AppendPort(r.realip_remote, out);
      return false;
    case VariableId::kRealipSource:
      out->append(r.source);
      return false;
    case VariableId::kProxyProtocolAddr:
      if (pp != nullptr) pp->source.AppendHostTo(out);
      return false;
    case VariableId::kProxyProtocolPort:
      if (pp != nullptr) absl::StrAppend(out, pp->source.port);
      return false;
    case VariableId::kProxyProtocolServerAddr:
      if (pp != nullptr) pp->destination.AppendHostTo(out);
      return false;
    case VariableId::kProxyProtocolServerPort:
      if (pp != nullptr) absl::StrAppend(out, pp->destination.port);
      return false;
    case VariableId::kProxyProtocolTlv:
      if (ctx.proxy_header != nullptr) {
        if (auto v = ctx.proxy_header->TlvByName(ref.param)) out->append(*v);
      }
      return false;
    case VariableId::kProxyAddXForwardedFor:
      AppendProxyAddXForwardedFor(ctx, out);
      return false;
    case VariableId::kRealipXForwardedFor:
      out->append(r.realip_x_forwarded_for);
      return false;
    case VariableId::kProxyHost:
      if (ctx.location != nullptr) out->append(ctx.location->settings.proxy_pass.proxy_host);
      return false;
    case VariableId::kProxyPort:
      if (ctx.location != nullptr) {
        absl::StrAppend(out, ctx.location->settings.proxy_pass.proxy_port);
      }
      return false;
    case VariableId::kScheme:
      out->append(ctx.https ? "https" : "http");
      return false;
    case VariableId::kHost: {
      // The request line's host, else Host's, else the server's name (nginx).
      const size_t before = out->size();
      if (head != nullptr) AppendRequestHostName(*head, out);
      if (out->size() == before && ctx.server != nullptr && !ctx.server->names.empty()) {
        out->append(ctx.server->names.front());
      }
      return false;
    }
    case VariableId::kHttp:
      if (head != nullptr) {
        // Header names in `param` use '-' (the config turned '_' into '-').
        bool first = true;
        for (const http::Header& h : head->headers) {
          if (!HeaderNamed(h, ref)) continue;
          if (!first) out->append(h.id == http::FieldId::kCookie ? "; " : ", ");
          out->append(h.value);
          first = false;
        }
      }
      return false;
    case VariableId::kRequest:
      if (head != nullptr) {
        out->append(head->method);
        out->push_back(' ');
        out->append(head->target);
        AppendProtocol(*head, out);
      } else {
        out->append(ctx.rejected_line);
      }
      return false;
    case VariableId::kRequestMethod:
      out->append(RequestMethod(ctx));
      return false;
    case VariableId::kRequestUri:
      if (head != nullptr) out->append(RequestUri(head->target));
      return false;
    case VariableId::kUri:
      if (!ctx.uri.empty()) {
        out->append(ctx.uri);
      } else if (head != nullptr) {
        out->append(SplitTarget(head->target).path);
      }
      return false;
    case VariableId::kArgs:
      out->append(RequestArgs(ctx));
      return false;
    case VariableId::kServerAddr:
      ctx.local.AppendHostTo(out);
      return false;
    case VariableId::kServerPort:
      AppendPort(ctx.local, out);
      return false;
    case VariableId::kServerName:
      if (ctx.server != nullptr && !ctx.server->names.empty()) {
        out->append(ctx.server->names.front());
      }
      return false;
    case VariableId::kStatus:
      if (ctx.status != 0) absl::StrAppend(out, ctx.status);
      return false;
    case VariableId::kBodyBytesSent:
      // nginx: c->sent - r->header_size, at least 0 (chunk framing, a tunnel's bytes and a
      // 100 Continue written before the head count as body).
      absl::StrAppend(out, ctx.bytes_sent > ctx.response_head_bytes
                               ? ctx.bytes_sent - ctx.response_head_bytes
                               : 0);
      return false;
    case VariableId::kBytesSent:
      absl::StrAppend(out, ctx.bytes_sent);
      return false;
    case VariableId::kRequestLength:
      absl::StrAppend(out, ctx.request_length);
      return false;
    case VariableId::kRequestTime:
      AppendSeconds(absl::Now() - ctx.start, out);
      return false;
    case VariableId::kUpstreamAddr:
      out->append(ctx.upstream_addr);
      return false;
    case VariableId::kUpstreamStatus:
      AppendAttemptStatuses(ctx, out);
      return false;
    case VariableId::kUpstreamConnectTime:
      AppendAttemptTimes(ctx, &UpstreamAttempt::connect_ms, out);
      return false;
    case VariableId::kUpstreamHeaderTime:
      AppendAttemptTimes(ctx, &UpstreamAttempt::header_ms, out);
      return false;
    case VariableId::kUpstreamResponseTime:
      AppendAttemptTimes(ctx, &UpstreamAttempt::response_ms, out);
      return false;
    case VariableId::kMsec:
      AppendSeconds(absl::Now() - absl::UnixEpoch(), out);
      return false;
    case VariableId::kTimeLocal: {
      // Formatted once a second per thread, as nginx's ngx_cached_http_log_time.
      thread_local http::LogTimeCache cache;
      out->append(cache.Get(absl::ToUnixSeconds(absl::Now())));
      return false;
    }
    case VariableId::kTimeIso8601: {
      thread_local http::Iso8601Cache cache;
      out->append(cache.Get(absl::ToUnixSeconds(absl::Now())));
      return false;
    }
    case VariableId::kRequestId:
      out->append(RequestId(ctx));
      return false;
    case VariableId::kConnection:
      absl::StrAppend(out, ctx.connection_id);
      return false;
    case VariableId::kConnectionRequests:
      absl::StrAppend(out, ctx.connection_requests);
      return false;
    case VariableId::kLimitReqStatus:
      out->append(ctx.limit_req_status);
      return false;
    case VariableId::kMap:
      return ctx.access != nullptr && ref.index < ctx.access->maps.size() &&
             AppendMapValue(ctx.access->maps[ref.index], ctx, out);
    case VariableId::kGeo:
      if (ctx.access != nullptr && ref.index < ctx.access->geo.size()) {
        AppendGeoValue(ctx.access->geo[ref.index], ctx, out);
      }
      return false;
    case VariableId::kSslProtocol:
      if (ctx.tls != nullptr) out->append(ctx.tls->protocol);
      return false;
    case VariableId::kSslCipher:
      if (ctx.tls != nullptr) out->append(ctx.tls->cipher);
      return false;
    case VariableId::kSslServerName:
      if (ctx.tls != nullptr) out->append(ctx.tls->server_name);
      return false;
    case VariableId::kSslSessionReused:
      if (ctx.tls != nullptr) out->append(ctx.tls->session_reused ? "r" : ".");
      return false;
    case VariableId::kSslClientSDn:
      if (ctx.tls != nullptr) out->append(ctx.tls->client_s_dn);
      return false;
    case VariableId::kSslClientVerify:
      if (ctx.tls != nullptr) out->append(ctx.tls->client_verify);
      return false;
    case VariableId::kServerProtocol:
      if (head != nullptr) AppendProtocol(*head, out, /*space=*/false);
      return head == nullptr && ctx.rejected_protocol;
    case VariableId::kIsArgs:
      // ngx_http_variable_is_args(): "?" only for a non-empty query ("/a?" has none).
      if (!RequestArgs(ctx).empty()) out->push_back('?');
      return true;
    case VariableId::kContentType:
    case VariableId::kContentLength:
      // The first header of the name (nginx keeps r->headers_in.content_type / _length).
      if (head != nullptr) {
        const http::Header* h = head->headers.Find(
            ref.id == VariableId::kContentType ? "content-type" : "content-length");
        if (h != nullptr) {
          out->append(h->value);
          return true;
        }
      }
      return false;
    case VariableId::kHttps:
      if (ctx.https) out->append("on");
      return true;
    case VariableId::kRequestCompletion:
      if (ctx.request_completion) out->append("OK");
      return true;
    case VariableId::kConnectionTime: {
      const uint32_t now = static_cast<uint32_t>(absl::ToUnixMillis(absl::Now()));
      AppendMs(static_cast<uint32_t>(now - ctx.accepted_ms), out);
      return false;
    }
    case VariableId::kPid:
      absl::StrAppend(out, getpid());
      return false;
    case VariableId::kHostname:
      out->append(HostName());
      return false;
    case VariableId::kNginxVersion:
      out->append(base::kVersion);
      return false;
    case VariableId::kArg:
      if (auto v = FindArg(RequestArgs(ctx), ref.param)) {
        out->append(*v);
        return true;
      }
      return false;
    case VariableId::kCookie:
      if (head != nullptr) {
        if (auto v = FindCookie(*head, ref.param)) {
          out->append(*v);
          return true;
        }
      }
      return false;
    case VariableId::kSentHttp:
      return ctx.sent_head != nullptr && AppendSerializedHeader(*ctx.sent_head, ref.param, out);
    case VariableId::kUpstreamHttp:
      if (ctx.upstream_head != nullptr) {
        bool first = true;
        for (const http::Header& h : ctx.upstream_head->headers) {
          if (!HeaderNamed(h, ref)) continue;
          if (!first) out->append(", ");
          out->append(h.value);
          first = false;
        }
        return !first;
      }
      return false;
    case VariableId::kUpstreamResponseLength:
      AppendAttemptBytes(ctx, AttemptBytes::kResponseLength, out);
      return false;
    case VariableId::kUpstreamBytesReceived:
      AppendAttemptBytes(ctx, AttemptBytes::kReceived, out);
      return false;
    case VariableId::kUpstreamBytesSent:
      AppendAttemptBytes(ctx, AttemptBytes::kSent, out);
      return false;
  }
  return false;
}

void EvaluateTo(const config::CompiledString& value, const RequestContext& ctx,
                std::string* out) {
  for (const config::Segment& s : value.segments) {
    if (s.variable.has_value()) {
      (void)AppendVariable(*s.variable, ctx, out);
    } else {
      out->append(s.literal);
    }
  }
}

namespace {

// Whether a variable's value can hold NUL, CR or LF. Most cannot: numbers, addresses, names
// checked at load, and the request's and responses' own text, which the parser refuses with
// such bytes in it. The exceptions are raw bytes (an address in binary, a PROXY v2 TLV), a TLS
// server name (OpenSSL refuses only NUL in it), a certificate's subject and the host name; and
// a map's value, which may be any of these.
// Every id is listed, so that a new one does not compile (-Wswitch) until it is placed.
bool MayCarryLineBreaks(config::VariableId id) {
  using V = config::VariableId;
  switch (id) {
    case V::kBinaryRemoteAddr:
    case V::kProxyProtocolTlv:
    case V::kSslServerName:
    case V::kSslClientSDn:
    case V::kHostname:
    case V::kMap:
      return true;
    case V::kRemoteAddr:
    case V::kRemotePort:
    case V::kRemoteUser:
    case V::kRealipRemoteAddr:
    case V::kRealipRemotePort:
    case V::kRealipSource:
    case V::kProxyProtocolAddr:
    case V::kProxyProtocolPort:
    case V::kProxyProtocolServerAddr:
    case V::kProxyProtocolServerPort:
    case V::kProxyAddXForwardedFor:
    case V::kRealipXForwardedFor:
    case V::kProxyHost:
    case V::kProxyPort:
    case V::kScheme:
    case V::kHost:
    case V::kHttp:
    case V::kRequest:
    case V::kRequestMethod:
    case V::kRequestUri:
    case V::kUri:
    case V::kArgs:
    case V::kServerAddr:
    case V::kServerPort:
    case V::kServerName:
    case V::kStatus:
    case V::kBodyBytesSent:
    case V::kBytesSent:
    case V::kRequestLength:
    case V::kRequestTime:
    case V::kUpstreamAddr:
    case V::kUpstreamStatus:
    case V::kUpstreamConnectTime:
    case V::kUpstreamHeaderTime:
    case V::kUpstreamResponseTime:
    case V::kMsec:
    case V::kTimeLocal:
    case V::kTimeIso8601:
    case V::kRequestId:
    case V::kConnection:
    case V::kConnectionRequests:
    case V::kLimitReqStatus:
    case V::kGeo:
    case V::kSslProtocol:
    case V::kSslCipher:
    case V::kSslSessionReused:
    case V::kSslClientVerify:
    case V::kServerProtocol:
    case V::kIsArgs:
    case V::kContentType:
    case V::kContentLength:
    case V::kHttps:
    case V::kRequestCompletion:
    case V::kConnectionTime:
    case V::kPid:
    case V::kNginxVersion:
    case V::kArg:
    case V::kCookie:
    case V::kSentHttp:
    case V::kUpstreamHttp:
    case V::kUpstreamResponseLength:
    case V::kUpstreamBytesReceived:
    case V::kUpstreamBytesSent:
      return false;
  }
  return true;
}

}  // namespace

void EvaluateFieldTo(const config::CompiledString& value, const RequestContext& ctx,
                     std::string* out) {
  for (const config::Segment& s : value.segments) {
    if (!s.variable.has_value()) {
      out->append(s.literal);
      continue;
    }
    const size_t from = out->size();
    (void)AppendVariable(*s.variable, ctx, out);
    if (!MayCarryLineBreaks(s.variable->id)) continue;
    for (size_t i = from; i < out->size(); ++i) {
      char& c = (*out)[i];
      if (c == '\0' || c == '\r' || c == '\n') c = ' ';
    }
  }
}

std::string Evaluate(const config::CompiledString& value, const RequestContext& ctx) {
  std::string out;
  EvaluateTo(value, ctx, &out);
  return out;
}

}  // namespace realip::server
