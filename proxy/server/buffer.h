// A growable byte queue: append at the back, consume from the front, no copy on consume.
//
// Memory comes in blocks: the common size (kBlockSize) is recycled through a small per-thread
// cache, so a busy keep-alive connection does not go to malloc for every request even though
// idle connections give their buffers back (Release). Growing never zero-fills: Reserve() hands
// out uninitialised space that the caller writes and then Commit()s.
#pragma once

#include <cstddef>
#include <string_view>

namespace realip::server {

class Buffer {
 public:
  // What a socket read asks for, and the size the per-thread cache recycles.
  static constexpr size_t kBlockSize = 16 * 1024;

  Buffer() = default;
  ~Buffer() { Release(); }
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Unconsumed bytes.
  std::string_view view() const { return std::string_view(data_ + begin_, end_ - begin_); }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  // Bytes the buffer holds from the allocator (0 once released).
  size_t capacity() const { return capacity_; }

  void Append(std::string_view bytes);
  // Appends `bytes` framed as one HTTP/1.1 chunk (nothing for empty input).
  void AppendChunk(std::string_view bytes);
  // Drops `n` bytes from the front (n <= size()).
  void Consume(size_t n);
  // Makes room for `n` more bytes at the back and returns where to write them; call Commit()
  // with how many were written (at most `n`) before any other change.
  char* Reserve(size_t n);
  void Commit(size_t written) { end_ += written; }
  // Room for a socket read: at least `min` bytes, as many as the current block has up to
  // `max`, so that a little unconsumed input does not make every read take a bigger block.
  size_t ReadRoom(size_t min, size_t max) {
    if (capacity_ - end_ < min) MakeRoom(min);
    size_t room = capacity_ - end_;
    return room < max ? room : max;
  }
  char* tail() { return data_ + end_; }
  // Forgets the contents and keeps the memory.
  void Clear() { begin_ = end_ = 0; }
  // Forgets the contents and returns the memory (idle keep-alive connections keep no buffers).
  void Release();
  // Frees the blocks this thread keeps for reuse (after a burst, before returning memory to
  // the system).
  static void FreeCachedBlocks();

 private:
  // Room for `n` more bytes at end_, moving the contents to the front or to a larger block.
  void MakeRoom(size_t n);

  char* data_ = nullptr;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace realip::server
