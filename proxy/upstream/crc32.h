// CRC-32 (IEEE 802.3, the zlib/gzip polynomial), as nginx's ngx_crc32 computes it for the
// `hash` balancers. Not to be confused with CRC32C in proxy/realip/crc32c.h.
#pragma once

#include <cstdint>
#include <string_view>

namespace realip::upstream::internal {

// Continues a CRC-32 over `data`; start with crc = 0. Crc32("123456789") == 0xcbf43926.
uint32_t Crc32(std::string_view data, uint32_t crc = 0);

}  // namespace realip::upstream::internal
