// The geo block: a CIDR -> value map with longest-prefix match (nginx's ngx_http_geo_module,
// CIDR mode), its builder and a parser for block bodies and included files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/net/cidr_set.h"
#include "proxy/net/ip_address.h"
#include "proxy/net/socket_address.h"

namespace realip::access {

// An immutable binary trie per family; lookups walk at most 32 (IPv4) or 128 (IPv6) nodes.
// Built by GeoMapBuilder and shared read-only between worker threads.
class GeoMap {
 public:
  // The value of the longest prefix containing `addr`, else the default ("" if none was set).
  // IPv4-mapped IPv6 addresses are IPv4 (net::IpAddress) and meet only IPv4 networks.
  std::string_view Lookup(const net::IpAddress& addr) const;
  // As above; a Unix-socket peer is looked up as 255.255.255.255.
  std::string_view Lookup(const net::SocketAddress& peer) const;
  // `geo $address $var`: the text is parsed as an address, and if it is not one, nginx's
  // fallback 255.255.255.255 is looked up instead.
  std::string_view LookupText(std::string_view address) const;

  // Networks with a value (the defaults excluded).
  size_t networks() const { return networks_; }

 private:
  friend class GeoMapBuilder;
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Node {
    uint32_t child[2] = {kNone, kNone};
    uint32_t value = kNone;  // index into values_
  };
  struct Trie {
    // The root holds the default, "" (values_[0]).
    std::vector<Node> nodes = std::vector<Node>(1, Node{{kNone, kNone}, 0});
  };

  static uint32_t Find(const Trie& trie, std::string_view bytes);

  Trie v4_;
  Trie v6_;
  std::vector<std::string> values_{std::string()};
  size_t networks_ = 0;
};

// Accumulates geo statements in order (later ones replace earlier ones, as nginx does after a
// "duplicate network" warning) and produces the GeoMap.
class GeoMapBuilder {
 public:
  // `default V;`: the value for addresses no network contains, IPv4 and IPv6 alike.
  void SetDefault(std::string_view value);
  // `CIDR V;`: sets the value of one network; a duplicate replaces it with a warning.
  void Insert(const net::Cidr& network, std::string_view value);
  // `delete CIDR;`: removes one network's own value; false (and a warning) if it had none.
  bool Delete(const net::Cidr& network);
  // One statement of a geo block as its words without the ";": {"default", V},
  // {CIDR, V}, {"delete", CIDR}. "include" belongs to the caller (GeoTextParser reads files);
  // "ranges", "proxy" and "proxy_recursive" are refused as unsupported. Errors carry no
  // location: `invalid network "10.0.0.300/8"`.
  [[nodiscard]] absl::Status ApplyStatement(std::span<const std::string_view> words);

  // nginx's load-time warnings so far (`duplicate network "10.0.0.0/8", value: "b", old value:
  // "a"`), for the config loader to log.
  const std::vector<std::string>& warnings() const { return warnings_; }

  // The finished map; the builder is left empty.
  std::shared_ptr<const GeoMap> Build();

 private:
  GeoMap::Trie& TrieFor(const net::Cidr& network);
  uint32_t Intern(std::string_view value);
  // The node for `network`, created if `create`; GeoMap::kNone if absent and not created.
  uint32_t Walk(const net::Cidr& network, bool create);

  GeoMap map_;
  absl::flat_hash_map<std::string, uint32_t> interned_{{std::string(), 0}};
  std::vector<std::string> warnings_;
};

// Reads an included file's contents; the argument is the include's path as written (the
// loader resolves it against the configuration prefix).
using GeoIncludeLoader = std::function<absl::StatusOr<std::string>(std::string_view path)>;

// Incremental parser for the inside of a geo block or a file included from one, in nginx's
// syntax: `CIDR VALUE;`, `default VALUE;`, `delete CIDR;`, `include FILE;`, `#` comments,
// '...' and "..." quoting with nginx's escapes. Bytes may arrive in any split. Errors read
// `invalid network "x" in regions.conf:12`.
class GeoTextParser {
 public:
  // `file_name` names the text in errors. Without a loader, `include` is an error.
  GeoTextParser(GeoMapBuilder* builder, std::string file_name, GeoIncludeLoader loader = {});

  // Consumes all of `bytes`; the first error sticks and is returned by every later call.
  [[nodiscard]] absl::Status Feed(std::string_view bytes);
  // Ends the input: an unterminated statement or quoted string is an error.
  [[nodiscard]] absl::Status Finish();

 private:
  enum class State { kBetween, kWord, kQuoted, kAfterQuote, kComment };

  absl::Status Step(char c);
  void EndWord();
  // Ends the word at a whitespace or ";" separator (which then ends the statement too).
  absl::Status EndWordAt(char separator);
  absl::Status EndStatement();
  absl::Status Error(std::string_view message) const;
  absl::Status Unexpected(char c) const;

  GeoMapBuilder* builder_;
  std::string file_name_;
  GeoIncludeLoader loader_;
  int depth_ = 0;  // include nesting, bounded to stop include loops

  State state_ = State::kBetween;
  char quote_ = 0;
  bool escape_ = false;
  std::string word_;
  std::vector<std::string> words_;
  int line_ = 1;
  absl::Status status_;
};

// Parses a whole geo body or included file into `builder` (GeoTextParser fed at once).
[[nodiscard]] absl::Status ParseGeoText(std::string_view text, std::string_view file_name,
                                        GeoMapBuilder* builder,
                                        const GeoIncludeLoader& loader = {});

}  // namespace realip::access
