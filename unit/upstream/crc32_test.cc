#include "proxy/upstream/crc32.h"

#include <gtest/gtest.h>

#include <string>

namespace realip::upstream::internal {
namespace {

struct Crc32Case {
  const char* name;
  std::string data;
  uint32_t crc;
};

// Check values of CRC-32/ISO-HDLC (the zlib CRC) from the CRC catalogue and zlib's crc32().
const Crc32Case kCases[] = {
    {"empty", "", 0x00000000},
    {"check_string", "123456789", 0xcbf43926},
    {"single_a", "a", 0xe8b7be43},
    {"fox", "The quick brown fox jumps over the lazy dog", 0x414fa339},
    {"nul_byte", std::string(1, '\0'), 0xd202ef8d},
};

TEST(Crc32Test, KnownValues) {
  for (const Crc32Case& c : kCases) {
    EXPECT_EQ(Crc32(c.data), c.crc) << c.name;
  }
}

TEST(Crc32Test, ContinuingAtEverySplitEqualsWhole) {
  for (const Crc32Case& c : kCases) {
    for (size_t cut = 0; cut <= c.data.size(); ++cut) {
      std::string_view all(c.data);
      EXPECT_EQ(Crc32(all.substr(cut), Crc32(all.substr(0, cut))), c.crc) << c.name << " " << cut;
    }
    uint32_t crc = 0;
    for (char ch : c.data) crc = Crc32(std::string_view(&ch, 1), crc);
    EXPECT_EQ(crc, c.crc) << c.name << " byte by byte";
  }
}

}  // namespace
}  // namespace realip::upstream::internal
