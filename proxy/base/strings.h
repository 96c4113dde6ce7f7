// Bridges between std::string_view and absl::string_view.
//
// Debian's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is a
// distinct type and absl::StrCat/StrSplit/... do not accept std::string_view. Our interfaces
// use std::string_view (DESIGN.md); convert at the call into Abseil with AsAbsl().
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace realip::base {

inline absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view AsStd(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace realip::base
