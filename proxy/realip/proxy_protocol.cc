#include "proxy/realip/proxy_protocol.h"

#include <algorithm>
#include <cstring>

#include "proxy/base/check.h"
#include "proxy/realip/crc32c.h"

namespace realip::realip {
namespace {

using net::IpAddress;
using net::SocketAddress;

// Section 2.2: the v2 signature; it contains a NUL byte and is not a C string.
constexpr char kV2SignatureBytes[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                        '\n', 'Q',  'U',  'I',  'T',  '\n'};
constexpr std::string_view kV2Signature(kV2SignatureBytes, sizeof(kV2SignatureBytes));
constexpr std::string_view kV1Prefix = "PROXY ";

constexpr uint8_t kCmdLocal = 0x0;
constexpr uint8_t kCmdProxy = 0x1;
constexpr uint8_t kFamUnspec = 0x0, kFamInet = 0x1, kFamInet6 = 0x2, kFamUnix = 0x3;
constexpr uint8_t kTransUnspec = 0x0, kTransStream = 0x1, kTransDgram = 0x2;
constexpr const char* kBadCrc32c = "v2: bad crc32c";
constexpr size_t kInetBlock = 12, kInet6Block = 36, kUnixBlock = 216;

DecodeResult Fail(const char* reason) {
  DecodeResult r;
  r.status = DecodeStatus::kError;
  r.error = reason;
  return r;
}

DecodeResult NeedMore() { return DecodeResult{}; }

uint16_t ReadU16(std::string_view s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) << 8 | static_cast<uint8_t>(s[at + 1]));
}

uint32_t ReadU32(std::string_view s, size_t at) {
  return static_cast<uint32_t>(ReadU16(s, at)) << 16 | ReadU16(s, at + 2);
}

void AppendU16(uint16_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}

// ---- v1 (section 2.1) ----

// True while `got` could still become one of the protocol words (early rejection of garbage
// instead of waiting for 107 bytes).
bool ProtocolPrefixOk(std::string_view got) {
  for (std::string_view word : {"TCP4 ", "TCP6 ", "UNKNOWN\r", "UNKNOWN "}) {
    size_t n = std::min(got.size(), word.size());
    if (got.substr(0, n) == word.substr(0, n)) return true;
  }
  return false;
}

DecodeResult ParseV1Line(std::string_view line, size_t consumed) {
  std::string_view rest = line.substr(kV1Prefix.size());
  DecodeResult r;
  r.header.version = 1;
  if (rest.substr(0, 7) == "UNKNOWN" && (rest.size() == 7 || rest[7] == ' ')) {
    // "the receiver must ignore anything presented before the CRLF".
    r.status = DecodeStatus::kDone;
    r.consumed = consumed;
    r.header.command = "UNKNOWN";
    r.header.local = true;
    return r;
  }
  const bool v4 = rest.substr(0, 5) == "TCP4 ";
  if (!v4 && rest.substr(0, 5) != "TCP6 ") return Fail("v1: bad protocol");
  rest.remove_prefix(5);
  // Exactly four fields separated by single spaces.
  std::string_view fields[4];
  for (int i = 0; i < 4; ++i) {
    size_t sp = rest.find(' ');
    if (i == 3) {
      if (sp != std::string_view::npos) return Fail("v1: bad format");
      fields[i] = rest;
    } else {
      if (sp == std::string_view::npos) return Fail("v1: bad format");
      fields[i] = rest.substr(0, sp);
      rest.remove_prefix(sp + 1);
    }
    if (fields[i].empty()) return Fail("v1: bad format");
  }
  auto parse_ip = v4 ? &IpAddress::ParseV4 : &IpAddress::ParseV6;
  std::optional<IpAddress> src = parse_ip(fields[0]);
  std::optional<IpAddress> dst = parse_ip(fields[1]);
  if (!src || !dst) return Fail("v1: bad address");
  // Ports are 0-65535 in decimal, without sign or leading zeros.
  std::optional<uint16_t> sport = net::ParsePort(fields[2]);
  std::optional<uint16_t> dport = net::ParsePort(fields[3]);
  if (!sport || !dport) return Fail("v1: bad port");
  r.status = DecodeStatus::kDone;
  r.consumed = consumed;
  r.header.command = "PROXY";
  r.header.local = false;
  r.header.source = SocketAddress{*src, *sport, false};
  r.header.destination = SocketAddress{*dst, *dport, false};
  return r;
}

