// Handlers of the ssl_* and proxy_ssl_* directives (rows in directives.cc's table).
#pragma once

#include "absl/status/status.h"
#include "proxy/config/directive_table.h"

namespace realip::config::internal {

absl::Status SslCertificate(Scope& s, const Directive& d);
absl::Status SslCertificateKey(Scope& s, const Directive& d);
absl::Status SslProtocols(Scope& s, const Directive& d);
absl::Status SslCiphers(Scope& s, const Directive& d);
absl::Status SslPreferServerCiphers(Scope& s, const Directive& d);
absl::Status SslSessionCacheDirective(Scope& s, const Directive& d);
absl::Status SslSessionTickets(Scope& s, const Directive& d);
absl::Status SslSessionTicketKey(Scope& s, const Directive& d);
absl::Status SslSessionTimeout(Scope& s, const Directive& d);
absl::Status SslClientCertificate(Scope& s, const Directive& d);
absl::Status SslVerifyClientDirective(Scope& s, const Directive& d);
absl::Status SslVerifyDepth(Scope& s, const Directive& d);
absl::Status SslHandshakeTimeout(Scope& s, const Directive& d);
absl::Status SslDhparam(Scope& s, const Directive& d);
absl::Status SslEcdhCurve(Scope& s, const Directive& d);
absl::Status SslTrustedCertificate(Scope& s, const Directive& d);
absl::Status SslStapling(Scope& s, const Directive& d);
absl::Status SslStaplingFile(Scope& s, const Directive& d);

absl::Status ProxySslVerify(Scope& s, const Directive& d);
absl::Status ProxySslTrustedCertificate(Scope& s, const Directive& d);
absl::Status ProxySslServerName(Scope& s, const Directive& d);
absl::Status ProxySslName(Scope& s, const Directive& d);
absl::Status ProxySslCertificate(Scope& s, const Directive& d);
absl::Status ProxySslCertificateKey(Scope& s, const Directive& d);
absl::Status ProxySslProtocols(Scope& s, const Directive& d);
absl::Status ProxySslCiphers(Scope& s, const Directive& d);
absl::Status ProxySslSessionReuse(Scope& s, const Directive& d);
absl::Status ProxySslVerifyDepth(Scope& s, const Directive& d);

}  // namespace realip::config::internal
