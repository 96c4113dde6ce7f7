#include "proxy/realip/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/realip/crc32c.h"
#include "unit/realip/test_util.h"

namespace realip::realip {
namespace {

using net::IpAddress;
using net::SocketAddress;
using testing_util::Hex;
using testing_util::kSig;

struct DecodeCase {
  const char* name;
  std::string input;  // a header, possibly followed by payload
  DecodeStatus status;
  size_t consumed = 0;
  std::string command;  // kDone
  bool local = true;
  std::string source, destination;  // SocketAddress::ToString() when !local
  std::string error;                // kError
  size_t tlvs = 0;
};

DecodeCase Done(const char* name, std::string input, size_t consumed, std::string command,
                std::string src = "", std::string dst = "", size_t tlvs = 0) {
  DecodeCase c{name, std::move(input), DecodeStatus::kDone, consumed, std::move(command),
               true, "", "", "", 0};
  c.local = src.empty();
  c.source = std::move(src);
  c.destination = std::move(dst);
  c.tlvs = tlvs;
  return c;
}

DecodeCase Error(const char* name, std::string input, std::string error) {
  DecodeCase c{name, std::move(input), DecodeStatus::kError, 0, "", true, "", "", "", 0};
  c.error = std::move(error);
  return c;
}

DecodeCase NotProxy(const char* name, std::string input) {
  return DecodeCase{name, std::move(input), DecodeStatus::kNotProxy, 0, "", true, "", "", "", 0};
}

void ExpectSame(const DecodeResult& got, const DecodeResult& want, const std::string& where) {
  ASSERT_EQ(got.status, want.status) << where;
  EXPECT_EQ(got.consumed, want.consumed) << where;
  EXPECT_EQ(got.error, want.error) << where;
  EXPECT_EQ(got.header.command, want.header.command) << where;
  EXPECT_EQ(got.header.local, want.header.local) << where;
  EXPECT_EQ(got.header.source, want.header.source) << where;
  EXPECT_EQ(got.header.destination, want.header.destination) << where;
  EXPECT_EQ(got.header.tlvs, want.header.tlvs) << where;
}

// Emulates a connection: bytes arrive in chunks ending at `ends`; the decoder runs on what has
// been buffered after each arrival, until it stops asking for more.
DecodeResult Feed(const std::string& input, const std::vector<size_t>& ends) {
  DecodeResult r;
  for (size_t end : ends) {
    r = DecodeProxyHeader(std::string_view(input).substr(0, end));
    if (r.status != DecodeStatus::kNeedMore) return r;
  }
  return r;
}

class DecodeTest : public testing::TestWithParam<DecodeCase> {};

TEST_P(DecodeTest, Whole) {
  const DecodeCase& c = GetParam();
  DecodeResult r = DecodeProxyHeader(c.input);
  ASSERT_EQ(r.status, c.status) << r.error;
  switch (c.status) {
    case DecodeStatus::kDone:
      EXPECT_EQ(r.consumed, c.consumed);
      EXPECT_EQ(r.header.command, c.command);
      EXPECT_EQ(r.header.local, c.local);
      EXPECT_EQ(r.header.tlvs.size(), c.tlvs);
      if (!c.local) {
        EXPECT_EQ(r.header.source.ToString(), c.source);
        EXPECT_EQ(r.header.destination.ToString(), c.destination);
      }
      break;
    case DecodeStatus::kError:
      EXPECT_EQ(r.error, c.error);
      EXPECT_EQ(r.consumed, 0u);
      break;
    default:
      EXPECT_EQ(r.consumed, 0u);
      break;
  }
}

TEST_P(DecodeTest, ByteByByte) {
  const DecodeCase& c = GetParam();
  const DecodeResult whole = DecodeProxyHeader(c.input);
  std::vector<size_t> ends;
  for (size_t i = 1; i <= c.input.size(); ++i) ends.push_back(i);
  ExpectSame(Feed(c.input, ends), whole, "byte by byte");
  // Every strict prefix of a complete header needs more; a verdict never changes with more
  // bytes.
  bool decided = false;
  for (size_t k = 1; k <= c.input.size(); ++k) {
    DecodeResult r = DecodeProxyHeader(std::string_view(c.input).substr(0, k));
    if (c.status == DecodeStatus::kDone && k < c.consumed) {
      ASSERT_EQ(r.status, DecodeStatus::kNeedMore) << "prefix " << k;
    }
    if (decided) ExpectSame(r, whole, "prefix " + std::to_string(k));
    decided = r.status != DecodeStatus::kNeedMore;
  }
}

TEST_P(DecodeTest, SplitAtEveryOffset) {
  const DecodeCase& c = GetParam();
  const DecodeResult whole = DecodeProxyHeader(c.input);
  for (size_t k = 1; k < c.input.size(); ++k) {
    ExpectSame(Feed(c.input, {k, c.input.size()}), whole, "split " + std::to_string(k));
  }
}

std::string V2(std::string_view ver_cmd_fam_len_and_body_hex) {
  return kSig + Hex(ver_cmd_fam_len_and_body_hex);
}

// Appends a CRC32C TLV to a v2 header whose length field already counts it (7 bytes).
std::string WithCrc(std::string header_without_crc, bool corrupt = false) {
  std::string h = header_without_crc + Hex("03 0004 00000000");
  uint32_t crc = Crc32c(h);
  if (corrupt) crc ^= 0x10;
  for (int i = 0; i < 4; ++i) h[h.size() - 4 + i] = static_cast<char>(crc >> (24 - 8 * i));
  return h;
}

const std::string kV1Max = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
const std::string kAwsHealthCheck =
    V2("20 11 0054 03 0004 bce5951f 04 004a") + std::string(74, '\0');
const std::string kTcp4 = V2("21 11 000c c0000201 c0000202 007b 162e");

INSTANTIATE_TEST_SUITE_P(
    V1, DecodeTest,
    testing::Values(
        // Spec section 2.1 example.
        Done("SpecExample", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", 47, "PROXY",
             "192.168.0.1:56324", "192.168.0.11:443"),
        Done("WithPayload", "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\nGET / HTTP/1.1\r\n",
             41, "PROXY", "192.0.2.1:123", "192.0.2.2:5678"),
        Done("Tcp6", "PROXY TCP6 2001:Db8::1 2001:Db8::2 123 5678\r\n", 45, "PROXY",
             "[2001:db8::1]:123", "[2001:db8::2]:5678"),
        // HAProxy on a dual-stack socket (mholt/caddy-l4#91).
        Done("Tcp6Mapped", "PROXY TCP6 ::ffff:192.168.0.1 ::ffff:192.168.0.1 53740 10001\r\n",
             62, "PROXY", "192.168.0.1:53740", "192.168.0.1:10001"),
        Done("PortsZeroAndMax", "PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n", 36, "PROXY",
             "1.2.3.4:0", "5.6.7.8:65535"),
        Done("UnknownShort", "PROXY UNKNOWN\r\n", 15, "UNKNOWN"),
        Done("UnknownLong", "PROXY UNKNOWN 1 2 3 4 5 6\r\n", 27, "UNKNOWN"),
        Done("UnknownMax107", kV1Max, 107, "UNKNOWN"),
        Error("TooLong108", "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655350\r\n",
              "v1: header too long"),
        Error("NoCrlf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2" + std::string(256, ' '),
              "v1: header too long"),
        Error("LoneLf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1: bad line ending"),
        Error("LoneCr", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "v1: bad line ending"),
        Error("Udp4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad protocol"),
        Error("UnknownGlued", "PROXY UNKNOWNX\r\n", "v1: bad protocol"),
        Error("DoubleSpaceAfterProxy", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
              "v1: bad protocol"),
        Error("DoubleSpaceBetweenFields", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
              "v1: bad format"),
        Error("TrailingSpace", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "v1: bad format"),
        Error("NotEnoughFields", "PROXY TCP6 1:2:3::4 5:6::7:8 1234\r\n", "v1: bad format"),
        Error("NoFields", "PROXY TCP4 \r\n", "v1: bad format"),
        Error("TooManyFields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "v1: bad format"),
        Error("BadPortLetters", "PROXY TCP4 1.2.3.4 5.6.7.8 abc 2\r\n", "v1: bad port"),
        Error("NegativePort", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "v1: bad port"),
        Error("PortOutOfRange", "PROXY TCP4 1.2.3.4 5.6.7.8 1 66776\r\n", "v1: bad port"),
        Error("PortLeadingZero", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "v1: bad port"),
        Error("BadIpv6", "PROXY TCP6 1::2:3::4 5:6::7:8 1 2\r\n", "v1: bad address"),
        Error("Tcp4WithIpv6", "PROXY TCP4 1:2:3::4 1.2.3.4 1 2\r\n", "v1: bad address"),
        Error("Tcp4WithMapped", "PROXY TCP4 ::ffff:1.2.3.4 1.2.3.4 1 2\r\n", "v1: bad address"),
        Error("Tcp6WithIpv4", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "v1: bad address"),
        Error("OctetLeadingZero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "v1: bad address"),
        Error("Lowercase", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad protocol"),
        NotProxy("Bogus", "BOGUS\r\n"), NotProxy("HttpRequest", "GET / HTTP/1.1\r\n"),
        NotProxy("AlmostProxy", "PROXZ TCP4"), NotProxy("ProxyNoSpace", "PROXY\r\n")),
    [](const testing::TestParamInfo<DecodeCase>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    V2, DecodeTest,
    testing::Values(
        Done("Tcp4", kTcp4, 28, "PROXY", "192.0.2.1:123", "192.0.2.2:5678"),
        Done("Tcp4WithPayload", kTcp4 + "GET /", 28, "PROXY", "192.0.2.1:123",
             "192.0.2.2:5678"),
        Done("Udp4", V2("21 12 000c c0000201 c0000202 007b 162e"), 28, "PROXY",
             "192.0.2.1:123", "192.0.2.2:5678"),
        Done("Tcp6",
             V2("21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 "
                "007b 162e"),
             52, "PROXY", "[2001:db8::1]:123", "[2001:db8::2]:5678"),
        Done("Tcp6Mapped",
             V2("21 21 0024 00000000000000000000ffffc0000201 00000000000000000000ffffc0000202 "
                "007b 162e"),
             52, "PROXY", "192.0.2.1:123", "192.0.2.2:5678"),
        Done("LocalMinimal", V2("20 00 0000"), 16, "LOCAL"),
        // Envoy's V2LocalConnectionExtension / ...FilterState (AWS NLB sample).
        Done("LocalWithTlv", V2("20 00 0004 00 0001 ff"), 20, "LOCAL", "", "", 1),
        Done("LocalAwsSample", V2("20 00 0007 00 0004 0a0b0c0d"), 23, "LOCAL", "", "", 1),
        // kubernetes/kubernetes#57250: LOCAL with family 0x11, CRC32C and NOOP padding.
        Done("AwsNlbHealthCheck", kAwsHealthCheck, 100, "LOCAL", "", "", 1),
        // Spec 2.2: LOCAL discards the protocol block; TLVs that do not parse right after the
        // fixed part go with it.
        Done("LocalWithAddressBlock",
             WithCrc(V2("20 11 0013 c0000201 c0000202 007b 162e")), 35, "LOCAL"),
        Done("LocalGarbage", V2("20 00 0002 0100"), 18, "LOCAL"),
        Done("ProxyUnspec", V2("21 00 0000"), 16, "PROXY"),
        Done("ProxyUnix", V2("21 31 00d8") + std::string(216, 'u'), 232, "PROXY"),
        Done("ProxyUnixDgram", V2("21 32 00d8") + std::string(216, 'u'), 232, "PROXY"),
        // nginx-tests: 9 bytes of TLV padding as three empty TLVs of type 0.
        Done("ZeroTlvs", V2("21 11 0015 c0000201 c0000202 007b 162e 000000 000000 000000"), 37,
             "PROXY", "192.0.2.1:123", "192.0.2.2:5678", 3),
        Done("Crc32cReferenceVector",
             V2("21 11 0013 c0000201 c0000202 007b 162e 03 0004 1c2b486c"), 35, "PROXY",
             "192.0.2.1:123", "192.0.2.2:5678", 1),
        Error("Crc32cFlippedBit",
              V2("21 11 0013 c0000201 c0000202 007b 162e 03 0004 1c2b486d"), "v2: bad crc32c"),
        Error("Crc32cWrongLength", V2("21 11 0012 c0000201 c0000202 007b 162e 03 0003 1c2b48"),
              "v2: bad crc32c"),
        Error("AwsHealthCheckCorrupted",
              V2("20 11 0054 03 0004 bce5951e 04 004a") + std::string(74, '\0'),
              "v2: bad crc32c"),
        Error("BadVersion", V2("11 11 000c c0000201 c0000202 007b 162e"), "v2: bad version"),
        Error("BadCommand", V2("29 11 000c c0000201 c0000202 007b 162e"), "v2: bad command"),
        Error("BadFamily", V2("21 41 0004 01020304"), "v2: bad family"),
        Error("BadTransport", V2("21 13 000c c0000201 c0000202 007b 162e"), "v2: bad family"),
        Error("UnspecWithStream", V2("21 01 0000"), "v2: bad family"),
        Error("ShortV4", V2("21 11 000b c0000201 c0000202 007b 16"), "v2: short address block"),
        Error("Inet6LenFour", V2("21 21 0004 00000000"), "v2: short address block"),
        Error("ShortV6", V2("21 21 0023") + std::string(35, '\0'), "v2: short address block"),
        Error("ShortUnix", V2("21 31 0004 00000000"), "v2: short address block"),
        // HAProxy reg-test proxy_protocol_tlv_validation c3/c4.
        Error("TlvOverrunsHeader", V2("21 11 0011 c0000201 c0000202 007b 162e 02 0005 3132"),
              "v2: truncated tlv"),
        Error("LeftoverBytes", V2("21 11 000e c0000201 c0000202 007b 162e 0200"),
              "v2: truncated tlv"),
        Error("SslTooShort", V2("21 11 0010 c0000201 c0000202 007b 162e 20 0001 01"),
              "v2: bad ssl tlv"),
        Error("SslSubTlvOverrun",
              V2("21 11 0017 c0000201 c0000202 007b 162e 20 0008 01 00000000 21 0009"),
              "v2: bad ssl tlv"),
        NotProxy("SignatureMismatch", Hex("0d0a0d0a000d0a51554954ff21")),
        NotProxy("CrLfThenHttp", "\r\nGET")),
    [](const testing::TestParamInfo<DecodeCase>& info) { return info.param.name; });

TEST(DecodeTest, EmptyNeedsMore) {
  EXPECT_EQ(DecodeProxyHeader("").status, DecodeStatus::kNeedMore);
}

TEST(DecodeTest, LengthFieldIsHonouredUpToTheMaximum) {
  // LOCAL with 65535 bytes of NOOP padding: the decoder waits for all of them.
  std::string h = V2("20 00 ffff 04 fffc") + std::string(0xfffc, '\0');
  ASSERT_EQ(h.size(), kProxyV2MaxLength);
  EXPECT_EQ(DecodeProxyHeader(std::string_view(h).substr(0, h.size() - 1)).status,
            DecodeStatus::kNeedMore);
  DecodeResult r = DecodeProxyHeader(h + "payload");
  ASSERT_EQ(r.status, DecodeStatus::kDone) << r.error;
  EXPECT_EQ(r.consumed, kProxyV2MaxLength);
}

std::string TlvHex(uint8_t type, const std::string& value) {
  std::string out(1, static_cast<char>(type));
  out.push_back(static_cast<char>(value.size() >> 8));
  out.push_back(static_cast<char>(value.size() & 0xff));
  return out + value;
}

// A TCP4 PROXY header carrying `tlvs`.
std::string Tcp4With(const std::string& tlvs) {
  std::string h = kSig + Hex("21 11");
  size_t len = 12 + tlvs.size();
  h.push_back(static_cast<char>(len >> 8));
  h.push_back(static_cast<char>(len & 0xff));
  return h + Hex("c0000201 c0000202 007b 162e") + tlvs;
}

struct CapCase {
  const char* name;
  uint8_t type;
  size_t ok_len;  // accepted; one byte more is "v2: tlv too long"
};

class TlvCapTest : public testing::TestWithParam<CapCase> {};

TEST_P(TlvCapTest, HaproxyCaps) {
  const CapCase& c = GetParam();
  DecodeResult ok = DecodeProxyHeader(Tcp4With(TlvHex(c.type, std::string(c.ok_len, 'a'))));
  ASSERT_EQ(ok.status, DecodeStatus::kDone) << ok.error;
  EXPECT_EQ(ok.header.FindTlv(c.type)->value.size(), c.ok_len);
  DecodeResult bad =
      DecodeProxyHeader(Tcp4With(TlvHex(c.type, std::string(c.ok_len + 1, 'a'))));
  EXPECT_EQ(bad.status, DecodeStatus::kError);
  EXPECT_EQ(bad.error, "v2: tlv too long");
}

INSTANTIATE_TEST_SUITE_P(Caps, TlvCapTest,
                         testing::Values(CapCase{"Authority", pp2::kTypeAuthority, 255},
                                         CapCase{"UniqueId", pp2::kTypeUniqueId, 128},
                                         CapCase{"Alpn", pp2::kTypeAlpn, 1024},
                                         CapCase{"Custom", 0xE5, 1024}),
                         [](const testing::TestParamInfo<CapCase>& info) {
                           return info.param.name;
                         });

TEST(TlvTest, NoopIsPaddingNotCapped) {
  DecodeResult r = DecodeProxyHeader(Tcp4With(TlvHex(pp2::kTypeNoop, std::string(2000, '\0'))));
  ASSERT_EQ(r.status, DecodeStatus::kDone) << r.error;
  EXPECT_TRUE(r.header.tlvs.empty());
}

TEST(TlvTest, AllKnownTypesAndNames) {
  std::string ssl_subs = TlvHex(pp2::kSubtypeSslVersion, "TLSv1.3") +
                         TlvHex(pp2::kSubtypeSslCn, "client.example") +
                         TlvHex(pp2::kSubtypeSslCipher, "TLS_AES_128_GCM_SHA256") +
                         TlvHex(pp2::kSubtypeSslSigAlg, "RSA-SHA256") +
                         TlvHex(pp2::kSubtypeSslKeyAlg, "RSA2048") + TlvHex(0x26, "x25519");
  std::string tlvs =
      TlvHex(pp2::kTypeAlpn, "h2") + TlvHex(pp2::kTypeAuthority, "example.com") +
      TlvHex(pp2::kTypeUniqueId, "req-12345") +
      TlvHex(pp2::kTypeSsl, Hex("07 00000000") + ssl_subs) + TlvHex(pp2::kTypeNetns, "blue") +
      TlvHex(pp2::kTypeAws, "\x01vpce-08d2bf15fac5001c9") +
      TlvHex(pp2::kTypeAzure, Hex("01 04030201")) +
      TlvHex(pp2::kTypeGcp, Hex("0000000000003039")) + TlvHex(0xAE, "custom") +
      TlvHex(pp2::kTypeNoop, "pad");
  // Build the header with room for the CRC32C TLV (7 bytes) in its length field.
  std::string h = kSig + Hex("21 11");
  size_t len = 12 + tlvs.size() + 7;
  h.push_back(static_cast<char>(len >> 8));
  h.push_back(static_cast<char>(len & 0xff));
  h = WithCrc(h + Hex("c0000201 c0000202 007b 162e") + tlvs);

  DecodeResult r = DecodeProxyHeader(h);
  ASSERT_EQ(r.status, DecodeStatus::kDone) << r.error;
  const ProxyHeader& p = r.header;
  EXPECT_EQ(p.tlvs.size(), 10u);  // NOOP dropped, CRC32C kept
  EXPECT_EQ(p.TlvByName("alpn"), "h2");
  EXPECT_EQ(p.TlvByName("authority"), "example.com");
  EXPECT_EQ(p.TlvByName("unique_id"), "req-12345");
  EXPECT_EQ(p.TlvByName("netns"), "blue");
  EXPECT_EQ(p.TlvByName("ssl_version"), "TLSv1.3");
  EXPECT_EQ(p.TlvByName("ssl_cn"), "client.example");
  EXPECT_EQ(p.TlvByName("ssl_cipher"), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(p.TlvByName("ssl_sig_alg"), "RSA-SHA256");
  EXPECT_EQ(p.TlvByName("ssl_key_alg"), "RSA2048");
  EXPECT_EQ(p.TlvByName("ssl_0x26"), "x25519");
  EXPECT_EQ(p.TlvByName("ssl_verify"), "0");
  EXPECT_EQ(p.SslClient(), 7);
  EXPECT_EQ(p.SslVerify(), 0u);
  EXPECT_EQ(p.TlvByName("ssl")->size(), 5 + ssl_subs.size());
  EXPECT_EQ(p.TlvByName("aws_vpce_id"), "vpce-08d2bf15fac5001c9");
  EXPECT_EQ(p.AzurePrivateLinkId(), 0x01020304u);  // little-endian on the wire
  EXPECT_EQ(p.TlvByName("azure_pl_id"), "16909060");
  EXPECT_EQ(p.GcpPscConnectionId(), 12345u);
  EXPECT_EQ(p.TlvByName("gcp_conn_id"), "12345");
  EXPECT_EQ(p.TlvByName("0xae"), "custom");
  EXPECT_EQ(p.TlvByName("0x000AE"), "custom");  // nginx accepts leading zeros
  EXPECT_EQ(p.TlvByName("0x03")->size(), 4u);
  EXPECT_EQ(p.TlvByName("0x04"), std::nullopt);
  EXPECT_EQ(p.TlvByName("0x100"), std::nullopt);
  EXPECT_EQ(p.TlvByName("nonsense"), std::nullopt);
  EXPECT_EQ(p.FindTlv(0x99), nullptr);
}

TEST(TlvTest, AbsentAndOtherSubtypes) {
  DecodeResult r = DecodeProxyHeader(Tcp4With(TlvHex(pp2::kTypeAws, "\x02other") +
                                              TlvHex(pp2::kTypeAzure, Hex("02 00000000"))));
  ASSERT_EQ(r.status, DecodeStatus::kDone) << r.error;
  EXPECT_EQ(r.header.AwsVpceId(), std::nullopt);
  EXPECT_EQ(r.header.AzurePrivateLinkId(), std::nullopt);
  EXPECT_EQ(r.header.GcpPscConnectionId(), std::nullopt);
  EXPECT_EQ(r.header.SslVerify(), std::nullopt);
  EXPECT_EQ(r.header.TlvByName("ssl_cn"), std::nullopt);
  EXPECT_EQ(r.header.TlvByName("alpn"), std::nullopt);
}

TEST(TlvTest, ValidNames) {
  for (const char* name : {"alpn", "authority", "unique_id", "netns", "ssl", "ssl_verify",
                           "ssl_version", "ssl_cn", "ssl_cipher", "ssl_sig_alg", "ssl_key_alg",
                           "aws_vpce_id", "azure_pl_id", "gcp_conn_id", "0xEA", "ssl_0x21"}) {
    EXPECT_TRUE(IsValidTlvName(name)) << name;
  }
  for (const char* name : {"", "crc", "0x", "0x1ff", "ssl_", "ssl_foo", "ALPN", "0xg"}) {
    EXPECT_FALSE(IsValidTlvName(name)) << name;
  }
}

SocketAddress Addr(const char* host_port) {
  return *net::ParseHostPort(host_port, std::nullopt);
}

struct EncodeV1Case {
  const char* name;
  const char* src;
  const char* dst;
  std::string want;
};

class EncodeV1Test : public testing::TestWithParam<EncodeV1Case> {};

TEST_P(EncodeV1Test, EncodesAndDecodesBack) {
  const EncodeV1Case& c = GetParam();
  std::string line = EncodeProxyV1(Addr(c.src), Addr(c.dst));
  EXPECT_EQ(line, c.want);
  DecodeResult r = DecodeProxyHeader(line);
  ASSERT_EQ(r.status, DecodeStatus::kDone) << r.error;
  EXPECT_EQ(r.header.source, Addr(c.src));
  EXPECT_EQ(r.header.destination, Addr(c.dst));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EncodeV1Test,
    testing::Values(
        EncodeV1Case{"Tcp4", "192.0.2.1:123", "192.0.2.2:5678",
                     "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n"},
        EncodeV1Case{"Tcp6", "[2001:db8::1]:1", "[2001:db8::2]:65535",
                     "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"},
        EncodeV1Case{"MixedFamilies", "192.0.2.1:123", "[2001:db8::2]:80",
                     "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 123 80\r\n"}),
    [](const testing::TestParamInfo<EncodeV1Case>& info) { return info.param.name; });

TEST(EncodeTest, UnixEndpoints) {
  SocketAddress unix_peer;
  unix_peer.is_unix = true;
  EXPECT_EQ(EncodeProxyV1(unix_peer, Addr("1.2.3.4:80")), "PROXY UNKNOWN\r\n");
  std::string v2 = EncodeProxyV2(unix_peer, Addr("1.2.3.4:80"), {{0xE1, "x"}}, false);
  DecodeResult r = DecodeProxyHeader(v2);
  ASSERT_EQ(r.status, DecodeStatus::kDone) << r.error;
  EXPECT_EQ(r.header.command, "LOCAL");
  EXPECT_TRUE(r.header.local);
  EXPECT_EQ(r.header.TlvByName("0xe1"), "x");
}

TEST(EncodeTest, V2MatchesReferenceVectors) {
  EXPECT_EQ(EncodeProxyV2(Addr("192.0.2.1:123"), Addr("192.0.2.2:5678"), {}, false), kTcp4);
  EXPECT_EQ(EncodeProxyV2(Addr("192.0.2.1:123"), Addr("192.0.2.2:5678"), {}, true),
            V2("21 11 0013 c0000201 c0000202 007b 162e 03 0004 1c2b486c"));
  EXPECT_EQ(EncodeProxyV2Local(), V2("20 00 0000"));
}

TEST(EncodeTest, V2RoundTripWithTlvsBothFamilies) {
  const std::vector<ProxyTlv> tlvs = {{pp2::kTypeAlpn, "h2"},
                                      {pp2::kTypeAuthority, "example.com"},
                                      {pp2::kTypeUniqueId, std::string(128, 'u')},
                                      {0xE2, ""}};
  for (auto [src, dst] : {std::pair{"203.0.113.7:40000", "198.51.100.1:443"},
                          std::pair{"[2001:db8::7]:40000", "[2001:db8::1]:443"},
                          std::pair{"203.0.113.7:40000", "[2001:db8::1]:443"}}) {
    for (bool crc : {false, true}) {
      std::string h = EncodeProxyV2(Addr(src), Addr(dst), tlvs, crc);
      DecodeResult r = DecodeProxyHeader(h);
      ASSERT_EQ(r.status, DecodeStatus::kDone) << r.error;
      EXPECT_EQ(r.consumed, h.size());
      EXPECT_EQ(r.header.source, Addr(src));
      EXPECT_EQ(r.header.destination, Addr(dst));
      ASSERT_EQ(r.header.tlvs.size(), tlvs.size() + (crc ? 1 : 0));
      for (size_t i = 0; i < tlvs.size(); ++i) EXPECT_EQ(r.header.tlvs[i], tlvs[i]);
      if (crc) {
        // No single-bit corruption yields addresses: it is rejected, or it turned the command
        // into LOCAL, which uses the connection's own addresses. (The CRC32C TLV's own type
        // byte is the one byte no receiver can protect.)
        for (size_t i = 0; i < h.size(); ++i) {
          if (i == h.size() - 7) continue;
          std::string bad = h;
          bad[i] = static_cast<char>(bad[i] ^ 0x01);
          DecodeResult b = DecodeProxyHeader(bad);
          EXPECT_TRUE(b.status != DecodeStatus::kDone || b.header.local) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace realip::realip
