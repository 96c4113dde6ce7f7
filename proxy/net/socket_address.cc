#include "proxy/net/socket_address.h"

#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace realip::net {
namespace {

// Decimal 0-65535 without sign or leading zeros (a "0" alone is fine).
std::optional<uint16_t> ParsePort(std::string_view s) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

std::string SocketAddress::ToString() const {
  if (is_unix) return "unix:";
  std::string out;
  out.reserve(IpAddress::kMaxStringLength + 8);
  if (ip.is_v6()) out.push_back('[');
  ip.AppendTo(&out);
  if (ip.is_v6()) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

std::string SocketAddress::HostToString() const {
  if (is_unix) return "unix:";
  return ip.ToString();
}

std::optional<SocketAddress> SocketAddress::FromSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr || len < static_cast<socklen_t>(sizeof(sa_family_t))) return std::nullopt;
  SocketAddress out;
  switch (sa->sa_family) {
    case AF_INET: {
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in))) return std::nullopt;
      sockaddr_in sin;
      std::memcpy(&sin, sa, sizeof(sin));
      out.ip = IpAddress::FromV4(ntohl(sin.sin_addr.s_addr));
      out.port = ntohs(sin.sin_port);
      return out;
    }
    case AF_INET6: {
      if (len < static_cast<socklen_t>(sizeof(sockaddr_in6))) return std::nullopt;
      sockaddr_in6 sin6;
      std::memcpy(&sin6, sa, sizeof(sin6));
      out.ip = IpAddress::FromV6Bytes(sin6.sin6_addr.s6_addr);
      out.port = ntohs(sin6.sin6_port);
      return out;
    }
    case AF_UNIX:
      out.is_unix = true;
      return out;
    default:
      return std::nullopt;
  }
}

socklen_t SocketAddress::ToSockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (is_unix) return 0;
  if (ip.is_v4()) {
    sockaddr_in sin;
    std::memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(ip.v4_host_order());
    std::memcpy(out, &sin, sizeof(sin));
    return sizeof(sin);
  }
  sockaddr_in6 sin6;
  std::memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  std::memcpy(sin6.sin6_addr.s6_addr, ip.Bytes().data(), 16);
  std::memcpy(out, &sin6, sizeof(sin6));
  return sizeof(sin6);
}

std::optional<SocketAddress> ParseHostPort(std::string_view text,
                                           std::optional<uint16_t> default_port) {
  SocketAddress out;
  std::string_view host = text;
  std::optional<uint16_t> port = default_port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port = ParsePort(rest.substr(1));
      if (!port) return std::nullopt;
    }
    // Brackets hold IPv6 text only (RFC 3986 section 3.2.2).
    std::optional<IpAddress> ip = IpAddress::ParseV6(host);
    if (!ip || !port) return std::nullopt;
    out.ip = *ip;
    out.port = *port;
    return out;
  }
  size_t first_colon = text.find(':');
  if (first_colon != std::string_view::npos && text.find(':', first_colon + 1) == text.npos) {
    // Exactly one ':' can only separate an IPv4 address from a port.
    host = text.substr(0, first_colon);
    port = ParsePort(text.substr(first_colon + 1));
    if (!port) return std::nullopt;
    std::optional<IpAddress> ip = IpAddress::ParseV4(host);
    if (!ip) return std::nullopt;
    out.ip = *ip;
    out.port = *port;
    return out;
  }
  std::optional<IpAddress> ip = IpAddress::Parse(text);
  if (!ip || !port) return std::nullopt;
  out.ip = *ip;
  out.port = *port;
  return out;
}

}  // namespace realip::net
