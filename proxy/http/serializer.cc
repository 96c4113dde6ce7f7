#include "proxy/http/serializer.h"

#include <cstring>

#include "proxy/http/status_codes.h"

namespace realip::http {
namespace {

size_t HeadersSize(std::span<const HeaderView> headers) {
  size_t n = 2;  // final CRLF
  for (const HeaderView& h : headers) n += h.name.size() + 2 + h.value.size() + 2;
  return n;
}

char* Put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Put for the short strings of header lines (most names and many values are under 16 bytes):
// two overlapping fixed-size copies, which the compiler inlines, instead of a call to memcpy
// per string (18 calls per proxied request, about a third of the serialiser's instructions).
char* PutShort(char* p, std::string_view s) {
  const char* src = s.data();
  const size_t n = s.size();
  if (n >= 8 && n <= 16) {
    std::memcpy(p, src, 8);
    std::memcpy(p + n - 8, src + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    std::memcpy(p, src, 4);
    std::memcpy(p + n - 4, src + n - 4, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; ++i) p[i] = src[i];
  } else {
    std::memcpy(p, src, n);
  }
  return p + n;
}

// Writes the header lines and the final CRLF at `p`, which has HeadersSize(headers) bytes.
char* PutHeaders(char* p, std::span<const HeaderView> headers) {
  for (const HeaderView& h : headers) {
    p = PutShort(p, h.name);
    p = Put(p, ": ");
    p = PutShort(p, h.value);
    p = Put(p, "\r\n");
  }
  return Put(p, "\r\n");
}

// Grows *out by `n` bytes and returns where they start.
char* Extend(std::string* out, size_t n) {
  size_t old = out->size();
  out->resize(old + n);
  return out->data() + old;
}

}  // namespace

void AppendRequestHead(std::string* out, std::string_view method, std::string_view target,
                       std::span<const HeaderView> headers, int version_minor) {
  const std::string_view version = version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  const size_t n = method.size() + 1 + target.size() + version.size() + HeadersSize(headers);
  char* p = Extend(out, n);
  p = Put(p, method);
  *p++ = ' ';
  p = Put(p, target);
  p = Put(p, version);
  PutHeaders(p, headers);
}

std::string SerializeRequestHead(std::string_view method, std::string_view target,
                                 std::span<const HeaderView> headers, int version_minor) {
  std::string out;
  AppendRequestHead(&out, method, target, headers, version_minor);
  return out;
}

void AppendResponseHead(std::string* out, int status, std::string_view reason,
                        std::span<const HeaderView> headers) {
  if (reason.empty()) reason = ReasonPhrase(status);
  // Three digits, as the status-line grammar requires (RFC 9112 section 4).
  const int code = status < 0 ? 0 : status % 1000;
  const char digits[3] = {static_cast<char>('0' + code / 100),
                          static_cast<char>('0' + code / 10 % 10),
                          static_cast<char>('0' + code % 10)};
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  const size_t n = kVersion.size() + 3 + 1 + reason.size() + 2 + HeadersSize(headers);
  char* p = Extend(out, n);
  p = Put(p, kVersion);
  p = Put(p, std::string_view(digits, 3));
  *p++ = ' ';
  p = Put(p, reason);
  p = Put(p, "\r\n");
  PutHeaders(p, headers);
}

std::string SerializeResponseHead(int status, std::string_view reason,
                                  std::span<const HeaderView> headers) {
  std::string out;
  AppendResponseHead(&out, status, reason, headers);
  return out;
}

size_t FormatChunkSizeLine(size_t size, char* buf) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[16];
  size_t n = 0;
  do {
    digits[n++] = kHex[size & 0xf];
    size >>= 4;
  } while (size != 0);
  for (size_t i = 0; i < n; ++i) buf[i] = digits[n - 1 - i];
  buf[n] = '\r';
  buf[n + 1] = '\n';
  return n + 2;
}

void AppendChunk(std::string* out, std::string_view data) {
  if (data.empty()) return;
  char size[kMaxChunkSizeLine];
  out->append(size, FormatChunkSizeLine(data.size(), size));
  out->append(data);
  out->append("\r\n");
}

}  // namespace realip::http
