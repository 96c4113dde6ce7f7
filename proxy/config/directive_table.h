// The directive table and the draft configuration its handlers fill.
//
// Each directive is one DirectiveSpec row: name, contexts, arity, block or not, whether it may
// repeat in a block, and a handler that stores it into the draft. ProcessBlock() checks the
// row's declarations generically; handlers only check values. Adding a directive is one row
// plus its handler (and a draft field); the parser never changes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proxy/config/access_directives.h"
#include "proxy/config/config.h"
#include "proxy/config/parser.h"
#include "proxy/config/ssl_settings.h"

namespace realip::config::internal {

// Contexts, as bits of DirectiveSpec::contexts.
enum Context : uint32_t {
  kMain = 1u << 0,
  kEvents = 1u << 1,
  kHttp = 1u << 2,
  kServer = 1u << 3,
  kLocation = 1u << 4,
  kUpstream = 1u << 5,
};
inline constexpr uint32_t kHttpServerLocation = kHttp | kServer | kLocation;

// An access_log directive before its format is looked up.
struct AccessLogDraft {
  AccessLog::Kind kind = AccessLog::Kind::kStdout;
  std::string path;
  std::string format = "combined";
  std::optional<uint64_t> buffer_size;
  std::optional<absl::Duration> flush;
  std::optional<CompiledString> condition;  // if=
  std::string file;
  int line = 0;
};

// proxy_pass before its target is resolved (upstreams may be defined later in the file).
struct ProxyPassDraft {
  std::string scheme;
  std::string host;  // host name, IP literal, or upstream name
  std::optional<uint16_t> port;
  std::string host_text;  // "host" or "host:port" as written ($proxy_host)
  bool has_uri = false;
  std::string uri;
  std::string url;       // the argument as written (`proxy_redirect default` matches it)
  std::string location;  // the enclosing location's path (what `default` puts back)
  std::string file;
  int line = 0;
};

// The settings one http, server or location block sets itself; unset = inherit.
struct LevelDraft {
  std::shared_ptr<net::CidrSet> trusted;  // null: set_real_ip_from not used at this level
  std::optional<std::vector<::realip::realip::RealIpSource>> realip_sources;
  std::optional<bool> realip_recursive;

  std::optional<absl::Duration> keepalive_timeout;
  std::optional<int> keepalive_requests;
  std::optional<absl::Duration> client_header_timeout;
  std::optional<absl::Duration> client_body_timeout;
  std::optional<absl::Duration> send_timeout;
  std::optional<LingeringClose> lingering_close;
  std::optional<absl::Duration> lingering_time;
  std::optional<absl::Duration> lingering_timeout;
  std::optional<uint64_t> client_max_body_size;
  std::optional<uint64_t> client_header_buffer_size;
  std::optional<std::pair<int, uint64_t>> large_client_header_buffers;
  std::optional<bool> ignore_invalid_headers;
  std::optional<bool> underscores_in_headers;
  std::optional<bool> merge_slashes;

  std::optional<std::vector<HeaderRewrite>> proxy_set_headers;  // as written, no defaults
  std::optional<std::vector<std::string>> proxy_hide_headers;
  std::optional<std::vector<std::string>> proxy_pass_headers;
  // proxy_redirect, as nginx's `redirect` flag and `redirects` array: nullopt: not used at
  // this level; false: `off`; true: the rules of `proxy_redirects`.
  std::optional<bool> proxy_redirect;
  std::optional<std::vector<ProxyRedirect>> proxy_redirects;
  // proxy_cookie_domain, proxy_cookie_path: nullopt: not used at this level; empty: `off`;
  // else the level's rules, which replace the inherited ones.
  std::optional<std::vector<ProxyCookieRewrite>> proxy_cookie_domains;
  std::optional<std::vector<ProxyCookieRewrite>> proxy_cookie_paths;
  std::optional<int> proxy_http_version_minor;
  std::optional<absl::Duration> proxy_connect_timeout;
  std::optional<absl::Duration> proxy_read_timeout;
  std::optional<absl::Duration> proxy_send_timeout;
  std::optional<uint32_t> proxy_next_upstream;
  std::optional<int> proxy_next_upstream_tries;
  std::optional<bool> proxy_buffering;
  std::optional<uint64_t> proxy_buffer_size;
  std::optional<bool> proxy_protocol;
  std::optional<int> proxy_protocol_version;

  std::optional<std::vector<AccessLogDraft>> access_logs;  // empty vector: access_log off
  std::optional<bool> server_tokens;
  std::optional<bool> absolute_redirect;
  std::optional<bool> port_in_redirect;
  std::optional<bool> server_name_in_redirect;
  std::optional<std::vector<AddHeader>> add_headers;
  std::optional<bool> tcp_nodelay;
  std::optional<bool> reset_timedout_connection;
  std::shared_ptr<MimeTypes> types;  // null: no `types` block at this level
  std::optional<std::string> default_type;
  AccessLevelDraft access;  // allow/deny, limit_req, limit_conn
  std::optional<std::vector<ErrorPage>> error_pages;
  std::optional<bool> recursive_error_pages;
  std::optional<bool> proxy_intercept_errors;
  SslDraft ssl;  // ssl_* and proxy_ssl_*

