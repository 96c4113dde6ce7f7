#include "proxy/server/redirect.h"

#include <charconv>

#include "absl/container/inlined_vector.h"
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

// One NAME[=VALUE] part of a Set-Cookie value (nginx's ngx_http_proxy_parse_cookie()).
struct CookiePart {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
  // Rewritten: the new value is [start, end) of the rewriting's scratch string.
  bool rewritten = false;
  size_t start = 0;
  size_t end = 0;
};

using CookieParts = absl::InlinedVector<CookiePart, 8>;

// Splits at every ';'; spaces (only spaces, as nginx) around names and values are dropped.
void ParseCookie(std::string_view value, CookieParts* parts) {
  const auto trim = [](std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
  };
  for (;;) {
    const size_t semicolon = value.find(';');
    const std::string_view part = value.substr(0, semicolon);
    CookiePart p;
    const size_t equals = part.find('=');
    p.name = trim(part.substr(0, equals));
    if (equals != std::string_view::npos) {
      p.value = trim(part.substr(equals + 1));
      p.has_value = true;
    }
    parts->push_back(p);
    if (semicolon == std::string_view::npos) break;
    value.remove_prefix(semicolon + 1);
  }
}

// The first rule matching `part`'s value writes the new value to the end of *scratch.
bool RewriteCookiePart(std::span<const config::ProxyCookieRewrite> rules, bool domain,
                       const RequestContext& ctx, CookiePart& part, std::string* scratch) {
  thread_local std::string pattern_scratch;
  // ngx_http_proxy_rewrite_domain_handler() keeps a leading dot and compares the rest whole.
  const size_t kept = domain && !part.value.empty() && part.value[0] == '.' ? 1 : 0;
  const std::string_view rest = part.value.substr(kept);
  for (const config::ProxyCookieRewrite& rule : rules) {
    const std::string_view pattern = ValueOf(rule.pattern, ctx, &pattern_scratch);
    const bool match =
        domain ? http::EqualsIgnoreCase(rest, pattern) : rest.substr(0, pattern.size()) == pattern;
    if (!match) continue;
    part.start = scratch->size();
    scratch->append(part.value.substr(0, kept));
    EvaluateFieldTo(rule.replacement, ctx, scratch);
    if (!domain) scratch->append(rest.substr(pattern.size()));
    part.end = scratch->size();
    part.rewritten = true;
    return true;
  }
  return false;
}

}  // namespace

bool RewriteSetCookie(std::string_view value, std::span<const config::ProxyCookieRewrite> domains,
                      std::span<const config::ProxyCookieRewrite> paths, const RequestContext& ctx,
                      std::string* out) {
  CookieParts parts;
  ParseCookie(value, &parts);
  if (!parts[0].has_value) return false;  // not NAME=VALUE: nginx leaves the line alone
  thread_local std::string scratch;
  scratch.clear();
  bool changed = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    CookiePart& part = parts[i];
    if (!part.has_value) continue;
    if (!domains.empty() && http::EqualsIgnoreCase(part.name, "domain")) {
      changed = RewriteCookiePart(domains, true, ctx, part, &scratch) || changed;
    } else if (!paths.empty() && http::EqualsIgnoreCase(part.name, "path")) {
      changed = RewriteCookiePart(paths, false, ctx, part, &scratch) || changed;
    }
  }
  if (!changed) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const CookiePart& part = parts[i];
    if (i > 0) out->append("; ");
    out->append(part.name);
    if (!part.has_value) continue;
    out->push_back('=');
    out->append(part.rewritten ? std::string_view(scratch).substr(part.start, part.end - part.start)
                               : part.value);
  }
  return true;
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
  const bool rewritten =
      IsSetCookieHeader(name)
          ? RewriteSetCookie(value, cookie_domains_, cookie_paths_, ctx_, values_)
          : RewriteRedirect(name, value, rules_, ctx_, values_);
  if (!rewritten) return false;
  entries_.push_back({index, start, values_->size()});
  return true;
}

}  // namespace realip::server
