#include "proxy/http/serializer.h"

#include <cstdio>

#include "proxy/http/status_codes.h"

namespace realip::http {
namespace {

size_t HeadersSize(std::span<const HeaderView> headers) {
  size_t n = 2;  // final CRLF
  for (const HeaderView& h : headers) n += h.name.size() + 2 + h.value.size() + 2;
  return n;
}

void AppendHeaders(std::string* out, std::span<const HeaderView> headers) {
  for (const HeaderView& h : headers) {
    out->append(h.name);
    out->append(": ");
    out->append(h.value);
    out->append("\r\n");
  }
  out->append("\r\n");
}

}  // namespace

std::string SerializeRequestHead(std::string_view method, std::string_view target,
                                 std::span<const HeaderView> headers, int version_minor) {
  const std::string_view kVersion = version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  std::string out;
  out.reserve(method.size() + 1 + target.size() + kVersion.size() + HeadersSize(headers));
  out.append(method);
  out.push_back(' ');
  out.append(target);
  out.append(kVersion);
  AppendHeaders(&out, headers);
  return out;
}

std::string SerializeResponseHead(int status, std::string_view reason,
                                  std::span<const HeaderView> headers) {
  if (reason.empty()) reason = ReasonPhrase(status);
  char code[8];
  int code_len = std::snprintf(code, sizeof(code), "%03d", status % 1000);
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  std::string out;
  out.reserve(kVersion.size() + static_cast<size_t>(code_len) + 1 + reason.size() + 2 +
              HeadersSize(headers));
  out.append(kVersion);
  out.append(code, static_cast<size_t>(code_len));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n");
  AppendHeaders(&out, headers);
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
