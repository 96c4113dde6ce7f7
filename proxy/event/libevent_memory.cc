#include "proxy/event/libevent_memory.h"

#include <event2/event.h>
#include <sanitizer/asan_interface.h>  // ASAN_(UN)POISON_MEMORY_REGION: no-ops without ASan
#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "proxy/base/check.h"

#if defined(__SANITIZE_ADDRESS__)  // gcc
#define REALIP_EVMEM_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define REALIP_EVMEM_ASAN 1
#endif
#endif
#ifdef REALIP_EVMEM_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace realip::event {
namespace internal {

static_assert(CompactArena::kMaxSmall % CompactArena::kClassStep == 0);
static_assert(CompactArena::kPageSize % CompactArena::kMaxSmall == 0);
static_assert(sizeof(void*) <= CompactArena::kClassStep, "a free block holds a pointer");

CompactArena::CompactArena(size_t region_bytes) {
  const size_t pages = region_bytes / kPageSize;
  if (pages == 0) return;
  // Address space only: MAP_NORESERVE skips the swap reservation (unless overcommit is
  // strict), and a page becomes resident when a block in it is first written.
  void* p = mmap(nullptr, pages * kPageSize, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return;
  begin_ = static_cast<char*>(p);
  end_ = begin_ + pages * kPageSize;
  pages_ = pages;
  page_class_ = std::make_unique<unsigned char[]>(pages);
#ifdef REALIP_EVMEM_ASAN
  // Leak checking scans malloc's chunks and known roots, not this mapping; without the root,
  // a malloc'ed object that only a region block points to would be reported as leaked.
  __lsan_register_root_region(begin_, end_ - begin_);
#endif
}

CompactArena::~CompactArena() {
  if (begin_ == nullptr) return;
#ifdef REALIP_EVMEM_ASAN
  __lsan_unregister_root_region(begin_, end_ - begin_);
#endif
  // Whoever maps these addresses next must not inherit our poisoning.
  ASAN_UNPOISON_MEMORY_REGION(begin_, end_ - begin_);
  munmap(begin_, end_ - begin_);
}

void* CompactArena::Malloc(size_t size) {
  if (size == 0 || size > kMaxSmall || begin_ == nullptr) return std::malloc(size);
  const size_t index = (size - 1) / kClassStep;
  const size_t class_size = (index + 1) * kClassStep;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SizeClass& c = classes_[index];
    void* block = nullptr;
    if (c.free != nullptr) {
      block = c.free;
      ASAN_UNPOISON_MEMORY_REGION(block, class_size);
      c.free = c.free->next;
    } else {
      if (static_cast<size_t>(c.bump_end - c.bump) < class_size && next_page_ < pages_) {
        // A page is given to one class for good, so a block's class is its page's class and
        // needs no header. The tail of the previous page that no block fits in is left unused.
        page_class_[next_page_] = static_cast<unsigned char>(index);
        c.bump = begin_ + next_page_ * kPageSize;
        c.bump_end = c.bump + kPageSize;
        ++next_page_;
        ASAN_POISON_MEMORY_REGION(c.bump, kPageSize);
      }
      if (static_cast<size_t>(c.bump_end - c.bump) >= class_size) {
        block = c.bump;
        c.bump += class_size;
        ASAN_UNPOISON_MEMORY_REGION(block, class_size);
      }
    }
    if (block != nullptr) {
      ++blocks_in_use_;
      bytes_in_use_ += class_size;
      return block;
    }
    ++malloc_fallbacks_;
  }
  return std::malloc(size);
}

size_t CompactArena::ClassSizeLocked(const void* p) const {
  const size_t offset = static_cast<size_t>(static_cast<const char*>(p) - begin_);
  const size_t page = offset / kPageSize;
  REALIP_DCHECK(page < next_page_);
  const size_t class_size = (page_class_[page] + 1u) * kClassStep;
  REALIP_DCHECK(offset % kPageSize % class_size == 0);  // the start of a block
  return class_size;
}

void CompactArena::Free(void* p) {
  if (!Owns(p)) {
    std::free(p);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const size_t class_size = ClassSizeLocked(p);
  SizeClass& c = classes_[class_size / kClassStep - 1];
  auto* block = static_cast<FreeBlock*>(p);
  block->next = c.free;
  c.free = block;
  ASAN_POISON_MEMORY_REGION(p, class_size);
  --blocks_in_use_;
  bytes_in_use_ -= class_size;
}

void* CompactArena::Realloc(void* p, size_t size) {
  if (p == nullptr) return Malloc(size);
  // libevent's growing arrays (the fd map, the timer heap, epoll's event array) start or end
  // up here; once they are malloc's, they stay malloc's.
  if (!Owns(p)) return std::realloc(p, size);
  size_t class_size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    class_size = ClassSizeLocked(p);
  }
  if (size <= class_size) return p;
  void* moved = Malloc(size);
  if (moved == nullptr) return nullptr;  // `p` stays valid, as realloc promises
  std::memcpy(moved, p, class_size);
  Free(p);
  return moved;
}

CompactLibeventStats CompactArena::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CompactLibeventStats s;
  s.region_bytes = static_cast<size_t>(end_ - begin_);
  s.pages_used = next_page_;
  s.blocks_in_use = blocks_in_use_;
  s.bytes_in_use = bytes_in_use_;
  s.malloc_fallbacks = malloc_fallbacks_;
  return s;
}

}  // namespace internal

namespace {

// 64 MiB of address space holds four million evmap_io blocks; only the pages in use are
// resident.
constexpr size_t kRegionBytes = size_t{64} << 20;

// Set once, before libevent is given the functions below, and never destroyed: libevent may
// free through them until the process exits.
std::atomic<internal::CompactArena*> g_arena{nullptr};

internal::CompactArena& Arena() { return *g_arena.load(std::memory_order_acquire); }
void* LibeventMalloc(size_t size) { return Arena().Malloc(size); }
void* LibeventRealloc(void* p, size_t size) { return Arena().Realloc(p, size); }
void LibeventFree(void* p) { Arena().Free(p); }

}  // namespace

void UseCompactLibeventMemory() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto* arena = new internal::CompactArena(kRegionBytes);
    if (!arena->has_region()) {
      delete arena;
      return;
    }
    g_arena.store(arena, std::memory_order_release);
    // Pointers libevent obtained from malloc before this call still reach libc through
    // Owns(), so installing late is safe, only less effective.
    event_set_mem_functions(&LibeventMalloc, &LibeventRealloc, &LibeventFree);
  });
}

CompactLibeventStats GetCompactLibeventStats() {
  const internal::CompactArena* arena = g_arena.load(std::memory_order_acquire);
  return arena != nullptr ? arena->stats() : CompactLibeventStats{};
}

}  // namespace realip::event
