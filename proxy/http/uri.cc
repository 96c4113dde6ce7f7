#include "proxy/http/uri.h"

#include "proxy/base/strings.h"

namespace realip::http {
namespace {

// Whether the path can differ from its normal form: a '%', an empty segment or a segment that
// starts with '.'. Most paths have none and cost one scan.
bool MayNeedWork(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%') return true;
    if (c == '/' && i + 1 < path.size() && (path[i + 1] == '/' || path[i + 1] == '.')) {
      return true;
    }
  }
  return false;
}

}  // namespace

PathNormalization NormalizePath(std::string_view path, std::string* out, bool merge_slashes) {
  if (path.empty() || path[0] != '/' || !MayNeedWork(path)) return PathNormalization::kUnchanged;
  // Decoding first and resolving segments after is what nginx's state machine does in one
  // pass: a decoded '/' or '.' counts as a literal one, and every byte is decoded at most once
  // ("%2525" gives "%25").
  std::string decoded;
  decoded.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      decoded.push_back(path[i]);
      continue;
    }
    const int hi = i + 1 < path.size() ? base::HexDigitValue(path[i + 1]) : -1;
    const int lo = i + 2 < path.size() ? base::HexDigitValue(path[i + 2]) : -1;
    if (hi < 0 || lo < 0) return PathNormalization::kInvalid;
    const auto c = static_cast<unsigned char>(hi * 16 + lo);
    // nginx refuses only NUL. We refuse every control byte but tab, as in header values: a
    // decoded CR or LF in $uri would end a header line that a proxy_set_header, add_header or
    // redirect writes it into.
    if ((c < 0x20 && c != '\t') || c == 0x7f) return PathNormalization::kInvalid;
    decoded.push_back(static_cast<char>(c));
    i += 2;
  }
  std::string result;
  result.reserve(decoded.size());
  // Segment by segment: `result` always ends with the '/' that starts the next segment.
  result.push_back('/');
  size_t pos = 1;
  while (pos <= decoded.size()) {
    size_t end = decoded.find('/', pos);
    if (end == std::string::npos) end = decoded.size();
    const std::string_view segment = std::string_view(decoded).substr(pos, end - pos);
    if (segment == "..") {
      if (result.size() == 1) return PathNormalization::kInvalid;  // above the root
      // Drop the last segment: back to the '/' before it.
      result.pop_back();
      result.resize(result.rfind('/') + 1);
    } else if ((!segment.empty() || !merge_slashes) && segment != ".") {
      result.append(segment);
      if (end < decoded.size()) result.push_back('/');
    }
    pos = end + 1;
  }
  if (result == path) return PathNormalization::kUnchanged;
  *out = std::move(result);
  return PathNormalization::kRewritten;
}

void AppendEscapedPath(std::string_view path, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : path) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == '#' || c == '%' || c == '?' || c >= 0x7f) {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(ch);
    }
  }
}

}  // namespace realip::http
