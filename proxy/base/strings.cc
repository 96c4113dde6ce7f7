#include "proxy/base/strings.h"

namespace realip::base {

std::string UnescapeNginxWord(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      switch (raw[i + 1]) {
        case '"':
        case '\'':
        case '\\':
          out.push_back(raw[++i]);
          continue;
        case 't':
          out.push_back('\t');
          ++i;
          continue;
        case 'r':
          out.push_back('\r');
          ++i;
          continue;
        case 'n':
          out.push_back('\n');
          ++i;
          continue;
        default:
          break;
      }
    }
    out.push_back(raw[i]);
  }
  return out;
}

}  // namespace realip::base
