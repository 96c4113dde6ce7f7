#include "proxy/base/host_name.h"

#include <gtest/gtest.h>

#include <string>

namespace realip::base {
namespace {

TEST(ValidHostTest, AcceptsNamesAddressesAndPorts) {
  for (const char* host : {"a.test", "A.Test.", "a.test:8080", "a.test.:80", "127.0.0.1", "[::1]",
                           "[::1]:443", "xn--bcher-kva.example", "a_b.test", "1"}) {
    EXPECT_TRUE(ValidHost(host)) << host;
  }
}

TEST(ValidHostTest, RefusesWhatNginxRefuses) {
  for (const std::string& host :
       {std::string(""), std::string("."), std::string(":80"), std::string(".:80"),
        std::string("a..b"), std::string("x/..a.test"), std::string("a/b"), std::string("a b"),
        std::string("a\tb"), std::string("a\x7f"), std::string("a\0b", 3), std::string("a..")}) {
    EXPECT_FALSE(ValidHost(host)) << host;
  }
}

}  // namespace
}  // namespace realip::base
