#include "proxy/base/strings.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

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

// EqualsIgnoreCase compares eight bytes at a time from eight bytes on: it must agree with a
// byte-by-byte ASCII comparison for every length, every position of a difference, letters of
// either case and bytes that only look like letters once their high bit or case bit changes.
TEST(EqualsIgnoreCaseTest, AgreesWithBytewiseComparison) {
  auto bytewise = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
      if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  };
  // Every pair of byte values at every position of names 1 to 20 bytes long.
  for (size_t n = 1; n <= 20; ++n) {
    const std::string base = std::string("X-Forwarded-For-Abcd").substr(0, n);
    for (size_t pos = 0; pos < n; ++pos) {
      for (int x = 0; x < 256; ++x) {
        std::string a = base;
        a[pos] = static_cast<char>(x);
        for (int y : {x, x ^ 0x20, x ^ 0x80, x ^ 0xa0, 'a' + (x % 26), 'A' + (x % 26), int{'@'},
                      int{'['}, int{'`'}, int{'{'}}) {
          std::string b = base;
          b[pos] = static_cast<char>(y);
          ASSERT_EQ(EqualsIgnoreCase(a, b), bytewise(a, b))
              << "n=" << n << " pos=" << pos << " x=" << x << " y=" << y;
        }
      }
    }
  }
}

}  // namespace
}  // namespace realip::base
