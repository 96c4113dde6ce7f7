// HTTP header fields as received: order and duplicates kept, names compared case-insensitively
// (RFC 9110 section 5.1), plus the hop-by-hop rules a proxy applies (RFC 9110 section 7.6.1).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace realip::http {

// One header line: name and value exactly as received (value without surrounding whitespace).
struct Header {
  std::string name;
  std::string value;
};

// ASCII case-insensitive equality, the comparison HTTP uses for field names and tokens.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Header lines in arrival order; duplicates are separate entries.
class HeaderList {
 public:
  void Add(std::string_view name, std::string_view value);
  void Clear() { headers_.clear(); }

  // The first line named `name`, or nullptr.
  const Header* Find(std::string_view name) const;
  // Number of lines named `name`.
  size_t Count(std::string_view name) const;
  // All values of lines named `name`, joined with ", " (RFC 9110 section 5.3); empty if none.
  std::string Joined(std::string_view name) const;
  // Removes every line named `name`; returns how many were removed.
  size_t Remove(std::string_view name);

  const std::vector<Header>& lines() const { return headers_; }
  size_t size() const { return headers_.size(); }
  bool empty() const { return headers_.empty(); }
  auto begin() const { return headers_.begin(); }
  auto end() const { return headers_.end(); }

 private:
  std::vector<Header> headers_;
};

// Calls `fn(token)` for each non-empty element of a comma-separated list value
// (RFC 9110 section 5.6.1), with optional whitespace trimmed.
template <typename Fn>
void ForEachListElement(std::string_view value, Fn&& fn) {
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t comma = value.find(',', pos);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view element = value.substr(pos, comma - pos);
    while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) {
      element.remove_prefix(1);
    }
    while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) {
      element.remove_suffix(1);
    }
    if (!element.empty()) fn(element);
    pos = comma + 1;
  }
}

// True if any line named `name` lists `token` (case-insensitive), e.g. Connection: close.
bool HasToken(const HeaderList& headers, std::string_view name, std::string_view token);

// The options of the Connection header lines (RFC 9110 section 7.6.1), lowercased.
std::vector<std::string> ConnectionOptions(const HeaderList& headers);

// True if `name` is hop-by-hop for this message: one of the fixed set (Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade) or named by a Connection option.
bool IsHopByHop(std::string_view name, const std::vector<std::string>& connection_options);

}  // namespace realip::http
