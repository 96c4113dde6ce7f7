#include "proxy/realip/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace realip::realip {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  // The CRC-32C "check" value (RFC 3720 appendix B.4 lists the same polynomial).
  EXPECT_EQ(Crc32c("123456789"), 0xe3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8a9136aau);  // RFC 3720 B.4: 32 bytes of zeros
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62a8ab43u);
}

TEST(Crc32cTest, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 7));
  const uint32_t whole = Crc32c(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    EXPECT_EQ(Crc32c(data.substr(split), Crc32c(data.substr(0, split))), whole) << split;
  }
}

TEST(Crc32cTest, HardwareAndPortableAgree) {
  EXPECT_EQ(internal::Crc32cPortable("123456789", 0), 0xe3069283u);
  std::string data;
  uint32_t seed = 1;
  for (int i = 0; i < 1000; ++i) {
    seed = seed * 1103515245 + 12345;
    data.push_back(static_cast<char>(seed >> 16));
  }
  for (size_t len = 0; len <= data.size(); len += 7) {
    for (size_t off = 0; off < 8; ++off) {  // every alignment
      std::string_view piece = std::string_view(data).substr(off, len);
      EXPECT_EQ(Crc32c(piece, 0x1234), internal::Crc32cPortable(piece, 0x1234)) << len;
    }
  }
}

}  // namespace
}  // namespace realip::realip
