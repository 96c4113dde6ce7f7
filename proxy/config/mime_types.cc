#include "proxy/config/mime_types.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "proxy/base/strings.h"

namespace realip::config {

std::shared_ptr<const MimeTypes> MimeTypes::Defaults() {
  static const std::shared_ptr<const MimeTypes> defaults = [] {
    auto types = std::make_shared<MimeTypes>();
    types->Add("html", "text/html");
    types->Add("gif", "image/gif");
    types->Add("jpg", "image/jpeg");
    return types;
  }();
  return defaults;
}

std::string MimeTypes::Add(std::string_view extension, std::string_view type) {
  std::string key = absl::AsciiStrToLower(base::AsAbsl(extension));
  auto [it, inserted] = by_extension_.try_emplace(std::move(key), type);
  if (inserted) return {};
  return std::exchange(it->second, std::string(type));
}

const std::string* MimeTypes::ForUri(std::string_view uri) const {
  // ngx_http_set_exten(): from the end back to the third byte, stopping at a '/'; a '.' right
  // after a '/' does not start an extension (the '/' ends the search next).
  for (size_t i = uri.size(); i-- > 2;) {
    if (uri[i] == '/') return nullptr;
    if (uri[i] != '.' || uri[i - 1] == '/') continue;
    if (i + 1 == uri.size()) return nullptr;  // "/a.": an empty extension is none
    const std::string lower = absl::AsciiStrToLower(base::AsAbsl(uri.substr(i + 1)));
    auto it = by_extension_.find(lower);
    return it == by_extension_.end() ? nullptr : &it->second;
  }
  return nullptr;
}

}  // namespace realip::config
