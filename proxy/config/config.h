// The typed, immutable, fully validated configuration.
//
// LoadConfig() reads an nginx-syntax file and returns a new snapshot; nothing running is
// touched, so a reload can swap the snapshot in or keep the old one on error. Every inheritable
// setting is merged (http -> server -> location) at load: the request path reads plain values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proxy/base/field_id.h"
#include "proxy/base/logging.h"
#include "proxy/config/access_config.h"
#include "proxy/config/header_names.h"
#include "proxy/config/mime_types.h"
#include "proxy/config/ssl_settings.h"
#include "proxy/config/variables.h"
#include "proxy/net/cidr_set.h"
#include "proxy/net/socket_address.h"
#include "proxy/realip/resolver.h"

namespace realip::tls {
class ContextSet;  // built by the tls library from the ssl_* settings
}  // namespace realip::tls

namespace realip::server {
class LogFileSet;  // the open access-log files, attached by the server
}  // namespace realip::server

namespace realip::config {

// ---------------------------------------------------------------------------------------------
// main and events

// Settings of the main and events contexts.
struct MainSettings {
  int worker_processes = 1;               // "auto" resolved to the number of hardware threads
  bool daemon = false;                    // accepted for nginx compatibility; we never fork
  std::string pid_path;                   // empty: write no pid file
  std::string error_log_path = "stderr";  // a file path or "stderr"
  base::LogLevel error_log_level = base::LogLevel::kError;
  uint64_t worker_rlimit_nofile = 0;  // 0: leave RLIMIT_NOFILE unchanged
  absl::Duration worker_shutdown_timeout = absl::InfiniteDuration();  // graceful-stop bound
  // Graceful stop: how long listeners keep accepting, with `readiness` answering 503, before
  // they close (lets a load balancer see the pod as not ready first). 0: close at once.
  absl::Duration shutdown_delay = absl::ZeroDuration();
  int worker_connections = 512;                                       // per worker thread
  // Accept what the listen queue holds per wakeup (64 at most); off: one (nginx's default).
  bool multi_accept = true;
};

// ---------------------------------------------------------------------------------------------
// log formats and access logs

enum class LogEscape { kDefault, kJson, kNone };

// A log_format block; "combined" is always defined (nginx's predefined format).
struct LogFormat {
  std::string name;
  LogEscape escape = LogEscape::kDefault;
  CompiledString format;  // the argument strings concatenated, as nginx does
};

// One access_log destination.
struct AccessLog {
  enum class Kind { kFile, kStdout, kStderr };
  Kind kind = Kind::kStdout;
  std::string path;       // kFile only
  size_t file_index = 0;  // kFile only: the index of `path` in Config::access_log_files
  std::shared_ptr<const LogFormat> format;
  // Lines wait in a per-worker buffer until it holds `buffer_size` bytes or its oldest line is
  // `flush` old (access_log buffer= and flush=); 0: every line is written at once.
  uint64_t buffer_size = 64 * 1024;
  absl::Duration flush = absl::Seconds(1);
  // if=CONDITION: a request is logged only when it evaluates to neither "" nor "0".
  bool has_condition = false;
  CompiledString condition;
};

// A file that some access_log of a configuration names, and the first such directive (for
// messages: an open() that fails is reported "in FILE:LINE").
struct AccessLogFile {
  std::string path;
  std::string file;
  int line = 0;
};

// ---------------------------------------------------------------------------------------------
// upstreams

enum class Balancer { kRoundRobin, kLeastConn, kIpHash, kHash };

// One `server` line of an upstream block. A hostname resolves at load to one or more
// addresses; each address is a separate peer with this line's parameters (as nginx does).
struct UpstreamServer {
  std::string name;  // as written, e.g. "app.internal:8080"
  std::vector<net::SocketAddress> addresses;
  int weight = 1;
  int max_fails = 1;  // 0: never mark as failed
  absl::Duration fail_timeout = absl::Seconds(10);
  bool backup = false;
  bool down = false;
};

// An upstream block, or the implicit one that `proxy_pass http://host:port` creates.
struct Upstream {
  std::string name;  // block name, or "host:port" for an implicit upstream
  bool implicit = false;
  std::vector<UpstreamServer> servers;
  int keepalive = 0;  // idle connections kept per worker; 0 disables keep-alive pooling
  absl::Duration keepalive_timeout = absl::Seconds(60);
  int keepalive_requests = 1000;
  Balancer balancer = Balancer::kRoundRobin;
  CompiledString hash_key;       // kHash only
  bool hash_consistent = false;  // kHash only: ketama-style consistent hashing
  std::string file;              // where it was defined, for messages
  int line = 0;
};

// ---------------------------------------------------------------------------------------------
// http / server / location settings

// The proxy_pass target.
struct ProxyPass {
  std::string scheme = "http";               // "http" or "https"
  std::shared_ptr<const Upstream> upstream;  // never null when the handler is kProxyPass
  std::string proxy_host;                    // value of $proxy_host: "name" or "host:port"
  uint16_t proxy_port = 80;                  // value of $proxy_port
  bool has_uri = false;  // a URI part was given: the matched location prefix is replaced by it
  std::string uri;       // the URI part ("/" for "http://b/"), empty when !has_uri
};

// One header sent to the upstream. An empty value (after evaluation) removes the header.
struct HeaderRewrite {
  HeaderRewrite(std::string n, CompiledString v)
      : name(std::move(n)), value(std::move(v)), id(base::ClassifyField(name)) {}

