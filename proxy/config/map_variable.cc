#include "proxy/config/map_variable.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"

namespace realip::config {
namespace {

using base::AsAbsl;

enum class KeyKind { kExact, kLeading, kTrailing, kInvalid };

// How nginx's ngx_hash_add_key() reads a key with NGX_HASH_WILDCARD_KEY: at most one '*', no
// empty label, then ".a.b" and "*.a.b" lead, "a.b.*" trails; any other '*' is invalid.
KeyKind Classify(std::string_view key) {
  if (std::count(key.begin(), key.end(), '*') > 1 || key.find("..") != std::string_view::npos ||
      key.find('\0') != std::string_view::npos) {
    return KeyKind::kInvalid;
  }
  if (key.size() > 1 && key[0] == '.') return KeyKind::kLeading;
  if (key.size() > 2 && absl::StartsWith(AsAbsl(key), "*.")) return KeyKind::kLeading;
  if (key.size() > 2 && absl::EndsWith(AsAbsl(key), ".*")) return KeyKind::kTrailing;
  if (key.find('*') != std::string_view::npos) return KeyKind::kInvalid;
  return KeyKind::kExact;
}

// Inserts keeping `masks` longest first (the longest matching mask wins); false when `mask` is
// there already.
bool AddMask(std::vector<std::pair<std::string, uint32_t>>& masks, std::string mask,
             uint32_t value) {
  for (const auto& m : masks) {
    if (m.first == mask) return false;
  }
  const auto at = std::find_if(masks.begin(), masks.end(),
                               [&](const auto& m) { return m.first.size() < mask.size(); });
  masks.emplace(at, std::move(mask), value);
  return true;
}

const CompiledString& EmptyValue() {
  static const CompiledString* const empty = new CompiledString();
  return *empty;
}

}  // namespace

absl::Status MapVariable::AddEntry(std::string_view written, CompiledString value, bool hostnames) {
  const std::string key = absl::AsciiStrToLower(AsAbsl(written));
  const auto conflict = [&] {
    return absl::InvalidArgumentError(absl::StrCat("conflicting parameter \"", key, "\""));
  };
  const auto index = static_cast<uint32_t>(values_.size());
  const KeyKind kind = hostnames ? Classify(key) : KeyKind::kExact;
  switch (kind) {
    case KeyKind::kInvalid:
      return absl::InvalidArgumentError(absl::StrCat("invalid hostname or wildcard \"", key, "\""));
    case KeyKind::kExact:
      if (!exact_.try_emplace(key, index).second) return conflict();
      break;
    case KeyKind::kLeading: {
      // "*.a.b" and ".a.b" are the same mask; ".a.b" is also the name "a.b" itself.
      const std::string suffix = key[0] == '.' ? key : key.substr(1);
      if (key[0] == '.') {
        if (exact_.contains(suffix.substr(1))) return conflict();
        if (!AddMask(leading_, suffix, index)) return conflict();
        exact_.emplace(suffix.substr(1), index);
      } else if (!AddMask(leading_, suffix, index)) {
        return conflict();
      }
      break;
    }
    case KeyKind::kTrailing:
      if (!AddMask(trailing_, key.substr(0, key.size() - 1), index)) return conflict();
      break;
  }
  values_.push_back(std::move(value));
  return absl::OkStatus();
}

absl::Status MapVariable::SetDefault(CompiledString value) {
  if (default_.has_value()) {
    return absl::InvalidArgumentError("duplicate default map parameter");
  }
  default_ = static_cast<uint32_t>(values_.size());
  values_.push_back(std::move(value));
  return absl::OkStatus();
}

const CompiledString& MapVariable::Select(std::string* source) const {
  for (char& c : *source) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  // ngx_http_map_variable(): with hostnames, "example.com." is "example.com".
  if (hostnames_ && !source->empty() && source->back() == '.') source->pop_back();
  const absl::string_view key(*source);
  if (auto it = exact_.find(key); it != exact_.end()) return values_[it->second];
  if (hostnames_) {
    for (const auto& [suffix, value] : leading_) {
      if (key.size() > suffix.size() && absl::EndsWith(key, suffix)) return values_[value];
    }
    for (const auto& [prefix, value] : trailing_) {
      if (key.size() > prefix.size() && absl::StartsWith(key, prefix)) return values_[value];
    }
  }
  return default_.has_value() ? values_[*default_] : EmptyValue();
}

}  // namespace realip::config
