#include "proxy/net/socket_address.h"

#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace realip::net {
std::string SocketAddress::ToString() const {
  if (is_unix) return "unix:";
  // "[" address "]:" port: at most 1 + 39 + 2 + 5 bytes.
  char buf[IpAddress::kMaxStringLength + 8];
  char* p = buf;
  if (ip.is_v6()) *p++ = '[';
  p += ip.Format(p);
  if (ip.is_v6()) *p++ = ']';
  *p++ = ':';
  char digits[5];
  int n = 0;
  uint16_t v = port;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v = static_cast<uint16_t>(v / 10);
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return std::string(buf, static_cast<size_t>(p - buf));
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

std::optional<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::optional<HostPortParts> SplitHostPort(std::string_view text) {
  HostPortParts parts;
  if (!text.empty() && text[0] == '[') {
    // RFC 3986 section 3.2.2: an IP literal is bracketed so that its colons are not a port.
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    parts.host = text.substr(1, close - 1);
    parts.bracketed = true;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      parts.port = rest.substr(1);
    }
    return parts;
  }
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
    parts.host = text;
    return parts;
  }
  parts.host = text.substr(0, colon);
  parts.port = text.substr(colon + 1);
  return parts;
}

std::optional<SocketAddress> ParseHostPort(std::string_view text,
                                           std::optional<uint16_t> default_port) {
  std::optional<HostPortParts> parts = SplitHostPort(text);
  if (!parts) return std::nullopt;
  std::optional<uint16_t> port = parts->port ? ParsePort(*parts->port) : default_port;
  // Brackets hold IPv6 text only; a port next to an unbracketed host needs a dotted quad.
  std::optional<IpAddress> ip = parts->bracketed ? IpAddress::ParseV6(parts->host)
                                : parts->port    ? IpAddress::ParseV4(parts->host)
                                                 : IpAddress::Parse(parts->host);
  if (!ip || !port) return std::nullopt;
  return SocketAddress{*ip, *port, false};
}

}  // namespace realip::net
