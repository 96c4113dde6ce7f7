// The directive table: every directive the configuration language knows, one row each, and
// the handlers that store them into the draft. Contexts, arity and duplicates follow nginx's
// ngx_command_t declarations of the same directives.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proxy/base/http_status.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"
#include "proxy/config/directive_table.h"
#include "proxy/config/mime_types.h"
#include "proxy/config/ssl_directives.h"
#include "proxy/config/values.h"

namespace realip::config::internal {

using base::AsAbsl;

absl::Status Error(const Directive& d, std::string_view message) {
  return absl::InvalidArgumentError(AtLocation(message, d.file, d.line));
}

absl::Status InvalidValue(const Directive& d, std::string_view arg, std::string_view reason) {
  std::string message =
      absl::StrCat("invalid value \"", AsAbsl(arg), "\" in \"", d.name, "\" directive");
  if (!reason.empty()) absl::StrAppend(&message, ", ", AsAbsl(reason));
  return Error(d, message);
}

absl::Status CheckHeaderText(const Directive& d, std::string_view text, std::string_view what,
                             std::string_view directive) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return Error(
          d, absl::StrFormat("control byte 0x%02X in \"%s\" %s: a header line cannot "
                             "carry CR, LF, NUL or other control bytes but tab",
                             c, AsAbsl(directive.empty() ? d.name : directive), AsAbsl(what)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<net::SocketAddress>> ResolveHost(const std::string& host, uint16_t port,
                                                            bool use_dns) {
  std::vector<net::SocketAddress> out;
  if (std::optional<net::IpAddress> ip = net::IpAddress::Parse(host)) {
    out.push_back({*ip, port, false});
    return out;
  }
  // Resolved once at load, as nginx does for upstream servers and set_real_ip_from names.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (!use_dns || host.empty() || getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0) {
    return absl::NotFoundError("host not found");
  }
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    std::optional<net::SocketAddress> sa =
        net::SocketAddress::FromSockaddr(ai->ai_addr, static_cast<socklen_t>(ai->ai_addrlen));
    if (!sa.has_value() || sa->is_unix) continue;
    sa->port = port;
    bool seen = false;
    for (const net::SocketAddress& o : out) seen = seen || o == *sa;
    if (!seen) out.push_back(*sa);
  }
  freeaddrinfo(res);
  if (out.empty()) return absl::NotFoundError("host not found");
  return out;
}

ProxyRedirect DefaultProxyRedirect(const ProxyPassDraft& pass) {
  // Literal segments written directly: the URL and the path are not compiled, as nginx sets
  // the complex values' text without a script.
  const auto literal = [](std::string text) {
    CompiledString out;
    out.source = text;
    if (!text.empty()) out.segments.push_back(Segment{std::move(text), std::nullopt});
    return out;
  };
  ProxyRedirect rule;
  if (pass.has_uri) {
    rule.redirect = literal(pass.url);
    rule.replacement = literal(pass.location);
  } else {
    rule.redirect = literal(pass.url + "/");
    rule.replacement = literal("/");
  }
  return rule;
}

namespace {

// ---------------------------------------------------------------------------------------------
// generic setters: the field to store into is a template argument, so a row names it directly

template <typename C>
C* Holder(Scope& s);
template <>
LevelDraft* Holder<LevelDraft>(Scope& s) {
  return s.level;
}
template <>
UpstreamDraft* Holder<UpstreamDraft>(Scope& s) {
  return s.upstream;
}
template <>
MainSettings* Holder<MainSettings>(Scope& s) {
  return &s.draft->main;
}
template <>
Draft* Holder<Draft>(Scope& s) {
  return s.draft;
}

template <typename C, typename T>
C ClassOf(T C::*);
template <auto F>
using ClassOfT = decltype(ClassOf(F));

// Stores Parse(argument) into field F. kExplain adds the parser's reason to the message
// (flags: `it must be "on" or "off"`).
template <auto F, auto Parse, bool kExplain = false>
absl::Status SetParsed(Scope& s, const Directive& d) {
  auto v = Parse(d.args[0]);
  if (!v.ok()) {
    return InvalidValue(d, d.args[0], kExplain ? base::AsStd(v.status().message()) : "");
  }
  Holder<ClassOfT<F>>(s)->*F = *v;
  return absl::OkStatus();
}

template <auto F>
constexpr Handler SetTime = &SetParsed<F, &ParseTime>;
template <auto F>
constexpr Handler SetSize = &SetParsed<F, &ParseSize>;
template <auto F>
constexpr Handler SetFlag = &SetParsed<F, &ParseFlag, true>;

template <auto F, int64_t Min, int64_t Max>
absl::Status SetInt(Scope& s, const Directive& d) {
  absl::StatusOr<int64_t> v = ParseInt(d.args[0], Min, Max);
  if (!v.ok()) return InvalidValue(d, d.args[0]);
  Holder<ClassOfT<F>>(s)->*F = static_cast<int>(*v);
  return absl::OkStatus();
}

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(AsAbsl(s)); }

// RFC 9110 section 5.6.2 token characters, for header names.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

absl::Status SetContentHandler(Scope& s, const Directive& d, ContentHandler handler) {
  LevelDraft& level = *s.level;
  if (level.handler != ContentHandler::kNone) {
    if (level.handler_directive == d.name) {
      return Error(d, absl::StrCat("\"", d.name, "\" directive is duplicate"));
    }
    return Error(d, absl::StrCat("\"", d.name, "\" directive conflicts with \"",
                                 level.handler_directive, "\""));
  }
  level.handler = handler;
  level.handler_directive = d.name;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// main and events

absl::Status WorkerProcesses(Scope& s, const Directive& d) {
  if (d.args[0] == "auto") {
    s.draft->worker_processes_auto = true;
    const unsigned n = std::thread::hardware_concurrency();
    s.draft->main.worker_processes = n == 0 ? 1 : static_cast<int>(n);
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> v = ParseInt(d.args[0], 1, 1024);
  if (!v.ok()) return InvalidValue(d, d.args[0]);
  s.draft->main.worker_processes = static_cast<int>(*v);
  return absl::OkStatus();
}

absl::Status ErrorLog(Scope& s, const Directive& d) {
  MainSettings& main = s.draft->main;
  const std::string& target = d.args[0];
  if (target.empty()) return InvalidValue(d, target);
  if (target == "stderr" || target == "/dev/stderr") {
    main.error_log_path = "stderr";
  } else if (absl::StartsWith(target, "syslog:") || absl::StartsWith(target, "memory:")) {
    return Error(d, absl::StrCat("\"", target, "\" error logs are not supported"));
  } else if (!target.empty() && target[0] != '/') {
    main.error_log_path = absl::StrCat(s.draft->conf_dir, "/", target);
  } else {
    main.error_log_path = target;
  }
  if (d.args.size() == 2) {
    absl::StatusOr<base::LogLevel> level = base::ParseLogLevel(d.args[1]);
    if (!level.ok()) return Error(d, absl::StrCat("invalid log level \"", d.args[1], "\""));
    main.error_log_level = *level;
  }
  return absl::OkStatus();
}

absl::Status Pid(Scope& s, const Directive& d) {
  const std::string& p = d.args[0];
  if (p.empty()) return InvalidValue(d, p);
  s.draft->main.pid_path = p == "off"    ? ""
                           : p[0] == '/' ? p
                                         : absl::StrCat(s.draft->conf_dir, "/", p);
  return absl::OkStatus();
}

absl::Status Use(Scope& s, const Directive& d) {
  // Workers run libevent on epoll; nginx configs written for Linux name exactly that.
  if (d.args[0] != "epoll") return Error(d, absl::StrCat("invalid event type \"", d.args[0], "\""));
  return absl::OkStatus();
}

// `user USER [GROUP]`. nginx switches its worker processes to USER and keeps a privileged
// master for reloads. realip-proxy is one process that reloads itself (new listeners, TLS keys
// and log files are opened again), so it cannot drop privileges part way; as root it refuses
// the directive rather than run as root where the file asks for USER. Not running as root,
// it warns and goes on, as nginx does.
absl::Status User(Scope& s, const Directive& d) {
  if (geteuid() != 0) {
    s.draft->warnings.push_back(AtLocation(
        "the \"user\" directive makes sense only if the master process runs with super-user "
        "privileges, ignored",
        d.file, d.line));
    return absl::OkStatus();
  }
  return Error(d, absl::StrCat("the \"user\" directive is not supported when realip-proxy runs as "
                               "root; start it as \"",
                               d.args[0], "\" instead (docker run --user, Kubernetes runAsUser)"));
}

// nginx directives that tune what realip-proxy does not have: sendfile and tcp_nopush act on
// responses sent from files (nginx ignores them for proxied responses too), the *_hash_* sizes
// size hash tables that here grow as needed, and proxy_buffers, proxy_busy_buffers_size and
// client_body_buffer_size size nginx's buffering, where bodies stream through fixed buffers
// here. Their values are checked as nginx checks them; they change nothing.
absl::Status IgnoredFlag(Scope&, const Directive& d) {
  absl::StatusOr<bool> v = ParseFlag(d.args[0]);
  if (!v.ok()) return InvalidValue(d, d.args[0], base::AsStd(v.status().message()));
  return absl::OkStatus();
}

// A URL nginx checks only when it is used (ssl_stapling_responder).
absl::Status IgnoredAny(Scope&, const Directive&) { return absl::OkStatus(); }

absl::Status IgnoredNumber(Scope&, const Directive& d) {
  if (!ParseInt(d.args[0], 0, std::numeric_limits<int32_t>::max()).ok()) {
    return InvalidValue(d, d.args[0]);
  }
  return absl::OkStatus();
}

absl::Status IgnoredSizes(Scope&, const Directive& d) {
  // proxy_buffers NUMBER SIZE; the others one SIZE.
  const bool counted = d.args.size() == 2;
  if (counted && !ParseInt(d.args[0], 1, std::numeric_limits<int32_t>::max()).ok()) {
    return InvalidValue(d, d.args[0]);
  }
  const std::string& size = d.args.back();
  if (!ParseSize(size).ok()) return InvalidValue(d, size);
  return absl::OkStatus();
}

// proxy_temp_path and client_body_temp_path: PATH [LEVEL1 [LEVEL2 [LEVEL3]]]. Bodies are
// streamed, never written to temporary files, so nothing is created; the levels are checked as
// nginx checks them (a number each).
absl::Status IgnoredTempPath(Scope&, const Directive& d) {
  for (size_t i = 1; i < d.args.size(); ++i) {
    if (!ParseInt(d.args[i], 1, 2).ok()) return InvalidValue(d, d.args[i]);
  }
  return absl::OkStatus();
}

// `gzip off` is what happens anyway; `gzip on` would compress responses, which realip-proxy
// does not do: refused, so that a configuration that asks for it does not silently lose it.
absl::Status Gzip(Scope&, const Directive& d) {
  absl::StatusOr<bool> on = ParseFlag(d.args[0]);
  if (!on.ok()) return InvalidValue(d, d.args[0], base::AsStd(on.status().message()));
  if (*on) {
    return Error(d,
                 "\"gzip on\" is not supported: realip-proxy sends responses as the backend "
                 "sent them (compress them there, or use \"gzip off\")");
  }
  return absl::OkStatus();
}

// types { TYPE EXTENSION...; ... }: entries are added to this level's table (several blocks at
// one level add up, as nginx's do); an extension given again warns and takes the later type.
absl::Status Types(Scope& s, const Directive& d) {
  if (s.level->types == nullptr) s.level->types = std::make_shared<MimeTypes>();
  for (const Directive& entry : d.block) {
    if (entry.has_block) return Error(entry, "unexpected \"{\"");
    if (entry.args.empty()) return Error(entry, "unexpected \";\"");
    REALIP_RETURN_IF_ERROR(CheckHeaderText(entry, entry.name, "content type", "types"));
    for (const std::string& extension : entry.args) {
      const std::string previous = s.level->types->Add(extension, entry.name);
      if (!previous.empty()) {
        s.draft->warnings.push_back(AtLocation(
            absl::StrCat("duplicate extension \"", Lower(extension), "\", content type: \"",
                         entry.name, "\", previous content type: \"", previous, "\""),
            entry.file, entry.line));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status DefaultType(Scope& s, const Directive& d) {
  REALIP_RETURN_IF_ERROR(CheckHeaderText(d, d.args[0], "value"));
  s.level->default_type = d.args[0];
  return absl::OkStatus();
}

absl::Status Readiness(Scope& s, const Directive& d) {
  return SetContentHandler(s, d, ContentHandler::kReadiness);
}

absl::Status Events(Scope& s, const Directive& d) {
  Scope inner = s;
  inner.context = kEvents;
  return ProcessBlock(inner, d.block);
}

absl::Status Http(Scope& s, const Directive& d) {
  s.draft->has_http = true;
  Scope inner = s;
  inner.context = kHttp;
  inner.level = &s.draft->http;
  return ProcessBlock(inner, d.block);
}

// ---------------------------------------------------------------------------------------------
// logging

absl::Status LogFormatDirective(Scope& s, const Directive& d) {
  for (const auto& f : s.draft->log_formats) {
    if (f->name == d.args[0]) {
      return Error(d, absl::StrCat("duplicate \"log_format\" name \"", d.args[0], "\""));
    }
  }
  auto format = std::make_shared<LogFormat>();
  format->name = d.args[0];
  size_t first = 1;
  if (absl::StartsWith(d.args[1], "escape=")) {
    const std::string_view e = std::string_view(d.args[1]).substr(7);
    if (e == "default") {
      format->escape = LogEscape::kDefault;
    } else if (e == "json") {
      format->escape = LogEscape::kJson;
    } else if (e == "none") {
      format->escape = LogEscape::kNone;
    } else {
      return Error(d, absl::StrCat("unknown log format escaping \"", AsAbsl(e), "\""));
    }
    first = 2;
    if (d.args.size() == 2) {
      return Error(d, "invalid number of arguments in \"log_format\" directive");
    }
  }
  std::string text;
  for (size_t i = first; i < d.args.size(); ++i) text += d.args[i];
  absl::StatusOr<CompiledString> compiled = CompileString(text);
  if (!compiled.ok()) return Error(d, base::AsStd(compiled.status().message()));
  format->format = *std::move(compiled);
  s.draft->log_formats.push_back(std::move(format));
  return absl::OkStatus();
}

absl::Status AccessLogDirective(Scope& s, const Directive& d) {
  LevelDraft& level = *s.level;
  if (d.args[0] == "off") {
    if (d.args.size() != 1)
      return Error(d, "invalid number of arguments in \"access_log\" directive");
    level.access_logs.emplace();
    return absl::OkStatus();
  }
  AccessLogDraft log;
  log.file = d.file;
  log.line = d.line;
  const std::string& target = d.args[0];
  if (target.empty()) return InvalidValue(d, target);
  if (target == "stdout" || target == "/dev/stdout") {
    log.kind = AccessLog::Kind::kStdout;
  } else if (target == "stderr" || target == "/dev/stderr") {
    log.kind = AccessLog::Kind::kStderr;
  } else if (absl::StartsWith(target, "syslog:")) {
    return Error(d, "syslog access logs are not supported");
  } else {
    log.kind = AccessLog::Kind::kFile;
    log.path = target[0] == '/' ? target : absl::StrCat(s.draft->conf_dir, "/", target);
  }
  if (d.args.size() >= 2) log.format = d.args[1];
  for (size_t i = 2; i < d.args.size(); ++i) {
    const std::string_view p = d.args[i];
    if (absl::StartsWith(AsAbsl(p), "buffer=")) {
      absl::StatusOr<uint64_t> size = ParseSize(p.substr(7));
      if (!size.ok()) return Error(d, absl::StrCat("invalid buffer size \"", AsAbsl(p), "\""));
      log.buffer_size = *size;
      continue;
    }
    if (absl::StartsWith(AsAbsl(p), "if=")) {
      absl::StatusOr<CompiledString> condition = CompileString(p.substr(3));
      if (!condition.ok()) return Error(d, base::AsStd(condition.status().message()));
      log.condition = *std::move(condition);
      continue;
    }
    if (absl::StartsWith(AsAbsl(p), "flush=")) {
      absl::StatusOr<absl::Duration> flush = ParseTime(p.substr(6));
      if (!flush.ok() || *flush <= absl::ZeroDuration()) {
        return Error(d, absl::StrCat("invalid flush time \"", AsAbsl(p), "\""));
      }
      log.flush = *flush;
      continue;
    }
    return Error(d, absl::StrCat("invalid parameter \"", AsAbsl(p), "\""));
  }
  if (!level.access_logs.has_value()) level.access_logs.emplace();
  level.access_logs->push_back(std::move(log));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// real IP

absl::Status SetRealIpFrom(Scope& s, const Directive& d) {
  LevelDraft& level = *s.level;
  if (level.trusted == nullptr) level.trusted = std::make_shared<net::CidrSet>();
  const std::string& entry = d.args[0];
  absl::Status added = level.trusted->Add(entry);
  if (added.ok()) return absl::OkStatus();
  // nginx (since 1.13.1) also takes a host name and trusts every address it resolves to.
  const bool address_like =
      entry.find_first_not_of("0123456789abcdefABCDEF.:/") == std::string::npos;
  if (address_like || entry.find('/') != std::string::npos)
    return Error(d, base::AsStd(added.message()));
  absl::StatusOr<std::vector<net::SocketAddress>> resolved =
      ResolveHost(entry, 0, s.draft->use_dns);
  if (!resolved.ok()) {
    return Error(d, absl::StrCat("host not found in set_real_ip_from \"", entry, "\""));
  }
  for (const net::SocketAddress& a : *resolved) {
    level.trusted->Add(net::Cidr{a.ip, a.ip.is_v4() ? 32 : 128});
  }
  return absl::OkStatus();
}

absl::Status RealIpHeader(Scope& s, const Directive& d) {
  // Several values are our extension: the sources are tried in order (client-IP issue).
  std::vector<::realip::realip::RealIpSource> sources;
  for (const std::string& arg : d.args) {
    absl::StatusOr<::realip::realip::RealIpSource> source =
        ::realip::realip::ParseRealIpSource(arg);
    if (!source.ok()) return Error(d, base::AsStd(source.status().message()));
    for (const auto& other : sources) {
      if (other.lower_name == source->lower_name && other.kind == source->kind) {
        return Error(d,
                     absl::StrCat("duplicate value \"", arg, "\" in \"real_ip_header\" directive"));
      }
    }
    sources.push_back(*std::move(source));
  }
  s.level->realip_sources = std::move(sources);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// client connection limits

absl::Status KeepaliveTimeout(Scope& s, const Directive& d) {
  // The optional second value sets nginx's "Keep-Alive: timeout=N" response header; it is
  // checked and accepted, and no such header is sent (RFC 9112 does not define it).
  if (d.args.size() == 2 && !ParseTime(d.args[1]).ok()) return InvalidValue(d, d.args[1]);
  return SetTime<&LevelDraft::keepalive_timeout>(s, d);
}

absl::Status LargeClientHeaderBuffers(Scope& s, const Directive& d) {
  absl::StatusOr<int64_t> number = ParseInt(d.args[0], 1, 1024);
  if (!number.ok()) return InvalidValue(d, d.args[0]);
  absl::StatusOr<uint64_t> size = ParseSize(d.args[1]);
  if (!size.ok() || *size < 2) return InvalidValue(d, d.args[1]);
  s.level->large_client_header_buffers = {static_cast<int>(*number), *size};
  return absl::OkStatus();
}

absl::Status ClientHeaderBufferSize(Scope& s, const Directive& d) {
  absl::StatusOr<uint64_t> size = ParseSize(d.args[0]);
  if (!size.ok() || *size == 0) return InvalidValue(d, d.args[0]);
  s.level->client_header_buffer_size = *size;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// proxying

absl::Status ProxySetHeader(Scope& s, const Directive& d) {
  if (!IsToken(d.args[0])) {
    return Error(d, absl::StrCat("invalid header name \"", d.args[0], "\""));
  }
  REALIP_RETURN_IF_ERROR(CheckHeaderText(d, d.args[1], "value"));
  absl::StatusOr<CompiledString> value = CompileString(d.args[1]);
  if (!value.ok()) return Error(d, base::AsStd(value.status().message()));
  LevelDraft& level = *s.level;
  if (!level.proxy_set_headers.has_value()) level.proxy_set_headers.emplace();
  level.proxy_set_headers->push_back({d.args[0], *std::move(value)});
  return absl::OkStatus();
}

absl::Status ProxyHideHeader(Scope& s, const Directive& d) {
  if (!IsToken(d.args[0])) {
    return Error(d, absl::StrCat("invalid header name \"", d.args[0], "\""));
  }
  LevelDraft& level = *s.level;
  if (!level.proxy_hide_headers.has_value()) level.proxy_hide_headers.emplace();
  level.proxy_hide_headers->push_back(Lower(d.args[0]));
  return absl::OkStatus();
}

absl::Status ProxyPassHeader(Scope& s, const Directive& d) {
  if (!IsToken(d.args[0])) {
    return Error(d, absl::StrCat("invalid header name \"", d.args[0], "\""));
  }
  LevelDraft& level = *s.level;
  if (!level.proxy_pass_headers.has_value()) level.proxy_pass_headers.emplace();
  level.proxy_pass_headers->push_back(Lower(d.args[0]));
  return absl::OkStatus();
}

// ngx_http_proxy_redirect(): `off`, `default` and `REDIRECT REPLACEMENT` lines, several per
// level; `off` cannot be combined with rules at one level.
absl::Status ProxyRedirectDirective(Scope& s, const Directive& d) {
  LevelDraft& level = *s.level;
  const auto duplicate = [&] { return Error(d, "\"proxy_redirect\" directive is duplicate"); };
  if (level.proxy_redirect == false) return duplicate();
  ProxyRedirect rule;
  if (d.args.size() == 1) {
    if (d.args[0] == "off") {
      if (level.proxy_redirects.has_value()) return duplicate();
      level.proxy_redirect = false;
      return absl::OkStatus();
    }
    if (d.args[0] != "default") {
      return Error(d, absl::StrCat("invalid parameter \"", d.args[0], "\""));
    }
    if (level.handler != ContentHandler::kProxyPass) {
      return Error(d,
                   "\"proxy_redirect default\" should be placed after the \"proxy_pass\" "
                   "directive");
    }
    rule = DefaultProxyRedirect(level.proxy_pass);
  } else {
    if (!d.args[0].empty() && d.args[0][0] == '~') {
      return Error(d,
                   absl::StrCat("regular expressions in \"proxy_redirect\" are not supported: \"",
                                d.args[0], "\""));
    }
    absl::StatusOr<CompiledString> redirect = CompileString(d.args[0]);
    if (!redirect.ok()) return Error(d, base::AsStd(redirect.status().message()));
    REALIP_RETURN_IF_ERROR(CheckHeaderText(d, d.args[1], "replacement"));
    absl::StatusOr<CompiledString> replacement = CompileString(d.args[1]);
    if (!replacement.ok()) return Error(d, base::AsStd(replacement.status().message()));
    rule.redirect = *std::move(redirect);
    rule.replacement = *std::move(replacement);
  }
  level.proxy_redirect = true;
  if (!level.proxy_redirects.has_value()) level.proxy_redirects.emplace();
  level.proxy_redirects->push_back(std::move(rule));
  return absl::OkStatus();
}

// ngx_http_proxy_cookie_domain() and ngx_http_proxy_cookie_path(): `off` or `PATTERN
// REPLACEMENT` lines, several per level; `off` cannot be combined with rules at one level.
// nginx drops a leading dot of a domain pattern (a cookie's own leading dot is ignored when
// matching).
template <std::optional<std::vector<ProxyCookieRewrite>> LevelDraft::*kRules>
absl::Status ProxyCookieDirective(Scope& s, const Directive& d) {
  std::optional<std::vector<ProxyCookieRewrite>>& rules = s.level->*kRules;
  const auto duplicate = [&] {
    return Error(d, absl::StrCat("\"", d.name, "\" directive is duplicate"));
  };
  if (rules.has_value() && rules->empty()) return duplicate();  // after `off`
  if (d.args.size() == 1) {
    if (d.args[0] != "off") return Error(d, absl::StrCat("invalid parameter \"", d.args[0], "\""));
    if (rules.has_value()) return duplicate();
    rules.emplace();
    return absl::OkStatus();
  }
  if (!d.args[0].empty() && d.args[0][0] == '~') {
    return Error(d, absl::StrCat("regular expressions in \"", d.name, "\" are not supported: \"",
                                 d.args[0], "\""));
  }
  std::string_view pattern_text = d.args[0];
  constexpr bool kDomain = kRules == &LevelDraft::proxy_cookie_domains;
  if (kDomain && !pattern_text.empty() && pattern_text[0] == '.') {
    pattern_text.remove_prefix(1);
  }
  absl::StatusOr<CompiledString> pattern = CompileString(pattern_text);
  if (!pattern.ok()) return Error(d, base::AsStd(pattern.status().message()));
  REALIP_RETURN_IF_ERROR(CheckHeaderText(d, d.args[1], "replacement"));
  absl::StatusOr<CompiledString> replacement = CompileString(d.args[1]);
  if (!replacement.ok()) return Error(d, base::AsStd(replacement.status().message()));
  if (!rules.has_value()) rules.emplace();
  rules->push_back({*std::move(pattern), *std::move(replacement)});
  return absl::OkStatus();
}

// add_header NAME VALUE [always]. Each one adds a field; a level with any replaces the
// inherited list whole (ngx_http_headers_merge_conf).
absl::Status AddHeaderDirective(Scope& s, const Directive& d) {
  if (!IsToken(d.args[0])) {
    return Error(d, absl::StrCat("invalid header name \"", d.args[0], "\""));
  }
  REALIP_RETURN_IF_ERROR(CheckHeaderText(d, d.args[1], "value"));
  absl::StatusOr<CompiledString> value = CompileString(d.args[1]);
  if (!value.ok()) return Error(d, base::AsStd(value.status().message()));
  AddHeader header{d.args[0], *std::move(value), false};
  if (d.args.size() == 3) {
    // nginx compares the parameter exactly: "Always" is an error too.
    if (d.args[2] != "always") {
      return Error(d, absl::StrCat("invalid parameter \"", d.args[2], "\""));
    }
    header.always = true;
  }
  LevelDraft& level = *s.level;
  if (!level.add_headers.has_value()) level.add_headers.emplace();
  level.add_headers->push_back(std::move(header));
  return absl::OkStatus();
}

absl::Status ProxyHttpVersion(Scope& s, const Directive& d) {
  if (d.args[0] == "1.0") {
    s.level->proxy_http_version_minor = 0;
  } else if (d.args[0] == "1.1") {
    s.level->proxy_http_version_minor = 1;
  } else {
    return InvalidValue(d, d.args[0], "it must be \"1.0\" or \"1.1\"");
  }
  return absl::OkStatus();
}

absl::Status LingeringCloseDirective(Scope& s, const Directive& d) {
  if (d.args[0] == "off") {
    s.level->lingering_close = LingeringClose::kOff;
  } else if (d.args[0] == "on") {
    s.level->lingering_close = LingeringClose::kOn;
  } else if (d.args[0] == "always") {
    s.level->lingering_close = LingeringClose::kAlways;
  } else {
    return InvalidValue(d, d.args[0], "it must be \"off\", \"on\" or \"always\"");
  }
  return absl::OkStatus();
}

absl::Status ProxyProtocolVersion(Scope& s, const Directive& d) {
  if (d.args[0] != "1" && d.args[0] != "2") {
    return InvalidValue(d, d.args[0], "it must be \"1\" or \"2\"");
  }
  s.level->proxy_protocol_version = d.args[0] == "1" ? 1 : 2;
  return absl::OkStatus();
}

absl::Status ProxyNextUpstream(Scope& s, const Directive& d) {
  static constexpr std::pair<std::string_view, uint32_t> kFlags[] = {
      {"error", kNextUpstreamError},
      {"timeout", kNextUpstreamTimeout},
      {"invalid_header", kNextUpstreamInvalidHeader},
      {"http_500", kNextUpstreamHttp500},
      {"http_502", kNextUpstreamHttp502},
      {"http_503", kNextUpstreamHttp503},
      {"http_504", kNextUpstreamHttp504},
      {"http_403", kNextUpstreamHttp403},
      {"http_404", kNextUpstreamHttp404},
      {"http_429", kNextUpstreamHttp429},
      {"non_idempotent", kNextUpstreamNonIdempotent},
  };
  uint32_t flags = 0;
  bool off = false;
  for (const std::string& arg : d.args) {
    if (arg == "off") {
      off = true;
      continue;
    }
    bool found = false;
    for (const auto& [name, bit] : kFlags) {
      if (arg == name) {
        flags |= bit;
        found = true;
      }
    }
    if (!found) return InvalidValue(d, arg);
  }
  // As ngx_http_proxy_merge_loc_conf(): "off" disables retries whatever else is listed.
  s.level->proxy_next_upstream = off ? 0 : flags;
  return absl::OkStatus();
}

struct ParsedUrlHost {
  std::string host;
  std::optional<uint16_t> port;
  bool ok = false;
};

// "host", "host:port", "[v6]", "[v6]:port".
ParsedUrlHost SplitHostPort(std::string_view text) {
  ParsedUrlHost out;
  std::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return out;
    out.host = std::string(text.substr(1, close - 1));
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return out;
      port_text = text.substr(close + 2);
      has_port = true;
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) return out;  // a bare IPv6 address needs brackets
      out.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      has_port = true;
    } else {
      out.host = std::string(text);
    }
  }
  if (has_port) {
    absl::StatusOr<int64_t> port = ParseInt(port_text, 1, 65535);
    if (!port.ok() || port_text[0] == '-') return out;
    out.port = static_cast<uint16_t>(*port);
  }
  out.ok = true;
  return out;
}

// `resolver ADDRESS... [valid=T] [ipv6=on|off]` and `resolver_timeout T`: nginx's resolver
// serves names it looks up while running (proxy_pass with variables, OCSP responders). Here
// every name is looked up when the configuration loads, with the system's resolver, so these
// are checked as nginx checks them and change nothing.
absl::Status Resolver(Scope& s, const Directive& d) {
  for (const std::string& arg : d.args) {
    std::string_view a = arg;
    if (a.starts_with("valid=")) {
      if (!ParseTime(a.substr(6)).ok()) return Error(d, absl::StrCat("invalid parameter: ", arg));
      continue;
    }
    if (a.starts_with("ipv6=") || a.starts_with("ipv4=")) {
      if (!ParseFlag(a.substr(5)).ok()) {
        return Error(d, absl::StrCat("invalid parameter: ", arg));
      }
      continue;
    }
    // ADDRESS[:PORT], an IPv6 address in brackets (nginx's messages: a bare one has an
    // "invalid port", a bad bracket form an "invalid host").
    const ParsedUrlHost hp = SplitHostPort(arg);
    if (!hp.ok) {
      return Error(d, absl::StrCat(arg[0] == '[' ? "invalid host" : "invalid port",
                                   " in resolver \"", arg, "\""));
    }
    const std::string& host = hp.host;
    if (host.empty() || !ResolveHost(host, 53, s.draft->use_dns).ok()) {
      return Error(d, absl::StrCat("host not found in resolver \"", arg, "\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ResolverTimeout(Scope&, const Directive& d) {
  if (!ParseTime(d.args[0]).ok()) return InvalidValue(d, d.args[0]);
  return absl::OkStatus();
}

absl::Status ProxyPassDirective(Scope& s, const Directive& d) {
  const std::string& url = d.args[0];
  ProxyPassDraft pass;
  pass.file = d.file;
  pass.line = d.line;
  std::string_view rest;
  if (absl::StartsWithIgnoreCase(url, "http://")) {
    pass.scheme = "http";
    rest = std::string_view(url).substr(7);
  } else if (absl::StartsWithIgnoreCase(url, "https://")) {
    pass.scheme = "https";
    rest = std::string_view(url).substr(8);
  } else {
    return Error(d, absl::StrCat("invalid URL prefix in \"", url, "\""));
  }
  if (url.find('$') != std::string::npos) {
    return Error(d, "variables in \"proxy_pass\" are not supported");
  }
  // The host goes into Host ($proxy_host), the path into the request line.
  REALIP_RETURN_IF_ERROR(CheckHeaderText(d, url, "URL"));
  if (absl::StartsWith(AsAbsl(rest), "unix:")) {
    return Error(d, "unix sockets in \"proxy_pass\" are not supported");
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    pass.has_uri = true;
    pass.uri = std::string(rest.substr(slash));
  }
  if (authority.empty()) return Error(d, absl::StrCat("no host in upstream \"", url, "\""));
  ParsedUrlHost hp = SplitHostPort(authority);
  if (!hp.ok || hp.host.empty()) {
    return Error(d, absl::StrCat("invalid port in upstream \"", AsAbsl(authority), "\""));
  }
  pass.host = Lower(hp.host);
  pass.port = hp.port;
  pass.host_text = std::string(authority);
  pass.url = url;
  if (s.location >= 0) {
    const LocationDraft& location = *s.server->locations[static_cast<size_t>(s.location)];
    if (location.named && pass.has_uri) {
      return Error(d,
                   "\"proxy_pass\" cannot have URI part in location given by regular expression, "
                   "or inside named location, or inside \"if\" statement, or inside "
                   "\"limit_except\" block");
    }
    pass.location = location.path;
  }
  REALIP_RETURN_IF_ERROR(SetContentHandler(s, d, ContentHandler::kProxyPass));
  s.level->proxy_pass = std::move(pass);
  return absl::OkStatus();
}

absl::Status MetricsDirective(Scope& s, const Directive& d) {
  return SetContentHandler(s, d, ContentHandler::kMetrics);
}

absl::Status RealipEchoDirective(Scope& s, const Directive& d) {
  return SetContentHandler(s, d, ContentHandler::kRealipEcho);
}

absl::Status Return(Scope& s, const Directive& d) {
  // ngx_http_rewrite_return(): the first `return` of a block ends processing, so later ones
  // are never reached; keep the first.
  if (s.level->ret.has_value()) return absl::OkStatus();
  ReturnAction ret;
  std::string_view text;
  absl::StatusOr<int64_t> code = ParseInt(d.args[0], 0, 999);
  if (code.ok() && d.args[0][0] != '-') {
    ret.code = static_cast<int>(*code);
    if (d.args.size() == 2) text = d.args[1];
    ret.has_text = d.args.size() == 2;
  } else if (d.args.size() == 1 &&
             (absl::StartsWith(d.args[0], "http://") || absl::StartsWith(d.args[0], "https://") ||
              absl::StartsWith(d.args[0], "$scheme"))) {
    ret.code = 302;
    ret.has_text = true;
    text = d.args[0];
  } else {
    return Error(d, absl::StrCat("invalid return code \"", d.args[0], "\""));
  }
  // A redirect's text is its Location; any other code's is the body, where any byte may go.
  if (base::IsRedirectStatus(ret.code)) {
    REALIP_RETURN_IF_ERROR(CheckHeaderText(d, text, "URL"));
  }
  absl::StatusOr<CompiledString> compiled = CompileString(text);
  if (!compiled.ok()) return Error(d, base::AsStd(compiled.status().message()));
  ret.text = *std::move(compiled);
  s.level->ret = std::move(ret);
  return absl::OkStatus();
}

// ngx_atoi(): decimal digits only, no sign; nullopt when not a number or too large.
std::optional<int> DigitsValue(std::string_view text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  absl::StatusOr<int64_t> v = ParseInt(text, 0, std::numeric_limits<int>::max());
  if (!v.ok()) return std::nullopt;
  return static_cast<int>(*v);
}

// ngx_http_core_error_page(): `error_page CODE ... [=[RESPONSE]] URI`, its checks and messages
// in its order. Each line adds its codes to the level's list.
absl::Status ErrorPageDirective(Scope& s, const Directive& d) {
  const auto invalid = [&](std::string_view arg) {
    return Error(d, absl::StrCat("invalid value \"", AsAbsl(arg), "\""));
  };
  const size_t n = d.args.size();
  size_t codes_end = n - 1;
  int overwrite = -1;
  const std::string& response = d.args[n - 2];
  if (!response.empty() && response[0] == '=') {
    if (n == 2) return invalid(response);
    if (response.size() > 1) {
      std::optional<int> code = DigitsValue(std::string_view(response).substr(1));
      if (!code.has_value()) return invalid(response);
      overwrite = *code;
    } else {
      overwrite = 0;
    }
    codes_end = n - 2;
  }
  const std::string& uri = d.args.back();
  // The URI may become a Location field: no control bytes (as return's URL).
  REALIP_RETURN_IF_ERROR(CheckHeaderText(d, uri, "URI"));
  absl::StatusOr<CompiledString> compiled = CompileString(uri);
  if (!compiled.ok()) return Error(d, base::AsStd(compiled.status().message()));
  LevelDraft& level = *s.level;
  if (!level.error_pages.has_value()) level.error_pages.emplace();
  for (size_t i = 0; i < codes_end; ++i) {
    std::optional<int> status = DigitsValue(d.args[i]);
    if (!status.has_value() || *status == 499) return invalid(d.args[i]);
    if (*status < 300 || *status > 599) {
      return Error(d, absl::StrCat("value \"", d.args[i], "\" must be between 300 and 599"));
    }
    ErrorPage page;
    page.status = *status;
    page.overwrite = overwrite;
    // The codes nginx answers as 400 keep being 400s when the page does not say otherwise.
    if (overwrite == -1 && (*status == 494 || *status == 495 || *status == 496 || *status == 497)) {
      page.overwrite = 400;
    }
    page.uri = *compiled;
    level.error_pages->push_back(std::move(page));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// server, listen, server_name, location

absl::Status ServerBlock(Scope& s, const Directive& d) {
  auto server = std::make_unique<ServerDraft>();
  server->file = d.file;
  server->line = d.line;
  ServerDraft* raw = server.get();
  s.draft->servers.push_back(std::move(server));
  Scope inner = s;
  inner.context = kServer;
  inner.level = &raw->level;
  inner.server = raw;
  inner.location = -1;
  return ProcessBlock(inner, d.block);
}

// `rcvbuf=SIZE` / `sndbuf=SIZE`: nginx sizes ("64k", "1m"); setsockopt() takes an int.
std::optional<int> ParseSocketBuffer(std::string_view v) {
  absl::StatusOr<uint64_t> size = ParseSize(v);
  if (!size.ok() || *size > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    return std::nullopt;
  }
  return static_cast<int>(*size);
}

// A so_keepalive time (ngx_parse_time() in seconds: no "ms"); 0 means "not given".
std::optional<int> ParseKeepaliveTime(std::string_view v) {
  if (absl::StrContains(AsAbsl(v), "ms")) return std::nullopt;
  absl::StatusOr<absl::Duration> t = ParseTime(v);
  if (!t.ok() || *t > absl::Seconds(std::numeric_limits<int>::max())) return std::nullopt;
  return static_cast<int>(absl::ToInt64Seconds(*t));
}

// `so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]`, parsed as ngx_http_core_listen():
// any of the three may be empty, not all of them (nor all zero). Sets only what is given.
bool ParseSoKeepalive(std::string_view v, ListenSocketOptions& o) {
  if (v == "on" || v == "off") {
    o.keepalive = v == "on";
    return true;
  }
  const size_t c1 = v.find(':');
  const std::string_view idle = v.substr(0, c1);
  const std::string_view rest = c1 == std::string_view::npos ? "" : v.substr(c1 + 1);
  const size_t c2 = rest.find(':');
  const std::string_view intvl = rest.substr(0, c2);
  const std::string_view cnt = c2 == std::string_view::npos ? "" : rest.substr(c2 + 1);
  if (!idle.empty()) {
    std::optional<int> t = ParseKeepaliveTime(idle);
    if (!t.has_value()) return false;
    o.keepidle = *t;
  }
  if (!intvl.empty()) {
    std::optional<int> t = ParseKeepaliveTime(intvl);
    if (!t.has_value()) return false;
    o.keepintvl = *t;
  }
  if (!cnt.empty()) {
    // ngx_atoi(): digits only.
    if (cnt.find_first_not_of("0123456789") != std::string_view::npos) return false;
    absl::StatusOr<int64_t> n = ParseInt(cnt, 0, std::numeric_limits<int>::max());
    if (!n.ok()) return false;
    o.keepcnt = static_cast<int>(*n);
  }
  if (o.keepidle == 0 && o.keepintvl == 0 && o.keepcnt == 0) return false;
  o.keepalive = true;
  return true;
}

// The listen's socket options, created by the first one given.
ListenSocketOptions& SocketOptions(ListenDraft& listen) {
  if (!listen.socket_options.has_value()) listen.socket_options.emplace();
  return *listen.socket_options;
}

absl::Status Listen(Scope& s, const Directive& d) {
  ListenDraft listen;
  listen.text = d.args[0];
  listen.file = d.file;
  listen.line = d.line;
  const std::string& a = d.args[0];
  const std::string invalid_port =
      absl::StrCat("invalid port in \"", a, "\" of the \"listen\" directive");
  if (absl::StartsWith(a, "unix:")) {
    listen.unix_path = a.substr(5);
    if (listen.unix_path.empty())
      return Error(d, absl::StrCat("no path in \"", a, "\" of the \"listen\" directive"));
    net::SocketAddress sa;
    sa.is_unix = true;
    listen.addresses.push_back(sa);
  } else if (a.find_first_not_of("0123456789") == std::string::npos) {
    // A bare port listens on every IPv4 address (ngx_parse_inet_url).
    absl::StatusOr<int64_t> port = ParseInt(a, 1, 65535);
    if (!port.ok()) return Error(d, invalid_port);
    listen.addresses.push_back({net::IpAddress(), static_cast<uint16_t>(*port), false});
  } else {
    ParsedUrlHost hp = SplitHostPort(a);
    if (!hp.ok) return Error(d, invalid_port);
    const uint16_t port = hp.port.value_or(80);
    if (hp.host == "*") {
      listen.addresses.push_back({net::IpAddress(), port, false});
    } else {
      absl::StatusOr<std::vector<net::SocketAddress>> resolved =
          ResolveHost(hp.host, port, s.draft->use_dns);
      if (!resolved.ok()) {
        return Error(d, absl::StrCat("host not found in \"", a, "\" of the \"listen\" directive"));
      }
      listen.addresses = *std::move(resolved);
    }
  }
  bool http2 = false;
  for (size_t i = 1; i < d.args.size(); ++i) {
    const std::string& p = d.args[i];
    if (p == "http2") {
      http2 = true;
    } else if (p == "default_server" || p == "default") {
      listen.default_server = true;
    } else if (p == "ssl") {
      listen.ssl = true;
    } else if (p == "reuseport") {
      listen.reuseport = true;
    } else if (p == "bind") {
      // Every distinct address gets its own socket anyway.
    } else if (p == "proxy_protocol") {
      listen.proxy_protocol = ProxyProtocolMode::kRequired;
    } else if (p == "proxy_protocol=optional") {
      // Our extension: a PROXY header is honoured from trusted peers but not required.
      listen.proxy_protocol = ProxyProtocolMode::kOptional;
    } else if (absl::StartsWith(p, "backlog=")) {
      absl::StatusOr<int64_t> v = ParseInt(std::string_view(p).substr(8), -1, 1 << 20);
      // nginx quotes the whole parameter: `invalid backlog "backlog=x"`.
      if (!v.ok() || *v == 0) return Error(d, absl::StrCat("invalid backlog \"", p, "\""));
      listen.backlog = static_cast<int>(*v);
    } else if (absl::StartsWith(p, "ipv6only=")) {
      const std::string_view v = std::string_view(p).substr(9);
      if (v != "on" && v != "off") {
        return Error(d, absl::StrCat("invalid ipv6only flags \"", AsAbsl(v), "\""));
      }
      if (listen.unix_path.empty() && !listen.addresses.empty() && listen.addresses[0].ip.is_v4()) {
        return Error(d, absl::StrCat("ipv6only is not supported on addr \"", a, "\""));
      }
      listen.ipv6only = v == "on";
    } else if (p == "deferred") {
      // TCP_DEFER_ACCEPT; like the other socket options, it makes a `bind` listen.
      SocketOptions(listen).deferred = true;
    } else if (absl::StartsWith(p, "so_keepalive=")) {
      ListenSocketOptions& o = SocketOptions(listen);
      if (!ParseSoKeepalive(std::string_view(p).substr(13), o)) {
        return Error(d, absl::StrCat("invalid so_keepalive value: \"", p.substr(13), "\""));
      }
    } else if (absl::StartsWith(p, "rcvbuf=") || absl::StartsWith(p, "sndbuf=")) {
      const std::string name = p.substr(0, 6);
      std::optional<int> size = ParseSocketBuffer(std::string_view(p).substr(7));
      // nginx quotes the whole parameter here: `invalid rcvbuf "rcvbuf=x"`.
      if (!size.has_value()) return Error(d, absl::StrCat("invalid ", name, " \"", p, "\""));
      ListenSocketOptions& o = SocketOptions(listen);
      (name == "rcvbuf" ? o.rcvbuf : o.sndbuf) = *size;
    } else {
      return Error(d, absl::StrCat("invalid parameter \"", p, "\""));
    }
  }
  // realip-proxy speaks HTTP/1.1 to clients. Over TLS, ALPN settles it: a client that offers
  // h2 and http/1.1 (every browser, curl) gets HTTP/1.1, so the listener works as asked but for
  // the protocol version, and a warning says so. Without TLS, nginx's port would speak HTTP/2
  // alone (prior knowledge), which nothing here can do: refused.
  if (http2 && !listen.ssl) {
    return Error(d,
                 "\"http2\" without \"ssl\" is not supported: realip-proxy speaks HTTP/1.1 "
                 "to clients (over TLS, ALPN lets clients fall back to it)");
  }
  if (http2) {
    s.draft->warnings.push_back(
        AtLocation(absl::StrCat("\"http2\" of \"listen ", a,
                                "\" is ignored: clients are served HTTP/1.1, "
                                "which ALPN offers them"),
                   d.file, d.line));
  }
  s.server->listens.push_back(std::move(listen));
  return absl::OkStatus();
}

absl::Status ServerName(Scope& s, const Directive& d) {
  for (const std::string& arg : d.args) {
    // A name goes into redirects (server_name_in_redirect), $server_name and $host.
    REALIP_RETURN_IF_ERROR(CheckHeaderText(d, arg, "name"));
    const std::string name = Lower(arg);
    if (!name.empty() && name[0] == '~') {
      return Error(d, absl::StrCat("regex server names are not supported: \"", arg, "\""));
    }
    const size_t star = name.find('*');
    if (star != std::string::npos) {
      const bool leading = absl::StartsWith(name, "*.") && star == 0 &&
                           name.find('*', 1) == std::string::npos && name.size() > 2;
      const bool trailing =
          absl::EndsWith(name, ".*") && star == name.size() - 1 && name.size() > 2;
      if (!leading && !trailing) {
        return Error(d, absl::StrCat("invalid server name or wildcard \"", arg, "\""));
      }
    }
    if (name == ".") return Error(d, absl::StrCat("invalid server name \"", arg, "\""));
    s.server->names.push_back(name);
  }
  return absl::OkStatus();
}

absl::Status LocationBlock(Scope& s, const Directive& d) {
  auto loc = std::make_unique<LocationDraft>();
  loc->file = d.file;
  loc->line = d.line;
  std::string_view modifier;
  std::string_view path;
  if (d.args.size() == 2) {
    modifier = d.args[0];
    path = d.args[1];
    if (modifier != "=" && modifier != "^~" && modifier != "~" && modifier != "~*") {
      return Error(d, absl::StrCat("invalid location modifier \"", AsAbsl(modifier), "\""));
    }
  } else {
    path = d.args[0];
    // nginx also accepts the modifier glued to the path ("=/exact").
    for (std::string_view m : {"^~", "~*", "=", "~"}) {
      if (absl::StartsWith(AsAbsl(path), AsAbsl(m)) && path.size() > m.size()) {
        modifier = m;
        path.remove_prefix(m.size());
        break;
      }
    }
  }
  if (modifier == "~" || modifier == "~*") {
    return Error(d, "regex locations (\"~\" and \"~*\") are not supported");
  }
  // ngx_http_core_location(): a name starting with '@' and no modifier is a named location.
  loc->named = modifier.empty() && !path.empty() && path[0] == '@';
  loc->match = modifier == "="    ? Location::Match::kExact
               : modifier == "^~" ? Location::Match::kPrefixNoRegex
                                  : Location::Match::kPrefix;
  loc->path = std::string(path);
  loc->parent = s.location;
  ServerDraft& server = *s.server;
  if (s.location >= 0) {
    const LocationDraft& parent = *server.locations[static_cast<size_t>(s.location)];
    // ngx_http_core_location(): nesting inside an exact location, or outside the parent's
    // prefix, is an error.
    if (parent.match == Location::Match::kExact) {
      return Error(d, absl::StrCat("location \"", loc->path,
                                   "\" cannot be inside the exact location \"", parent.path, "\""));
    }
    if (parent.named) {
      return Error(d, absl::StrCat("location \"", loc->path,
                                   "\" cannot be inside the named location \"", parent.path, "\""));
    }
    if (loc->named) {
      return Error(
          d, absl::StrCat("named location \"", loc->path, "\" can be on the server level only"));
    }
    if (!absl::StartsWith(loc->path, parent.path)) {
      return Error(d, absl::StrCat("location \"", loc->path, "\" is outside location \"",
                                   parent.path, "\""));
    }
  }
  // nginx does not compare named locations: of two with one name, the first is used.
  for (const auto& other : server.locations) {
    if (loc->named) break;
    const bool exact = loc->match == Location::Match::kExact;
    if (other->path == loc->path && (other->match == Location::Match::kExact) == exact) {
      return Error(d, absl::StrCat("duplicate location \"", loc->path, "\""));
    }
  }
  const int index = static_cast<int>(server.locations.size());
  LevelDraft* level = &loc->level;
  server.locations.push_back(std::move(loc));
  Scope inner = s;
  inner.context = kLocation;
  inner.level = level;
  inner.location = index;
  return ProcessBlock(inner, d.block);
}

// ---------------------------------------------------------------------------------------------
// upstream

absl::Status UpstreamBlock(Scope& s, const Directive& d) {
  const std::string name = Lower(d.args[0]);
  for (const auto& u : s.draft->upstreams) {
    if (u->name == name) return Error(d, absl::StrCat("duplicate upstream \"", d.args[0], "\""));
  }
  auto upstream = std::make_unique<UpstreamDraft>();
  upstream->name = name;
  upstream->file = d.file;
  upstream->line = d.line;
  UpstreamDraft* raw = upstream.get();
  s.draft->upstreams.push_back(std::move(upstream));
  Scope inner = s;
  inner.context = kUpstream;
  inner.upstream = raw;
  inner.level = nullptr;
  REALIP_RETURN_IF_ERROR(ProcessBlock(inner, d.block));
  if (raw->servers.empty()) return Error(d, "no servers are inside upstream");
  return absl::OkStatus();
}

absl::Status UpstreamServerDirective(Scope& s, const Directive& d) {
  UpstreamServerDraft entry;
  entry.file = d.file;
  entry.line = d.line;
  entry.server.name = d.args[0];
  if (absl::StartsWith(d.args[0], "unix:")) {
    return Error(d, "unix sockets in upstream servers are not supported");
  }
  ParsedUrlHost hp = SplitHostPort(d.args[0]);
  if (!hp.ok || hp.host.empty()) {
    return Error(d,
                 absl::StrCat("invalid port in \"", d.args[0], "\" of the \"server\" directive"));
  }
  entry.host = hp.host;
  entry.port = hp.port.value_or(80);
  UpstreamServer& server = entry.server;
  for (size_t i = 1; i < d.args.size(); ++i) {
    const std::string_view p = d.args[i];
    const auto value_of = [&](std::string_view key) { return p.substr(key.size()); };
    if (absl::StartsWith(AsAbsl(p), "weight=")) {
      absl::StatusOr<int64_t> v = ParseInt(value_of("weight="), 1, 1000000);
      if (!v.ok()) return Error(d, absl::StrCat("invalid parameter \"", AsAbsl(p), "\""));
      server.weight = static_cast<int>(*v);
    } else if (absl::StartsWith(AsAbsl(p), "max_fails=")) {
      absl::StatusOr<int64_t> v = ParseInt(value_of("max_fails="), 0, 1000000);
      if (!v.ok()) return Error(d, absl::StrCat("invalid parameter \"", AsAbsl(p), "\""));
      server.max_fails = static_cast<int>(*v);
    } else if (absl::StartsWith(AsAbsl(p), "fail_timeout=")) {
      absl::StatusOr<absl::Duration> v = ParseTime(value_of("fail_timeout="));
      if (!v.ok()) return Error(d, absl::StrCat("invalid parameter \"", AsAbsl(p), "\""));
      server.fail_timeout = *v;
    } else if (p == "backup") {
      server.backup = true;
    } else if (p == "down") {
      server.down = true;
    } else {
      return Error(d, absl::StrCat("invalid parameter \"", AsAbsl(p), "\""));
    }
  }
  s.upstream->servers.push_back(std::move(entry));
  return absl::OkStatus();
}

absl::Status SetBalancer(Scope& s, const Directive& d, Balancer balancer) {
  // nginx warns and lets the later method win (ngx_http_upstream_*: "load balancing method
  // redefined").
  if (s.upstream->balancer != Balancer::kRoundRobin) {
    s.draft->warnings.push_back(AtLocation("load balancing method redefined", d.file, d.line));
  }
  s.upstream->balancer = balancer;
  return absl::OkStatus();
}

absl::Status LeastConn(Scope& s, const Directive& d) {
  return SetBalancer(s, d, Balancer::kLeastConn);
}

absl::Status IpHash(Scope& s, const Directive& d) { return SetBalancer(s, d, Balancer::kIpHash); }

absl::Status Hash(Scope& s, const Directive& d) {
  if (d.args.size() == 2 && d.args[1] != "consistent") {
    return Error(d, absl::StrCat("invalid parameter \"", d.args[1], "\""));
  }
  absl::StatusOr<CompiledString> key = CompileString(d.args[0]);
  if (!key.ok()) return Error(d, base::AsStd(key.status().message()));
  REALIP_RETURN_IF_ERROR(SetBalancer(s, d, Balancer::kHash));
  s.upstream->hash_key = *std::move(key);
  s.upstream->hash_consistent = d.args.size() == 2;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// the table

constexpr int64_t kMaxCount = 1 << 30;

constexpr DirectiveSpec kTable[] = {
    // name, contexts, min args, max args, block, repeatable, handler
    {"worker_processes", kMain, 1, 1, false, false, &WorkerProcesses},
    {"daemon", kMain, 1, 1, false, false, SetFlag<&MainSettings::daemon>},
    {"pid", kMain, 1, 1, false, false, &Pid},
    {"error_log", kMain, 1, 2, false, false, &ErrorLog},
    {"worker_rlimit_nofile", kMain, 1, 1, false, false,
     &SetInt<&MainSettings::worker_rlimit_nofile, 1, kMaxCount>},
    {"worker_shutdown_timeout", kMain, 1, 1, false, false,
     SetTime<&MainSettings::worker_shutdown_timeout>},
    {"shutdown_delay", kMain, 1, 1, false, false, SetTime<&MainSettings::shutdown_delay>},
    {"user", kMain, 1, 2, false, false, &User},
    {"events", kMain, 0, 0, true, false, &Events},
    {"http", kMain, 0, 0, true, false, &Http},

    {"worker_connections", kEvents, 1, 1, false, false,
     &SetInt<&MainSettings::worker_connections, 1, kMaxCount>},
    {"multi_accept", kEvents, 1, 1, false, false, SetFlag<&MainSettings::multi_accept>},
    {"use", kEvents, 1, 1, false, false, &Use},

    {"log_format", kHttp, 2, kAnyArgs, false, true, &LogFormatDirective},
    {"upstream", kHttp, 1, 1, true, true, &UpstreamBlock},
    {"server", kHttp, 0, 0, true, true, &ServerBlock},
    {"metrics_collection", kHttp, 1, 1, false, false, SetFlag<&Draft::metrics_collection>},

    {"access_log", kHttpServerLocation, 1, kAnyArgs, false, true, &AccessLogDirective},
    {"set_real_ip_from", kHttpServerLocation, 1, 1, false, true, &SetRealIpFrom},
    {"real_ip_header", kHttpServerLocation, 1, kAnyArgs, false, false, &RealIpHeader},
    {"real_ip_recursive", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::realip_recursive>},
    {"keepalive_timeout", kHttpServerLocation, 1, 2, false, false, &KeepaliveTimeout},
    {"keepalive_requests", kHttpServerLocation, 1, 1, false, false,
     &SetInt<&LevelDraft::keepalive_requests, 0, kMaxCount>},
    {"client_header_timeout", kHttp | kServer, 1, 1, false, false,
     SetTime<&LevelDraft::client_header_timeout>},
    {"client_body_timeout", kHttpServerLocation, 1, 1, false, false,
     SetTime<&LevelDraft::client_body_timeout>},
    {"send_timeout", kHttpServerLocation, 1, 1, false, false, SetTime<&LevelDraft::send_timeout>},
    {"lingering_close", kHttpServerLocation, 1, 1, false, false, &LingeringCloseDirective},
    {"lingering_time", kHttpServerLocation, 1, 1, false, false,
     SetTime<&LevelDraft::lingering_time>},
    {"lingering_timeout", kHttpServerLocation, 1, 1, false, false,
     SetTime<&LevelDraft::lingering_timeout>},
    {"client_max_body_size", kHttpServerLocation, 1, 1, false, false,
     SetSize<&LevelDraft::client_max_body_size>},
    {"client_header_buffer_size", kHttp | kServer, 1, 1, false, false, &ClientHeaderBufferSize},
    {"large_client_header_buffers", kHttp | kServer, 2, 2, false, false, &LargeClientHeaderBuffers},
    {"ignore_invalid_headers", kHttp | kServer, 1, 1, false, false,
     SetFlag<&LevelDraft::ignore_invalid_headers>},
    {"underscores_in_headers", kHttp | kServer, 1, 1, false, false,
     SetFlag<&LevelDraft::underscores_in_headers>},
    {"merge_slashes", kHttp | kServer, 1, 1, false, false, SetFlag<&LevelDraft::merge_slashes>},
    {"proxy_pass", kLocation, 1, 1, false, false, &ProxyPassDirective},
    {"readiness", kLocation, 0, 0, false, false, &Readiness},
    {"proxy_set_header", kHttpServerLocation, 2, 2, false, true, &ProxySetHeader},
    {"proxy_hide_header", kHttpServerLocation, 1, 1, false, true, &ProxyHideHeader},
    {"proxy_pass_header", kHttpServerLocation, 1, 1, false, true, &ProxyPassHeader},
    {"proxy_redirect", kHttpServerLocation, 1, 2, false, true, &ProxyRedirectDirective},
    {"proxy_cookie_domain", kHttpServerLocation, 1, 2, false, true,
     &ProxyCookieDirective<&LevelDraft::proxy_cookie_domains>},
    {"proxy_cookie_path", kHttpServerLocation, 1, 2, false, true,
     &ProxyCookieDirective<&LevelDraft::proxy_cookie_paths>},
    {"proxy_http_version", kHttpServerLocation, 1, 1, false, false, &ProxyHttpVersion},
    {"proxy_connect_timeout", kHttpServerLocation, 1, 1, false, false,
     SetTime<&LevelDraft::proxy_connect_timeout>},
    {"proxy_read_timeout", kHttpServerLocation, 1, 1, false, false,
     SetTime<&LevelDraft::proxy_read_timeout>},
    {"proxy_send_timeout", kHttpServerLocation, 1, 1, false, false,
     SetTime<&LevelDraft::proxy_send_timeout>},
    {"proxy_next_upstream", kHttpServerLocation, 1, kAnyArgs, false, false, &ProxyNextUpstream},
    {"proxy_next_upstream_tries", kHttpServerLocation, 1, 1, false, false,
     &SetInt<&LevelDraft::proxy_next_upstream_tries, 0, kMaxCount>},
    {"proxy_buffering", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::proxy_buffering>},
    {"proxy_protocol", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::proxy_protocol>},
    {"proxy_protocol_version", kHttpServerLocation, 1, 1, false, false, &ProxyProtocolVersion},
    {"return", kServer | kLocation, 1, 2, false, true, &Return},
    {"metrics", kLocation, 0, 0, false, false, &MetricsDirective},
    {"realip_echo", kLocation, 0, 0, false, false, &RealipEchoDirective},
    {"server_tokens", kHttpServerLocation, 1, 1, false, false, SetFlag<&LevelDraft::server_tokens>},
    {"absolute_redirect", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::absolute_redirect>},
    {"port_in_redirect", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::port_in_redirect>},
    {"server_name_in_redirect", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::server_name_in_redirect>},
    {"add_header", kHttpServerLocation, 2, 3, false, true, &AddHeaderDirective},
    {"error_page", kHttpServerLocation, 2, kAnyArgs, false, true, &ErrorPageDirective},
    {"recursive_error_pages", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::recursive_error_pages>},
    {"proxy_intercept_errors", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::proxy_intercept_errors>},
    {"tcp_nodelay", kHttpServerLocation, 1, 1, false, false, SetFlag<&LevelDraft::tcp_nodelay>},
    {"reset_timedout_connection", kHttpServerLocation, 1, 1, false, false,
     SetFlag<&LevelDraft::reset_timedout_connection>},
    {"proxy_buffer_size", kHttpServerLocation, 1, 1, false, false,
     SetSize<&LevelDraft::proxy_buffer_size>},
    {"types", kHttpServerLocation, 0, 0, true, true, &Types},
    {"default_type", kHttpServerLocation, 1, 1, false, false, &DefaultType},
    {"gzip", kHttpServerLocation, 1, 1, false, false, &Gzip},
    // Accepted without effect (see IgnoredFlag).
    {"sendfile", kHttpServerLocation, 1, 1, false, false, &IgnoredFlag},
    {"tcp_nopush", kHttpServerLocation, 1, 1, false, false, &IgnoredFlag},
    {"types_hash_max_size", kHttpServerLocation, 1, 1, false, false, &IgnoredNumber},
    {"types_hash_bucket_size", kHttpServerLocation, 1, 1, false, false, &IgnoredNumber},
    {"server_names_hash_max_size", kHttp, 1, 1, false, false, &IgnoredNumber},
    {"server_names_hash_bucket_size", kHttp, 1, 1, false, false, &IgnoredNumber},
    {"variables_hash_max_size", kHttp, 1, 1, false, false, &IgnoredNumber},
    {"variables_hash_bucket_size", kHttp, 1, 1, false, false, &IgnoredNumber},
    {"map_hash_max_size", kHttp, 1, 1, false, false, &IgnoredNumber},
    {"map_hash_bucket_size", kHttp, 1, 1, false, false, &IgnoredNumber},
    {"proxy_buffers", kHttpServerLocation, 2, 2, false, false, &IgnoredSizes},
    {"proxy_busy_buffers_size", kHttpServerLocation, 1, 1, false, false, &IgnoredSizes},
    {"client_body_buffer_size", kHttpServerLocation, 1, 1, false, false, &IgnoredSizes},
    {"proxy_request_buffering", kHttpServerLocation, 1, 1, false, false, &IgnoredFlag},
    {"proxy_max_temp_file_size", kHttpServerLocation, 1, 1, false, false, &IgnoredSizes},
    {"proxy_temp_file_write_size", kHttpServerLocation, 1, 1, false, false, &IgnoredSizes},
    {"proxy_temp_path", kHttpServerLocation, 1, 4, false, false, &IgnoredTempPath},
    {"client_body_temp_path", kHttpServerLocation, 1, 4, false, false, &IgnoredTempPath},

    // access_directives.cc (issue 11)
    {"allow", kHttpServerLocation, 1, 1, false, true, &AllowDirective},
    {"deny", kHttpServerLocation, 1, 1, false, true, &DenyDirective},
    {"geo", kHttp, 1, 2, true, true, &GeoBlock},
    {"map", kHttp, 2, 2, true, true, &MapBlock},
    {"limit_req_zone", kHttp, 3, 3, false, true, &LimitReqZoneDirective},
    {"limit_req", kHttpServerLocation, 1, 3, false, true, &LimitReqDirective},
    {"limit_req_status", kHttpServerLocation, 1, 1, false, false, &LimitReqStatus},
    {"limit_req_dry_run", kHttpServerLocation, 1, 1, false, false, &LimitReqDryRun},
    {"limit_conn_zone", kHttp, 2, 2, false, true, &LimitConnZoneDirective},
    {"limit_conn", kHttpServerLocation, 2, 2, false, true, &LimitConnDirective},
    {"limit_conn_status", kHttpServerLocation, 1, 1, false, false, &LimitConnStatus},
    {"limit_conn_dry_run", kHttpServerLocation, 1, 1, false, false, &LimitConnDryRun},
    {"ssl_certificate", kHttp | kServer, 1, 1, false, true, &SslCertificate},
    {"ssl_certificate_key", kHttp | kServer, 1, 1, false, true, &SslCertificateKey},
    {"ssl_protocols", kHttp | kServer, 1, kAnyArgs, false, false, &SslProtocols},
    {"ssl_ciphers", kHttp | kServer, 1, 1, false, false, &SslCiphers},
    {"ssl_prefer_server_ciphers", kHttp | kServer, 1, 1, false, false, &SslPreferServerCiphers},
    {"ssl_session_cache", kHttp | kServer, 1, 2, false, false, &SslSessionCacheDirective},
    {"ssl_session_tickets", kHttp | kServer, 1, 1, false, false, &SslSessionTickets},
    {"ssl_session_ticket_key", kHttp | kServer, 1, 1, false, true, &SslSessionTicketKey},
    {"ssl_session_timeout", kHttp | kServer, 1, 1, false, false, &SslSessionTimeout},
    {"ssl_client_certificate", kHttp | kServer, 1, 1, false, false, &SslClientCertificate},
    {"ssl_verify_client", kHttp | kServer, 1, 1, false, false, &SslVerifyClientDirective},
    {"ssl_verify_depth", kHttp | kServer, 1, 1, false, false, &SslVerifyDepth},
    {"ssl_handshake_timeout", kHttp | kServer, 1, 1, false, false, &SslHandshakeTimeout},
    {"ssl_dhparam", kHttp | kServer, 1, 1, false, false, &SslDhparam},
    {"ssl_ecdh_curve", kHttp | kServer, 1, 1, false, false, &SslEcdhCurve},
    {"ssl_trusted_certificate", kHttp | kServer, 1, 1, false, false, &SslTrustedCertificate},
    {"ssl_stapling", kHttp | kServer, 1, 1, false, false, &SslStapling},
    {"ssl_stapling_file", kHttp | kServer, 1, 1, false, false, &SslStaplingFile},
    // They concern the responses nginx fetches from the OCSP responder, which realip-proxy
    // does not do (a stapling file is stapled as it is, as nginx staples one): no effect.
    {"ssl_stapling_verify", kHttp | kServer, 1, 1, false, false, &IgnoredFlag},
    {"ssl_stapling_responder", kHttp | kServer, 1, 1, false, false, &IgnoredAny},
    {"resolver", kHttpServerLocation, 1, kAnyArgs, false, false, &Resolver},
    {"resolver_timeout", kHttpServerLocation, 1, 1, false, false, &ResolverTimeout},
    {"proxy_ssl_verify", kHttpServerLocation, 1, 1, false, false, &ProxySslVerify},
    {"proxy_ssl_trusted_certificate", kHttpServerLocation, 1, 1, false, false,
     &ProxySslTrustedCertificate},
    {"proxy_ssl_server_name", kHttpServerLocation, 1, 1, false, false, &ProxySslServerName},
    {"proxy_ssl_name", kHttpServerLocation, 1, 1, false, false, &ProxySslName},
    {"proxy_ssl_certificate", kHttpServerLocation, 1, 1, false, false, &ProxySslCertificate},
    {"proxy_ssl_certificate_key", kHttpServerLocation, 1, 1, false, false, &ProxySslCertificateKey},
    {"proxy_ssl_protocols", kHttpServerLocation, 1, kAnyArgs, false, false, &ProxySslProtocols},
    {"proxy_ssl_ciphers", kHttpServerLocation, 1, 1, false, false, &ProxySslCiphers},
    {"proxy_ssl_session_reuse", kHttpServerLocation, 1, 1, false, false, &ProxySslSessionReuse},
    {"proxy_ssl_verify_depth", kHttpServerLocation, 1, 1, false, false, &ProxySslVerifyDepth},

    {"listen", kServer, 1, kAnyArgs, false, true, &Listen},
    {"server_name", kServer, 1, kAnyArgs, false, true, &ServerName},
    {"location", kServer | kLocation, 1, 2, true, true, &LocationBlock},

    {"server", kUpstream, 1, kAnyArgs, false, true, &UpstreamServerDirective},
    {"keepalive", kUpstream, 1, 1, false, false, &SetInt<&UpstreamDraft::keepalive, 1, kMaxCount>},
    {"keepalive_timeout", kUpstream, 1, 1, false, false,
     SetTime<&UpstreamDraft::keepalive_timeout>},
    {"keepalive_requests", kUpstream, 1, 1, false, false,
     &SetInt<&UpstreamDraft::keepalive_requests, 1, kMaxCount>},
    {"least_conn", kUpstream, 0, 0, false, false, &LeastConn},
    {"ip_hash", kUpstream, 0, 0, false, false, &IpHash},
    {"hash", kUpstream, 1, 2, false, false, &Hash},
};

}  // namespace

std::span<const DirectiveSpec> DirectiveTable() { return kTable; }

absl::Status ProcessBlock(Scope& scope, const std::vector<Directive>& block) {
  std::vector<std::string_view> seen;  // non-repeatable directives already in this block
  for (const Directive& d : block) {
    const DirectiveSpec* spec = nullptr;
    bool known = false;
    for (const DirectiveSpec& row : kTable) {
      if (row.name != d.name) continue;
      known = true;
      if ((row.contexts & scope.context) != 0) {
        spec = &row;
        break;
      }
    }
    // The checks and messages of ngx_conf_handler(), in its order.
    if (!known) return Error(d, absl::StrCat("unknown directive \"", d.name, "\""));
    if (spec == nullptr)
      return Error(d, absl::StrCat("\"", d.name, "\" directive is not allowed here"));
    if (!spec->block && d.has_block) {
      return Error(d, absl::StrCat("directive \"", d.name, "\" is not terminated by \";\""));
    }
    if (spec->block && !d.has_block) {
      return Error(d, absl::StrCat("directive \"", d.name, "\" has no opening \"{\""));
    }
    const int n = static_cast<int>(d.args.size());
    if (n < spec->min_args || (spec->max_args != kAnyArgs && n > spec->max_args)) {
      return Error(d, absl::StrCat("invalid number of arguments in \"", d.name, "\" directive"));
    }
    if (!spec->repeatable) {
      for (std::string_view name : seen) {
        if (name == spec->name) {
          return Error(d, absl::StrCat("\"", d.name, "\" directive is duplicate"));
        }
      }
      seen.push_back(spec->name);
    }
    REALIP_RETURN_IF_ERROR(spec->handler(scope, d));
  }
  return absl::OkStatus();
}

}  // namespace realip::config::internal