DecodeResult DecodeV1(std::string_view in) {
  if (in.size() <= kV1Prefix.size()) return NeedMore();
  if (!ProtocolPrefixOk(in.substr(kV1Prefix.size()))) return Fail("v1: bad protocol");
  const std::string_view window = in.substr(0, kProxyV1MaxLength);
  const size_t cr = window.find('\r', kV1Prefix.size());
  // "The receiver must not tolerate a single CR or LF": an LF before the first CR is alone.
  const size_t lf = window.substr(0, cr).find('\n', kV1Prefix.size());
  if (lf != std::string_view::npos) return Fail("v1: bad line ending");
  if (cr == std::string_view::npos) {
    // "If the CRLF sequence is not found in the first 107 characters, the receiver should
    // declare the line invalid."
    if (in.size() >= kProxyV1MaxLength) return Fail("v1: header too long");
    return NeedMore();
  }
  if (cr + 1 >= kProxyV1MaxLength) return Fail("v1: header too long");
  if (cr + 1 >= in.size()) return NeedMore();
  if (in[cr + 1] != '\n') return Fail("v1: bad line ending");  // a lone CR
  return ParseV1Line(in.substr(0, cr), cr + 2);
}

// ---- v2 (section 2.2) ----

// The SSL TLV value is client(1) verify(4) followed by sub-TLVs (section 2.2.5).
bool SslValueWellFormed(std::string_view v) {
  if (v.size() < 5) return false;
  size_t pos = 5;
  while (pos < v.size()) {
    if (v.size() - pos < 3) return false;
    size_t len = ReadU16(v, pos + 1);
    pos += 3;
    if (len > v.size() - pos) return false;
    pos += len;
  }
  return true;
}

// Parses TLVs in header[offset, header.size()); returns an error reason or null.
const char* ParseTlvs(std::string_view header, size_t offset, std::vector<ProxyTlv>* tlvs) {
  size_t pos = offset;
  while (pos < header.size()) {
    // A TLV whose header or value crosses the end of the PROXY header is an error (HAProxy
    // reg-test proxy_protocol_tlv_validation).
    if (header.size() - pos < 3) return "v2: truncated tlv";
    const uint8_t type = static_cast<uint8_t>(header[pos]);
    const size_t len = ReadU16(header, pos + 1);
    const size_t value_at = pos + 3;
    if (len > header.size() - value_at) return "v2: truncated tlv";
    std::string_view value = header.substr(value_at, len);
    pos = value_at + len;
    switch (type) {
      case pp2::kTypeNoop:
        continue;  // padding: not kept, not capped (as HAProxy)
      case pp2::kTypeCrc32c: {
        if (len != 4) return kBadCrc32c;
        // Section 2.2.5: the checksum covers the whole header with the field itself zeroed.
        static constexpr char kZeros[4] = {};
        uint32_t crc = Crc32c(header.substr(0, value_at));
        crc = Crc32c(std::string_view(kZeros, 4), crc);
        crc = Crc32c(header.substr(pos), crc);
        if (crc != ReadU32(value, 0)) return kBadCrc32c;
        break;
      }
      case pp2::kTypeAuthority:
        if (len > pp2::kMaxAuthorityLength) return "v2: tlv too long";
        break;
      case pp2::kTypeUniqueId:
        if (len > pp2::kMaxUniqueIdLength) return "v2: tlv too long";
        break;
      case pp2::kTypeSsl:
        if (!SslValueWellFormed(value)) return "v2: bad ssl tlv";
        break;
      default:
        break;
    }
    if (len > pp2::kMaxTlvValueLength) return "v2: tlv too long";
    tlvs->push_back(ProxyTlv{type, std::string(value)});
  }
  return nullptr;
}

size_t AddressBlockLength(uint8_t family) {
  switch (family) {
    case kFamInet:
      return kInetBlock;
    case kFamInet6:
      return kInet6Block;
    case kFamUnix:
      return kUnixBlock;
    default:
      return 0;
  }
}