  std::string name;
  CompiledString value;
  base::FieldId id;  // name's, so that requests compare ids and not names
};

// One proxy_redirect rule: an upstream Location (or Refresh `url=`) value that starts with
// `redirect` gets that prefix replaced by `replacement`. Both are evaluated per request.
struct ProxyRedirect {
  CompiledString redirect;
  CompiledString replacement;
};

// One proxy_cookie_domain or proxy_cookie_path rule: the value of a Set-Cookie `domain=` (equal
// to `pattern` in any case, a leading dot of the value aside) or `path=` (starting with
// `pattern`, case-sensitive) attribute gets the matched part replaced by `replacement`. Both
// are evaluated per request.
struct ProxyCookieRewrite {
  CompiledString pattern;
  CompiledString replacement;
};

// One add_header: a field added to the response sent to the client (nginx's headers filter).
struct AddHeader {
  std::string name;      // as written
  CompiledString value;  // an empty evaluated value adds nothing
  bool always = false;   // also on statuses outside AddHeaderApplies' list
};

// nginx's rule: an add_header without `always` applies only to 200, 201, 204, 206, 301, 302,
// 303, 304, 307 and 308.
bool AddHeaderApplies(int status, bool always);

// proxy_next_upstream conditions, a bit set.
enum NextUpstream : uint32_t {
  kNextUpstreamError = 1u << 0,
  kNextUpstreamTimeout = 1u << 1,
  kNextUpstreamInvalidHeader = 1u << 2,
  kNextUpstreamHttp500 = 1u << 3,
  kNextUpstreamHttp502 = 1u << 4,
  kNextUpstreamHttp503 = 1u << 5,
  kNextUpstreamHttp504 = 1u << 6,
  kNextUpstreamHttp403 = 1u << 7,
  kNextUpstreamHttp404 = 1u << 8,
  kNextUpstreamHttp429 = 1u << 9,
  kNextUpstreamNonIdempotent = 1u << 10,
};

// `return CODE [TEXT|URL]` / `return URL`.
struct ReturnAction {
  int code = 0;
  bool has_text = false;
  CompiledString text;  // body text, or the Location URL for 301/302/303/307/308
};

// One code of an `error_page CODE ... [=[RESPONSE]] URI` (nginx's ngx_http_err_page_t).
struct ErrorPage {
  int status = 0;
  // The status the answer goes out with: -1 keeps the error's (494, 495, 496 and 497 become
  // 400, as nginx's), 0 (`=`) takes the target's, otherwise `=CODE`'s.
  int overwrite = -1;
  // After evaluation: "/path[?args]" redirects internally, "@name" goes to a named location,
  // anything else is sent as the Location of a 302 (or of `=301`, 303, 307, 308).
  CompiledString uri;
};

// What produces the response of a location. kMetrics serves the Prometheus exposition,
// kRealipEcho a JSON account of how the request's client address was resolved.
enum class ContentHandler { kNone, kProxyPass, kReturn, kReadiness, kMetrics, kRealipEcho };

// `lingering_close`: after an answer that closes the connection, whether to half-close and
// read what the client still sends before closing (nginx's lingering close). kOn: only when
// more input may come (body not read whole, unread or pipelined bytes, a request cut short).
enum class LingeringClose : uint8_t { kOff, kOn, kAlways };

// Every http/server/location setting after merging; plain values, no optionals.
struct HttpSettings {
  ::realip::realip::RealIpSettings realip;  // `trusted` never null (empty set: trust nobody)

