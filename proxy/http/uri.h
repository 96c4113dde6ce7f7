// The request path as nginx routes it (ngx_http_parse_complex_uri with merge_slashes on):
// percent-decoded, with empty, "." and ".." segments resolved. Locations are matched against
// it and $uri is it, so "/x/../admin", "/%61dmin" and "//admin" all reach `location /admin`.
#pragma once

#include <string>
#include <string_view>

namespace realip::http {

enum class PathNormalization {
  kUnchanged,  // the path is already in normal form; nothing was written
  kRewritten,  // the normal form was written to *out
  kInvalid,    // 400: a bad %-escape, or ".." above the root (nginx's), or an escaped
               // control byte other than tab (nginx refuses only NUL)
};

// Normalizes `path` (the request-target's path, starting with '/'): decodes every %XX once
// (a decoded '/' or '.' then counts as one), merges slashes and resolves "." and ".."
// segments; a path that ends with a "." or ".." segment keeps a trailing '/'. Paths that do
// not start with '/' are left unchanged. *out is overwritten only for kRewritten.
// With `merge_slashes` false (nginx's `merge_slashes off`) an empty segment is kept as any
// other, and a ".." removes it as it would a named one: "/a//b" stays, "/a//../b" is "/a/b".
PathNormalization NormalizePath(std::string_view path, std::string* out, bool merge_slashes = true);

// Appends `path` with the bytes nginx escapes in a URI (ngx_escape_uri, NGX_ESCAPE_URI):
// controls, space, '#', '%', '?' and bytes from 0x7f written as %XX (upper-case hex).
void AppendEscapedPath(std::string_view path, std::string* out);

}  // namespace realip::http
