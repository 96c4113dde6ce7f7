// Fixed-size slots for a worker's long-lived objects (its client sessions), each live one on
// one of two intrusive lists: busy, or reusable (closable when worker_connections runs out).
#pragma once

#include <cstddef>
#include <vector>

namespace realip::server {

// Slots carved from 64 KiB blocks that the store maps and keeps for its lifetime: long-lived
// objects do not interleave with the short-lived allocations of requests, so what a burst of
// requests allocated can go back to the system afterwards. Slots of released objects are
// reused; the blocks are the high-water mark. The store only manages memory and lists: the
// caller constructs objects in Allocate()d memory and destroys them before Release().
//
// A slot is two links and the object, nothing more: the links put it on the busy list or the
// reusable list (both circular, around a sentinel in the store), so a move between them is a
// few pointer writes and costs no memory. The reusable list is in the order objects became
// reusable, oldest first, as nginx's reusable_connections_queue.
class SlotStore {
 public:
  // Objects of `object_size` bytes aligned to `object_align` (at most 16).
  SlotStore(size_t object_size, size_t object_align);
  ~SlotStore();  // unmaps the blocks; objects still live are not destroyed
  SlotStore(const SlotStore&) = delete;
  SlotStore& operator=(const SlotStore&) = delete;

  // Memory for one object, not live until Add().
  void* Allocate();
  // Makes an Allocate()d object live, at the end of the busy list.
  void Add(void* object);
  // Moves a live object to the end of the reusable list (`reusable`) or the busy one; the
  // caller keeps its state and calls this only on a change.
  void SetReusable(void* object, bool reusable);
  // Takes a live object off its list and frees its slot (the caller destroyed the object and
  // says which list it was on); false if it is not live.
  bool Release(void* object, bool reusable);
  // True between Add() and Release().
  bool live(void* object) const;
  // The object that became reusable first, or nullptr.
  void* OldestReusable() const;

  size_t size() const { return size_; }
  size_t reusable_size() const { return reusable_size_; }
  // Every live object: the busy ones, then the reusable ones oldest first.
  std::vector<void*> All() const;

 private:
  struct Links {
    Links* prev;
    Links* next;
  };
  static void Unlink(Links* l);
  static void PushBack(Links* list, Links* l);
  static Links* LinksOf(void* object);
  void* ObjectOf(const Links* l) const;

  const size_t stride_;             // bytes per slot: the links, then the object
  std::vector<std::byte*> blocks_;  // mmap'd, kBlockBytes each
  size_t unused_in_block_ = 0;      // slots of the newest block never handed out
  // Free slots, linked through `next`; a free slot's `prev` points at itself.
  Links* free_ = nullptr;
  Links busy_;
  Links reusable_;
  size_t size_ = 0;
  size_t reusable_size_ = 0;
};

}  // namespace realip::server