  absl::Duration keepalive_timeout = absl::Seconds(75);
  int keepalive_requests = 1000;
  absl::Duration client_header_timeout = absl::Seconds(60);
  absl::Duration client_body_timeout = absl::Seconds(60);
  absl::Duration send_timeout = absl::Seconds(60);
  LingeringClose lingering_close = LingeringClose::kOn;
  absl::Duration lingering_time = absl::Seconds(30);    // the whole lingering close
  absl::Duration lingering_timeout = absl::Seconds(5);  // between two reads while lingering
  uint64_t client_max_body_size = 1024 * 1024;  // 0: unlimited
  uint64_t client_header_buffer_size = 1024;
  int large_client_header_buffers_number = 4;
  uint64_t large_client_header_buffers_size = 8 * 1024;
  // A request header line whose name is not letters, digits and '-' (and '_' with
  // underscores_in_headers) is dropped; read from a listener's default server, as the
  // buffer sizes above.
  bool ignore_invalid_headers = true;
  bool underscores_in_headers = false;
  bool merge_slashes = true;  // "//" in a path is "/" for locations and $uri

  std::vector<HeaderRewrite> proxy_set_headers;  // defaults included, explicit ones override
  std::vector<std::string> proxy_hide_headers;   // lower case, as configured
  std::vector<std::string> proxy_pass_headers;   // lower case, as configured
  // The upstream response fields not sent on: nginx's defaults (Date, Server, X-Pad, X-Accel-*)
  // plus proxy_hide_header minus proxy_pass_header, built once at load. While Server or Date is
  // in it, the proxy writes its own; passed, the upstream's is sent, or none (nginx).
  HeaderNameSet hidden_headers = BuildHiddenHeaders({}, {});
  bool hide_upstream_server = true;  // hidden_headers has "server"
  bool hide_upstream_date = true;    // hidden_headers has "date"
  // proxy_redirect rules in order, the first match wins; empty: nothing is rewritten (`off`,
  // or no rule reached this level).
  std::vector<ProxyRedirect> proxy_redirects;
  // proxy_cookie_domain and proxy_cookie_path rules in order, the first match wins per
  // attribute; empty: that attribute is not rewritten.
  std::vector<ProxyCookieRewrite> proxy_cookie_domains;
  std::vector<ProxyCookieRewrite> proxy_cookie_paths;
  int proxy_http_version_minor = 1;              // 1.0 or 1.1
  absl::Duration proxy_connect_timeout = absl::Seconds(60);
  absl::Duration proxy_read_timeout = absl::Seconds(60);
  absl::Duration proxy_send_timeout = absl::Seconds(60);
  uint32_t proxy_next_upstream = kNextUpstreamError | kNextUpstreamTimeout;  // 0 means "off"
  int proxy_next_upstream_tries = 0;                                         // 0: unlimited
  bool proxy_buffering = true;     // accepted; responses are always streamed
  // The largest upstream response head (status line and header lines): one more byte is
  // "upstream sent too big header" (502), as nginx's proxy_buffer_size.
  uint64_t proxy_buffer_size = 32 * 1024;
  bool proxy_protocol = false;     // send a PROXY header to the upstream
  int proxy_protocol_version = 1;  // 1 or 2

