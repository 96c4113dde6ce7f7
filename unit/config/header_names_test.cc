#include "proxy/config/header_names.h"

#include <string>

#include "gtest/gtest.h"

namespace realip::config {
namespace {

TEST(HeaderNameSetTest, DefaultsInAnyCaseAndNothingElse) {
  HeaderNameSet set = BuildHiddenHeaders({}, {});
  for (const char* name :
       {"Date", "date", "DATE", "Server", "sErVeR", "X-Pad", "x-pad", "X-Accel-Expires",
        "X-Accel-Redirect", "X-Accel-Limit-Rate", "X-Accel-Buffering", "x-accel-charset"}) {
    EXPECT_TRUE(set.Contains(name)) << name;
  }
  // Same length and first letter as a member (the bit test passes), or neither.
  const std::string long_name(200, 'x');
  for (const char* name :
       {"", "Dave", "ETag", "Vary", "Serve", "Servers", "Sxxxxx", "X-Pod", "X-Accel-Other",
        "X-Accel-Expirez", "Content-Length", "Connection", "x", long_name.c_str()}) {
    EXPECT_FALSE(set.Contains(name)) << name;
  }
}

TEST(HeaderNameSetTest, HideAddsPassRemoves) {
  HeaderNameSet set = BuildHiddenHeaders({"x-powered-by", "date"}, {"Server", "X-Powered-By"});
  EXPECT_TRUE(set.Contains("Date"));
  EXPECT_FALSE(set.Contains("Server"));
  EXPECT_FALSE(set.Contains("X-Powered-By"));
  EXPECT_EQ(set.names().size(), 7u);  // "date" is not added twice
}

TEST(HeaderNameSetTest, ContentLengthIsNeverHidden) {
  HeaderNameSet set = BuildHiddenHeaders({"Content-Length", "Content-Type"}, {});
  EXPECT_FALSE(set.Contains("Content-Length"));
  EXPECT_TRUE(set.Contains("Content-Type"));
}

TEST(HeaderNameSetTest, LongNamesShareTheLastSlot) {
  const std::string a = "X-" + std::string(70, 'a');
  const std::string b = "X-" + std::string(90, 'b');
  HeaderNameSet set;
  set.Insert(a);
  EXPECT_TRUE(set.Contains(a));
  EXPECT_FALSE(set.Contains(b));
  set.Insert(b);
  set.Erase(a);
  EXPECT_FALSE(set.Contains(a));
  EXPECT_TRUE(set.Contains(b));
}

TEST(HeaderNameSetTest, EraseClearsTheBitOnlyWhenNoOtherNameNeedsIt) {
  HeaderNameSet set;
  set.Insert("Date");
  set.Insert("dave");
  set.Erase("DATE");
  EXPECT_FALSE(set.Contains("date"));
  EXPECT_TRUE(set.Contains("Dave"));
  set.Erase("dave");
  EXPECT_FALSE(set.Contains("dave"));
  EXPECT_TRUE(set.names().empty());
}

}  // namespace
}  // namespace realip::config
