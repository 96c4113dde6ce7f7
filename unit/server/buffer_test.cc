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

TEST(BufferTest, LongStreamKeepsOneBlock) {
  Buffer b;
  std::string block(4096, 'y');
  for (int i = 0; i < 1000; ++i) {
    b.Append(block);
    b.Consume(block.size() - 1);
  }
  // The unconsumed bytes move to the front instead of the buffer growing.
  EXPECT_EQ(b.capacity(), Buffer::kBlockSize);
}

TEST(BufferTest, ReadRoomUsesTheFreeTailOfTheBlock) {
  Buffer b;
  size_t room = b.ReadRoom(4096, Buffer::kBlockSize);
  EXPECT_EQ(room, Buffer::kBlockSize);
  std::memset(b.tail(), 'a', 100);
  b.Commit(100);
  // 100 bytes left unconsumed: the next read gets the rest of the block, not a bigger one.
  room = b.ReadRoom(4096, Buffer::kBlockSize);
  EXPECT_EQ(room, Buffer::kBlockSize - 100);
  EXPECT_EQ(b.capacity(), Buffer::kBlockSize);
  std::memset(b.tail(), 'b', room);
  b.Commit(room);
  // Full: at least the minimum is found, here by growing; the contents stay.
  room = b.ReadRoom(4096, Buffer::kBlockSize);
  EXPECT_GE(room, 4096u);
  EXPECT_EQ(b.size(), Buffer::kBlockSize);
  EXPECT_EQ(b.view().substr(0, 100), std::string(100, 'a'));
  EXPECT_EQ(b.view().substr(100), std::string(Buffer::kBlockSize - 100, 'b'));
}

TEST(BufferTest, GrowsPastOneBlockAndKeepsOrder) {
  Buffer b;
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    std::string piece = std::to_string(i) + ",";
    b.Append(piece);
    expected += piece;
  }
  EXPECT_GT(b.capacity(), Buffer::kBlockSize);
  EXPECT_EQ(b.view(), expected);
  b.Consume(7);
  EXPECT_EQ(b.view(), expected.substr(7));
}

TEST(BufferTest, ReleaseGivesTheMemoryBackAndTheBufferStaysUsable) {
  Buffer b;
  b.Append("abc");
  EXPECT_EQ(b.capacity(), Buffer::kBlockSize);
  b.Release();
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());
  b.Append("def");
  EXPECT_EQ(b.view(), "def");
  b.Clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), Buffer::kBlockSize);  // Clear keeps the memory
}

TEST(BufferTest, MoveTransfersTheContents) {
  Buffer a;
  a.Append("payload");
  Buffer b(std::move(a));
  EXPECT_EQ(b.view(), "payload");
  EXPECT_EQ(a.capacity(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  Buffer c;
  c.Append("old");
  c = std::move(b);
  EXPECT_EQ(c.view(), "payload");
}

TEST(BufferTest, ChunkFramingAcrossAFullBlock) {
  Buffer b;
  std::string big(Buffer::kBlockSize - 3, 'z');
  b.Append(big);
  b.AppendChunk("0123456789");
  EXPECT_EQ(b.view(), big + "a\r\n0123456789\r\n");
}

TEST(BufferTest, FreeingTheBlockCacheLeavesBuffersUsable) {
  {
    Buffer a, b;
    a.Append("x");
    b.Append("y");
  }  // both blocks go to this thread's cache
  Buffer::FreeCachedBlocks();
  Buffer c;
  c.Append("after");
  EXPECT_EQ(c.view(), "after");
  EXPECT_EQ(c.capacity(), Buffer::kBlockSize);
  Buffer::FreeCachedBlocks();  // nothing cached: a no-op
}

}  // namespace
}  // namespace realip::server
