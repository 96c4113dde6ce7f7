// proxy_redirect: the rewriting of the Location and Refresh headers of upstream responses
// (nginx's ngx_http_proxy_rewrite_redirect, with the absolute form its header filter gives a
// rewritten Location), and proxy_cookie_domain / proxy_cookie_path: the rewriting of Set-Cookie
// (ngx_http_proxy_rewrite_cookie). Pure: strings and the request's context in, a new value out.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "proxy/config/config.h"
#include "proxy/http/headers.h"
#include "proxy/http/serializer.h"
#include "proxy/server/request_context.h"

namespace realip::server {

// Whether `name` is Location or Refresh, the two headers proxy_redirect rewrites. Cheap: the
// length is compared first.
inline bool IsRedirectHeader(std::string_view name) {
  return (name.size() == 8 && http::EqualsIgnoreCase(name, "location")) ||
         (name.size() == 7 && http::EqualsIgnoreCase(name, "refresh"));
}

// Rewrites the value of a Location or Refresh header (`name`) with the first rule whose
// `redirect` is a prefix (case-sensitive) of the value, for Refresh of the part after its first
// "url=" (any case). On a match the new value is appended to *out and true returned; a Location
// that then starts with '/' becomes absolute: "http[s]://HOST[:PORT]" in front, HOST the
// request's host (else the local address), PORT the local port unless 80 (443 over TLS).
// False, and *out untouched, when no rule matches. Allocates only while rewriting.
bool RewriteRedirect(std::string_view name, std::string_view value,
                     std::span<const config::ProxyRedirect> rules, const RequestContext& ctx,
                     std::string* out);

// Whether `name` is Set-Cookie, the header proxy_cookie_domain and proxy_cookie_path rewrite.
inline bool IsSetCookieHeader(std::string_view name) {
  return name.size() == 10 && http::EqualsIgnoreCase(name, "set-cookie");
}

// Rewrites a Set-Cookie value as nginx 1.22: split at ';' into NAME[=VALUE] parts (spaces
// around names and values dropped); unless the first part has no '=', each later `domain` or
// `path` part (any case) with a value gets the first matching rule of `domains` (value equal to
// the pattern in any case, after a leading dot that is kept) or `paths` (value starting with
// the pattern, case-sensitive; the rest kept). When any part changed, the parts are appended to
// *out joined by "; " and true returned; otherwise false and *out untouched.
bool RewriteSetCookie(std::string_view value, std::span<const config::ProxyCookieRewrite> domains,
                      std::span<const config::ProxyCookieRewrite> paths, const RequestContext& ctx,
                      std::string* out);

// A Location the proxy sends: one that starts with '/' gets the prefix above (nginx's header
// filter does this to every Location, `return 301 /path` included); any other is kept.
void AppendLocation(const RequestContext& ctx, std::string_view location, std::string* out);

// The rewritten values of one response head (proxy_redirect, and proxy_cookie_* when the
// settings are given), for the code that lists its headers: a header Rewrite() takes gets a
// placeholder in the list, filled by Resolve() once every value is written (the values share
// memory this thread reuses). Does nothing without rules. Inline up to the header-name check,
// which is all a response without Location, Refresh or Set-Cookie costs (once per upstream
// header line of every response); without rules not even that.
class RedirectRewrites {
 public:
  RedirectRewrites(std::span<const config::ProxyRedirect> rules, const RequestContext& ctx)
      : rules_(rules), ctx_(ctx) {}
  RedirectRewrites(const config::HttpSettings& settings, const RequestContext& ctx)
      : rules_(settings.proxy_redirects),
        cookie_domains_(settings.proxy_cookie_domains),
        cookie_paths_(settings.proxy_cookie_paths),
        cookies_(!cookie_domains_.empty() || !cookie_paths_.empty()),
        ctx_(ctx) {}
  RedirectRewrites(const RedirectRewrites&) = delete;
  RedirectRewrites& operator=(const RedirectRewrites&) = delete;

  // True when header `name: value` was rewritten; its entry is to be list[index].
  bool Rewrite(std::string_view name, std::string_view value, size_t index) {
    if (!rules_.empty() && IsRedirectHeader(name)) return RewriteHeader(name, value, index);
    if (cookies_ && IsSetCookieHeader(name)) return RewriteHeader(name, value, index);
    return false;
  }
  // Points the placeholders' values at the rewritten text.
  void Resolve(std::span<http::HeaderView> list) const {
    for (const Entry& e : entries_) {
      list[e.index].value = std::string_view(*values_).substr(e.start, e.end - e.start);
    }
  }

 private:
  struct Entry {
    size_t index;  // in the caller's list
    size_t start;  // in *values_
    size_t end;
  };
  bool RewriteHeader(std::string_view name, std::string_view value, size_t index);

  std::span<const config::ProxyRedirect> rules_;
  std::span<const config::ProxyCookieRewrite> cookie_domains_;
  std::span<const config::ProxyCookieRewrite> cookie_paths_;
  bool cookies_ = false;  // any proxy_cookie_* rule
  const RequestContext& ctx_;
  std::string* values_ = nullptr;  // this thread's reused memory, from the first rewrite on
  absl::InlinedVector<Entry, 1> entries_;
};

}  // namespace realip::server
