// A set of header field names built at load and asked for every header of every upstream
// response (proxy_hide_header, proxy_pass_header and nginx's default hidden names).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/base/strings.h"

namespace realip::config {

// Names compared case-insensitively (RFC 9110 section 5.1). A name whose length and first
// letter match no member is rejected by one table load and a bit test; only the rest is
// compared in full, and a member of 4 to 8 bytes (Date, Server, X-Pad: the ones nearly every
// upstream response carries) by two four-byte words, so a response's fields cost a few
// instructions each.
class HeaderNameSet {
 public:
  // Adds `name` (stored in lower case); a name already there is not added twice.
  void Insert(std::string_view name);
  // Removes `name` if present.
  void Erase(std::string_view name);

  bool Contains(std::string_view name) const {
    if (name.empty()) return false;
    const size_t slot = name.size() < kSlots ? name.size() : kSlots - 1;
    if (((first_letters_[slot] >> (static_cast<unsigned char>(name[0]) & 31u)) & 1u) == 0) {
      return false;
    }
    for (const Member& m : members_) {
      if (m.size != name.size()) continue;
      if (m.size >= 4 && m.size <= 8) {
        if (base::LowerAsciiWord<uint32_t>(name.data()) == m.head &&
            base::LowerAsciiWord<uint32_t>(name.data() + m.size - 4) == m.tail) {
          return true;
        }
      } else if (base::EqualsIgnoreCaseSameLength(name.data(), names_[m.index].data(), m.size)) {
        return true;
      }
    }
    return false;
  }

  // The members in insertion order, lower case.
  const std::vector<std::string>& names() const { return names_; }

 private:
  struct Member {
    size_t size = 0;
    size_t index = 0;   // in names_
    uint32_t head = 0;  // 4 to 8 bytes: the first and the last four bytes, lower case
    uint32_t tail = 0;
  };

  void Rebuild();

  // Indexed by length (the last slot holds every longer name): one bit per first letter,
  // folded to 5 bits (ASCII letters of either case share a bit).
  static constexpr size_t kSlots = 64;
  std::array<uint32_t, kSlots> first_letters_{};
  std::vector<Member> members_;
  std::vector<std::string> names_;
};

// The upstream response fields nginx's proxy module hides unless proxy_pass_header names them
// (ngx_http_proxy_hide_headers): the proxy writes its own Server and Date, and X-Accel-* are
// instructions to nginx itself.
inline constexpr std::string_view kDefaultHiddenHeaders[] = {"date",
                                                             "server",
                                                             "x-pad",
                                                             "x-accel-expires",
                                                             "x-accel-redirect",
                                                             "x-accel-limit-rate",
                                                             "x-accel-buffering",
                                                             "x-accel-charset"};

// nginx's ngx_http_upstream_hide_headers_hash: the defaults, plus `hide`, minus `pass`.
// Content-Length is never in it: it frames the body (nginx sends it even when hidden).
HeaderNameSet BuildHiddenHeaders(const std::vector<std::string>& hide,
                                 const std::vector<std::string>& pass);

}  // namespace realip::config
