// PROXY protocol v1/v2 decoder and encoder (haproxy doc/proxy-protocol.txt).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/net/socket_address.h"

namespace realip::realip {

// v1 lines are at most 107 bytes including CRLF (spec section 2.1).
inline constexpr size_t kProxyV1MaxLength = 107;
// The fixed part of a v2 header; the whole header is 16 + its length field (section 2.2).
inline constexpr size_t kProxyV2FixedLength = 16;
// The largest v2 header: 16 + 65535.
inline constexpr size_t kProxyV2MaxLength = 16 + 65535;

// TLV types (section 2.2.1 - 2.2.7) and the cloud vendors' custom types.
namespace pp2 {
inline constexpr uint8_t kTypeAlpn = 0x01;
inline constexpr uint8_t kTypeAuthority = 0x02;
inline constexpr uint8_t kTypeCrc32c = 0x03;
inline constexpr uint8_t kTypeNoop = 0x04;
inline constexpr uint8_t kTypeUniqueId = 0x05;
inline constexpr uint8_t kTypeSsl = 0x20;
inline constexpr uint8_t kSubtypeSslVersion = 0x21;
inline constexpr uint8_t kSubtypeSslCn = 0x22;
inline constexpr uint8_t kSubtypeSslCipher = 0x23;
inline constexpr uint8_t kSubtypeSslSigAlg = 0x24;
inline constexpr uint8_t kSubtypeSslKeyAlg = 0x25;
inline constexpr uint8_t kTypeNetns = 0x30;
inline constexpr uint8_t kTypeGcp = 0xE0;    // value: 8-byte PSC connection id, big-endian
inline constexpr uint8_t kTypeAws = 0xEA;    // value: subtype 0x01 + VPC endpoint id
inline constexpr uint8_t kTypeAzure = 0xEE;  // value: subtype 0x01 + LINKID (uint32 LE)
inline constexpr uint8_t kSubtypeAwsVpceId = 0x01;
inline constexpr uint8_t kSubtypeAzurePrivateLinkId = 0x01;
// HAProxy's caps: AUTHORITY <= 255, UNIQUE_ID <= 128, any value <= 1024 bytes.
inline constexpr size_t kMaxAuthorityLength = 255;
inline constexpr size_t kMaxUniqueIdLength = 128;
inline constexpr size_t kMaxTlvValueLength = 1024;
}  // namespace pp2

// One TLV as received (or to send); `value` is raw bytes.
struct ProxyTlv {
  uint8_t type = 0;
  std::string value;

  friend bool operator==(const ProxyTlv&, const ProxyTlv&) = default;
};

// A decoded PROXY header.
struct ProxyHeader {
  int version = 0;  // 1 or 2
  // True for v1 UNKNOWN, v2 LOCAL, and v2 PROXY with family UNSPEC or UNIX: the connection's
  // own addresses stay in effect.
  bool local = true;
  std::string command;  // "PROXY", "LOCAL" or "UNKNOWN" (a bounded metrics label)
  net::SocketAddress source, destination;  // valid when !local
  std::vector<ProxyTlv> tlvs;              // v2 only, in order of arrival

  // The first TLV of `type`, or null.
  const ProxyTlv* FindTlv(uint8_t type) const;
  // SSL TLV (0x20) fields; nullopt without an SSL TLV (or without that sub-TLV).
  std::optional<uint8_t> SslClient() const;
  std::optional<uint32_t> SslVerify() const;
  std::optional<std::string> SslSubTlv(uint8_t subtype) const;
  // Cloud identifiers: the AWS VPC endpoint id, the Azure private link id, the GCP PSC
  // connection id; nullopt when absent or of another subtype.
  std::optional<std::string> AwsVpceId() const;
  std::optional<uint32_t> AzurePrivateLinkId() const;
  std::optional<uint64_t> GcpPscConnectionId() const;
  // The value for $proxy_protocol_tlv_NAME: alpn, authority, unique_id, netns, ssl (raw),
  // ssl_verify, ssl_version, ssl_cn, ssl_cipher, ssl_sig_alg, ssl_key_alg, aws_vpce_id,
  // azure_pl_id, gcp_conn_id (decimal), or 0xNN / ssl_0xNN by number. nullopt when absent.
  std::optional<std::string> TlvByName(std::string_view name) const;
};

// True if `name` is accepted by ProxyHeader::TlvByName (for config-time validation).
bool IsValidTlvName(std::string_view name);

enum class DecodeStatus {
  kNeedMore,  // a valid prefix of a header; call again with more bytes
  kDone,      // `consumed` bytes form the header; the rest is payload
  kError,     // not a valid header; close the connection
  kNotProxy,  // the first bytes cannot start a v1 or v2 header (for optional PROXY)
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  size_t consumed = 0;  // header length when kDone, else 0
  ProxyHeader header;   // valid when kDone
  std::string error;    // short lowercase reason when kError; a bounded set (metrics label)
};

// Decodes from the bytes received so far on a connection (call again with more bytes on
// kNeedMore); stateless, so it may be called with any prefix. v1 vs v2 is detected from the
// first bytes. v2 headers are accepted up to kProxyV2MaxLength; callers bound their buffers.
DecodeResult DecodeProxyHeader(std::string_view buffered);

// "PROXY TCP4 ...\r\n" / "PROXY TCP6 ...\r\n"; an IPv4 address next to an IPv6 one is sent in
// its mapped form; a Unix endpoint yields "PROXY UNKNOWN\r\n".
std::string EncodeProxyV1(const net::SocketAddress& src, const net::SocketAddress& dst);
// A v2 PROXY header (STREAM, INET or INET6 as in v1; UNSPEC for Unix endpoints) followed by
// `tlvs` and, if `add_crc32c`, a CRC32C TLV computed over the whole header (section 2.2.5).
std::string EncodeProxyV2(const net::SocketAddress& src, const net::SocketAddress& dst,
                          const std::vector<ProxyTlv>& tlvs, bool add_crc32c);
// The 16-byte v2 LOCAL header (health checks).
std::string EncodeProxyV2Local();

}  // namespace realip::realip
