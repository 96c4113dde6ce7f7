#include "proxy/server/buffer.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace realip::server {
namespace {

TEST(BufferTest, AppendConsumeReserveCommit) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  b.Append("hello ");
  char* p = b.Reserve(16);
  std::memcpy(p, "world", 5);
  b.Commit(5);
  EXPECT_EQ(b.view(), "hello world");
  b.Consume(6);
  EXPECT_EQ(b.view(), "world");
  b.Consume(5);
  EXPECT_TRUE(b.empty());
  b.AppendChunk("abc");
  b.AppendChunk("");
  EXPECT_EQ(b.view(), "3\r\nabc\r\n");
  b.Release();
  EXPECT_EQ(b.size(), 0u);
}

TEST(BufferTest, LongStreamStaysCompact) {
  Buffer b;
  std::string block(4096, 'x');
  for (int i = 0; i < 1000; ++i) {
    b.Append(block);
    b.Consume(block.size() - 1);  // leave one byte each time: never fully empty
  }
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.view(), std::string(1000, 'x'));
}

}  // namespace
}  // namespace realip::server
