#include "proxy/config/config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"

namespace realip::config {

using base::AsAbsl;

const Location& Server::FindLocation(std::string_view path) const {
  // A server-level `return` runs in nginx's server rewrite phase, before location matching.
  if (fallback.settings.handler == ContentHandler::kReturn) return fallback;
  const Location* best = nullptr;
  for (const Location& loc : locations) {
    if (loc.match == Location::Match::kExact) {
      if (loc.path == path) return loc;
      continue;
    }
    if (absl::StartsWith(AsAbsl(path), loc.path) &&
        (best == nullptr || loc.path.size() > best->path.size())) {
      best = &loc;
    }
  }
  return best != nullptr ? *best : fallback;
}

const Location* Server::FindNamedLocation(std::string_view name) const {
  for (const Location& loc : named_locations) {
    if (loc.path == name) return &loc;
  }
  return nullptr;
}

const ErrorPage* FindErrorPage(const HttpSettings& settings, int status) {
  for (const ErrorPage& page : settings.error_pages) {
    if (page.status == status) return &page;
  }
  return nullptr;
}

bool AddHeaderApplies(int status, bool always) {
  if (always) return true;
  // The list of ngx_http_headers_filter(): successes and redirects that carry no error.
  switch (status) {
    case 200:
    case 201:
    case 204:
    case 206:
    case 301:
    case 302:
    case 303:
    case 304:
    case 307:
    case 308:
      return true;
    default:
      return false;
  }
}

const Server& Listener::FindServer(std::string_view host) const {
  if (servers.size() == 1) return *default_server;
  // Normalise as ngx_http_validate_host(): drop the port and a trailing dot, lower case. Host
  // names are at most 253 bytes (RFC 1035 section 2.3.4), so a stack buffer serves without
  // allocating on the request path; anything longer cannot match a name.
  std::string_view name = host;
  if (!name.empty() && name[0] == '[') {
    const size_t close = name.find(']');
    if (close != std::string_view::npos) name = name.substr(0, close + 1);
  } else {
    name = name.substr(0, name.find(':'));
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  char buffer[256];
  if (name.size() > sizeof(buffer)) return *default_server;
  for (size_t i = 0; i < name.size(); ++i) {
    buffer[i] = absl::ascii_tolower(static_cast<unsigned char>(name[i]));
  }
  const absl::string_view lower(buffer, name.size());

  if (auto it = exact_names.find(lower); it != exact_names.end()) return *it->second;
  for (const auto& [suffix, server] : leading_wildcards) {
    // ".example.com" matches "a.example.com" but not "example.com" itself.
    if (lower.size() > suffix.size() && absl::EndsWith(lower, suffix)) return *server;
  }
  for (const auto& [prefix, server] : trailing_wildcards) {
    if (lower.size() > prefix.size() && absl::StartsWith(lower, prefix)) return *server;
  }
  return *default_server;
}

std::string Config::Dump() const {
  std::string out;
  for (const SourceFile& f : files) {
    absl::StrAppend(&out, "# configuration file ", f.path, ":\n", f.contents, "\n");
  }
  return out;
}

}  // namespace realip::config
