// Forwarded-header parsers and the nginx trust walk: X-Forwarded-For, single-address headers
// (X-Real-IP and any named header), and RFC 7239 Forwarded.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "proxy/net/cidr_set.h"
#include "proxy/net/socket_address.h"

namespace realip::realip {

// Parses one X-Forwarded-For entry as nginx's ngx_parse_addr_port does: "1.2.3.4",
// "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:80". Ports are 1-65535 (leading
// zeros allowed, as nginx); port 0 in the result means none was given. Addresses are strict.
std::optional<net::SocketAddress> ParseXffEntry(std::string_view entry);

// Yields the entries of one X-Forwarded-For value from right to left, byte-exact with nginx's
// ngx_http_get_forwarded_addr_internal: separators are SPACE and COMMA (not TAB), runs of them
// collapse, and a value with leading separators or none at all yields a malformed last entry.
class XffReverseSplitter {
 public:
  explicit XffReverseSplitter(std::string_view value) : value_(value), end_(value.size()) {}
  // The next entry from the right, or nullopt once the value is exhausted.
  std::optional<std::string_view> Next();

 private:
  std::string_view value_;
  size_t end_;
  bool done_ = false;
};

// Addresses the walk stepped onto, most recent (rightmost) first.
using HopList = absl::InlinedVector<net::SocketAddress, 8>;

// Result of one trust walk.
struct WalkResult {
  bool replaced = false;       // some entry replaced the start address
  net::SocketAddress client;   // the resulting address (the start address if !replaced)
};

// nginx's ngx_http_get_forwarded_addr over the lines of one header in arrival order, walked
// from the last line's last entry leftwards: while the current address is trusted, step onto
// the next entry; stop at the first untrusted address or malformed entry; one step unless
// `recursive`. Each address stepped onto is appended to *hops when hops is not null.
WalkResult WalkXff(std::span<const std::string_view> lines, const net::CidrSet& trusted,
                   bool recursive, const net::SocketAddress& start, HopList* hops);

// One RFC 7239 forwarded-element; parameter values unquoted, names matched case-insensitively.
struct ForwardedElement {
  std::optional<std::string> for_node, by, host, proto;
};

// Parses one Forwarded header value (RFC 7239 section 4: comma-separated elements of
// ";"-separated token=value pairs, values tokens or quoted strings, each parameter at most once
// per element; empty list elements allowed). nullopt if the value is malformed.
std::optional<std::vector<ForwardedElement>> ParseForwarded(std::string_view value);

// Parses a node (RFC 7239 section 6): IPv4 or "[IPv6]" with an optional ":port" (1-65535) or
// obfuscated port (ignored, port 0). nullopt for "unknown", obfuscated names and bad syntax.
std::optional<net::SocketAddress> ParseForwardedNode(std::string_view node);

// The trust walk over the `for=` nodes of Forwarded lines (arrival order), with WalkXff's
// rules; an element without a usable `for=` node, or a malformed line, stops the walk.
WalkResult WalkForwarded(std::span<const std::string_view> lines, const net::CidrSet& trusted,
                         bool recursive, const net::SocketAddress& start, HopList* hops);

}  // namespace realip::realip
