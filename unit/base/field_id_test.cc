#include "proxy/base/field_id.h"

#include <gtest/gtest.h>

#include <string>

namespace realip::base {
namespace {

TEST(FieldIdTest, EveryKnownNameInAnyCase) {
  struct Case {
    const char* name;
    FieldId id;
  };
  for (const Case& c :
       {Case{"connection", FieldId::kConnection}, Case{"content-length", FieldId::kContentLength},
        Case{"cookie", FieldId::kCookie}, Case{"date", FieldId::kDate},
        Case{"expect", FieldId::kExpect}, Case{"forwarded", FieldId::kForwarded},
        Case{"host", FieldId::kHost}, Case{"keep-alive", FieldId::kKeepAlive},
        Case{"proxy-connection", FieldId::kProxyConnection}, Case{"server", FieldId::kServer},
        Case{"te", FieldId::kTe}, Case{"trailer", FieldId::kTrailer},
        Case{"transfer-encoding", FieldId::kTransferEncoding}, Case{"upgrade", FieldId::kUpgrade},
        Case{"x-forwarded-for", FieldId::kXForwardedFor}, Case{"x-real-ip", FieldId::kXRealIp},
        Case{"content-type", FieldId::kContentType}}) {
    std::string name = c.name;
    EXPECT_EQ(ClassifyField(name), c.id) << name;
    for (char& ch : name) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    EXPECT_EQ(ClassifyField(name), c.id) << name;
    name[0] = static_cast<char>(name[0] + 32);  // mixed case
    EXPECT_EQ(ClassifyField(name), c.id) << name;
  }
}

TEST(FieldIdTest, OtherNamesOfTheSameLengthsAreOther) {
  // Same length and first letter as a known name, or a byte that only case-folds by a
  // careless OR of 0x20 ('@' and '`', '\r' and '-').
  for (const char* name : {"",
                           "t",
                           "ta",
                           "tE-",
                           "Data",
                           "hoSt\x01",
                           "Hosts",
                           "cookies",
                           "Expects",
                           "servers",
                           "trailers",
                           "upgraded",
                           "forwarder",
                           "x-real-id",
                           "connectiom",
                           "keep_alive",
                           "content-lengtH ",
                           "x-forwarded-fox",
                           "proxy-connection2",
                           "transfer-encodinG?",
                           "transfer\rencoding",
                           "@ost",
                           "`ost",
                           "X-Forwarded-Host",
                           "Referer",
                           "Content-Typo",
                           "content_type",
                           "Content-Types",
                           "Set-Cookie",
                           "If-Modified-Since"}) {
    EXPECT_EQ(ClassifyField(name), FieldId::kOther) << name;
  }
  EXPECT_EQ(ClassifyField(std::string_view("host\0", 5)), FieldId::kOther);
  EXPECT_EQ(ClassifyField(std::string_view("ho\0t", 4)), FieldId::kOther);
}

TEST(FieldIdTest, BitsAreDistinct) {
  uint32_t seen = 0;
  for (int i = 0; i <= static_cast<int>(FieldId::kContentType); ++i) {
    const uint32_t bit = FieldBit(static_cast<FieldId>(i));
    EXPECT_EQ(seen & bit, 0u) << i;
    seen |= bit;
  }
}

}  // namespace
}  // namespace realip::base
