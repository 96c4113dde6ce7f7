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

}  // namespace
}  // namespace realip::realip
