#include "proxy/upstream/crc32.h"

#include <array>

namespace realip::upstream::internal {
namespace {

// Reflected polynomial 0x04C11DB7 (ISO 3309 / ITU-T V.42), the CRC that zlib and nginx's
// ngx_crc32_long use; one 256-entry table is enough for keys of a few dozen bytes.
constexpr uint32_t kPoly = 0xEDB88320;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[i] = c;
  }
  return t;
}

constexpr auto kTable = MakeTable();

}  // namespace

uint32_t Crc32(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char ch : data) crc = (crc >> 8) ^ kTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff];
  return ~crc;
}

}  // namespace realip::upstream::internal
