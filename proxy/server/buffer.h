// A growable byte queue: append at the back, consume from the front, no copy on consume.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace realip::server {

class Buffer {
 public:
  // Unconsumed bytes.
  std::string_view view() const { return std::string_view(data_).substr(start_); }
  size_t size() const { return data_.size() - start_; }
  bool empty() const { return size() == 0; }

  void Append(std::string_view bytes) { data_.append(bytes); }
  // Appends `bytes` framed as one HTTP/1.1 chunk (nothing for empty input).
  void AppendChunk(std::string_view bytes);
  // Drops `n` bytes from the front (n <= size()).
  void Consume(size_t n);
  // Makes room for `n` more bytes at the back and returns where to write them; call Commit()
  // with how many were written.
  char* Reserve(size_t n);
  void Commit(size_t written);
  void Clear() {
    data_.clear();
    start_ = 0;
  }
  // Returns the memory to the allocator (idle keep-alive connections keep no buffers).
  void Release() {
    Clear();
    data_.shrink_to_fit();
  }

 private:
  std::string data_;
  size_t start_ = 0;
  size_t reserved_from_ = 0;
};

}  // namespace realip::server
