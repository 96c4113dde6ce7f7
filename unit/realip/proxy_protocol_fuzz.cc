// Fuzz target for the PROXY decoder: no crash, and every accepted header is consistent
// (stable under more bytes, prefixes need more, re-encoding yields the same addresses/TLVs).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/base/check.h"
#include "proxy/realip/proxy_protocol.h"

using realip::realip::DecodeProxyHeader;
using realip::realip::DecodeResult;
using realip::realip::DecodeStatus;
using realip::realip::ProxyTlv;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  DecodeResult r = DecodeProxyHeader(in);
  if (r.status != DecodeStatus::kDone) {
    REALIP_CHECK(r.consumed == 0);
    REALIP_CHECK((r.status == DecodeStatus::kError) == !r.error.empty());
    return 0;
  }
  REALIP_CHECK(r.consumed > 0 && r.consumed <= size);
  REALIP_CHECK(r.header.version == 1 || r.header.version == 2);
  if (r.header.version == 1) REALIP_CHECK(r.consumed <= realip::realip::kProxyV1MaxLength);
  // The verdict depends on the header bytes only.
  DecodeResult exact = DecodeProxyHeader(in.substr(0, r.consumed));
  REALIP_CHECK(exact.status == DecodeStatus::kDone && exact.consumed == r.consumed);
  if (r.consumed <= 512) {
    for (size_t k = 1; k < r.consumed; ++k) {
      REALIP_CHECK(DecodeProxyHeader(in.substr(0, k)).status == DecodeStatus::kNeedMore);
    }
  }
  if (!r.header.local) {
    std::string v1 = realip::realip::EncodeProxyV1(r.header.source, r.header.destination);
    DecodeResult back = DecodeProxyHeader(v1);
    REALIP_CHECK(back.status == DecodeStatus::kDone);
    REALIP_CHECK(back.header.source == r.header.source);
    REALIP_CHECK(back.header.destination == r.header.destination);
    std::vector<ProxyTlv> tlvs;
    for (const ProxyTlv& t : r.header.tlvs) {
      if (t.type != realip::realip::pp2::kTypeCrc32c) tlvs.push_back(t);
    }
    std::string v2 = realip::realip::EncodeProxyV2(r.header.source, r.header.destination, tlvs,
                                                   true);
    back = DecodeProxyHeader(v2);
    REALIP_CHECK(back.status == DecodeStatus::kDone && back.consumed == v2.size());
    REALIP_CHECK(back.header.source == r.header.source);
    REALIP_CHECK(back.header.tlvs.size() == tlvs.size() + 1);
  }
  for (std::string_view name : {"alpn", "authority", "ssl_cn", "ssl_verify", "aws_vpce_id",
                                "azure_pl_id", "gcp_conn_id", "0xe0", "ssl_0x21"}) {
    (void)r.header.TlvByName(name);
  }
  return 0;
}
