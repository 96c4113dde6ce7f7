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

}  // namespace
}  // namespace realip::base
