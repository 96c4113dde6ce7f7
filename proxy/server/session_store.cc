#include "proxy/server/session_store.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

#include "proxy/base/check.h"

namespace realip::server {

namespace {

constexpr size_t kBlockBytes = 64 * 1024;
// The object follows the two links.
constexpr size_t kObjectOffset = 2 * sizeof(void*);

size_t Stride(size_t object_size, size_t object_align) {
  const size_t align = std::max(object_align, alignof(void*));
  return (kObjectOffset + object_size + align - 1) / align * align;
}

}  // namespace

SlotStore::SlotStore(size_t object_size, size_t object_align)
    : stride_(Stride(object_size, object_align)) {
  // Blocks are page-aligned and the object sits 16 bytes into its slot.
  REALIP_CHECK(object_align <= kObjectOffset && kObjectOffset % object_align == 0);
  REALIP_CHECK(stride_ <= kBlockBytes);
  busy_.prev = busy_.next = &busy_;
  reusable_.prev = reusable_.next = &reusable_;
}

SlotStore::~SlotStore() {
  for (std::byte* block : blocks_) munmap(block, kBlockBytes);
}

SlotStore::Links* SlotStore::LinksOf(void* object) {
  return reinterpret_cast<Links*>(static_cast<std::byte*>(object) - kObjectOffset);
}

void* SlotStore::ObjectOf(const Links* l) const {
  return const_cast<std::byte*>(reinterpret_cast<const std::byte*>(l)) + kObjectOffset;
}

void SlotStore::Unlink(Links* l) {
  l->prev->next = l->next;
  l->next->prev = l->prev;
}

void SlotStore::PushBack(Links* list, Links* l) {
  l->prev = list->prev;
  l->next = list;
  list->prev->next = l;
  list->prev = l;
}

void* SlotStore::Allocate() {
  Links* slot = free_;
  if (slot != nullptr) {
    free_ = slot->next;
  } else {
    // A new slot from the newest block, or a new block (not zeroed: untouched pages cost no
    // memory until an object lands there).
    const size_t per_block = kBlockBytes / stride_;
    if (blocks_.empty() || unused_in_block_ == 0) {
      // Straight from the kernel, not from malloc's heap: a block allocated in the middle of a
      // burst would otherwise pin the heap around it after the burst's memory is freed.
      void* block =
          mmap(nullptr, kBlockBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      REALIP_CHECK(block != MAP_FAILED);
      blocks_.push_back(static_cast<std::byte*>(block));
      unused_in_block_ = per_block;
    }
    std::byte* base = blocks_.back() + (per_block - unused_in_block_) * stride_;
    --unused_in_block_;
    slot = new (base) Links;
  }
  slot->prev = slot;  // free until Add()
  slot->next = nullptr;
  return ObjectOf(slot);
}

void SlotStore::Add(void* object) {
  Links* slot = LinksOf(object);
  REALIP_DCHECK(slot->prev == slot);
  PushBack(&busy_, slot);
  ++size_;
}

void SlotStore::SetReusable(void* object, bool reusable) {
  Links* slot = LinksOf(object);
  REALIP_DCHECK(slot->prev != slot);
  Unlink(slot);
  if (reusable) {
    PushBack(&reusable_, slot);
    ++reusable_size_;
  } else {
    REALIP_DCHECK(reusable_size_ > 0);
    PushBack(&busy_, slot);
    --reusable_size_;
  }
}

bool SlotStore::Release(void* object, bool reusable) {
  Links* slot = LinksOf(object);
  if (slot->prev == slot) return false;
  Unlink(slot);
  --size_;
  if (reusable) --reusable_size_;
  slot->prev = slot;
  slot->next = free_;
  free_ = slot;
  return true;
}

bool SlotStore::live(void* object) const {
  const Links* slot = LinksOf(object);
  return slot->prev != slot;
}

void* SlotStore::OldestReusable() const {
  return reusable_.next == &reusable_ ? nullptr : ObjectOf(reusable_.next);
}

std::vector<void*> SlotStore::All() const {
  std::vector<void*> all;
  all.reserve(size_);
  for (const Links* l = busy_.next; l != &busy_; l = l->next) all.push_back(ObjectOf(l));
  for (const Links* l = reusable_.next; l != &reusable_; l = l->next) all.push_back(ObjectOf(l));
  return all;
}

}  // namespace realip::server
