// nginx's `types` table: the Content-Type of a response the proxy makes from a `return` text,
// chosen by the extension of the request's URI, else `default_type`.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace realip::config {

class MimeTypes {
 public:
  // The table a level gets when no `types` block reaches it: nginx's three built-in entries
  // (html, gif, jpg).
  static std::shared_ptr<const MimeTypes> Defaults();

  // Maps `extension` (matched ignoring case) to `type`. Returns the type it had before, or
  // an empty string if it had none (nginx then warns of a duplicate extension; the later
  // entry wins).
  std::string Add(std::string_view extension, std::string_view type);

  // The type for the extension of `uri` (nginx's r->exten: what follows the last '.' of the
  // last path segment, unless that '.' starts the segment), or null when there is none or it
  // is not in the table.
  const std::string* ForUri(std::string_view uri) const;

  size_t size() const { return by_extension_.size(); }

 private:
  absl::flat_hash_map<std::string, std::string> by_extension_;  // extension in lower case
};

}  // namespace realip::config
