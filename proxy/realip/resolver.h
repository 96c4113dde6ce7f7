// Client-address resolution with nginx realip semantics (set_real_ip_from, real_ip_header,
// real_ip_recursive), extended with several sources in order, plus provenance.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/net/cidr_set.h"
#include "proxy/net/socket_address.h"
#include "proxy/realip/proxy_protocol.h"

namespace realip::realip {

// One value of real_ip_header.
struct RealIpSource {
  enum class Kind { kProxyProtocol, kHeader } kind = Kind::kHeader;
  std::string name;        // as written in the config ($realip_source, provenance)
  std::string lower_name;  // lowercase header name used for matching

  friend bool operator==(const RealIpSource&, const RealIpSource&) = default;
};

// "proxy_protocol" (exact spelling) or an HTTP header name (RFC 9110 token characters).
// Error: `invalid real_ip_header "x y"`.
[[nodiscard]] absl::StatusOr<RealIpSource> ParseRealIpSource(std::string_view value);

// What the config stores per http/server/location.
struct RealIpSettings {
  std::shared_ptr<const net::CidrSet> trusted;  // null or empty: nothing is replaced (nginx)
  std::vector<RealIpSource> sources = {
      {RealIpSource::Kind::kHeader, "X-Real-IP", "x-real-ip"}};  // nginx's default
  bool recursive = false;
};

// A request header in arrival order.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

struct ResolveInput {
  net::SocketAddress peer;             // TCP peer of the client connection
  const ProxyHeader* proxy = nullptr;  // PROXY header accepted on this connection, if any
  std::span<const HeaderField> headers;
};

struct Resolution {
  net::SocketAddress client;             // $remote_addr / $remote_port (port 0: none)
  std::string source;                    // "peer", "proxy_protocol" or the header's config name
  net::SocketAddress realip_remote;      // $realip_remote_addr/port: the original peer
  int trusted_hops = 0;                  // trusted addresses stepped over (the peer included)
  bool untrusted_forwarded = false;      // forwarded headers came from an untrusted sender
  std::vector<std::string> untrusted_headers;  // their lowercase names, each once
  std::string realip_x_forwarded_for;     // client, trusted hops passed, connecting hop
  net::SocketAddress connecting;          // the hop that connected (appended by the next call)
};

// Resolves the client address for one request. Each source runs nginx's walk from the
// address the previous one produced; a single source behaves exactly as nginx. Pure function.
Resolution Resolve(const RealIpSettings& settings, const ResolveInput& input);
// The same into *out, reusing the memory of its strings (a connection's next request). Every
// member of Resolution is set there explicitly: a new member must be set there too.
void Resolve(const RealIpSettings& settings, const ResolveInput& input, Resolution* out);

// $proxy_add_x_forwarded_for, appended to *out: the incoming X-Forwarded-For lines joined with
// ", ", then the connecting hop (nginx appends $remote_addr, which realip has already
// rewritten: repeating the client and losing the last hop). Built on demand, since most
// configurations never use it.
void AppendProxyAddXForwardedFor(std::span<const HeaderField> headers,
                                 const Resolution& resolution, std::string* out);

namespace internal {

// ASCII case-insensitive equality of a header name with `lower`, which must be lowercase
// (how Resolve matches header names).
bool HeaderNameIs(std::string_view name, std::string_view lower);

}  // namespace internal

}  // namespace realip::realip
