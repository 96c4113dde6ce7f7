#include "proxy/server/buffer.h"

#include "proxy/base/check.h"
#include "proxy/http/serializer.h"

namespace realip::server {

void Buffer::Consume(size_t n) {
  REALIP_DCHECK(n <= size());
  start_ += n;
  if (start_ == data_.size()) {
    data_.clear();
    start_ = 0;
  } else if (start_ > 64 * 1024 && start_ * 2 > data_.size()) {
    // Compact once the consumed prefix dominates, so a long stream does not grow the string.
    data_.erase(0, start_);
    start_ = 0;
  }
}

void Buffer::AppendChunk(std::string_view bytes) {
  if (bytes.empty()) return;
  char line[http::kMaxChunkSizeLine];
  data_.append(line, http::FormatChunkSizeLine(bytes.size(), line));
  data_.append(bytes);
  data_.append("\r\n");
}

char* Buffer::Reserve(size_t n) {
  reserved_from_ = data_.size();
  data_.resize(reserved_from_ + n);
  return data_.data() + reserved_from_;
}

void Buffer::Commit(size_t written) {
  REALIP_DCHECK(reserved_from_ + written <= data_.size());
  data_.resize(reserved_from_ + written);
}

}  // namespace realip::server
