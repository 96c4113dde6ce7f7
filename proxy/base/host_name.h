// Host names as a request or a TLS handshake carries them: facts needed by the http layer (the
// Host header, the request line) and the tls layer (the server name).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace realip::base {

// nginx's ngx_http_validate_host: false for a host with an empty name (the port and a trailing
// dot aside), "..", a '/', or a byte at or below the space or DEL (NUL included). The name is
// the part before the first ':', or up to the ']' of an IP literal that starts it. A request
// whose Host header or request-line host fails gets 400; a TLS server name (SNI) that fails
// selects no server, so the handshake goes on with the default server's certificate.
inline bool ValidHost(std::string_view host) {
  // One pass over the bytes' classes; the port and the brackets are looked at after it.
  enum : uint8_t { kDot = 1, kColon = 2, kRefused = 4 };
  static constexpr std::array<uint8_t, 256> kClass = [] {
    std::array<uint8_t, 256> c{};
    for (int b = 0; b <= 0x20; ++b) c[b] = kRefused;
    c[0x7f] = c['/'] = kRefused;
    c['.'] = kDot;
    c[':'] = kColon;
    return c;
  }();
  unsigned seen = 0;
  unsigned refused = kRefused;  // kRefused, and kDot right after a dot ("..")
  for (char ch : host) {
    const unsigned cls = kClass[static_cast<unsigned char>(ch)];
    // The early exit keeps this a plain loop: gcc's vectorised version of a table lookup per
    // byte costs twice as much on a host of 10 to 20 bytes.
    if ((cls & refused) != 0) return false;
    seen |= cls;
    refused = kRefused | (cls & kDot);
  }
  size_t name_end = host.size();
  if (!host.empty() && host[0] == '[') {
    if (const size_t close = host.find(']'); close != std::string_view::npos) {
      name_end = close + 1;
    }
  } else if ((seen & kColon) != 0) {
    name_end = host.find(':');
  }
  // A trailing dot is not part of the name when it is the last dot of all (nginx's test).
  if (name_end > 0 && host[name_end - 1] == '.' &&
      host.find('.', name_end) == std::string_view::npos) {
    --name_end;
  }
  return name_end > 0;
}

}  // namespace realip::base
