#include "proxy/server/rewrite.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"
#include "proxy/http/headers.h"
#include "proxy/http/serializer.h"

namespace realip::server {
namespace {

bool Named(std::string_view name, std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) {
    if (http::EqualsIgnoreCase(name, n)) return true;
  }
  return false;
}

}  // namespace

std::string UpstreamTarget(const http::MessageHead& request, const config::Location& location) {
  const config::ProxyPass& pass = location.settings.proxy_pass;
  TargetParts parts = SplitTarget(request.target);
  if (!pass.has_uri) {
    if (request.target[0] == '/') return request.target;
    // Absolute-form is for proxies (RFC 9112 section 3.2.2); origin servers get origin-form.
    std::string out(parts.path);
    if (parts.has_query) absl::StrAppend(&out, "?", base::AsAbsl(parts.query));
    return out;
  }
  std::string_view rest = parts.path;
  if (rest.size() >= location.path.size()) rest.remove_prefix(location.path.size());
  std::string out = absl::StrCat(pass.uri, base::AsAbsl(rest));
  if (parts.has_query) absl::StrAppend(&out, "?", base::AsAbsl(parts.query));
  return out;
}

std::string BuildUpstreamHead(const RequestContext& ctx, const UpstreamRequestOptions& options) {
  const http::MessageHead& request = *ctx.head;
  const config::HttpSettings& settings = ctx.location->settings;
  std::vector<std::string> set_values;
  set_values.reserve(settings.proxy_set_headers.size());
  std::vector<http::HeaderView> out;
  out.reserve(settings.proxy_set_headers.size() + request.headers.size() + 3);

  bool has_host = false;
  for (const config::HeaderRewrite& rewrite : settings.proxy_set_headers) {
    set_values.push_back(Evaluate(rewrite.value, ctx));
  }
  for (size_t i = 0; i < settings.proxy_set_headers.size(); ++i) {
    const std::string& name = settings.proxy_set_headers[i].name;
    // Framing and connection management are ours; a proxy_set_header cannot override them.
    if (Named(name, {"content-length", "transfer-encoding", "connection", "upgrade"})) continue;
    if (set_values[i].empty()) continue;
    if (http::EqualsIgnoreCase(name, "host")) has_host = true;
    out.push_back({name, set_values[i]});
  }
  std::string fallback_host;
  if (!has_host) {
    // HTTP/1.1 requires Host (RFC 9112 section 3.2); an HTTP/1.0 client may have sent none.
    fallback_host = settings.proxy_pass.proxy_host;
    out.insert(out.begin(), http::HeaderView{"Host", fallback_host});
  }

  std::vector<std::string> options_list = http::ConnectionOptions(request.headers);
  for (const http::Header& h : request.headers) {
    if (http::IsHopByHop(h.name, options_list)) continue;
    if (Named(h.name, {"content-length", "expect"})) continue;
    if (!options.peer_trusted && Named(h.name, {"x-real-ip", "forwarded"})) continue;
    bool replaced = false;
    for (const config::HeaderRewrite& rewrite : settings.proxy_set_headers) {
      if (http::EqualsIgnoreCase(rewrite.name, h.name)) {
        replaced = true;
        break;
      }
    }
    if (!replaced && http::EqualsIgnoreCase(h.name, "host")) replaced = true;
    if (replaced) continue;
    out.push_back({h.name, h.value});
  }

  std::string length;
  if (request.chunked) {
    out.push_back({"Transfer-Encoding", "chunked"});
  } else if (request.content_length.has_value()) {
    length = absl::StrCat(*request.content_length);
    out.push_back({"Content-Length", length});
  }
  std::string upgrade_value;
  if (options.upgrade) {
    const http::Header* upgrade = request.headers.Find("upgrade");
    if (upgrade != nullptr) upgrade_value = upgrade->value;
    out.push_back({"Upgrade", upgrade_value});
    out.push_back({"Connection", "upgrade"});
  } else if (!options.keep_alive) {
    out.push_back({"Connection", "close"});
  }
  return http::SerializeRequestHead(request.method, UpstreamTarget(request, *ctx.location), out,
                                    options.version_minor);
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

std::string BuildClientResponseHead(const http::MessageHead& response,
                                    const config::HttpSettings& settings, ClientFraming framing,
                                    bool keep_alive, bool tunnel) {
  std::vector<std::string> options_list = http::ConnectionOptions(response.headers);
  std::vector<http::HeaderView> out;
  out.reserve(response.headers.size() + 2);
  for (const http::Header& h : response.headers) {
    if (tunnel && http::EqualsIgnoreCase(h.name, "upgrade")) {
      out.push_back({h.name, h.value});
      continue;
    }
    if (http::IsHopByHop(h.name, options_list)) continue;
    // Content-Length is re-added below only for kContentLength; a HEAD response keeps the
    // upstream's value, which describes the body a GET would get (RFC 9110 section 8.6).
    if (http::EqualsIgnoreCase(h.name, "content-length") &&
        framing != ClientFraming::kContentLength &&
        !(framing == ClientFraming::kNone && response.status >= 200 && response.status != 204 &&
          response.status != 304 && !response.chunked)) {
      continue;
    }
    bool hidden = false;
    for (const std::string& name : settings.proxy_hide_headers) {
      if (http::EqualsIgnoreCase(h.name, name)) hidden = true;
    }
    if (hidden) continue;
    out.push_back({h.name, h.value});
  }
  if (framing == ClientFraming::kChunked) out.push_back({"Transfer-Encoding", "chunked"});
  if (tunnel) {
    out.push_back({"Connection", "upgrade"});
  } else if (response.status >= 200) {
    out.push_back({"Connection", keep_alive ? "keep-alive" : "close"});
  }
  return http::SerializeResponseHead(response.status, response.reason, out);
}

}  // namespace realip::server