DecodeResult DecodeV2(std::string_view in) {
  if (in.size() > 12 && (static_cast<uint8_t>(in[12]) & 0xF0) != 0x20) {
    return Fail("v2: bad version");
  }
  if (in.size() < kProxyV2FixedLength) return NeedMore();
  const uint8_t command = static_cast<uint8_t>(in[12]) & 0x0F;
  const uint8_t family = static_cast<uint8_t>(in[13]) >> 4;
  const uint8_t transport = static_cast<uint8_t>(in[13]) & 0x0F;
  const size_t total = kProxyV2FixedLength + ReadU16(in, 14);
  if (command != kCmdLocal && command != kCmdProxy) return Fail("v2: bad command");
  if (command == kCmdProxy) {
    // "Other values are unspecified and must not be emitted in version 2 of this protocol and
    // must be rejected as invalid by receivers."
    const bool valid_pair = (family == kFamUnspec && transport == kTransUnspec) ||
                            (family >= kFamInet && family <= kFamUnix &&
                             (transport == kTransStream || transport == kTransDgram));
    if (!valid_pair) return Fail("v2: bad family");
    if (total - kProxyV2FixedLength < AddressBlockLength(family)) {
      return Fail("v2: short address block");
    }
  }
  // "Receivers MUST always consider this field to skip the appropriate number of bytes".
  if (in.size() < total) return NeedMore();
  std::string_view header = in.substr(0, total);

  DecodeResult r;
  r.header.version = 2;
  if (command == kCmdLocal) {
    // LOCAL: use the real endpoints whatever the family byte says; "discard the protocol
    // block including the family". AWS NLB health checks send LOCAL with family 0x11 and TLVs
    // right after the fixed part (as HAProxy parses them); TLVs that do not parse there are
    // discarded with the block, but a CRC32C that does not match still fails (2.2.5).
    r.header.command = "LOCAL";
    if (const char* err = ParseTlvs(header, kProxyV2FixedLength, &r.header.tlvs)) {
      if (std::string_view(err) == kBadCrc32c) return Fail(err);
      r.header.tlvs.clear();
    }
  } else {
    r.header.command = "PROXY";
    const size_t block = AddressBlockLength(family);
    const auto* p = reinterpret_cast<const uint8_t*>(header.data()) + kProxyV2FixedLength;
    if (family == kFamInet) {
      r.header.local = false;
      r.header.source.ip = IpAddress::FromBytes(header.substr(16, 4)).value();
      r.header.destination.ip = IpAddress::FromBytes(header.substr(20, 4)).value();
      r.header.source.port = ReadU16(header, 24);
      r.header.destination.port = ReadU16(header, 26);
    } else if (family == kFamInet6) {
      r.header.local = false;
      r.header.source.ip = IpAddress::FromV6Bytes(p);
      r.header.destination.ip = IpAddress::FromV6Bytes(p + 16);
      r.header.source.port = ReadU16(header, 48);
      r.header.destination.port = ReadU16(header, 50);
    }
    // UNSPEC: "the receiver is free to accept the connection anyway and use the real endpoints
    // addresses"; UNIX paths cannot stand in for an IP client either, so both stay local.
    if (const char* err = ParseTlvs(header, kProxyV2FixedLength + block, &r.header.tlvs)) {
      return Fail(err);
    }
  }
  r.status = DecodeStatus::kDone;
  r.consumed = total;
  return r;
}

std::optional<std::string_view> SslSub(const ProxyTlv* ssl, uint8_t subtype) {
  if (ssl == nullptr || ssl->value.size() < 5) return std::nullopt;
  std::string_view v = ssl->value;
  size_t pos = 5;
  while (v.size() - pos >= 3) {
    const uint8_t type = static_cast<uint8_t>(v[pos]);
    const size_t len = ReadU16(v, pos + 1);
    pos += 3;
    if (len > v.size() - pos) return std::nullopt;
    if (type == subtype) return v.substr(pos, len);
    pos += len;
  }
  return std::nullopt;
}

// "0xNN": hex digits of a value that fits a byte (nginx accepts "0x000ae").
std::optional<uint8_t> ParseHexType(std::string_view s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  unsigned v = 0;
  for (char c : s.substr(2)) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0) return std::nullopt;
    v = v * 16 + static_cast<unsigned>(d);
    if (v > 0xff) return std::nullopt;
  }
  return static_cast<uint8_t>(v);
}

struct NamedTlv {
  std::string_view name;
  uint8_t type;
  bool ssl_sub;
};

