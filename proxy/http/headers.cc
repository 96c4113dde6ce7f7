#include "proxy/http/headers.h"

#include <algorithm>
#include <array>

namespace realip::http {

void HeaderList::Add(std::string_view name, std::string_view value) {
  if (size_ < headers_.size()) {
    Header& h = headers_[size_];
    h.name.assign(name);
    h.value.assign(value);
  } else {
    headers_.push_back(Header{std::string(name), std::string(value)});
  }
  headers_[size_].id = base::ClassifyField(name);
  ++size_;
}

bool ValidHeaderName(std::string_view name, bool underscores) {
  static constexpr std::array<bool, 256> kValid = [] {
    std::array<bool, 256> v{};
    for (int c = '0'; c <= '9'; ++c) v[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) v[c] = v[c - 'a' + 'A'] = true;
    v['-'] = true;
    return v;
  }();
  for (const char c : name) {
    if (!kValid[static_cast<unsigned char>(c)] && !(c == '_' && underscores)) return false;
  }
  return true;
}

Header& HeaderList::StartLine() {
  if (size_ == headers_.size()) headers_.emplace_back();
  Header& h = headers_[size_];
  h.name.clear();
  h.value.clear();
  return h;
}

const Header* HeaderList::Find(std::string_view name) const {
  for (const Header& h : *this) {
    if (EqualsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

const Header* HeaderList::Find(FieldId id) const {
  for (const Header& h : *this) {
    if (h.id == id) return &h;
  }
  return nullptr;
}

size_t HeaderList::Count(FieldId id) const {
  return static_cast<size_t>(
      std::count_if(begin(), end(), [id](const Header& h) { return h.id == id; }));
}

size_t HeaderList::Count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(begin(), end(), [&](const Header& h) {
    return EqualsIgnoreCase(h.name, name);
  }));
}

std::string HeaderList::Joined(std::string_view name) const {
  std::string out;
  for (const Header& h : *this) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    if (!out.empty()) out.append(", ");
    out.append(h.value);
  }
  return out;
}

size_t HeaderList::Remove(std::string_view name) {
  // Kept lines move forward in order; removed ones end up past size_, ready for reuse.
  size_t kept = 0;
  for (size_t i = 0; i < size_; ++i) {
    if (EqualsIgnoreCase(headers_[i].name, name)) continue;
    if (kept != i) std::swap(headers_[kept], headers_[i]);
    ++kept;
  }
  size_t removed = size_ - kept;
  size_ = kept;
  return removed;
}

bool HasToken(const HeaderList& headers, std::string_view name, std::string_view token) {
  bool found = false;
  for (const Header& h : headers) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    ForEachListElement(h.value, [&](std::string_view element) {
      if (EqualsIgnoreCase(element, token)) found = true;
    });
  }
  return found;
}

ConnectionOptionList ConnectionOptions(const HeaderList& headers) {
  ConnectionOptionList options;
  for (const Header& h : headers) {
    if (h.id != FieldId::kConnection) continue;
    ForEachListElement(h.value, [&](std::string_view element) { options.push_back(element); });
  }
  return options;
}

bool IsHopByHop(const Header& header, std::span<const std::string_view> connection_options) {
  if ((kHopByHopFields & base::FieldBit(header.id)) != 0) return true;
  for (std::string_view option : connection_options) {
    if (EqualsIgnoreCase(header.name, option)) return true;
  }
  return false;
}

}  // namespace realip::http
