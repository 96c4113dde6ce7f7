#include "proxy/server/redirect.h"

#include <charconv>

#include "proxy/http/headers.h"

namespace realip::server {
namespace {

// The value of a compiled string: a view of its text when it has no variable, else evaluated
// into *scratch.
std::string_view ValueOf(const config::CompiledString& s, const RequestContext& ctx,
                         std::string* scratch) {
  if (s.segments.empty()) return {};
  if (s.segments.size() == 1 && !s.segments[0].variable.has_value()) {
    return s.segments[0].literal;
  }
  scratch->clear();
  EvaluateTo(s, ctx, scratch);
  return *scratch;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// Position just after the first "url=" in `value`, compared without regard to case (nginx:
// ngx_strcasestrn); npos when there is none.
size_t AfterUrl(std::string_view value) {
  for (size_t i = 0; i + 4 <= value.size(); ++i) {
    if (Lower(value[i]) == 'u' && Lower(value[i + 1]) == 'r' && Lower(value[i + 2]) == 'l' &&
        value[i + 3] == '=') {
      return i + 4;
    }
  }
  return std::string_view::npos;
}

// The location's redirect settings; nginx's defaults when the request has no location.
const config::HttpSettings& RedirectSettings(const RequestContext& ctx) {
  static const config::HttpSettings kDefaults;
  return ctx.location != nullptr ? ctx.location->settings : kDefaults;
}

// What ngx_http_header_filter() puts before a Location that starts with '/' when
// absolute_redirect is on: the scheme, the host (the server's first name with
// server_name_in_redirect, else the request's), and the port unless port_in_redirect is off or
// it is the scheme's.
void AppendAbsolutePrefix(const RequestContext& ctx, std::string* out) {
  const config::HttpSettings& s = RedirectSettings(ctx);
  out->append(ctx.https ? "https://" : "http://");
  const size_t host_start = out->size();
  if (s.server_name_in_redirect && ctx.server != nullptr && !ctx.server->names.empty()) {
    out->append(ctx.server->names.front());
  } else if (ctx.head != nullptr) {
    AppendRequestHostName(*ctx.head, out);
  }
  if (out->size() == host_start) {
    // No host in the request (HTTP/1.0): the local address. nginx prints an IPv6 one without
    // brackets, which no client can parse; we add them.
    const bool v6 = !ctx.local.is_unix && ctx.local.ip.is_v6();
    if (v6) out->push_back('[');
    ctx.local.AppendHostTo(out);
    if (v6) out->push_back(']');
  }
  const uint16_t port = ctx.local.is_unix || !s.port_in_redirect ? 0 : ctx.local.port;
  if (port != 0 && port != (ctx.https ? 443 : 80)) {
    char digits[8];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), port);
    out->push_back(':');
    out->append(digits, static_cast<size_t>(end - digits));
  }
}

}  // namespace

void AppendLocation(const RequestContext& ctx, std::string_view location, std::string* out) {
  if (!location.empty() && location[0] == '/' && RedirectSettings(ctx).absolute_redirect) {
    AppendAbsolutePrefix(ctx, out);
  }
  out->append(location);
}

bool RewriteRedirect(std::string_view name, std::string_view value,
                     std::span<const config::ProxyRedirect> rules, const RequestContext& ctx,
                     std::string* out) {
  const bool location = name.size() == 8;
  size_t prefix = 0;
  if (!location) {
    prefix = AfterUrl(value);
    if (prefix == std::string_view::npos) return false;
  }
  const std::string_view rest = value.substr(prefix);
  thread_local std::string scratch;
  for (const config::ProxyRedirect& rule : rules) {
    const std::string_view redirect = ValueOf(rule.redirect, ctx, &scratch);
    if (rest.substr(0, redirect.size()) != redirect) continue;
    thread_local std::string rewritten;
    rewritten.assign(value.substr(0, prefix));
    EvaluateFieldTo(rule.replacement, ctx, &rewritten);
    rewritten.append(rest.substr(redirect.size()));
    if (location) {
      AppendLocation(ctx, rewritten, out);  // absolute, as every Location the proxy makes
    } else {
      out->append(rewritten);
    }
    return true;
  }
  return false;
}

namespace {

std::string& ThreadValues() {
  thread_local std::string values;
  return values;
}

}  // namespace

bool RedirectRewrites::RewriteHeader(std::string_view name, std::string_view value, size_t index) {
  if (values_ == nullptr) {
    values_ = &ThreadValues();
    values_->clear();
  }
  const size_t start = values_->size();
  if (!RewriteRedirect(name, value, rules_, ctx_, values_)) return false;
  entries_.push_back({index, start, values_->size()});
  return true;
}

}  // namespace realip::server