constexpr NamedTlv kNamedTlvs[] = {
    {"alpn", pp2::kTypeAlpn, false},
    {"authority", pp2::kTypeAuthority, false},
    {"unique_id", pp2::kTypeUniqueId, false},
    {"netns", pp2::kTypeNetns, false},
    {"ssl", pp2::kTypeSsl, false},
    {"ssl_version", pp2::kSubtypeSslVersion, true},
    {"ssl_cn", pp2::kSubtypeSslCn, true},
    {"ssl_cipher", pp2::kSubtypeSslCipher, true},
    {"ssl_sig_alg", pp2::kSubtypeSslSigAlg, true},
    {"ssl_key_alg", pp2::kSubtypeSslKeyAlg, true},
};

constexpr std::string_view kComputedTlvNames[] = {"ssl_verify", "aws_vpce_id", "azure_pl_id",
                                                  "gcp_conn_id"};

void AppendAddressV1(const SocketAddress& a, bool v6_line, std::string* out) {
  if (v6_line && a.ip.is_v4()) out->append("::ffff:");
  a.ip.AppendTo(out);
}

void AppendTlv(uint8_t type, std::string_view value, std::string* out) {
  REALIP_CHECK(value.size() <= 0xffff);
  out->push_back(static_cast<char>(type));
  AppendU16(static_cast<uint16_t>(value.size()), out);
  out->append(value);
}

}  // namespace

const ProxyTlv* ProxyHeader::FindTlv(uint8_t type) const {
  for (const ProxyTlv& tlv : tlvs) {
    if (tlv.type == type) return &tlv;
  }
  return nullptr;
}

std::optional<uint8_t> ProxyHeader::SslClient() const {
  const ProxyTlv* ssl = FindTlv(pp2::kTypeSsl);
  if (ssl == nullptr || ssl->value.size() < 5) return std::nullopt;
  return static_cast<uint8_t>(ssl->value[0]);
}

std::optional<uint32_t> ProxyHeader::SslVerify() const {
  const ProxyTlv* ssl = FindTlv(pp2::kTypeSsl);
  if (ssl == nullptr || ssl->value.size() < 5) return std::nullopt;
  return ReadU32(ssl->value, 1);
}

