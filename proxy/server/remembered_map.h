// A map whose entries are made on first use, and which remembers the key it was last asked
// for: on the request path the same key usually comes again (one server, one peer), and then
// a compare replaces the hash and the probe.
#pragma once

#include <memory>

#include "absl/container/flat_hash_map.h"

namespace realip::server {

template <typename Key, typename Value>
class RememberedMap {
 public:
  // The entry of `key`, value-initialized when new.
  Value& Get(const Key& key) {
    if (last_ != nullptr && last_key_ == key) return *last_;
    std::unique_ptr<Value>& entry = map_[key];
    if (entry == nullptr) entry = std::make_unique<Value>();
    last_key_ = key;
    last_ = entry.get();
    return *entry;
  }
  void Clear() {
    map_.clear();
    last_ = nullptr;
  }

 private:
  // Values by unique_ptr, so that the last one stays where it is across inserts.
  absl::flat_hash_map<Key, std::unique_ptr<Value>> map_;
  Key last_key_{};
  Value* last_ = nullptr;  // null: no last entry
};

}  // namespace realip::server
