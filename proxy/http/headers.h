// HTTP header fields as received: order and duplicates kept, names compared case-insensitively
// (RFC 9110 section 5.1), plus the hop-by-hop rules a proxy applies (RFC 9110 section 7.6.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "proxy/base/field_id.h"
#include "proxy/base/strings.h"

namespace realip::http {

using base::FieldId;

// One header line: name and value exactly as received (value without surrounding whitespace),
// and the name's id, set by the HeaderList that holds the line.
struct Header {
  std::string name;
  std::string value;
  FieldId id = FieldId::kOther;
};

// ASCII case-insensitive equality, the comparison HTTP uses for field names and tokens.
using base::EqualsIgnoreCase;

// Header lines in arrival order; duplicates are separate entries.
//
// Clear() keeps the lines' strings for the next message, so a keep-alive connection parsing
// request after request reuses their memory instead of allocating every header again.
// A request header name nginx keeps under ignore_invalid_headers: letters, digits and '-',
// and '_' when `underscores` (underscores_in_headers; ngx_http_parse_header_line's lowcase
// table).
bool ValidHeaderName(std::string_view name, bool underscores);

class HeaderList {
 public:
  void Add(std::string_view name, std::string_view value);
  void Clear() { size_ = 0; }
  // Builds the next line in place (the parser appends fragments as they arrive, with no copy
  // in between): its strings, emptied. The line counts once CommitLine() is called, which
  // classifies its name; until then nothing else may add lines.
  Header& StartLine();
  void CommitLine() {
    Header& h = headers_[size_++];
    h.id = base::ClassifyField(h.name);
  }
  // CommitLine() unless the name is not ValidHeaderName(): then the line is not kept and the
  // next one is built in its place. Known names are valid, so only the others are scanned.
  bool CommitLineIfValidName(bool underscores) {
    Header& h = headers_[size_];
    h.id = base::ClassifyField(h.name);
    if (h.id == base::FieldId::kOther && !ValidHeaderName(h.name, underscores)) return false;
    ++size_;
    return true;
  }

  // The first line named `name`, or nullptr.
  const Header* Find(std::string_view name) const;
  const Header* Find(FieldId id) const;
  // Number of lines named `name`.
  size_t Count(std::string_view name) const;
  size_t Count(FieldId id) const;
  // All values of lines named `name`, joined with ", " (RFC 9110 section 5.3); empty if none.
  std::string Joined(std::string_view name) const;
  // Removes every line named `name`; returns how many were removed.
  size_t Remove(std::string_view name);

  std::span<const Header> lines() const { return {headers_.data(), size_}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  auto begin() const { return headers_.begin(); }
  auto end() const { return headers_.begin() + static_cast<std::ptrdiff_t>(size_); }

 private:
  std::vector<Header> headers_;  // the first size_ are in use; the rest are kept for reuse
  size_t size_ = 0;
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

// The options of the Connection header lines (RFC 9110 section 7.6.1), as written; they
// point into `headers`. Compare them case-insensitively.
using ConnectionOptionList = absl::InlinedVector<std::string_view, 4>;
ConnectionOptionList ConnectionOptions(const HeaderList& headers);

// The fixed hop-by-hop fields, as FieldBit()s: RFC 9110 section 7.6.1 names Connection,
// Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade; Trailer describes the hop's
// own framing (section 6.6.2).
inline constexpr uint32_t kHopByHopFields =
    base::FieldBit(FieldId::kConnection) | base::FieldBit(FieldId::kKeepAlive) |
    base::FieldBit(FieldId::kProxyConnection) | base::FieldBit(FieldId::kTe) |
    base::FieldBit(FieldId::kTrailer) | base::FieldBit(FieldId::kTransferEncoding) |
    base::FieldBit(FieldId::kUpgrade);

// True if `header` is hop-by-hop for this message: one of kHopByHopFields or named by a
// Connection option.
bool IsHopByHop(const Header& header, std::span<const std::string_view> connection_options);

}  // namespace realip::http
