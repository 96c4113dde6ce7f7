#include "proxy/http/headers.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace realip::http {
namespace {

using ::testing::ElementsAre;

TEST(HeaderListTest, FindCountJoinRemoveIgnoreCase) {
  HeaderList h;
  h.Add("Host", "a");
  h.Add("X-Forwarded-For", "1.1.1.1");
  h.Add("x-forwarded-for", "2.2.2.2, 3.3.3.3");
  ASSERT_NE(h.Find("HOST"), nullptr);
  EXPECT_EQ(h.Find("host")->value, "a");
  EXPECT_EQ(h.Find("missing"), nullptr);
  EXPECT_EQ(h.Count("X-FORWARDED-FOR"), 2u);
  EXPECT_EQ(h.Joined("x-forwarded-for"), "1.1.1.1, 2.2.2.2, 3.3.3.3");
  EXPECT_EQ(h.Joined("nope"), "");
  EXPECT_EQ(h.Remove("X-Forwarded-FOR"), 2u);
  EXPECT_EQ(h.size(), 1u);
}

TEST(HeaderListTest, ListElementsTrimAndSkipEmpty) {
  std::vector<std::string> seen;
  ForEachListElement(" a ,,\tb\t, , c", [&](std::string_view e) { seen.emplace_back(e); });
  EXPECT_THAT(seen, ElementsAre("a", "b", "c"));
}

TEST(HeaderListTest, TokensAndConnectionOptions) {
  HeaderList h;
  h.Add("Connection", "keep-alive, X-Secret");
  h.Add("connection", "Upgrade");
  EXPECT_TRUE(HasToken(h, "connection", "upgrade"));
  EXPECT_FALSE(HasToken(h, "connection", "close"));
  std::vector<std::string> options = ConnectionOptions(h);
  EXPECT_THAT(options, ElementsAre("keep-alive", "x-secret", "upgrade"));
  struct Case {
    const char* name;
    bool hop;
  };
  for (const Case& c : {Case{"Connection", true}, Case{"KEEP-ALIVE", true},
                        Case{"Proxy-Connection", true}, Case{"te", true}, Case{"Trailer", true},
                        Case{"Transfer-Encoding", true}, Case{"Upgrade", true},
                        Case{"X-Secret", true}, Case{"Host", false}, Case{"X-Real-IP", false}}) {
    EXPECT_EQ(IsHopByHop(c.name, options), c.hop) << c.name;
  }
}

TEST(HeaderListTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(EqualsIgnoreCase("Content-Length", "Content-Lengt"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
}

}  // namespace
}  // namespace realip::http
