#include "proxy/server/rewrite.h"

#include <charconv>
#include <string>

#include "absl/container/inlined_vector.h"
#include "proxy/base/strings.h"
#include "proxy/http/headers.h"
#include "proxy/http/serializer.h"
#include "proxy/http/uri.h"
#include "proxy/server/redirect.h"

namespace realip::server {
namespace {

// A proxy_set_header of an unclassified name sets `name`.
bool SetByName(const std::vector<config::HeaderRewrite>& rewrites, std::string_view name) {
  for (const config::HeaderRewrite& rewrite : rewrites) {
    if (rewrite.id == http::FieldId::kOther && http::EqualsIgnoreCase(rewrite.name, name)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view UpstreamTargetView(const http::MessageHead& request,
                                    const config::Location& location, std::string* storage,
                                    std::string_view uri) {
  const config::ProxyPass& pass = location.settings.proxy_pass;
  if (!pass.has_uri && !request.target.empty() && request.target[0] == '/') {
    return request.target;  // the common case: sent as received
  }
  TargetParts parts = SplitTarget(request.target);
  storage->clear();
  if (!pass.has_uri) {
    // Absolute-form is for proxies (RFC 9112 section 3.2.2); origin servers get origin-form.
    storage->append(parts.path);
  } else {
    // nginx's ngx_http_proxy_create_request(): r->uri after the location, escaped again (it
    // was decoded); a path that needed no normalization has nothing to escape.
    std::string_view rest = uri.empty() ? parts.path : uri;
    if (rest.size() >= location.path.size()) rest.remove_prefix(location.path.size());
    storage->append(pass.uri);
    http::AppendEscapedPath(rest, storage);
  }
  if (parts.has_query) {
    storage->push_back('?');
    storage->append(parts.query);
  }
  return *storage;
}

namespace {

// The upstream target after an error_page redirect to a URI, as nginx's
// ngx_http_proxy_create_request() builds it for an internal request: the page's URI (after
// the location's prefix, replaced by proxy_pass's URI part when it has one) escaped, then its
// arguments.
std::string_view RedirectedTargetView(const RequestContext& ctx, std::string* storage) {
  const config::Location& location = *ctx.location;
  const config::ProxyPass& pass = location.settings.proxy_pass;
  std::string_view rest = ctx.uri;
  storage->clear();
  if (pass.has_uri) {
    if (rest.size() >= location.path.size()) rest.remove_prefix(location.path.size());
    storage->append(pass.uri);
  }
  http::AppendEscapedPath(rest, storage);
  if (!ctx.args.empty()) {
    storage->push_back('?');
    storage->append(ctx.args);
  }
  return *storage;
}

}  // namespace

void AppendUpstreamHead(const RequestContext& ctx, const UpstreamRequestOptions& options,
                        std::string* head) {
  const http::MessageHead& request = *ctx.head;
  const config::HttpSettings& settings = ctx.location->settings;
  // The proxy_set_header values one after another, in memory this thread reuses for every
  // request; views into it are taken once all are written.
  thread_local std::string values;
  values.clear();
  absl::InlinedVector<size_t, 16> ends;
  for (const config::HeaderRewrite& rewrite : settings.proxy_set_headers) {
    EvaluateFieldTo(rewrite.value, ctx, &values);
    ends.push_back(values.size());
  }
  absl::InlinedVector<http::HeaderView, 32> out;

  using base::FieldBit;
  using http::FieldId;
  // Framing and connection management are ours; a proxy_set_header cannot override them.
  constexpr uint32_t kOurs = FieldBit(FieldId::kContentLength) |
                             FieldBit(FieldId::kTransferEncoding) | FieldBit(FieldId::kConnection) |
                             FieldBit(FieldId::kUpgrade);
  // The client's lines of these names are never passed on: the fixed hop-by-hop ones,
  // framing, Expect (answered here), and Host (step 1 sends one).
  constexpr uint32_t kNeverPassed = http::kHopByHopFields | FieldBit(FieldId::kContentLength) |
                                    FieldBit(FieldId::kExpect) | FieldBit(FieldId::kHost);
  constexpr uint32_t kClientAddress = FieldBit(FieldId::kXRealIp) | FieldBit(FieldId::kForwarded);
  // The names set in step 1, whatever their value: known ones as bits, others by name.
  uint32_t set_ids = 0;
  bool set_others = false;
  bool has_host = false;
  size_t start = 0;
  for (size_t i = 0; i < settings.proxy_set_headers.size(); ++i) {
    const config::HeaderRewrite& rewrite = settings.proxy_set_headers[i];
    std::string_view value = std::string_view(values).substr(start, ends[i] - start);
    start = ends[i];
    set_ids |= FieldBit(rewrite.id);
    set_others = set_others || rewrite.id == FieldId::kOther;
    if ((kOurs & FieldBit(rewrite.id)) != 0) continue;
    if (value.empty()) continue;
    if (rewrite.id == FieldId::kHost) has_host = true;
    out.push_back({rewrite.name, value});
  }
  if (!has_host) {
    // HTTP/1.1 requires Host (RFC 9112 section 3.2); an HTTP/1.0 client may have sent none.
    out.insert(out.begin(), http::HeaderView{"Host", settings.proxy_pass.proxy_host});
  }

  uint32_t dropped = kNeverPassed | (set_ids & ~FieldBit(FieldId::kOther));
  if (!options.peer_trusted) dropped |= kClientAddress;
  http::ConnectionOptionList options_list = http::ConnectionOptions(request.headers);
  for (const http::Header& h : request.headers) {
    if ((dropped & FieldBit(h.id)) != 0) continue;
    if (http::IsHopByHop(h, options_list)) continue;
    if (h.id == FieldId::kOther && set_others && SetByName(settings.proxy_set_headers, h.name)) {
      continue;
    }
    out.push_back({h.name, h.value});
  }

  char length[24];
  if (options.send_body && request.chunked) {
    out.push_back({"Transfer-Encoding", "chunked"});
  } else if (options.send_body && request.content_length.has_value()) {
    auto [end, ec] = std::to_chars(length, length + sizeof(length), *request.content_length);
    out.push_back({"Content-Length", std::string_view(length, static_cast<size_t>(end - length))});
  }
  if (options.upgrade) {
    const http::Header* upgrade = request.headers.Find(FieldId::kUpgrade);
    out.push_back({"Upgrade", upgrade != nullptr ? std::string_view(upgrade->value) : ""});
    out.push_back({"Connection", "upgrade"});
  } else if (!options.keep_alive) {
    out.push_back({"Connection", "close"});
  }
  std::string target_storage;
  const std::string_view target =
      ctx.redirected ? RedirectedTargetView(ctx, &target_storage)
                     : UpstreamTargetView(request, *ctx.location, &target_storage, ctx.uri);
  http::AppendRequestHead(head, RequestMethod(ctx), target, out, options.version_minor);
}

ClientFraming ChooseClientFraming(const http::MessageHead& response, bool head_request,
                                  int client_version_minor) {
  if (head_request || response.status < 200 || response.status == 204 ||
      response.status == 304) {
    return ClientFraming::kNone;
  }
  if (response.content_length.has_value() && !response.chunked) {
    return ClientFraming::kContentLength;
  }
  return client_version_minor >= 1 ? ClientFraming::kChunked : ClientFraming::kClose;
}

void AppendClientResponseHead(const http::MessageHead& response,
                              const config::HttpSettings& settings, const RequestContext& ctx,
                              const OwnFields& own, ClientFraming framing, bool keep_alive,
                              bool tunnel, std::string* head) {
  http::ConnectionOptionList options_list = http::ConnectionOptions(response.headers);
  absl::InlinedVector<http::HeaderView, 32> out;
  // First, as nginx's header filter writes them. Date: RFC 9110 section 6.6.1 (an origin
  // server with a clock sends one; a recipient forwarding a response without one adds it).
  if (settings.hide_upstream_server) out.push_back({"Server", own.server});
  if (settings.hide_upstream_date) out.push_back({"Date", own.date});
  // Then the type, the length and the connection, before the upstream's other fields, where
  // nginx's header filter writes them (ngx_http_header_filter()). The order of fields of
  // different names means nothing (RFC 9110 section 5.3); a head compared with nginx's is the
  // same. A HEAD response keeps the upstream's length, which describes the body a GET would get
  // (RFC 9110 section 8.6); 1xx, 204 and 304 lose theirs, and so does a re-framed body.
  const bool keep_length = response.content_length.has_value() && !response.chunked &&
                           (framing == ClientFraming::kContentLength ||
                            (framing == ClientFraming::kNone && response.status >= 200 &&
                             response.status != 204 && response.status != 304));
  // One type, the last one sent, as nginx keeps (a repeated singleton field leaves a client
  // to choose; RFC 9110 section 5.3).
  const http::Header* type = nullptr;
  for (const http::Header& h : response.headers) {
    if (h.id == http::FieldId::kContentType) type = &h;
  }
  if (type != nullptr && !settings.hidden_headers.Contains(type->name)) {
    out.push_back({"Content-Type", type->value});
  }
  char length[24];
  if (keep_length) {
    auto [end, ec] = std::to_chars(length, length + sizeof(length), *response.content_length);
    out.push_back({"Content-Length", std::string_view(length, static_cast<size_t>(end - length))});
  }
  if (framing == ClientFraming::kChunked) out.push_back({"Transfer-Encoding", "chunked"});
  if (tunnel) {
    out.push_back({"Connection", "upgrade"});
  } else if (response.status >= 200) {
    out.push_back({"Connection", keep_alive ? "keep-alive" : "close"});
  }
  RedirectRewrites redirects(settings, ctx);
  for (const http::Header& h : response.headers) {
    if (tunnel && h.id == http::FieldId::kUpgrade) {
      out.push_back({h.name, h.value});
      continue;
    }
    // Written above.
    if (h.id == http::FieldId::kContentType || h.id == http::FieldId::kContentLength) continue;
    // Before the hop-by-hop test: Date and Server are hidden from nearly every response.
    if (settings.hidden_headers.Contains(h.name)) continue;
    if (http::IsHopByHop(h, options_list)) continue;
    if (redirects.Rewrite(h.name, h.value, out.size())) {
      out.push_back({h.name, {}});
      continue;
    }
    out.push_back({h.name, h.value});
  }
  redirects.Resolve(out);
  if (own.status != 0) {
    http::AppendResponseHead(head, own.status, {}, out);
  } else {
    http::AppendResponseHead(head, response.status, response.reason, out);
  }
}

}  // namespace realip::server
