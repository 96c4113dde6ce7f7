#include "proxy/config/mime_types.h"

#include <algorithm>
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
    const std::string_view extension = uri.substr(i + 1);
    // Looked up as it is unless it has capitals (nginx lowers only then, too): no copy.
    const bool lower = std::none_of(extension.begin(), extension.end(), [](char c) {
      return absl::ascii_isupper(static_cast<unsigned char>(c));
    });
    auto it = lower ? by_extension_.find(base::AsAbsl(extension))
                    : by_extension_.find(absl::AsciiStrToLower(base::AsAbsl(extension)));
    return it == by_extension_.end() ? nullptr : &it->second;
  }
  return nullptr;
}

}  // namespace realip::config
