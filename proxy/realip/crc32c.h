// CRC32C (Castagnoli), as used by the PROXY v2 CRC32C TLV (RFC 4960 appendix B).
#pragma once

#include <cstdint>
#include <string_view>

namespace realip::realip {

// Continues a CRC32C over `data`; start with crc = 0. Crc32c("123456789") == 0xe3069283.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

namespace internal {
// The table-driven implementation, used when the CPU lacks SSE4.2 (exposed for tests).
uint32_t Crc32cPortable(std::string_view data, uint32_t crc);
}  // namespace internal

}  // namespace realip::realip
