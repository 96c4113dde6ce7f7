#include "proxy/net/socket_address.h"

#include <netinet/in.h>
#include <sys/un.h>
#include <gtest/gtest.h>

#include <cstring>

namespace realip::net {
namespace {

struct HostPortCase {
  const char* name;
  std::string text;
  std::optional<uint16_t> default_port;
  std::optional<std::string> formatted;  // SocketAddress::ToString(); nullopt: rejected
};

class ParseHostPortTest : public testing::TestWithParam<HostPortCase> {};

TEST_P(ParseHostPortTest, Parses) {
  const HostPortCase& c = GetParam();
  std::optional<SocketAddress> got = ParseHostPort(c.text, c.default_port);
  ASSERT_EQ(got.has_value(), c.formatted.has_value()) << c.text;
  if (got) {
    EXPECT_EQ(got->ToString(), *c.formatted);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseHostPortTest,
    testing::Values(
        HostPortCase{"V4WithPort", "1.2.3.4:80", std::nullopt, "1.2.3.4:80"},
        HostPortCase{"V4PortZero", "127.0.0.1:0", std::nullopt, "127.0.0.1:0"},
        HostPortCase{"V4MaxPort", "1.2.3.4:65535", std::nullopt, "1.2.3.4:65535"},
        HostPortCase{"V4PortTooBig", "1.2.3.4:65536", std::nullopt, std::nullopt},
        HostPortCase{"V4PortLeadingZero", "1.2.3.4:080", std::nullopt, std::nullopt},
        HostPortCase{"V4PortSign", "1.2.3.4:+80", std::nullopt, std::nullopt},
        HostPortCase{"V4PortEmpty", "1.2.3.4:", std::nullopt, std::nullopt},
        HostPortCase{"V4NoPortNoDefault", "1.2.3.4", std::nullopt, std::nullopt},
        HostPortCase{"V4DefaultPort", "1.2.3.4", 8080, "1.2.3.4:8080"},
        HostPortCase{"V6Bracketed", "[2001:db8::1]:80", std::nullopt, "[2001:db8::1]:80"},
        HostPortCase{"V6BracketedDefault", "[::1]", 443, "[::1]:443"},
        HostPortCase{"V6BareDefault", "::1", 443, "[::1]:443"},
        HostPortCase{"V6BareNoDefault", "::1", std::nullopt, std::nullopt},
        HostPortCase{"V6BracketsV4Inside", "[1.2.3.4]:80", std::nullopt, std::nullopt},
        HostPortCase{"V6Unclosed", "[::1:80", std::nullopt, std::nullopt},
        HostPortCase{"V6JunkAfterBracket", "[::1]x80", std::nullopt, std::nullopt},
        HostPortCase{"MappedBecomesV4", "[::ffff:1.2.3.4]:80", std::nullopt, "1.2.3.4:80"},
        HostPortCase{"Wildcard", "*:80", std::nullopt, std::nullopt},
        HostPortCase{"BarePort", "80", std::nullopt, std::nullopt},
        HostPortCase{"HostName", "localhost:80", std::nullopt, std::nullopt}),
    [](const testing::TestParamInfo<HostPortCase>& info) { return info.param.name; });

TEST(SocketAddressTest, ToStringForms) {
  EXPECT_EQ((SocketAddress{*IpAddress::Parse("1.2.3.4"), 80, false}).ToString(), "1.2.3.4:80");
  EXPECT_EQ((SocketAddress{*IpAddress::Parse("2001:db8::1"), 80, false}).ToString(),
            "[2001:db8::1]:80");
  SocketAddress unix_peer;
  unix_peer.is_unix = true;
  EXPECT_EQ(unix_peer.ToString(), "unix:");
  EXPECT_EQ(unix_peer.HostToString(), "unix:");
  EXPECT_EQ((SocketAddress{*IpAddress::Parse("2001:db8::1"), 80, false}).HostToString(),
            "2001:db8::1");
}

// FormatHost writes exactly what HostToString and AppendHostTo produce.
TEST(SocketAddressTest, FormatHostMatchesHostToString) {
  SocketAddress unix_peer;
  unix_peer.is_unix = true;
  for (const SocketAddress& a :
       {unix_peer, SocketAddress{*IpAddress::Parse("1.2.3.4"), 80, false},
        SocketAddress{*IpAddress::Parse("255.255.255.255"), 0, false},
        SocketAddress{*IpAddress::Parse("1111:2222:3333:4444:5555:6666:7777:8888"), 1, false},
        SocketAddress{*IpAddress::Parse("::ffff:10.0.0.1"), 1, false}}) {
    char buf[IpAddress::kMaxStringLength];
    EXPECT_EQ(std::string(buf, a.FormatHost(buf)), a.HostToString());
    std::string appended = "x";
    a.AppendHostTo(&appended);
    EXPECT_EQ(appended.front(), 'x');
    EXPECT_EQ(appended.substr(1), a.HostToString());
  }
}

TEST(SocketAddressTest, SockaddrRoundTripV4) {
  SocketAddress a{*IpAddress::Parse("192.0.2.1"), 443, false};
  sockaddr_storage ss;
  socklen_t len = a.ToSockaddr(&ss);
  ASSERT_EQ(len, sizeof(sockaddr_in));
  sockaddr_in sin;
  std::memcpy(&sin, &ss, sizeof(sin));
  EXPECT_EQ(sin.sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin.sin_port), 443);
  EXPECT_EQ(ntohl(sin.sin_addr.s_addr), 0xc0000201u);
  EXPECT_EQ(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len), a);
}

TEST(SocketAddressTest, SockaddrRoundTripV6AndMapped) {
  SocketAddress a{*IpAddress::Parse("2001:db8::7"), 8443, false};
  sockaddr_storage ss;
  socklen_t len = a.ToSockaddr(&ss);
  ASSERT_EQ(len, sizeof(sockaddr_in6));
  EXPECT_EQ(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len), a);

  // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
  sockaddr_in6 sin6;
  std::memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(1234);
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  std::memcpy(sin6.sin6_addr.s6_addr, mapped, 16);
  std::optional<SocketAddress> got =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->ToString(), "10.1.2.3:1234");
}

TEST(SocketAddressTest, SockaddrUnixAndErrors) {
  sockaddr_un sun;
  std::memset(&sun, 0, sizeof(sun));
  sun.sun_family = AF_UNIX;
  std::optional<SocketAddress> got =
      SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&sun), sizeof(sun));
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->is_unix);
  sockaddr_storage ss;
  EXPECT_EQ(got->ToSockaddr(&ss), 0u);

  sockaddr_in sin;
  std::memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  EXPECT_FALSE(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&sin), 4));
  EXPECT_FALSE(SocketAddress::FromSockaddr(nullptr, 0));
  sin.sin_family = AF_APPLETALK;
  EXPECT_FALSE(SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&sin), sizeof(sin)));
}

}  // namespace
}  // namespace realip::net
