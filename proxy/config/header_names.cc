#include "proxy/config/header_names.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace realip::config {

void HeaderNameSet::Insert(std::string_view name) {
  if (name.empty() || Contains(name)) return;
  names_.push_back(absl::AsciiStrToLower(base::AsAbsl(name)));
  Rebuild();
}

void HeaderNameSet::Erase(std::string_view name) {
  names_.erase(
      std::remove_if(names_.begin(), names_.end(),
                     [&](const std::string& n) { return base::EqualsIgnoreCase(n, name); }),
      names_.end());
  Rebuild();
}

void HeaderNameSet::Rebuild() {
  first_letters_.fill(0);
  members_.clear();
  for (size_t i = 0; i < names_.size(); ++i) {
    const std::string& n = names_[i];
    const size_t slot = n.size() < kSlots ? n.size() : kSlots - 1;
    first_letters_[slot] |= 1u << (static_cast<unsigned char>(n[0]) & 31u);
    Member m;
    m.size = n.size();
    m.index = i;
    if (m.size >= 4 && m.size <= 8) {
      m.head = base::LowerAsciiWord<uint32_t>(n.data());
      m.tail = base::LowerAsciiWord<uint32_t>(n.data() + m.size - 4);
    }
    members_.push_back(m);
  }
}

HeaderNameSet BuildHiddenHeaders(const std::vector<std::string>& hide,
                                 const std::vector<std::string>& pass) {
  HeaderNameSet set;
  for (std::string_view name : kDefaultHiddenHeaders) set.Insert(name);
  for (const std::string& name : hide) set.Insert(name);
  for (const std::string& name : pass) set.Erase(name);
  // The response's framing is the proxy's to write: nginx too keeps sending Content-Length
  // (from its parsed length) when it is hidden. Hiding the line would leave a keep-alive
  // client with a body it cannot delimit.
  set.Erase("content-length");
  return set;
}

}  // namespace realip::config
