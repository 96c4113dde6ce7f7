// An IP address with a port, or a Unix-socket peer; conversions to and from sockaddr.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "proxy/net/ip_address.h"

namespace realip::net {

// An IP endpoint, or (is_unix) a Unix-socket peer whose path is not kept. port 0 means
// "no port" where a port is optional (nginx leaves $remote_port empty then).
struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;
  bool is_unix = false;

  // "1.2.3.4:80", "[2001:db8::1]:80", or "unix:".
  std::string ToString() const;
  // The host part alone, as nginx prints $remote_addr: "1.2.3.4", "2001:db8::1" or "unix:".
  std::string HostToString() const;
  // Appends HostToString() to *out without a temporary.
  void AppendHostTo(std::string* out) const {
    if (is_unix) {
      out->append("unix:");
    } else {
      ip.AppendTo(out);
    }
  }
  // Writes HostToString() to `buf` (IpAddress::kMaxStringLength bytes); returns the length.
  size_t FormatHost(char* buf) const {
    if (is_unix) {
      std::memcpy(buf, "unix:", 5);
      return 5;
    }
    return ip.Format(buf);
  }
  // AF_INET, AF_INET6 (mapped addresses become IPv4) and AF_UNIX; nullopt for anything else
  // or a length too short for the family.
  static std::optional<SocketAddress> FromSockaddr(const sockaddr* sa, socklen_t len);
  // Writes a sockaddr_in or sockaddr_in6 and returns its length; returns 0 for Unix peers.
  socklen_t ToSockaddr(sockaddr_storage* out) const;

  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
  friend auto operator<=>(const SocketAddress&, const SocketAddress&) = default;
};

// Decimal 0-65535 without sign or leading zeros ("0" itself is fine).
std::optional<uint16_t> ParsePort(std::string_view text);

// The unparsed parts of "host", "host:port", "[host]" or "[host]:port". Unbracketed text splits
// at its only ':'; text with several colons is all host (a bare IPv6 address). A bracketed host
// must be followed by nothing or by ':'; nullopt otherwise. `port` is empty-but-present for a
// trailing ':'.
struct HostPortParts {
  std::string_view host;
  std::optional<std::string_view> port;
  bool bracketed = false;
};
std::optional<HostPortParts> SplitHostPort(std::string_view text);

// Parses "1.2.3.4:80", "[2001:db8::1]:80", or a bare address ("1.2.3.4", "[::1]", "::1") which
// takes `default_port` (nullopt: a port is required). Ports are 0-65535 in decimal without sign
// or leading zeros. Wildcards ("*:80") and bare ports belong to the config layer.
std::optional<SocketAddress> ParseHostPort(std::string_view text,
                                           std::optional<uint16_t> default_port);

}  // namespace realip::net
