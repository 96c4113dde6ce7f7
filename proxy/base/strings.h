// Bridges between std::string_view and absl::string_view.
//
// Debian's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is a
// distinct type and absl::StrCat/StrSplit/... do not accept std::string_view. Our interfaces
// use std::string_view (DESIGN.md); convert at the call into Abseil with AsAbsl().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace realip::base {

inline absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view AsStd(absl::string_view s) { return {s.data(), s.size()}; }

// nginx's word escapes (ngx_conf_read_token): \" \' \\ stand for the character, \t \r \n for the
// control character; any other backslash is kept, so regex-like values such as "\d" survive.
// Used by the config lexer and by geo files, which follow the same rules.
std::string UnescapeNginxWord(std::string_view raw);

// nginx's text for a failed system call on a file: `CALL() "PATH" failed (ERRNO: TEXT)`, as in
// `open() "/var/log/a.log" failed (13: Permission denied)`.
std::string CallFailedText(std::string_view call, std::string_view path, int err);

// sizeof(Word) bytes at `p` (Word: uint32_t or uint64_t) with 'A'-'Z' lowered, each byte on
// its own: no carry crosses a byte, as the high bit is cleared before the additions and bytes
// that had it are left alone after.
template <typename Word>
inline Word LowerAsciiWord(const char* p) {
  static_assert(std::is_unsigned_v<Word> && sizeof(Word) >= 4);
  constexpr Word kOnes = static_cast<Word>(0x0101010101010101ULL);
  constexpr Word kHigh = static_cast<Word>(0x8080808080808080ULL);
  Word x;
  std::memcpy(&x, p, sizeof(Word));
  const Word low7 = x & ~kHigh;
  const Word ge_upper_a = low7 + (0x80 - 'A') * kOnes;      // high bit set for bytes >= 'A'
  const Word gt_upper_z = low7 + (0x80 - 'Z' - 1) * kOnes;  // and for bytes > 'Z'
  const Word upper = ge_upper_a & ~gt_upper_z & ~x & kHigh;
  return x | (upper >> 2);  // 0x80 >> 2 is the case bit 0x20
}

// ASCII case-insensitive equality, the comparison HTTP uses for field names and tokens:
// 'A'-'Z' match 'a'-'z', every other byte only itself. From eight bytes on it compares eight
// at a time. Inline so that the common case, lengths that differ, costs a compare and no call.
bool EqualsIgnoreCaseSameLength(const char* a, const char* b, size_t n);
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && EqualsIgnoreCaseSameLength(a.data(), b.data(), a.size());
}

// The value of a hexadecimal digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1 for any other byte.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ngx_atoi: one or more decimal digits, nothing else; nullopt above `max`.
std::optional<uint64_t> ParseDecimal(std::string_view text, uint64_t max);

// nginx's sizes (ngx_parse_size): decimal digits with an optional single k/K, m/M or g/G
// suffix; nullopt for anything else or a value above 2^62 bytes.
std::optional<uint64_t> ParseNginxSize(std::string_view text);

}  // namespace realip::base
