// A `map SOURCE $name { ... }` block (nginx's ngx_http_map_module): the table that picks the
// value of $name from the value of SOURCE.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "proxy/config/variables.h"

namespace realip::config {

// One map block, immutable once loaded. Keys are stored in lower case: nginx matches the source
// value against them ignoring case.
class MapVariable {
 public:
  std::string name;       // without '$', lower case
  CompiledString source;  // evaluated per request, then looked up
  std::string file;       // where the block is (messages)
  int line = 0;

  // Adds the entry `key value`. With `hostnames` (the block's `hostnames` parameter seen) a key
  // may be a mask: "*.example.com" and ".example.com" (the latter also "example.com" itself),
  // or "www.example.*". Errors are nginx's texts: `conflicting parameter "KEY"` for a key (or
  // an equivalent mask) already present, `invalid hostname or wildcard "KEY"`.
  [[nodiscard]] absl::Status AddEntry(std::string_view key, CompiledString value, bool hostnames);
  // Sets the value used when no key matches (empty without one). Error: a second default.
  [[nodiscard]] absl::Status SetDefault(CompiledString value);
  // The source value was last seen with `hostnames` on: a trailing dot is ignored and masks
  // apply.
  void set_hostnames(bool on) { hostnames_ = on; }
  bool hostnames() const { return hostnames_; }

  // The value for the source value `*source`, which this lower-cases (and without its trailing
  // dot when hostnames) in place: the exact key, else the longest leading mask, else the longest
  // trailing mask, else the default. Does not allocate.
  const CompiledString& Select(std::string* source) const;

 private:
  std::vector<CompiledString> values_;
  absl::flat_hash_map<std::string, uint32_t> exact_;        // key -> index into values_
  std::vector<std::pair<std::string, uint32_t>> leading_;   // ".example.com", longest first
  std::vector<std::pair<std::string, uint32_t>> trailing_;  // "www.example.", longest first
  std::optional<uint32_t> default_;
  bool hostnames_ = false;
};

}  // namespace realip::config
