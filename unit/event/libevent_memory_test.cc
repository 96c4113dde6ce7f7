#include "proxy/event/libevent_memory.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/event/loop.h"

namespace realip::event {
namespace {

using internal::CompactArena;
using std::chrono::milliseconds;

constexpr size_t kPage = CompactArena::kPageSize;

uintptr_t Address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

TEST(CompactArenaTest, SmallRequestsComeFromTheRegionAndAreReusedAfterFree) {
  CompactArena arena(16 * kPage);
  ASSERT_TRUE(arena.has_region());
  for (size_t size = 1; size <= CompactArena::kMaxSmall; ++size) {
    SCOPED_TRACE(size);
    void* p = arena.Malloc(size);
    ASSERT_TRUE(arena.Owns(p));
    const size_t class_size = (size + 7) / 8 * 8;
    EXPECT_EQ(Address(p) % 8, 0u);
    if (class_size % 16 == 0) {
      EXPECT_EQ(Address(p) % 16, 0u);
    }
    std::memset(p, 0xab, size);
    arena.Free(p);
    EXPECT_EQ(arena.Malloc(size), p);  // LIFO: the block just freed comes back
    arena.Free(p);
  }
  // One page per size class, nothing left allocated.
  CompactLibeventStats stats = arena.stats();
  EXPECT_EQ(stats.pages_used, CompactArena::kMaxSmall / CompactArena::kClassStep);
  EXPECT_EQ(stats.blocks_in_use, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

TEST(CompactArenaTest, BlocksOfAClassArePackedSideBySide) {
  CompactArena arena(16 * kPage);
  void* a = arena.Malloc(16);
  void* b = arena.Malloc(13);  // same class as 16
  void* c = arena.Malloc(24);  // another class, another page
  EXPECT_EQ(Address(b), Address(a) + 16);
  EXPECT_EQ(Address(c) / kPage, Address(a) / kPage + 1);
  EXPECT_EQ(arena.stats().blocks_in_use, 3u);
  EXPECT_EQ(arena.stats().bytes_in_use, 16u + 16u + 24u);
  arena.Free(a);
  arena.Free(b);
  arena.Free(c);
}

TEST(CompactArenaTest, LargeAndEmptyRequestsGoToMalloc) {
  CompactArena arena(16 * kPage);
  void* large = arena.Malloc(CompactArena::kMaxSmall + 1);
  ASSERT_NE(large, nullptr);
  EXPECT_FALSE(arena.Owns(large));
  arena.Free(large);  // ASan reports it if this does not reach libc's free
  arena.Free(arena.Malloc(0));
  arena.Free(nullptr);
  EXPECT_EQ(arena.stats().pages_used, 0u);
}

TEST(CompactArenaTest, ReallocWithinTheClassKeepsTheBlock) {
  CompactArena arena(16 * kPage);
  void* p = arena.Malloc(20);
  EXPECT_EQ(arena.Realloc(p, 24), p);
  EXPECT_EQ(arena.Realloc(p, 1), p);
  arena.Free(p);
}

TEST(CompactArenaTest, ReallocGrowingFrom24To200PreservesContents) {
  CompactArena arena(16 * kPage);
  auto* p = static_cast<unsigned char*>(arena.Malloc(24));
  ASSERT_TRUE(arena.Owns(p));
  for (int i = 0; i < 24; ++i) p[i] = static_cast<unsigned char>(i + 1);

  auto* mid = static_cast<unsigned char*>(arena.Realloc(p, 40));  // a larger class, still ours
  ASSERT_TRUE(arena.Owns(mid));
  EXPECT_NE(mid, p);
  for (int i = 0; i < 24; ++i) ASSERT_EQ(mid[i], i + 1);
  EXPECT_EQ(arena.stats().blocks_in_use, 1u);

  auto* big = static_cast<unsigned char*>(arena.Realloc(mid, 200));
  ASSERT_NE(big, nullptr);
  EXPECT_FALSE(arena.Owns(big));
  for (int i = 0; i < 24; ++i) ASSERT_EQ(big[i], i + 1);
  std::memset(big + 24, 0, 176);  // all of it is usable
  EXPECT_EQ(arena.stats().blocks_in_use, 0u);
  arena.Free(big);
}

TEST(CompactArenaTest, MallocPointersPassThroughFreeAndRealloc) {
  CompactArena arena(16 * kPage);
  // What libevent allocated before the functions were installed.
  arena.Free(std::malloc(24));
  auto* p = static_cast<char*>(std::malloc(24));
  std::memcpy(p, "twenty-three characters", 24);
  auto* q = static_cast<char*>(arena.Realloc(p, 200));
  ASSERT_NE(q, nullptr);
  EXPECT_FALSE(arena.Owns(q));
  EXPECT_STREQ(q, "twenty-three characters");
  // A malloc'ed block stays with malloc even when it shrinks to a small size.
  auto* r = static_cast<char*>(arena.Realloc(q, 8));
  EXPECT_FALSE(arena.Owns(r));
  arena.Free(r);

  void* fresh = arena.Realloc(nullptr, 24);
  EXPECT_TRUE(arena.Owns(fresh));
  arena.Free(fresh);
  EXPECT_EQ(arena.stats().blocks_in_use, 0u);
}

TEST(CompactArenaTest, FullRegionFallsBackToMalloc) {
  CompactArena arena(2 * kPage);
  std::vector<void*> blocks;
  for (size_t i = 0; i < 2 * kPage / 64; ++i) {
    blocks.push_back(arena.Malloc(64));
    ASSERT_TRUE(arena.Owns(blocks.back()));
  }
  void* extra = arena.Malloc(64);
  void* other_class = arena.Malloc(8);  // no page left to give it
  EXPECT_FALSE(arena.Owns(extra));
  EXPECT_FALSE(arena.Owns(other_class));
  EXPECT_EQ(arena.stats().malloc_fallbacks, 2u);
  arena.Free(extra);
  arena.Free(other_class);
  arena.Free(blocks.back());
  blocks.pop_back();
  void* again = arena.Malloc(64);
  EXPECT_TRUE(arena.Owns(again));  // freed blocks still serve their class
  arena.Free(again);
  for (void* b : blocks) arena.Free(b);
  EXPECT_EQ(arena.stats().blocks_in_use, 0u);
}

TEST(CompactArenaTest, NoRegionMeansMallocForEverything) {
  CompactArena arena(kPage - 1);  // less than one page: nothing is reserved
  EXPECT_FALSE(arena.has_region());
  void* p = arena.Malloc(16);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(arena.Owns(p));
  arena.Free(p);
}

#if defined(__SANITIZE_ADDRESS__)
#define REALIP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REALIP_TEST_ASAN 1
#endif
#endif

#ifdef REALIP_TEST_ASAN
// The region is not malloc's, so ASan knows its blocks only through the arena's poisoning.
TEST(CompactArenaDeathTest, FreeBlocksArePoisonedUnderAsan) {
  CompactArena arena(16 * kPage);
  auto* p = static_cast<volatile char*>(arena.Malloc(16));
  p[15] = 1;
  arena.Free(const_cast<char*>(p));
  EXPECT_DEATH(p[8] = 1, "use-after-poison");
  auto* fresh = static_cast<volatile char*>(arena.Malloc(40));
  EXPECT_DEATH((void)fresh[40], "use-after-poison");  // the page's untouched rest
  arena.Free(const_cast<char*>(fresh));
}
#endif

// Each thread fills its blocks with its own byte and checks it before freeing: a block handed
// to two owners at once, or a free list corrupted by a race, shows up as a wrong byte (or as
// an ASan report, since free blocks are poisoned).
TEST(CompactArenaTest, ManyThreadsAllocateAndFreeConcurrently) {
  CompactArena arena(256 * kPage);
  constexpr int kThreads = 8;
  constexpr int kRounds = 20000;
  std::vector<std::thread> threads;
  std::vector<int> corrupted(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&arena, &corrupted, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      const auto mark = static_cast<unsigned char>(t + 1);
      std::vector<std::pair<unsigned char*, size_t>> live;
      auto release = [&](size_t i) {
        auto [p, size] = live[i];
        for (size_t k = 0; k < size; ++k) {
          if (p[k] != mark) ++corrupted[t];
        }
        arena.Free(p);
        live[i] = live.back();
        live.pop_back();
      };
      for (int round = 0; round < kRounds; ++round) {
        const unsigned action = rng() % 8;
        if (live.empty() || action < 4) {
          const size_t size = 1 + rng() % 80;  // mostly small, some for malloc
          auto* p = static_cast<unsigned char*>(arena.Malloc(size));
          std::memset(p, mark, size);
          live.emplace_back(p, size);
        } else if (action == 4) {
          // Grow a block, as libevent grows its arrays.
          auto& [p, size] = live[rng() % live.size()];
          const size_t grown_size = size + 1 + rng() % 40;
          auto* grown = static_cast<unsigned char*>(arena.Realloc(p, grown_size));
          std::memset(grown + size, mark, grown_size - size);
          p = grown;
          size = grown_size;
        } else {
          release(rng() % live.size());
        }
      }
      while (!live.empty()) release(live.size() - 1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(corrupted[t], 0) << "thread " << t;
  CompactLibeventStats stats = arena.stats();
  EXPECT_EQ(stats.blocks_in_use, 0u);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_EQ(stats.malloc_fallbacks, 0u);
}

// Reads one end of a socketpair until it has `want` bytes.
class Reader : public IoHandler {
 public:
  Reader(EventLoop* loop, int fd, size_t want) : loop_(loop), fd_(fd), want_(want) {}
  void OnIo(bool readable, bool, bool) override {
    if (!readable) return;
    char buf[64];
    ssize_t n;
    while ((n = read(fd_, buf, sizeof(buf))) > 0) data.append(buf, static_cast<size_t>(n));
    if (data.size() >= want_) loop_->Stop();
  }
  std::string data;

 private:
  EventLoop* loop_;
  int fd_;
  size_t want_;
};

TEST(CompactLibeventMemoryTest, InstallingTwiceIsHarmless) {
  UseCompactLibeventMemory();
  const CompactLibeventStats first = GetCompactLibeventStats();
  UseCompactLibeventMemory();
  EXPECT_GT(first.region_bytes, 0u);
  EXPECT_EQ(GetCompactLibeventStats().region_bytes, first.region_bytes);
}

TEST(CompactLibeventMemoryTest, EventLoopRunsWithTheAllocatorInstalled) {
  UseCompactLibeventMemory();
  const size_t blocks_before_loop = GetCompactLibeventStats().blocks_in_use;
  {
    std::unique_ptr<EventLoop> loop = EventLoop::Create().value();
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    Reader reader(loop.get(), fds[0], 5);
    IoWatcher watcher;
    const size_t blocks_before_watch = GetCompactLibeventStats().blocks_in_use;
    ASSERT_TRUE(watcher.Watch(*loop, fds[0], &reader).ok());
    // The first use of a descriptor number allocates the base's small per-fd record.
    EXPECT_EQ(GetCompactLibeventStats().blocks_in_use, blocks_before_watch + 1);

    Timer timer;
    ASSERT_TRUE(timer.Init(*loop, [&] { ASSERT_EQ(write(fds[1], "hello", 5), 5); }).ok());
    timer.Arm(milliseconds(1));
    loop->Run();  // the timer writes, the watcher reads, the reader stops the loop
    EXPECT_EQ(reader.data, "hello");
    EXPECT_FALSE(timer.armed());

    watcher.Stop();
    close(fds[0]);
    close(fds[1]);
  }
  // Freeing the base gives every small block back.
  EXPECT_EQ(GetCompactLibeventStats().blocks_in_use, blocks_before_loop);
}

// libevent may allocate through malloc before the functions are installed; a base created
// then must keep working and be freed correctly afterwards. (In a process where another test
// installed them first, this is just one more loop.)
TEST(CompactLibeventMemoryTest, LoopCreatedBeforeInstallingIsFreedSafely) {
  std::unique_ptr<EventLoop> loop = EventLoop::Create().value();
  UseCompactLibeventMemory();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  // Descriptors numbered far above any used so far make the base grow its fd map, allocated
  // by malloc and now reallocated through our functions.
  const int high = fcntl(fds[0], F_DUPFD, 200);
  ASSERT_GE(high, 200);
  Reader reader(loop.get(), high, 2);
  IoWatcher watcher;
  ASSERT_TRUE(watcher.Watch(*loop, high, &reader).ok());
  ASSERT_EQ(write(fds[1], "ok", 2), 2);
  loop->Run();
  EXPECT_EQ(reader.data, "ok");
  watcher.Stop();
  loop.reset();
  close(high);
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace realip::event