std::optional<std::string> ProxyHeader::SslSubTlv(uint8_t subtype) const {
  std::optional<std::string_view> v = SslSub(FindTlv(pp2::kTypeSsl), subtype);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::string> ProxyHeader::AwsVpceId() const {
  const ProxyTlv* t = FindTlv(pp2::kTypeAws);
  if (t == nullptr || t->value.empty() ||
      static_cast<uint8_t>(t->value[0]) != pp2::kSubtypeAwsVpceId) {
    return std::nullopt;
  }
  return t->value.substr(1);
}

std::optional<uint32_t> ProxyHeader::AzurePrivateLinkId() const {
  const ProxyTlv* t = FindTlv(pp2::kTypeAzure);
  if (t == nullptr || t->value.size() != 5 ||
      static_cast<uint8_t>(t->value[0]) != pp2::kSubtypeAzurePrivateLinkId) {
    return std::nullopt;
  }
  // Azure documents the LINKID as a little-endian UINT32.
  const auto* p = reinterpret_cast<const uint8_t*>(t->value.data()) + 1;
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

std::optional<uint64_t> ProxyHeader::GcpPscConnectionId() const {
  const ProxyTlv* t = FindTlv(pp2::kTypeGcp);
  if (t == nullptr || t->value.size() != 8) return std::nullopt;
  return static_cast<uint64_t>(ReadU32(t->value, 0)) << 32 | ReadU32(t->value, 4);
}

std::optional<std::string> ProxyHeader::TlvByName(std::string_view name) const {
  for (const NamedTlv& n : kNamedTlvs) {
    if (n.name != name) continue;
    if (n.ssl_sub) return SslSubTlv(n.type);
    const ProxyTlv* t = FindTlv(n.type);
    if (t == nullptr) return std::nullopt;
    return t->value;
  }
  if (name == "ssl_verify") {
    std::optional<uint32_t> v = SslVerify();
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
  }
  if (name == "aws_vpce_id") return AwsVpceId();
  if (name == "azure_pl_id") {
    std::optional<uint32_t> v = AzurePrivateLinkId();
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
  }
  if (name == "gcp_conn_id") {
    std::optional<uint64_t> v = GcpPscConnectionId();
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
  }
  if (name.substr(0, 4) == "ssl_") {
    std::optional<uint8_t> sub = ParseHexType(name.substr(4));
    return sub ? SslSubTlv(*sub) : std::nullopt;
  }
  std::optional<uint8_t> type = ParseHexType(name);
  if (!type) return std::nullopt;
  const ProxyTlv* t = FindTlv(*type);
  if (t == nullptr) return std::nullopt;
  return t->value;
}

bool IsValidTlvName(std::string_view name) {
  for (const NamedTlv& n : kNamedTlvs) {
    if (n.name == name) return true;
  }
  for (std::string_view n : kComputedTlvNames) {
    if (n == name) return true;
  }
  if (name.substr(0, 4) == "ssl_" && ParseHexType(name.substr(4))) return true;
  return ParseHexType(name).has_value();
}

DecodeResult DecodeProxyHeader(std::string_view buffered) {
  if (buffered.empty()) return NeedMore();
  // Section 2: v2 starts with its 12-byte signature, v1 with "PROXY "; the first bytes differ
  // ('\r' vs 'P'), so a prefix of either decides.
  size_t n = std::min(buffered.size(), kV2Signature.size());
  if (buffered.substr(0, n) == kV2Signature.substr(0, n)) return DecodeV2(buffered);
  n = std::min(buffered.size(), kV1Prefix.size());
  if (buffered.substr(0, n) == kV1Prefix.substr(0, n)) return DecodeV1(buffered);
  DecodeResult r;
  r.status = DecodeStatus::kNotProxy;
  return r;
}

std::string EncodeProxyV1(const SocketAddress& src, const SocketAddress& dst) {
  if (src.is_unix || dst.is_unix) return "PROXY UNKNOWN\r\n";
  const bool v6 = src.ip.is_v6() || dst.ip.is_v6();
  std::string out;
  out.reserve(kProxyV1MaxLength);
  out.append(v6 ? "PROXY TCP6 " : "PROXY TCP4 ");
  AppendAddressV1(src, v6, &out);
  out.push_back(' ');
  AppendAddressV1(dst, v6, &out);
  out.push_back(' ');
  out.append(std::to_string(src.port));
  out.push_back(' ');
  out.append(std::to_string(dst.port));
  out.append("\r\n");
  return out;
}

std::string EncodeProxyV2(const SocketAddress& src, const SocketAddress& dst,
                          const std::vector<ProxyTlv>& tlvs, bool add_crc32c) {
  std::string out(kV2Signature);
  const bool unix = src.is_unix || dst.is_unix;
  const bool v6 = !unix && (src.ip.is_v6() || dst.ip.is_v6());
  // Unix endpoints have no address to send: like HAProxy, send LOCAL so that the receiver uses
  // the connection's own addresses.
  out.push_back(static_cast<char>(unix ? 0x20 | kCmdLocal : 0x20 | kCmdProxy));
  out.push_back(static_cast<char>(unix ? 0x00 : v6 ? (kFamInet6 << 4 | kTransStream)
                                                   : (kFamInet << 4 | kTransStream)));
  out.append(2, '\0');  // length, written below
  if (!unix) {
    if (v6) {
      std::array<uint8_t, 16> s = src.ip.ToV6Bytes(), d = dst.ip.ToV6Bytes();
      out.append(reinterpret_cast<const char*>(s.data()), 16);
      out.append(reinterpret_cast<const char*>(d.data()), 16);
    } else {
      out.append(src.ip.Bytes());
      out.append(dst.ip.Bytes());
    }
    AppendU16(src.port, &out);
    AppendU16(dst.port, &out);
  }
  for (const ProxyTlv& tlv : tlvs) AppendTlv(tlv.type, tlv.value, &out);
  size_t crc_at = 0;
  if (add_crc32c) {
    AppendTlv(pp2::kTypeCrc32c, std::string_view("\0\0\0\0", 4), &out);
    crc_at = out.size() - 4;
  }
  const size_t len = out.size() - kProxyV2FixedLength;
  REALIP_CHECK(len <= 0xffff);
  out[14] = static_cast<char>(len >> 8);
  out[15] = static_cast<char>(len & 0xff);
  if (add_crc32c) {
    const uint32_t crc = Crc32c(out);
    out[crc_at] = static_cast<char>(crc >> 24);
    out[crc_at + 1] = static_cast<char>(crc >> 16);
    out[crc_at + 2] = static_cast<char>(crc >> 8);
    out[crc_at + 3] = static_cast<char>(crc);
  }
  return out;
}

std::string EncodeProxyV2Local() {
  std::string out(kV2Signature);
  out.append({static_cast<char>(0x20 | kCmdLocal), 0x00, 0x00, 0x00});
  return out;
}

}  // namespace realip::realip