  std::vector<AccessLog> access_logs;  // empty: access_log off
  bool server_tokens = true;
  // How a Location the proxy makes or rewrites that starts with '/' goes out (nginx's header
  // filter): made absolute at all, with the port the client connected to, with the server's
  // first name instead of the request's host.
  bool absolute_redirect = true;
  bool port_in_redirect = true;
  bool server_name_in_redirect = false;
  std::vector<AddHeader> add_headers;  // in configuration order
  bool tcp_nodelay = true;             // TCP_NODELAY when nginx would set it, client and upstream
  bool reset_timedout_connection = false;  // a client timeout or a 444 closes with a RST
  // The Content-Type of a `return` text: by the URI's extension, else default_type.
  std::shared_ptr<const MimeTypes> types = MimeTypes::Defaults();
  std::string default_type = "text/plain";
  SslSettings ssl;  // client side read at the server level, backend side per location

  AccessSettings access;  // allow/deny, limit_req, limit_conn (access_config.h)

  // error_page entries in configuration order (the first of a code wins); a level with any
  // replaces the inherited list whole.
  std::vector<ErrorPage> error_pages;
  bool recursive_error_pages = false;
  // An upstream response >= 300 whose code has an error_page is replaced by that page.
  bool proxy_intercept_errors = false;

  // Not inherited: the content handler of this level and its arguments.
  ContentHandler handler = ContentHandler::kNone;
  ProxyPass proxy_pass;  // kProxyPass
  ReturnAction ret;      // kReturn (a server-level return applies to every request)
};

// The first error_page entry of `settings` for `status`, or null.
const ErrorPage* FindErrorPage(const HttpSettings& settings, int status);

// A location block. Nested locations are flattened into the server's list, each merged from
// its parent.
struct Location {
  enum class Match { kPrefix, kExact, kPrefixNoRegex };  // "", "=", "^~"
  Match match = Match::kPrefix;
  std::string path;
  HttpSettings settings;
  std::string file;
  int line = 0;
};

// A server block.
struct Server {
  std::vector<std::string> names;  // as written (lower case), first is $server_name
  HttpSettings settings;           // server level, merged from http
  std::vector<Location> locations;
  // `location @name` blocks, in configuration order: reached only through error_page, never
  // by a URI. `path` holds the name with its '@'.
  std::vector<Location> named_locations;
  // Returned by FindLocation when no location matches or a server-level `return` is set:
  // the server-level settings, path "".
  Location fallback;
  std::string file;
  int line = 0;

  // nginx location matching: a server-level `return` wins; else an exact (`=`) match, else
  // the longest prefix. Never returns null.
  const Location& FindLocation(std::string_view path) const;
  // The first named location called `name` ("@name"), or null.
  const Location* FindNamedLocation(std::string_view name) const;
};

// ---------------------------------------------------------------------------------------------
// listening sockets

enum class ProxyProtocolMode { kOff, kRequired, kOptional };

// Options of a listening socket that accepted connections inherit (`listen ... deferred
// so_keepalive=... rcvbuf=... sndbuf=...`). An option not given leaves the kernel's default.
struct ListenSocketOptions {
  bool deferred = false;  // TCP_DEFER_ACCEPT: accept() once the first data arrived
  // so_keepalive=on|off sets SO_KEEPALIVE; nullopt: not given.
  std::optional<bool> keepalive;
  int keepidle = 0;   // TCP_KEEPIDLE in seconds; 0: not given
  int keepintvl = 0;  // TCP_KEEPINTVL in seconds; 0: not given
  int keepcnt = 0;    // TCP_KEEPCNT; 0: not given
  int rcvbuf = -1;    // SO_RCVBUF in bytes; -1: not given
  int sndbuf = -1;    // SO_SNDBUF in bytes; -1: not given

