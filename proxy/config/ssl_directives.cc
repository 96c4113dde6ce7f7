#include "proxy/config/ssl_directives.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"
#include "proxy/config/ssl_settings.h"
#include "proxy/config/values.h"

namespace realip::config::internal {

using base::AsAbsl;

namespace {

SslDraft& Ssl(Scope& s) { return s.level->ssl; }

SslFile FileArg(Scope& s, const Directive& d) {
  const std::string& p = d.args[0];
  SslFile f;
  f.path = p[0] == '/' ? p : absl::StrCat(s.draft->conf_dir, "/", p);
  f.file = d.file;
  f.line = d.line;
  return f;
}

// Stores Parse(argument) into `field`; flags explain themselves as nginx does.
template <typename T, typename P>
absl::Status Store(const Directive& d, std::optional<T>& field, P parse, bool explain) {
  auto v = parse(d.args[0]);
  if (!v.ok()) return InvalidValue(d, d.args[0], explain ? base::AsStd(v.status().message()) : "");
  field = static_cast<T>(*v);
  return absl::OkStatus();
}

absl::Status Flag(const Directive& d, std::optional<bool>& field) {
  return Store(d, field, &ParseFlag, true);
}

absl::StatusOr<uint32_t> Protocols(const Directive& d) {
  uint32_t out = 0;
  for (const std::string& a : d.args) {
    if (a == "TLSv1") {
      out |= kTlsV1;
    } else if (a == "TLSv1.1") {
      out |= kTlsV11;
    } else if (a == "TLSv1.2") {
      out |= kTlsV12;
    } else if (a == "TLSv1.3") {
      out |= kTlsV13;
    } else {
      // SSLv2/SSLv3 are not built into Debian's OpenSSL 3; refuse rather than ignore.
      return InvalidValue(d, a, "it must be \"TLSv1\", \"TLSv1.1\", \"TLSv1.2\" or \"TLSv1.3\"");
    }
  }
  return out;
}

absl::Status Depth(const Directive& d, std::optional<int>& field) {
  absl::StatusOr<int64_t> v = ParseInt(d.args[0], 0, 100);
  if (!v.ok()) return InvalidValue(d, d.args[0]);
  field = static_cast<int>(*v);
  return absl::OkStatus();
}

void Append(std::optional<std::vector<SslFile>>& list, SslFile f) {
  if (!list.has_value()) list.emplace();
  list->push_back(std::move(f));
}

}  // namespace

absl::Status SslCertificate(Scope& s, const Directive& d) {
  Append(Ssl(s).certificates, FileArg(s, d));
  return absl::OkStatus();
}

absl::Status SslCertificateKey(Scope& s, const Directive& d) {
  Append(Ssl(s).certificate_keys, FileArg(s, d));
  return absl::OkStatus();
}

absl::Status SslProtocols(Scope& s, const Directive& d) {
  REALIP_ASSIGN_OR_RETURN(Ssl(s).protocols, Protocols(d));
  return absl::OkStatus();
}

absl::Status SslCiphers(Scope& s, const Directive& d) {
  Ssl(s).ciphers = d.args[0];
  return absl::OkStatus();
}

absl::Status SslPreferServerCiphers(Scope& s, const Directive& d) {
  return Flag(d, Ssl(s).prefer_server_ciphers);
}

// ssl_session_cache off | none | [builtin[:size]] [shared:name:size]. Workers are threads
// sharing one SSL_CTX, so OpenSSL's internal cache is already shared: both forms use it,
// "shared" sized as nginx documents it (about 4000 sessions per megabyte).
absl::Status SslSessionCacheDirective(Scope& s, const Directive& d) {
  SslDraft& ssl = Ssl(s);
  for (const std::string& a : d.args) {
    if ((a == "off" || a == "none") && d.args.size() == 1) {
      ssl.session_cache = a == "off" ? SslSessionCache::kOff : SslSessionCache::kNone;
      continue;
    }
    if (a == "builtin" || absl::StartsWith(a, "builtin:")) {
      uint64_t sessions = 20480;
      if (a.size() > 8 && (!absl::SimpleAtoi(AsAbsl(a).substr(8), &sessions) || sessions == 0)) {
        return InvalidValue(d, a);
      }
      ssl.session_cache = SslSessionCache::kBuiltin;
      ssl.session_cache_sessions = sessions;
      continue;
    }
    if (absl::StartsWith(a, "shared:")) {
      size_t colon = a.rfind(':');
      if (colon <= 7) return InvalidValue(d, a);
      absl::StatusOr<uint64_t> size = ParseSize(std::string_view(a).substr(colon + 1));
      if (!size.ok() || *size < 8192) return InvalidValue(d, a);
      ssl.session_cache = SslSessionCache::kBuiltin;
      ssl.session_cache_sessions = *size / 256;
      continue;
    }
    return InvalidValue(d, a);
  }
  return absl::OkStatus();
}

absl::Status SslSessionTickets(Scope& s, const Directive& d) {
  return Flag(d, Ssl(s).session_tickets);
}

absl::Status SslSessionTicketKey(Scope& s, const Directive& d) {
  Append(Ssl(s).session_ticket_keys, FileArg(s, d));
  return absl::OkStatus();
}

absl::Status SslSessionTimeout(Scope& s, const Directive& d) {
  return Store(d, Ssl(s).session_timeout, &ParseTime, false);
}

absl::Status SslClientCertificate(Scope& s, const Directive& d) {
  Ssl(s).client_certificate = FileArg(s, d);
  return absl::OkStatus();
}

absl::Status SslVerifyClientDirective(Scope& s, const Directive& d) {
  const std::string& a = d.args[0];
  if (a == "on") {
    Ssl(s).verify_client = SslVerifyClient::kOn;
  } else if (a == "off") {
    Ssl(s).verify_client = SslVerifyClient::kOff;
  } else if (a == "optional") {
    Ssl(s).verify_client = SslVerifyClient::kOptional;
  } else {
    return InvalidValue(d, a, "it must be \"on\", \"off\" or \"optional\"");
  }
  return absl::OkStatus();
}

absl::Status SslDhparam(Scope& s, const Directive& d) {
  Ssl(s).dhparam = FileArg(s, d);
  return absl::OkStatus();
}

absl::Status SslEcdhCurve(Scope& s, const Directive& d) {
  Ssl(s).ecdh_curve = d.args[0];
  return absl::OkStatus();
}

absl::Status SslTrustedCertificate(Scope& s, const Directive& d) {
  Ssl(s).trusted_certificate = FileArg(s, d);
  return absl::OkStatus();
}

absl::Status SslStapling(Scope& s, const Directive& d) { return Flag(d, Ssl(s).stapling); }

absl::Status SslStaplingFile(Scope& s, const Directive& d) {
  Ssl(s).stapling_file = FileArg(s, d);
  return absl::OkStatus();
}

absl::Status SslVerifyDepth(Scope& s, const Directive& d) { return Depth(d, Ssl(s).verify_depth); }

absl::Status SslHandshakeTimeout(Scope& s, const Directive& d) {
  return Store(d, Ssl(s).handshake_timeout, &ParseTime, false);
}

absl::Status ProxySslVerify(Scope& s, const Directive& d) { return Flag(d, Ssl(s).proxy_verify); }

absl::Status ProxySslTrustedCertificate(Scope& s, const Directive& d) {
  Ssl(s).proxy_trusted_certificate = FileArg(s, d);
  return absl::OkStatus();
}

absl::Status ProxySslServerName(Scope& s, const Directive& d) {
  return Flag(d, Ssl(s).proxy_server_name);
}

absl::Status ProxySslName(Scope& s, const Directive& d) {
  if (d.args[0].find('$') != std::string::npos) {
    return InvalidValue(d, d.args[0], "variables are not supported here");
  }
  Ssl(s).proxy_name = d.args[0];
  return absl::OkStatus();
}

absl::Status ProxySslCertificate(Scope& s, const Directive& d) {
  Ssl(s).proxy_certificate = FileArg(s, d);
  return absl::OkStatus();
}

absl::Status ProxySslCertificateKey(Scope& s, const Directive& d) {
  Ssl(s).proxy_certificate_key = FileArg(s, d);
  return absl::OkStatus();
}

absl::Status ProxySslProtocols(Scope& s, const Directive& d) {
  REALIP_ASSIGN_OR_RETURN(Ssl(s).proxy_protocols, Protocols(d));
  return absl::OkStatus();
}

absl::Status ProxySslCiphers(Scope& s, const Directive& d) {
  Ssl(s).proxy_ciphers = d.args[0];
  return absl::OkStatus();
}

absl::Status ProxySslSessionReuse(Scope& s, const Directive& d) {
  return Flag(d, Ssl(s).proxy_session_reuse);
}

absl::Status ProxySslVerifyDepth(Scope& s, const Directive& d) {
  return Depth(d, Ssl(s).proxy_verify_depth);
}

}  // namespace realip::config::internal

