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
  ConnectionOptionList options = ConnectionOptions(h);
  EXPECT_THAT(options, ElementsAre("keep-alive", "X-Secret", "Upgrade"));
  struct Case {
    const char* name;
    bool hop;
  };
  for (const Case& c : {Case{"Connection", true}, Case{"KEEP-ALIVE", true},
                        Case{"Proxy-Connection", true}, Case{"te", true}, Case{"Trailer", true},
                        Case{"Transfer-Encoding", true}, Case{"Upgrade", true},
                        Case{"X-Secret", true}, Case{"Host", false}, Case{"X-Real-IP", false},
                        // The lengths of hop-by-hop names, other names.
                        Case{"t", false}, Case{"Referer", false}, Case{"Set-Cookie", false},
                        Case{"Content-Location", false}, Case{"If-Modified-Since", false}}) {
    HeaderList one;  // the list gives the line its id
    one.Add(c.name, "v");
    EXPECT_EQ(IsHopByHop(one.lines()[0], options), c.hop) << c.name;
  }
}

TEST(HeaderListTest, ClearedListReusesItsLinesAndRemoveKeepsOrder) {
  HeaderList h;
  h.Add("A-Long-Header-Name-Here", "a value long enough to live on the heap");
  h.Add("B", "2");
  h.Add("C", "3");
  h.Clear();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.begin(), h.end());
  EXPECT_EQ(h.Find("b"), nullptr);
  h.Add("X", "1");
  h.Add("Y", "2");
  h.Add("x", "3");
  h.Add("Z", "4");
  EXPECT_EQ(h.size(), 4u);
  EXPECT_EQ(h.Joined("x"), "1, 3");
  EXPECT_EQ(h.Remove("X"), 2u);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.lines()[0].name, "Y");
  EXPECT_EQ(h.lines()[1].name, "Z");
  EXPECT_EQ(h.Count("x"), 0u);
  h.Add("W", "5");  // reuses a removed line's slot
  EXPECT_EQ(h.lines()[2].name, "W");
  EXPECT_EQ(h.lines()[2].value, "5");
}

TEST(HeaderListTest, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(EqualsIgnoreCase("Content-Length", "Content-Lengt"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
}

}  // namespace
}  // namespace realip::http
