// Helpers shared by the realip unit tests.
#pragma once

#include <string>
#include <string_view>

namespace realip::realip::testing_util {

// Bytes from hex digits; spaces are ignored ("0d0a 21" -> "\r\n!").
inline std::string Hex(std::string_view hex) {
  std::string out;
  int nibble = -1;
  for (char c : hex) {
    int v = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0) continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<char>(nibble << 4 | v));
      nibble = -1;
    }
  }
  return out;
}

// The v2 signature.
inline const std::string kSig = Hex("0d0a0d0a000d0a515549540a");

}  // namespace realip::realip::testing_util
