#include "proxy/base/strings.h"

#include <gtest/gtest.h>

namespace realip::base {
namespace {

TEST(UnescapeTest, Cases) {
  EXPECT_EQ(UnescapeNginxWord(R"(\"\'\\)"), "\"'\\");
  EXPECT_EQ(UnescapeNginxWord(R"(\t\r\n)"), "\t\r\n");
  EXPECT_EQ(UnescapeNginxWord(R"(\x\)"), R"(\x\)");
  EXPECT_EQ(UnescapeNginxWord(""), "");
}

TEST(ParseNginxSizeTest, Table) {
  struct Case {
    const char* text;
    std::optional<uint64_t> want;
  };
  const Case cases[] = {
      {"0", 0},           {"512", 512},          {"1k", 1024},       {"8K", 8192},
      {"10m", 10 << 20},  {"2G", uint64_t{2} << 30}, {"4611686018427387904", uint64_t{1} << 62},
      {"4611686018427387905", std::nullopt},     {"4294967297g", std::nullopt},
      {"", std::nullopt}, {"k", std::nullopt},   {"1kb", std::nullopt}, {"1x", std::nullopt},
      {"-1", std::nullopt}, {" 1", std::nullopt}, {"1.5m", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ParseNginxSize(c.text), c.want) << c.text;
}

TEST(ParseDecimalTest, DigitsOnlyUpToTheBound) {
  EXPECT_EQ(ParseDecimal("0", 10), 0u);
  EXPECT_EQ(ParseDecimal("10", 10), 10u);
  EXPECT_EQ(ParseDecimal("11", 10), std::nullopt);
  EXPECT_EQ(ParseDecimal("18446744073709551615", UINT64_MAX), UINT64_MAX);
  EXPECT_EQ(ParseDecimal("18446744073709551616", UINT64_MAX), std::nullopt);
  EXPECT_EQ(ParseDecimal("", 10), std::nullopt);
  EXPECT_EQ(ParseDecimal("+1", 10), std::nullopt);
  EXPECT_EQ(ParseDecimal("1 ", 10), std::nullopt);
}

}  // namespace
}  // namespace realip::base
