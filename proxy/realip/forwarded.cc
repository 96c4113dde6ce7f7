#include "proxy/realip/forwarded.h"

#include <bit>
#include <cstdint>
#include <cstring>

#include "absl/strings/match.h"
#include "proxy/base/strings.h"

namespace realip::realip {
namespace {

using net::IpAddress;
using net::SocketAddress;

// nginx's ngx_atoi for an X-Forwarded-For port: decimal digits only (leading zeros allowed),
// and the result must be 1-65535 (ngx_parse_addr_port).
std::optional<uint16_t> ParseXffPort(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
    if (v > 65535) return std::nullopt;
  }
  if (v == 0) return std::nullopt;
  return static_cast<uint16_t>(v);
}

// The walk shared by every source: `next` yields entries right to left (nullopt when none are
// left; an invalid entry as a SocketAddress-less marker).
template <typename NextFn>
WalkResult Walk(const net::CidrSet& trusted, bool recursive, const SocketAddress& start,
                HopList* hops, NextFn next) {
  WalkResult r;
  r.client = start;
  // ngx_http_get_forwarded_addr(_internal): before each step the current address must be
  // trusted; a malformed entry stops the walk keeping what was found so far.
  while (trusted.Contains(r.client)) {
    std::optional<std::optional<SocketAddress>> entry = next();
    if (!entry || !*entry) break;
    r.client = **entry;
    r.replaced = true;
    if (hops != nullptr) hops->push_back(r.client);
    if (!recursive) break;
  }
  return r;
}

bool IsTchar(char c) {
  // RFC 9110 section 5.6.2.
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool IsOws(char c) { return c == ' ' || c == '\t'; }

// RFC 7239 section 6.3: obfnode / obfport = "_" 1*( ALPHA / DIGIT / "." / "_" / "-" ).
bool IsObfuscated(std::string_view s) {
  if (s.size() < 2 || s[0] != '_') return false;
  for (char c : s.substr(1)) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

class ForwardedParser {
 public:
  explicit ForwardedParser(std::string_view s) : s_(s) {}

  std::optional<std::vector<ForwardedElement>> Parse() {
    std::vector<ForwardedElement> out;
    // forwarded = 1#forwarded-element; empty list elements are allowed (RFC 9110 5.6.1).
    while (true) {
      SkipOws();
      if (AtEnd()) break;
      if (Peek() == ',') {
        ++i_;
        continue;
      }
      ForwardedElement element;
      if (!ParseElement(&element)) return std::nullopt;
      out.push_back(std::move(element));
      SkipOws();
      if (AtEnd()) break;
      if (Peek() != ',') return std::nullopt;
      ++i_;
    }
    return out;
  }

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return s_[i_]; }
  void SkipOws() {
    while (!AtEnd() && IsOws(Peek())) ++i_;
  }

  // forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
  bool ParseElement(ForwardedElement* e) {
    bool any = false;
    while (true) {
      SkipOws();
      if (!AtEnd() && Peek() != ';' && Peek() != ',') {
        if (!ParsePair(e)) return false;
        any = true;
      }
      SkipOws();
      if (AtEnd() || Peek() != ';') break;
      ++i_;
    }
    return any;
  }

  // forwarded-pair = token "=" value; value = token / quoted-string
  bool ParsePair(ForwardedElement* e) {
    size_t start = i_;
    while (!AtEnd() && IsTchar(Peek())) ++i_;
    std::string_view name = s_.substr(start, i_ - start);
    if (name.empty() || AtEnd() || Peek() != '=') return false;
    ++i_;
    std::string value;
    if (!AtEnd() && Peek() == '"') {
      ++i_;
      bool closed = false;
      while (!AtEnd()) {
        char c = s_[i_++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (AtEnd()) return false;
          c = s_[i_++];
        }
        // qdtext / quoted-pair exclude CTLs other than HTAB (RFC 9110 section 5.6.4).
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) return false;
        value.push_back(c);
      }
      if (!closed) return false;
    } else {
      size_t vstart = i_;
      while (!AtEnd() && IsTchar(Peek())) ++i_;
      if (i_ == vstart) return false;
      value.assign(s_.substr(vstart, i_ - vstart));
    }
    std::optional<std::string>* slot = nullptr;
    const absl::string_view lname = base::AsAbsl(name);
    if (absl::EqualsIgnoreCase(lname, "for")) slot = &e->for_node;
    else if (absl::EqualsIgnoreCase(lname, "by")) slot = &e->by;
    else if (absl::EqualsIgnoreCase(lname, "host")) slot = &e->host;
    else if (absl::EqualsIgnoreCase(lname, "proto")) slot = &e->proto;
    else return true;  // section 5.5: other parameters are registered extensions; ignored
    // Section 4: "Each parameter MUST NOT occur more than once per forwarded-element."
    if (slot->has_value()) return false;
    *slot = std::move(value);
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::optional<SocketAddress> ParseXffEntry(std::string_view entry) {
  if (std::optional<IpAddress> ip = IpAddress::Parse(entry)) return SocketAddress{*ip, 0, false};
  // ngx_parse_addr_port: "[addr]:port" (any address family inside the brackets) or
  // "IPv4:port"; "[addr]" alone as nginx accepts it since 1.27.3.
  std::optional<net::HostPortParts> parts = net::SplitHostPort(entry);
  if (!parts || (!parts->bracketed && !parts->port)) return std::nullopt;
  std::optional<uint16_t> port;
  if (parts->port) {
    port = ParseXffPort(*parts->port);
    if (!port) return std::nullopt;
  }
  std::optional<IpAddress> ip = IpAddress::Parse(parts->host);
  if (!ip) return std::nullopt;
  return SocketAddress{*ip, port.value_or(0), false};
}

namespace {

bool IsXffSeparator(char c) { return c == ' ' || c == ','; }

// 0x80 in each byte of `x` that is zero, nothing elsewhere (no borrow between bytes).
uint64_t ZeroBytes(uint64_t x) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7f;
  return ~(((x & kLow7) + kLow7) | x | kLow7);
}

// The index of the last separator in s[1, p], or 0 if there is none. Eight bytes at a time
// from the right, then byte by byte; s[0] is never looked at (see Next()).
size_t LastXffSeparator(const char* s, size_t p) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  while (p >= 8) {
    uint64_t w;
    std::memcpy(&w, s + p - 7, 8);
    const uint64_t seps = ZeroBytes(w ^ (kOnes * ' ')) | ZeroBytes(w ^ (kOnes * ','));
    // Little-endian: the highest set byte is the rightmost separator.
    if (seps != 0) return p - 7 + static_cast<size_t>(63 - std::countl_zero(seps)) / 8;
    p -= 8;
  }
  for (; p > 0; --p) {
    if (IsXffSeparator(s[p])) return p;
  }
  return 0;
}

}  // namespace

std::optional<std::string_view> XffReverseSplitter::Next() {
  if (done_) return std::nullopt;
  // A transcription of ngx_http_get_forwarded_addr_internal's scan over value_[0, end_):
  // strip trailing separators (never index 0), then the entry starts after the last separator
  // found above index 0. An exhausted remainder yields an empty (invalid) entry.
  if (end_ == 0) {
    done_ = true;
    return std::string_view();
  }
  size_t p = end_ - 1;
  while (p > 0 && IsXffSeparator(value_[p])) {
    --p;
    --end_;
  }
  const size_t sep = LastXffSeparator(value_.data(), p);
  p = sep == 0 ? 0 : sep + 1;
  std::string_view entry = value_.substr(p, end_ - p);
  if (p == 0) {
    done_ = true;
  } else {
    end_ = p - 1;
  }
  return entry;
}

WalkResult WalkXff(std::span<const std::string_view> lines, const net::CidrSet& trusted,
                   bool recursive, const SocketAddress& start, HopList* hops) {
  // Walk()'s loop written out: while the current address is trusted, step onto the next
  // entry to the left; lines are walked from the last to the first (nginx 1.3.14+, ticket
  // #106). A malformed entry stops the walk.
  WalkResult r;
  r.client = start;
  size_t line = lines.size();
  XffReverseSplitter splitter({});
  bool splitting = false;
  while (trusted.Contains(r.client)) {
    std::optional<std::string_view> text;
    while (!splitting || !(text = splitter.Next())) {
      if (line == 0) return r;
      splitter = XffReverseSplitter(lines[--line]);
      splitting = true;
    }
    std::optional<SocketAddress> entry = ParseXffEntry(*text);
    if (!entry) break;
    r.client = *entry;
    r.replaced = true;
    if (hops != nullptr) hops->push_back(r.client);
    if (!recursive) break;
  }
  return r;
}

std::optional<std::vector<ForwardedElement>> ParseForwarded(std::string_view value) {
  return ForwardedParser(value).Parse();
}

std::optional<SocketAddress> ParseForwardedNode(std::string_view node) {
  // node = nodename [ ":" node-port ]; nodename = IPv4address / "[" IPv6address "]" /
  // "unknown" / obfnode (RFC 7239 section 6). An IPv4-mapped IPv6 text is a valid
  // IPv6address; IpAddress reports it as IPv4.
  std::optional<net::HostPortParts> parts = net::SplitHostPort(node);
  if (!parts) return std::nullopt;
  std::optional<IpAddress> ip;
  if (parts->bracketed) {
    ip = IpAddress::ParseV6(parts->host);
  } else {
    ip = IpAddress::ParseV4(parts->host);
  }
  if (!ip) return std::nullopt;  // "unknown", obfuscated identifiers, garbage
  uint16_t port = 0;
  if (parts->port && !IsObfuscated(*parts->port)) {
    // port = 1*5DIGIT; an obfuscated port ("_" 1*(ALPHA / DIGIT / "." / "_" / "-")) is
    // ignored.
    std::string_view text = *parts->port;
    if (text.empty() || text.size() > 5) return std::nullopt;
    uint32_t v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if (v == 0 || v > 65535) return std::nullopt;
    port = static_cast<uint16_t>(v);
  }
  return SocketAddress{*ip, port, false};
}

WalkResult WalkForwarded(std::span<const std::string_view> lines, const net::CidrSet& trusted,
                         bool recursive, const SocketAddress& start, HopList* hops) {
  size_t line = lines.size();
  std::optional<std::vector<ForwardedElement>> elements;
  size_t element = 0;
  bool line_malformed = false;
  return Walk(trusted, recursive, start, hops,
              [&]() -> std::optional<std::optional<SocketAddress>> {
                while (true) {
                  if (line_malformed) return std::optional<SocketAddress>();
                  if (elements && element > 0) {
                    const ForwardedElement& e = (*elements)[--element];
                    // RFC 7239 section 8: an element without a usable for= cannot be matched
                    // against the trusted set, so it ends the walk like a bad XFF entry.
                    if (!e.for_node) return std::optional<SocketAddress>();
                    return ParseForwardedNode(*e.for_node);
                  }
                  if (line == 0) return std::nullopt;
                  elements = ParseForwarded(lines[--line]);
                  // A malformed line cannot be split reliably (an open quote swallows what
                  // follows), so nothing in it is used.
                  if (!elements) line_malformed = true;
                  else element = elements->size();
                }
              });
}

}  // namespace realip::realip
