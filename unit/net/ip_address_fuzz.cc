// Differential fuzz target: IpAddress::Parse must accept exactly what inet_pton accepts, yield
// the same bytes, and format to text that parses back to the same address; ParseCidr and
// ParseHostPort must not crash and must round-trip what they accept.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proxy/base/check.h"
#include "proxy/net/cidr_set.h"
#include "proxy/net/ip_address.h"
#include "proxy/net/socket_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using realip::net::IpAddress;
  std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<IpAddress> ip = IpAddress::Parse(text);
  unsigned char buf[16];
  // inet_pton stops at a NUL; our parser sees the whole view, so compare NUL-free inputs.
  if (text.find('\0') == std::string::npos) {
    const bool v4 = inet_pton(AF_INET, text.c_str(), buf) == 1;
    const bool v6 = !v4 && inet_pton(AF_INET6, text.c_str(), buf) == 1;
    REALIP_CHECK(ip.has_value() == (v4 || v6));
    if (v4) REALIP_CHECK(ip->Bytes() == std::string_view(reinterpret_cast<char*>(buf), 4));
    if (v6) REALIP_CHECK(*ip == IpAddress::FromV6Bytes(buf));
  }
  if (ip) REALIP_CHECK(IpAddress::Parse(ip->ToString()) == ip);
  absl::StatusOr<realip::net::Cidr> cidr = realip::net::ParseCidr(text);
  if (cidr.ok()) {
    realip::net::CidrSet set;
    set.Add(*cidr);
    REALIP_CHECK(set.Contains(cidr->address));
  }
  std::optional<realip::net::SocketAddress> hp = realip::net::ParseHostPort(text, 80);
  if (hp) REALIP_CHECK(realip::net::ParseHostPort(hp->ToString(), std::nullopt) == hp);
  return 0;
}