namespace realip::config {

void MergeSsl(SslSettings& s, const SslDraft& d) {
  const auto inherit = [](auto& field, const auto& opt) {
    if (opt.has_value()) field = *opt;
  };
  inherit(s.certificates, d.certificates);
  inherit(s.certificate_keys, d.certificate_keys);
  inherit(s.protocols, d.protocols);
  inherit(s.ciphers, d.ciphers);
  inherit(s.prefer_server_ciphers, d.prefer_server_ciphers);
  inherit(s.session_cache, d.session_cache);
  inherit(s.session_cache_sessions, d.session_cache_sessions);
  inherit(s.session_tickets, d.session_tickets);
  inherit(s.session_ticket_keys, d.session_ticket_keys);
  inherit(s.session_timeout, d.session_timeout);
  inherit(s.client_certificate, d.client_certificate);
  inherit(s.verify_client, d.verify_client);
  inherit(s.verify_depth, d.verify_depth);
  inherit(s.handshake_timeout, d.handshake_timeout);
  inherit(s.dhparam, d.dhparam);
  inherit(s.ecdh_curve, d.ecdh_curve);
  inherit(s.trusted_certificate, d.trusted_certificate);
  inherit(s.stapling, d.stapling);
  inherit(s.stapling_file, d.stapling_file);
  inherit(s.proxy_verify, d.proxy_verify);
  inherit(s.proxy_trusted_certificate, d.proxy_trusted_certificate);
  inherit(s.proxy_server_name, d.proxy_server_name);
  inherit(s.proxy_name, d.proxy_name);
  inherit(s.proxy_certificate, d.proxy_certificate);
  inherit(s.proxy_certificate_key, d.proxy_certificate_key);
  inherit(s.proxy_protocols, d.proxy_protocols);
  inherit(s.proxy_ciphers, d.proxy_ciphers);
  inherit(s.proxy_session_reuse, d.proxy_session_reuse);
  inherit(s.proxy_verify_depth, d.proxy_verify_depth);
}

}  // namespace realip::config
