// Loading: parse, run the directive table, then merge http -> server -> location, resolve
// upstreams and proxy_pass targets, and group listening sockets. Nothing here touches running
// state: the result is a new immutable Config.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/check.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"
#include "proxy/config/config.h"
#include "proxy/config/directive_table.h"
#include "proxy/config/parser.h"

namespace realip::config {

namespace internal {

namespace {

absl::Status ErrorAt(std::string_view message, const std::string& file, int line) {
  return absl::InvalidArgumentError(AtLocation(message, file, line));
}

CompiledString MustCompile(std::string_view text) {
  absl::StatusOr<CompiledString> compiled = CompileString(text);
  REALIP_CHECK(compiled.ok());
  return *std::move(compiled);
}

// Headers sent to every upstream unless a proxy_set_header of the same name overrides them.
// nginx sends "Host: $proxy_host"; we keep the Host the client sent, and add the client
// address headers that a real-IP-preserving proxy exists to pass on.
const std::vector<HeaderRewrite>& DefaultProxyHeaders() {
  static const auto* headers = new std::vector<HeaderRewrite>{
      {"Host", MustCompile("$http_host")},
      {"X-Real-IP", MustCompile("$remote_addr")},
      {"X-Forwarded-For", MustCompile("$realip_x_forwarded_for")},
      {"X-Forwarded-Proto", MustCompile("$scheme")},
  };
  return *headers;
}

// An inheriting level's values plus the explicitly configured proxy_set_header list, which
// (not the defaults-expanded one) is what a child inherits.
struct Merged {
  HttpSettings settings;
  std::vector<HeaderRewrite> explicit_headers;
  // nginx's merged proxy_redirect state: the flag, and the rules (nullopt: nginx's NULL
  // array) a child inherits when it sets none.
  bool redirect = true;
  std::optional<std::vector<ProxyRedirect>> redirects;
};

template <typename T>
void Inherit(T& out, const std::optional<T>& own) {
  if (own.has_value()) out = *own;
}

class Finalizer {
 public:
  Finalizer(Draft& draft, Config& config) : draft_(draft), config_(config) {}

  absl::Status Run() {
    for (const auto& f : draft_.log_formats) config_.log_formats[f->name] = f;
    REALIP_RETURN_IF_ERROR(BuildUpstreams());
    REALIP_RETURN_IF_ERROR(
        BuildAccessConfig(draft_.access, draft_.running_access, &config_.access));

    Merged root;
    root.settings.realip.trusted = std::make_shared<const net::CidrSet>();
    AccessLog stdout_log;  // kStdout
    stdout_log.format = config_.log_formats.at("combined");
    root.settings.access_logs.push_back(std::move(stdout_log));
    REALIP_ASSIGN_OR_RETURN(Merged http, Merge(root, draft_.http));

    std::vector<std::shared_ptr<Server>> servers;
    for (const auto& sd : draft_.servers) {
      REALIP_ASSIGN_OR_RETURN(std::shared_ptr<Server> server, BuildServer(http, *sd));
      servers.push_back(server);
      config_.servers.push_back(server);
    }
    return BuildListeners(servers);
  }

