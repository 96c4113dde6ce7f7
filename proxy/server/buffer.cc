#include "proxy/server/buffer.h"

#include <cstring>
#include <utility>

#include "proxy/base/check.h"
#include "proxy/http/serializer.h"

namespace realip::server {
namespace {

// Free kBlockSize blocks of this thread. A request in flight holds two or three blocks (the
// client's input, the upstream's, the output), so the cache must hold what the requests of a
// busy moment give back together: with 64 it was too small for 64 keep-alive connections, and
// about one block a request went back to malloc and came out again (2% of a request's
// user-space instructions). Bounded at 16 MiB per worker; the worker frees it all once the load
// is over (Worker::OnTrimTimer), so idle connections do not keep a busy moment's blocks.
constexpr size_t kCachedBlocks = 1024;

struct BlockCache {
  char* blocks[kCachedBlocks];
  size_t count = 0;
  ~BlockCache() {
    while (count > 0) delete[] blocks[--count];
  }
};

thread_local BlockCache block_cache;

char* Allocate(size_t capacity) {
  if (capacity == Buffer::kBlockSize && block_cache.count > 0) {
    return block_cache.blocks[--block_cache.count];
  }
  return new char[capacity];  // default-initialised: no zero fill
}

void Free(char* data, size_t capacity) {
  if (capacity == Buffer::kBlockSize && block_cache.count < kCachedBlocks) {
    block_cache.blocks[block_cache.count++] = data;
    return;
  }
  delete[] data;
}

}  // namespace

void Buffer::FreeCachedBlocks() {
  while (block_cache.count > 0) delete[] block_cache.blocks[--block_cache.count];
}

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      begin_(std::exchange(other.begin_, 0)),
      end_(std::exchange(other.end_, 0)) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
  }
  return *this;
}

void Buffer::Release() {
  if (data_ != nullptr) Free(data_, capacity_);
  data_ = nullptr;
  capacity_ = begin_ = end_ = 0;
}

void Buffer::MakeRoom(size_t n) {
  const size_t used = size();
  // Moving the unconsumed bytes to the front is cheaper than a bigger block while they are
  // few; a mostly full block grows instead, so a stream is not copied over and over.
  if (data_ != nullptr && used + n <= capacity_ && used <= capacity_ / 4) {
    std::memmove(data_, data_ + begin_, used);
    begin_ = 0;
    end_ = used;
    return;
  }
  size_t capacity = capacity_ == 0 ? kBlockSize : capacity_;
  while (capacity < used + n) capacity *= 2;
  char* data = Allocate(capacity);
  if (used > 0) std::memcpy(data, data_ + begin_, used);
  if (data_ != nullptr) Free(data_, capacity_);
  data_ = data;
  capacity_ = capacity;
  begin_ = 0;
  end_ = used;
}

char* Buffer::Reserve(size_t n) {
  if (capacity_ - end_ < n) MakeRoom(n);
  return data_ + end_;
}

void Buffer::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(Reserve(bytes.size()), bytes.data(), bytes.size());
  end_ += bytes.size();
}

void Buffer::Consume(size_t n) {
  REALIP_DCHECK(n <= size());
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

void Buffer::AppendChunk(std::string_view bytes) {
  if (bytes.empty()) return;
  char* dst = Reserve(http::kMaxChunkSizeLine + bytes.size() + 2);
  size_t line = http::FormatChunkSizeLine(bytes.size(), dst);
  std::memcpy(dst + line, bytes.data(), bytes.size());
  std::memcpy(dst + line + bytes.size(), "\r\n", 2);
  end_ += line + bytes.size() + 2;
}

}  // namespace realip::server
