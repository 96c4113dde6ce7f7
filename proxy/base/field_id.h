// The header field names the proxy acts on, recognised once (when a header line is stored, when
// a directive is loaded) so that the request path tests a small integer instead of comparing
// names case-insensitively, header after header.
#pragma once

#include <cstdint>
#include <string_view>

namespace realip::base {

enum class FieldId : uint8_t {
  kOther = 0,  // any name not below
  kConnection,
  kContentLength,
  kCookie,
  kDate,
  kExpect,
  kForwarded,
  kHost,
  kKeepAlive,
  kProxyConnection,
  kServer,
  kTe,
  kTrailer,
  kTransferEncoding,
  kUpgrade,
  kXForwardedFor,
  kXRealIp,
  kContentType,
};

// The id of `name`, compared without regard to ASCII case; kOther for every other name.
FieldId ClassifyField(std::string_view name);

// One bit per id, for sets of ids held in an integer.
constexpr uint32_t FieldBit(FieldId id) { return uint32_t{1} << static_cast<unsigned>(id); }

}  // namespace realip::base