 private:
  absl::Status BuildUpstreams() {
    for (const auto& ud : draft_.upstreams) {
      auto u = std::make_shared<Upstream>();
      u->name = ud->name;
      u->keepalive = ud->keepalive.value_or(0);
      Inherit(u->keepalive_timeout, ud->keepalive_timeout);
      Inherit(u->keepalive_requests, ud->keepalive_requests);
      u->balancer = ud->balancer;
      u->hash_key = ud->hash_key;
      u->hash_consistent = ud->hash_consistent;
      u->file = ud->file;
      u->line = ud->line;
      for (const UpstreamServerDraft& sd : ud->servers) {
        // ngx_http_upstream_hash / ip_hash refuse "backup": a hashed key has no fallback order.
        if (sd.server.backup &&
            (u->balancer == Balancer::kIpHash || u->balancer == Balancer::kHash)) {
          return ErrorAt("balancing method does not support parameter \"backup\"", sd.file,
                         sd.line);
        }
        absl::StatusOr<std::vector<net::SocketAddress>> addresses =
            ResolveHost(sd.host, sd.port, draft_.use_dns);
        if (!addresses.ok()) {
          return ErrorAt(absl::StrCat("host not found in upstream \"", sd.server.name, "\""),
                         sd.file, sd.line);
        }
        UpstreamServer server = sd.server;
        server.addresses = *std::move(addresses);
        u->servers.push_back(std::move(server));
      }
      config_.upstreams[u->name] = u;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<const Upstream>> ResolveProxyPass(const ProxyPassDraft& pass,
                                                                   ProxyPass& out) {
    const uint16_t default_port = pass.scheme == "https" ? 443 : 80;
    out.proxy_port = pass.port.value_or(default_port);
    out.proxy_host = pass.host_text;
    // ngx_http_upstream_add(): a URL without an explicit port may name an upstream block.
    if (!pass.port.has_value()) {
      auto it = config_.upstreams.find(pass.host);
      if (it != config_.upstreams.end()) return it->second;
    }
    const std::string key = absl::StrCat(pass.host, ":", out.proxy_port);
    auto cached = implicit_.find(key);
    if (cached != implicit_.end()) return cached->second;
    absl::StatusOr<std::vector<net::SocketAddress>> addresses =
        ResolveHost(pass.host, out.proxy_port, draft_.use_dns);
    if (!addresses.ok()) {
      return ErrorAt(absl::StrCat("host not found in upstream \"", pass.host_text, "\""), pass.file,
                     pass.line);
    }
    auto u = std::make_shared<Upstream>();
    u->name = pass.host_text;
    u->implicit = true;
    u->file = pass.file;
    u->line = pass.line;
    UpstreamServer server;
    server.name = pass.host_text;
    server.addresses = *std::move(addresses);
    u->servers.push_back(std::move(server));
    implicit_[key] = u;
    return std::shared_ptr<const Upstream>(u);
  }

  absl::StatusOr<Merged> Merge(const Merged& parent, const LevelDraft& d) {
    Merged m;
    m.settings = parent.settings;
    m.explicit_headers = parent.explicit_headers;
    HttpSettings& s = m.settings;

    // Array directives replace the inherited list as a whole (nginx's merge of arrays).
    if (d.trusted != nullptr) s.realip.trusted = d.trusted;
    Inherit(s.realip.sources, d.realip_sources);
    Inherit(s.realip.recursive, d.realip_recursive);

    Inherit(s.keepalive_timeout, d.keepalive_timeout);
    Inherit(s.keepalive_requests, d.keepalive_requests);
    Inherit(s.client_header_timeout, d.client_header_timeout);
    Inherit(s.client_body_timeout, d.client_body_timeout);
    Inherit(s.send_timeout, d.send_timeout);
    Inherit(s.lingering_close, d.lingering_close);
    Inherit(s.lingering_time, d.lingering_time);
    Inherit(s.lingering_timeout, d.lingering_timeout);
    Inherit(s.client_max_body_size, d.client_max_body_size);
    Inherit(s.client_header_buffer_size, d.client_header_buffer_size);
    Inherit(s.ignore_invalid_headers, d.ignore_invalid_headers);
    Inherit(s.underscores_in_headers, d.underscores_in_headers);
    Inherit(s.merge_slashes, d.merge_slashes);
    if (d.large_client_header_buffers.has_value()) {
      s.large_client_header_buffers_number = d.large_client_header_buffers->first;
      s.large_client_header_buffers_size = d.large_client_header_buffers->second;
    }

    Inherit(m.explicit_headers, d.proxy_set_headers);
    s.proxy_set_headers = WithDefaultHeaders(m.explicit_headers);
    // Each list is inherited on its own, then both are applied to nginx's defaults
    // (ngx_http_upstream_hide_headers_hash).
    Inherit(s.proxy_hide_headers, d.proxy_hide_headers);
    Inherit(s.proxy_pass_headers, d.proxy_pass_headers);
    if (d.proxy_hide_headers.has_value() || d.proxy_pass_headers.has_value()) {
      s.hidden_headers = BuildHiddenHeaders(s.proxy_hide_headers, s.proxy_pass_headers);
      s.hide_upstream_server = s.hidden_headers.Contains("server");
      s.hide_upstream_date = s.hidden_headers.Contains("date");
    }
    MergeRedirects(parent, d, m);
    Inherit(s.proxy_cookie_domains, d.proxy_cookie_domains);
    Inherit(s.proxy_cookie_paths, d.proxy_cookie_paths);
    Inherit(s.proxy_http_version_minor, d.proxy_http_version_minor);
    Inherit(s.proxy_connect_timeout, d.proxy_connect_timeout);
    Inherit(s.proxy_read_timeout, d.proxy_read_timeout);
    Inherit(s.proxy_send_timeout, d.proxy_send_timeout);
    Inherit(s.proxy_next_upstream, d.proxy_next_upstream);
    Inherit(s.proxy_next_upstream_tries, d.proxy_next_upstream_tries);
    Inherit(s.proxy_buffering, d.proxy_buffering);
    Inherit(s.proxy_buffer_size, d.proxy_buffer_size);
    Inherit(s.proxy_protocol, d.proxy_protocol);
    Inherit(s.proxy_protocol_version, d.proxy_protocol_version);
    Inherit(s.server_tokens, d.server_tokens);
    Inherit(s.absolute_redirect, d.absolute_redirect);
    Inherit(s.port_in_redirect, d.port_in_redirect);
    Inherit(s.server_name_in_redirect, d.server_name_in_redirect);
    Inherit(s.add_headers, d.add_headers);
    Inherit(s.tcp_nodelay, d.tcp_nodelay);
    Inherit(s.reset_timedout_connection, d.reset_timedout_connection);
    if (d.types != nullptr) s.types = d.types;  // a level's `types` blocks replace the table
    Inherit(s.default_type, d.default_type);
    Inherit(s.error_pages, d.error_pages);
    Inherit(s.recursive_error_pages, d.recursive_error_pages);
    Inherit(s.proxy_intercept_errors, d.proxy_intercept_errors);
    REALIP_RETURN_IF_ERROR(MergeAccess(config_.access, d.access, &s.access));
    MergeSsl(s.ssl, d.ssl);

    if (d.access_logs.has_value()) {
      s.access_logs.clear();
      for (const AccessLogDraft& a : *d.access_logs) {
        auto format = config_.log_formats.find(a.format);
        if (format == config_.log_formats.end()) {
          return ErrorAt(absl::StrCat("unknown log format \"", a.format, "\""), a.file, a.line);
        }
        AccessLog log;
        log.kind = a.kind;
        log.path = a.path;
        log.format = format->second;
        if (a.kind == AccessLog::Kind::kFile) log.file_index = FileIndex(a);
        if (a.buffer_size.has_value()) log.buffer_size = *a.buffer_size;
        if (a.flush.has_value()) log.flush = *a.flush;
        if (a.condition.has_value()) {
          log.has_condition = true;
          log.condition = *a.condition;
        }
        s.access_logs.push_back(std::move(log));
      }
    }

    // The content handler and `return` belong to the block that names them.
    s.handler = ContentHandler::kNone;
    s.proxy_pass = ProxyPass{};
    s.ret = ReturnAction{};
    if (d.ret.has_value()) {
      s.handler = ContentHandler::kReturn;
      s.ret = *d.ret;
    } else {
      s.handler = d.handler;
    }
    if (d.handler == ContentHandler::kProxyPass) {
      s.proxy_pass.scheme = d.proxy_pass.scheme;
      s.proxy_pass.has_uri = d.proxy_pass.has_uri;
      s.proxy_pass.uri = d.proxy_pass.uri;
      REALIP_ASSIGN_OR_RETURN(s.proxy_pass.upstream, ResolveProxyPass(d.proxy_pass, s.proxy_pass));
    }
    return m;
  }

  // ngx_http_proxy_merge_loc_conf(): without rules of its own a level inherits its parent's
  // (a nested location keeps the default rule made from its parent's proxy_pass); a level
  // with proxy_pass and still no rule gets `default`. `off` clears the list.
  static void MergeRedirects(const Merged& parent, const LevelDraft& d, Merged& m) {
    m.redirect = d.proxy_redirect.value_or(parent.redirect);
    m.redirects.reset();
    if (m.redirect) {
      m.redirects = d.proxy_redirects.has_value() ? d.proxy_redirects : parent.redirects;
      if (!m.redirects.has_value() && d.handler == ContentHandler::kProxyPass) {
        m.redirects.emplace().push_back(DefaultProxyRedirect(d.proxy_pass));
      }
    }
    m.settings.proxy_redirects =
        m.redirects.has_value() ? *m.redirects : std::vector<ProxyRedirect>{};
  }

  static std::vector<HeaderRewrite> WithDefaultHeaders(const std::vector<HeaderRewrite>& own) {
    std::vector<HeaderRewrite> out;
    const auto named = [&](std::string_view name) {
      for (const HeaderRewrite& h : own) {
        if (absl::EqualsIgnoreCase(h.name, base::AsAbsl(name))) return true;
      }
      return false;
    };
    // Later explicit values for the same name win (each name is sent once).
    for (size_t i = 0; i < own.size(); ++i) {
      bool overridden = false;
      for (size_t j = i + 1; j < own.size(); ++j) {
        overridden = overridden || absl::EqualsIgnoreCase(own[i].name, own[j].name);
      }
      // An empty value removes the header (nginx: "an empty string ... not passed"), the
      // client's line of that name included: the entry stays, and sends nothing.
      if (!overridden) out.push_back(own[i]);
    }
    for (const HeaderRewrite& h : DefaultProxyHeaders()) {
      if (!named(h.name)) out.push_back(h);
    }
    return out;
  }

  absl::StatusOr<std::shared_ptr<Server>> BuildServer(const Merged& http, const ServerDraft& sd) {
    auto server = std::make_shared<Server>();
    server->names = sd.names;
    server->file = sd.file;
    server->line = sd.line;
    REALIP_ASSIGN_OR_RETURN(Merged merged, Merge(http, sd.level));
    server->settings = merged.settings;
    server->fallback.settings = merged.settings;
    server->fallback.file = sd.file;
    server->fallback.line = sd.line;

    std::vector<Merged> locations;  // parallel to sd.locations; parents come first
    for (const auto& ld : sd.locations) {
      const Merged& parent = ld->parent < 0 ? merged : locations[static_cast<size_t>(ld->parent)];
      REALIP_ASSIGN_OR_RETURN(Merged lm, Merge(parent, ld->level));
      Location loc;
      loc.match = ld->match;
      loc.path = ld->path;
      loc.settings = lm.settings;
      loc.file = ld->file;
      loc.line = ld->line;
      (ld->named ? server->named_locations : server->locations).push_back(std::move(loc));
      locations.push_back(std::move(lm));
    }
    return server;
  }

  absl::Status BuildListeners(const std::vector<std::shared_ptr<Server>>& servers) {
    struct Group {
      Listener listener;
      bool explicit_default = false;
      bool options_set = false;
      std::vector<const Server*> members;
    };
    std::vector<Group> groups;
    std::vector<std::string> keys;

    // ngx_http_core_server(): a server without `listen` listens on *:80 (root) or *:8000.
    ListenDraft implicit;
    implicit.addresses.push_back(
        {net::IpAddress(), static_cast<uint16_t>(geteuid() == 0 ? 80 : 8000), false});
    implicit.text = implicit.addresses[0].ToString();

    for (size_t si = 0; si < servers.size(); ++si) {
      const ServerDraft& sd = *draft_.servers[si];
      std::vector<ListenDraft> listens = sd.listens;
      if (listens.empty()) {
        implicit.file = sd.file;
        implicit.line = sd.line;
        listens.push_back(implicit);
      }
      for (const ListenDraft& l : listens) {
        for (const net::SocketAddress& address : l.addresses) {
          const std::string key =
              address.is_unix ? absl::StrCat("unix:", l.unix_path) : address.ToString();
          size_t gi = 0;
          while (gi < keys.size() && keys[gi] != key) ++gi;
          if (gi == keys.size()) {
            keys.push_back(key);
            groups.emplace_back();
            Listener& nl = groups.back().listener;
            nl.address = address;
            nl.unix_path = l.unix_path;
            nl.text = key;
          }
          Group& g = groups[gi];
          Listener& listener = g.listener;
          for (const Server* member : g.members) {
            if (member == servers[si].get()) {
              return ErrorAt(absl::StrCat("a duplicate listen ", key), l.file, l.line);
            }
          }
          g.members.push_back(servers[si].get());
          listener.servers.push_back(servers[si]);
          if (l.default_server) {
            if (g.explicit_default) {
              return ErrorAt(absl::StrCat("a duplicate default server for ", key), l.file, l.line);
            }
            g.explicit_default = true;
            listener.default_server = servers[si];
          }
          // Socket options belong to the socket: only one listen of an address may set them
          // (ngx_http_add_addresses: "duplicate listen options").
          if (l.backlog.has_value() || l.reuseport.has_value() || l.ipv6only.has_value() ||
              l.socket_options.has_value()) {
            if (g.options_set) {
              return ErrorAt(absl::StrCat("duplicate listen options for ", key), l.file, l.line);
            }
            g.options_set = true;
            if (l.backlog.has_value()) listener.backlog = *l.backlog;
            if (l.reuseport.has_value()) listener.reuseport = *l.reuseport;
            if (l.ipv6only.has_value()) listener.ipv6only = *l.ipv6only;
            if (l.socket_options.has_value()) listener.socket_options = *l.socket_options;
          }
          // As nginx, "ssl" and "proxy_protocol" on any listen of an address apply to it.
          listener.ssl = listener.ssl || l.ssl;
          if (l.proxy_protocol != ProxyProtocolMode::kOff) {
            if (listener.proxy_protocol != ProxyProtocolMode::kOff &&
                listener.proxy_protocol != l.proxy_protocol) {
              return ErrorAt(absl::StrCat("conflicting proxy_protocol modes for ", key), l.file,
                             l.line);
            }
            listener.proxy_protocol = l.proxy_protocol;
          }
        }
      }
    }

    for (Group& g : groups) {
      Listener& l = g.listener;
      if (l.default_server == nullptr) l.default_server = l.servers.front();
      l.proxy_protocol_trusted = l.default_server->settings.realip.trusted;
      IndexNames(l, config_.warnings);
      config_.listeners.push_back(std::move(l));
    }
    return absl::OkStatus();
  }

  static void IndexNames(Listener& l, std::vector<std::string>& warnings) {
    // ngx_http_server_names(): the first server to claim a name on an address keeps it.
    const auto add = [&](auto& table, std::string key, const Server* server,
                         std::string_view written) {
      for (const auto& [k, v] : table) {
        if (k == key) {
          if (v != server) {
            warnings.push_back(
                AtLocation(absl::StrCat("conflicting server name \"", base::AsAbsl(written),
                                        "\" on ", l.text, ", ignored"),
                           server->file, server->line));
          }
          return;
        }
      }
      table.emplace_back(std::move(key), server);
    };
    std::vector<std::pair<std::string, const Server*>> exact;
    for (const auto& server : l.servers) {
      for (const std::string& name : server->names) {
        if (absl::StartsWith(name, "*.")) {
          add(l.leading_wildcards, name.substr(1), server.get(), name);
        } else if (absl::StartsWith(name, ".")) {
          // ".example.com" is "example.com" plus "*.example.com".
          add(exact, name.substr(1), server.get(), name);
          add(l.leading_wildcards, name, server.get(), name);
        } else if (absl::EndsWith(name, ".*")) {
          add(l.trailing_wildcards, name.substr(0, name.size() - 1), server.get(), name);
        } else {
          add(exact, name, server.get(), name);
        }
      }
    }
    for (auto& [name, server] : exact) l.exact_names.emplace(name, server);
    // The longest wildcard wins, so try longer ones first.
    const auto longer = [](const auto& a, const auto& b) {
      return a.first.size() > b.first.size();
    };
    std::stable_sort(l.leading_wildcards.begin(), l.leading_wildcards.end(), longer);
    std::stable_sort(l.trailing_wildcards.begin(), l.trailing_wildcards.end(), longer);
  }

  // The index of `a`'s path in config_.access_log_files, added there when first named.
  size_t FileIndex(const AccessLogDraft& a) {
    auto [it, added] = file_indexes_.try_emplace(a.path, config_.access_log_files.size());
    if (added) config_.access_log_files.push_back(AccessLogFile{a.path, a.file, a.line});
    return it->second;
  }

  Draft& draft_;
  Config& config_;
  std::map<std::string, std::shared_ptr<const Upstream>> implicit_;
  std::map<std::string, size_t> file_indexes_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const Config>> Finalize(Draft& draft, std::string path,
                                                       std::vector<SourceFile> files) {
  auto config = std::make_shared<Config>();
  config->path = std::move(path);
  config->files = std::move(files);
  config->main = draft.main;
  config->metrics_collection = draft.metrics_collection;
  config->variables = draft.variables;
  Finalizer finalizer(draft, *config);
  REALIP_RETURN_IF_ERROR(finalizer.Run());
  config->warnings.insert(config->warnings.begin(), draft.warnings.begin(), draft.warnings.end());
  return std::shared_ptr<const Config>(std::move(config));
}

absl::StatusOr<std::shared_ptr<const Config>> LoadFromSource(std::string_view text,
                                                             const std::string& path,
                                                             FileSource& files, bool use_dns,
                                                             const Config* running) {
  REALIP_ASSIGN_OR_RETURN(ParsedConfig parsed, ParseConfigText(text, path, files));
  Draft draft;
  draft.use_dns = use_dns;
  if (running != nullptr) draft.running_access = &running->access;
  draft.conf_dir = ConfigDir(path);
  // nginx's predefined format (ngx_http_log_module.c).
  auto combined = std::make_shared<LogFormat>();
  combined->name = "combined";
  combined->format = MustCompile(
      "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
      "\"$http_referer\" \"$http_user_agent\"");
  draft.log_formats.push_back(std::move(combined));

  Scope scope;
  scope.context = kMain;
  scope.draft = &draft;
  {
    // geo and map variables may be used anywhere, before their blocks too.
    CollectDefinedVariables(parsed.directives, &draft.access);
    ScopedConfigVariables config_variables(&draft.access.geo_names, &draft.access.map_names);
    ScopedVariableUsage usage(&draft.variables);
    REALIP_RETURN_IF_ERROR(ProcessBlock(scope, parsed.directives));
  }

  std::vector<SourceFile> sources;
  for (ParsedConfig::File& f : parsed.files) {
    sources.push_back({std::move(f.path), std::move(f.contents)});
  }
  return Finalize(draft, path, std::move(sources));
}

}  // namespace internal

absl::StatusOr<std::shared_ptr<const Config>> LoadConfig(const std::string& path,
                                                         const Config* running) {
  std::unique_ptr<FileSource> files = NewDiskFileSource();
  REALIP_ASSIGN_OR_RETURN(std::string text, files->Read(path));
  return internal::LoadFromSource(text, path, *files, /*use_dns=*/true, running);
}

absl::StatusOr<std::shared_ptr<const Config>> LoadConfigFromString(std::string_view text,
                                                                   const std::string& virtual_path,
                                                                   const Config* running) {
  std::unique_ptr<FileSource> files = NewDiskFileSource();
  return internal::LoadFromSource(text, virtual_path, *files, /*use_dns=*/true, running);
}

}  // namespace realip::config
