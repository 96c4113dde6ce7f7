// libevent's own allocations, routed through event_set_mem_functions() so that its small
// long-lived bookkeeping is packed together instead of scattered through malloc's heap: the
// 16-byte `struct evmap_io` that an event_base allocates the first time it sees a descriptor
// number and keeps until the base is freed would otherwise land in holes left by a burst's
// transient allocations and pin those pages after the burst.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>

namespace realip::event {

// Makes libevent take requests of up to 64 bytes from one reserved range of address space,
// packed by size class, and everything else from malloc. Idempotent and thread-safe; call it
// before the first EventLoop exists. If the range cannot be reserved libevent keeps malloc.
void UseCompactLibeventMemory();

struct CompactLibeventStats {
  size_t region_bytes = 0;      // address space reserved (not resident until used)
  size_t pages_used = 0;        // pages handed to a size class so far; they stay with it
  size_t blocks_in_use = 0;     // live blocks in the region
  size_t bytes_in_use = 0;      // their size classes added up
  size_t malloc_fallbacks = 0;  // small requests sent to malloc because the region was full
};

// A snapshot of the region libevent uses; all zero before UseCompactLibeventMemory().
CompactLibeventStats GetCompactLibeventStats();

namespace internal {

// The allocator behind UseCompactLibeventMemory(), a class so that tests can make small ones.
// Thread-safe. Free() and Realloc() accept pointers from malloc too (libevent may have
// allocated before the functions were installed) and hand them back to libc.
class CompactArena {
 public:
  static constexpr size_t kMaxSmall = 64;         // larger requests go to malloc
  static constexpr size_t kClassStep = 8;         // size classes 8, 16, ..., 64
  static constexpr size_t kPageSize = 16 * 1024;  // each page serves one size class

  // Reserves `region_bytes` (rounded down to whole pages) of address space. When mmap fails
  // the arena has no region and serves everything from malloc.
  explicit CompactArena(size_t region_bytes);
  // Unmaps the region: blocks still allocated from it become invalid.
  ~CompactArena();
  CompactArena(const CompactArena&) = delete;
  CompactArena& operator=(const CompactArena&) = delete;

  bool has_region() const { return begin_ != nullptr; }
  // True when `p` lies in the region (so it came from this arena, not from malloc).
  bool Owns(const void* p) const { return p >= begin_ && p < end_; }

  // malloc/realloc/free contracts. A block of the region is aligned to 8 bytes, and to 16 when
  // its size class is a multiple of 16: enough for any type whose size fits the class.
  void* Malloc(size_t size);
  void* Realloc(void* p, size_t size);
  void Free(void* p);

  CompactLibeventStats stats() const;

 private:
  static constexpr size_t kClasses = kMaxSmall / kClassStep;

  struct FreeBlock {
    FreeBlock* next;
  };
  struct SizeClass {
    FreeBlock* free = nullptr;  // blocks given back, reused first (LIFO)
    char* bump = nullptr;       // untouched part of the class's newest page
    char* bump_end = nullptr;
  };

  // The size of the class serving region block `p`; the caller holds mu_.
  size_t ClassSizeLocked(const void* p) const;

  char* begin_ = nullptr;
  char* end_ = nullptr;
  size_t pages_ = 0;
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::unique_ptr<unsigned char[]> page_class_;  // one byte per page: its class index
  size_t next_page_ = 0;                         // pages below this one belong to a class
  SizeClass classes_[kClasses];
  size_t blocks_in_use_ = 0;
  size_t bytes_in_use_ = 0;
  size_t malloc_fallbacks_ = 0;
};

}  // namespace internal
}  // namespace realip::event
