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

const Server& Listener::FindServer(std::string_view host) const {
  // Normalise as ngx_http_validate_host(): drop the port and a trailing dot, lower case.
  std::string name;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    name = std::string(host.substr(0, close == std::string_view::npos ? host.size() : close + 1));
  } else {
    name = std::string(host.substr(0, host.find(':')));
  }
  if (!name.empty() && name.back() == '.') name.pop_back();
  absl::AsciiStrToLower(&name);

  if (auto it = exact_names.find(name); it != exact_names.end()) return *it->second;
  for (const auto& [suffix, server] : leading_wildcards) {
    // ".example.com" matches "a.example.com" but not "example.com" itself.
    if (name.size() > suffix.size() && absl::EndsWith(name, suffix)) return *server;
  }
  for (const auto& [prefix, server] : trailing_wildcards) {
    if (name.size() > prefix.size() && absl::StartsWith(name, prefix)) return *server;
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