  bool operator==(const ListenSocketOptions&) const = default;
};

// One distinct listening address with its merged flags and the servers bound to it.
struct Listener {
  net::SocketAddress address;  // is_unix: ip unused, `unix_path` set
  std::string unix_path;
  std::string text;  // "127.0.0.1:8080", "[::1]:80", "unix:/run/x.sock"
  bool ssl = false;
  bool reuseport = false;
  int backlog = 511;
  bool ipv6only = true;
  ListenSocketOptions socket_options;
  ProxyProtocolMode proxy_protocol = ProxyProtocolMode::kOff;
  // Peers whose PROXY header is honoured when proxy_protocol is kOptional: the default
  // server's server-level set_real_ip_from. Never null.
  std::shared_ptr<const net::CidrSet> proxy_protocol_trusted;

  std::vector<std::shared_ptr<const Server>> servers;  // in configuration order
  std::shared_ptr<const Server> default_server;        // `default_server` or the first

  // nginx virtual-server selection: exact name, then the longest leading wildcard
  // (`*.example.com`, `.example.com`), then trailing wildcard (`www.example.*`), then the
  // default server. `host` is the Host header value (port and trailing dot ignored,
  // case-insensitive). Never returns null.
  const Server& FindServer(std::string_view host) const;

  // Filled at load; used by FindServer.
  absl::flat_hash_map<std::string, const Server*> exact_names;
  std::vector<std::pair<std::string, const Server*>> leading_wildcards;   // ".example.com"
  std::vector<std::pair<std::string, const Server*>> trailing_wildcards;  // "www.example."
};

// ---------------------------------------------------------------------------------------------
// the whole configuration

// One file read while loading, for `-T`.
struct SourceFile {
  std::string path;
  std::string contents;
};

struct Config {
  std::string path;  // the main file
  MainSettings main;
  std::unordered_map<std::string, std::shared_ptr<const LogFormat>> log_formats;
  std::unordered_map<std::string, std::shared_ptr<const Upstream>> upstreams;  // named blocks
  std::vector<std::shared_ptr<const Server>> servers;
  std::vector<Listener> listeners;    // each address appears once
  AccessConfig access;                // geo maps and limit zones
  // metrics_collection (http): workers count into their metric shards. Off, every update is
  // skipped; `metrics;` still answers with the families and what was counted before.
  bool metrics_collection = true;
  // Which costly variables some compiled string of this configuration uses.
  VariableUsage variables;
  std::vector<std::string> warnings;  // nginx [warn] messages, with " in FILE:LINE"
  std::vector<SourceFile> files;      // the main file first, then includes in read order
  // Each distinct access-log file path once, in the order the directives name them.
  std::vector<AccessLogFile> access_log_files;
  // The OpenSSL contexts of this configuration (tls::LoadConfigWithTls); null without TLS.
  std::shared_ptr<const tls::ContextSet> tls;
  // The open access_log_files, indexed alike (server::LogFiles::Attach); null until then.
  std::shared_ptr<const server::LogFileSet> log_files;

  // nginx's `-T` output: each file preceded by "# configuration file PATH:".
  std::string Dump() const;
};

// Reads and validates `path`. On error the status message is the nginx-form text without the
// "realip-proxy: [emerg] " prefix, e.g. `unknown directive "foo" in /etc/x.conf:12`.
// `running`, on a reload, is the configuration being replaced: a limit zone it has with the
// same name, key and size is carried over with its state, as nginx keeps an unchanged shared
// memory zone of the previous cycle. Every other zone starts empty.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const Config>> LoadConfig(
    const std::string& path, const Config* running = nullptr);

// As LoadConfig, from memory. `virtual_path` names the text in messages; relative includes
// are resolved against its folder.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const Config>> LoadConfigFromString(
    std::string_view text, const std::string& virtual_path, const Config* running = nullptr);

}  // namespace realip::config
