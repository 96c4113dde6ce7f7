// Writes HTTP/1.1 heads and chunked framing (RFC 9112 sections 3, 4, 7.1), sans-I/O.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace realip::http {

// A header line to write; views must outlive the call.
struct HeaderView {
  std::string_view name;
  std::string_view value;
};

// "METHOD target HTTP/1.1\r\n" + "name: value\r\n"... + "\r\n", appended to *out with at
// most one allocation (none when *out has the room: callers reuse it).
// `version_minor` 0 writes "HTTP/1.0" (proxy_http_version 1.0).
void AppendRequestHead(std::string* out, std::string_view method, std::string_view target,
                       std::span<const HeaderView> headers, int version_minor = 1);
std::string SerializeRequestHead(std::string_view method, std::string_view target,
                                 std::span<const HeaderView> headers, int version_minor = 1);

// "HTTP/1.1 status reason\r\n" + headers + "\r\n"; an empty reason uses the standard phrase.
void AppendResponseHead(std::string* out, int status, std::string_view reason,
                        std::span<const HeaderView> headers);
std::string SerializeResponseHead(int status, std::string_view reason,
                                  std::span<const HeaderView> headers);

// Writes the chunk-size line for a chunk of `size` bytes ("hex-size\r\n") into `buf` and
// returns its length; `buf` needs kMaxChunkSizeLine bytes.
inline constexpr size_t kMaxChunkSizeLine = 20;
size_t FormatChunkSizeLine(size_t size, char* buf);

// Appends `data` as one chunk ("hex-size\r\ndata\r\n"); empty data appends nothing, since an
// empty chunk would end the body.
void AppendChunk(std::string* out, std::string_view data);

// Ends a chunked body without trailers.
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace realip::http