  // The content handler of this block (not inherited) and the directive that set it.
  ContentHandler handler = ContentHandler::kNone;
  std::string handler_directive;
  ProxyPassDraft proxy_pass;
  std::optional<ReturnAction> ret;  // `return` runs before any content handler
};

struct LocationDraft {
  Location::Match match = Location::Match::kPrefix;
  std::string path;
  bool named = false;  // `location @name`: path is "@name"
  int parent = -1;  // index of the enclosing location in ServerDraft::locations, or -1
  LevelDraft level;
  std::string file;
  int line = 0;
};

struct ListenDraft {
  std::vector<net::SocketAddress> addresses;  // a host name may resolve to several
  std::string unix_path;                      // set for unix:PATH
  std::string text;                           // the argument as written
  bool default_server = false;
  bool ssl = false;
  std::optional<bool> reuseport;
  std::optional<int> backlog;
  std::optional<bool> ipv6only;
  // Set when deferred, so_keepalive, rcvbuf or sndbuf is given.
  std::optional<ListenSocketOptions> socket_options;
  ProxyProtocolMode proxy_protocol = ProxyProtocolMode::kOff;
  std::string file;
  int line = 0;
};

struct ServerDraft {
  LevelDraft level;
  std::vector<ListenDraft> listens;
  std::vector<std::string> names;
  std::vector<std::unique_ptr<LocationDraft>> locations;  // flattened, parents first
  std::string file;
  int line = 0;
};

struct UpstreamServerDraft {
  UpstreamServer server;
  std::string host;  // resolved at finalize
  uint16_t port = 80;
  std::string file;
  int line = 0;
};

struct UpstreamDraft {
  std::string name;
  std::vector<UpstreamServerDraft> servers;
  std::optional<int> keepalive;
  std::optional<absl::Duration> keepalive_timeout;
  std::optional<int> keepalive_requests;
  Balancer balancer = Balancer::kRoundRobin;
  CompiledString hash_key;
  bool hash_consistent = false;
  std::string file;
  int line = 0;
};

// Everything the handlers fill; Finalize() turns it into a Config.
struct Draft {
  std::string conf_dir;  // folder of the main file: base for relative paths
  bool use_dns = true;   // host names resolve with getaddrinfo
  MainSettings main;
  bool worker_processes_auto = false;
  bool has_http = false;
  LevelDraft http;
  std::vector<std::shared_ptr<LogFormat>> log_formats;  // "combined" first
  std::vector<std::unique_ptr<UpstreamDraft>> upstreams;
  std::vector<std::unique_ptr<ServerDraft>> servers;
  std::vector<std::string> warnings;
  AccessDraft access;  // limit zones and geo blocks
  // The zones of the configuration a reload replaces (LoadConfig's `running`); null at start.
  const AccessConfig* running_access = nullptr;
  bool metrics_collection = true;
  VariableUsage variables;  // what the compiled strings use (ScopedVariableUsage)
};

// Where a directive is being processed; pointers are null when not applicable.
struct Scope {
  Context context = kMain;
  Draft* draft = nullptr;
  LevelDraft* level = nullptr;        // http, server and location
  ServerDraft* server = nullptr;      // server and location
  int location = -1;                  // index into server->locations in a location
  UpstreamDraft* upstream = nullptr;  // upstream
};

// A handler stores one directive. Errors are complete nginx-form messages (use Error()).
using Handler = absl::Status (*)(Scope& scope, const Directive& d);

inline constexpr int kAnyArgs = -1;

struct DirectiveSpec {
  std::string_view name;
  uint32_t contexts;
  int min_args;
  int max_args;  // kAnyArgs: no limit
  bool block;
  bool repeatable;
  Handler handler;
};

// The table.
std::span<const DirectiveSpec> DirectiveTable();

// Runs every directive of `block` in `scope` through the table.
[[nodiscard]] absl::Status ProcessBlock(Scope& scope, const std::vector<Directive>& block);

// `MESSAGE in FILE:LINE` for directive `d`.
absl::Status Error(const Directive& d, std::string_view message);
// `invalid value "ARG" in "NAME" directive[, REASON]`.
absl::Status InvalidValue(const Directive& d, std::string_view arg, std::string_view reason = "");
// OK unless `text`, a string of directive `d` that becomes part of a header line or the request
// line (`what` names it in the message: "value", "URL"; `directive` overrides d.name there),
// holds a control byte other than HTAB:
// CR, LF or NUL would end the line or the head, and RFC 9110 section 5.5 allows none in a field
// value. Checked at load, so that a configuration mistake is refused instead of sent.
absl::Status CheckHeaderText(const Directive& d, std::string_view text, std::string_view what,
                             std::string_view directive = {});

// The rule `proxy_redirect default` stands for, from the location's proxy_pass (nginx):
// "URL" -> location path when the URL has a URI part, else "URL/" -> "/". Literal: a '$' in
// either is not a variable.
ProxyRedirect DefaultProxyRedirect(const ProxyPassDraft& pass);

// Builds the immutable Config (merging, upstream resolution, listeners).
[[nodiscard]] absl::StatusOr<std::shared_ptr<const Config>> Finalize(Draft& draft, std::string path,
                                                                     std::vector<SourceFile> files);

// LoadConfigFromString with includes read from `files`; with `use_dns` false only IP literals
// resolve. The fuzzer passes a source without files and no DNS.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const Config>> LoadFromSource(
    std::string_view text, const std::string& path, FileSource& files, bool use_dns = true,
    const Config* running = nullptr);

// Resolves a host name (or IP literal) with getaddrinfo; every address gets `port`. With
// `use_dns` false only IP literals resolve (the fuzzer must not send queries).
[[nodiscard]] absl::StatusOr<std::vector<net::SocketAddress>> ResolveHost(const std::string& host,
                                                                          uint16_t port,
                                                                          bool use_dns);

}  // namespace realip::config::internal
