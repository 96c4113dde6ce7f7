#include "proxy/access/geo_map.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proxy/base/status.h"
#include "proxy/base/strings.h"

namespace realip::access {
namespace {

using base::AsAbsl;

// Bit `i` (0 = most significant) of a network-order byte string.
int BitAt(std::string_view bytes, int i) {
  return (static_cast<uint8_t>(bytes[static_cast<size_t>(i / 8)]) >> (7 - i % 8)) & 1;
}

std::string CidrText(const net::Cidr& network) {
  return absl::StrCat(network.address.ToString(), "/", network.prefix_len);
}

// nginx's geo looks up 255.255.255.255 when the address is not usable (ngx_http_geo_addr).
const net::IpAddress kNoAddress = net::IpAddress::FromV4(0xffffffff);

// Nesting bound for `include` inside geo files, so that a file including itself fails.
constexpr int kMaxIncludeDepth = 16;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

uint32_t GeoMap::Find(const Trie& trie, std::string_view bytes) {
  uint32_t value = trie.nodes[0].value;
  uint32_t node = 0;
  const int bits = static_cast<int>(bytes.size()) * 8;
  for (int i = 0; i < bits; ++i) {
    node = trie.nodes[node].child[BitAt(bytes, i)];
    if (node == kNone) break;
    if (trie.nodes[node].value != kNone) value = trie.nodes[node].value;
  }
  return value;
}

std::string_view GeoMap::Lookup(const net::IpAddress& addr) const {
  return values_[Find(addr.is_v4() ? v4_ : v6_, addr.Bytes())];
}

std::string_view GeoMap::Lookup(const net::SocketAddress& peer) const {
  return Lookup(peer.is_unix ? kNoAddress : peer.ip);
}

std::string_view GeoMap::LookupText(std::string_view address) const {
  std::optional<net::IpAddress> addr = net::IpAddress::Parse(address);
  return Lookup(addr ? *addr : kNoAddress);
}

GeoMap::Trie& GeoMapBuilder::TrieFor(const net::Cidr& network) {
  return network.address.is_v4() ? map_.v4_ : map_.v6_;
}

uint32_t GeoMapBuilder::Intern(std::string_view value) {
  auto [it, inserted] =
      interned_.try_emplace(std::string(value), static_cast<uint32_t>(map_.values_.size()));
  if (inserted) map_.values_.emplace_back(value);
  return it->second;
}

uint32_t GeoMapBuilder::Walk(const net::Cidr& network, bool create) {
  GeoMap::Trie& trie = TrieFor(network);
  const std::string_view bytes = network.address.Bytes();
  uint32_t node = 0;
  for (int i = 0; i < network.prefix_len; ++i) {
    const int bit = BitAt(bytes, i);
    uint32_t next = trie.nodes[node].child[bit];
    if (next == GeoMap::kNone) {
      if (!create) return GeoMap::kNone;
      next = static_cast<uint32_t>(trie.nodes.size());
      trie.nodes.emplace_back();
      trie.nodes[node].child[bit] = next;
    }
    node = next;
  }
  return node;
}

void GeoMapBuilder::SetDefault(std::string_view value) {
  // nginx stores `default` as the values of 0.0.0.0/0 and ::/0.
  const uint32_t index = Intern(value);
  map_.v4_.nodes[0].value = index;
  map_.v6_.nodes[0].value = index;
}

void GeoMapBuilder::Insert(const net::Cidr& network, std::string_view value) {
  const uint32_t index = Intern(value);
  GeoMap::Trie& trie = TrieFor(network);
  const uint32_t node = Walk(network, /*create=*/true);
  uint32_t& slot = trie.nodes[node].value;
  if (network.prefix_len != 0) {
    if (slot != GeoMap::kNone) {
      warnings_.push_back(absl::StrCat("duplicate network \"", CidrText(network), "\", value: \"",
                                       AsAbsl(value), "\", old value: \"", map_.values_[slot],
                                       "\""));
    } else {
      ++map_.networks_;
    }
  }
  slot = index;
}

bool GeoMapBuilder::Delete(const net::Cidr& network) {
  GeoMap::Trie& trie = TrieFor(network);
  const uint32_t node = Walk(network, /*create=*/false);
  if (node == GeoMap::kNone || trie.nodes[node].value == GeoMap::kNone) {
    warnings_.push_back(absl::StrCat("no network \"", CidrText(network), "\" to delete"));
    return false;
  }
  if (node == 0) {
    // The root always answers; deleting /0 restores the built-in empty default.
    trie.nodes[0].value = 0;
    return true;
  }
  trie.nodes[node].value = GeoMap::kNone;
  --map_.networks_;
  return true;
}

absl::Status GeoMapBuilder::ApplyStatement(std::span<const std::string_view> words) {
  if (words.empty()) return absl::InvalidArgumentError("unexpected \";\"");
  const std::string_view first = words[0];
  if (first == "ranges" || first == "proxy" || first == "proxy_recursive") {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", AsAbsl(first), "\" is not supported in geo"));
  }
  if (first == "include") {
    return absl::InvalidArgumentError("\"include\" is not allowed here");
  }
  if (words.size() != 2) return absl::InvalidArgumentError("invalid number of the geo parameters");
  if (first == "default") {
    SetDefault(words[1]);
    return absl::OkStatus();
  }
  const bool is_delete = first == "delete";
  const std::string_view text = is_delete ? words[1] : first;
  absl::StatusOr<net::Cidr> network = net::ParseCidr(text);
  if (!network.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid network \"", AsAbsl(text), "\""));
  }
  if (is_delete) {
    Delete(*network);
  } else {
    Insert(*network, words[1]);
  }
  return absl::OkStatus();
}

std::shared_ptr<const GeoMap> GeoMapBuilder::Build() {
  auto map = std::make_shared<const GeoMap>(std::exchange(map_, GeoMap()));
  interned_ = {{std::string(), 0}};
  return map;
}

GeoTextParser::GeoTextParser(GeoMapBuilder* builder, std::string file_name,
                             GeoIncludeLoader loader)
    : builder_(builder), file_name_(std::move(file_name)), loader_(std::move(loader)) {}

absl::Status GeoTextParser::Error(std::string_view message) const {
  // nginx's form: `message in file:line`.
  return absl::InvalidArgumentError(
      absl::StrCat(AsAbsl(message), " in ", file_name_, ":", line_));
}

absl::Status GeoTextParser::Unexpected(char c) const {
  return Error(absl::StrCat("unexpected \"", absl::string_view(&c, 1), "\""));
}

absl::Status GeoTextParser::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (!status_.ok()) break;
    status_ = Step(c);
  }
  return status_;
}

absl::Status GeoTextParser::Finish() {
  if (!status_.ok()) return status_;
  if (state_ == State::kQuoted) {
    status_ = Error("unexpected end of file, unterminated quoted string");
  } else if (state_ == State::kWord || state_ == State::kAfterQuote || !words_.empty()) {
    status_ = Error("unexpected end of file, expecting \";\"");
  }
  return status_;
}

absl::Status GeoTextParser::Step(char c) {
  switch (state_) {
    case State::kComment:
      if (c == '\n') {
        ++line_;
        state_ = State::kBetween;
      }
      return absl::OkStatus();
    case State::kQuoted:
      if (c == '\n') ++line_;
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == quote_) {
        state_ = State::kAfterQuote;
        return absl::OkStatus();
      }
      word_.push_back(c);
      return absl::OkStatus();
    case State::kWord:
      if (escape_) {
        escape_ = false;
        if (c == '\n') ++line_;
        word_.push_back(c);
        return absl::OkStatus();
      }
      if (IsSpace(c) || c == ';') return EndWordAt(c);
      if (c == '{' || c == '}') return Unexpected(c);
      if (c == '\\') escape_ = true;
      word_.push_back(c);
      return absl::OkStatus();
    case State::kAfterQuote:
      // ngx_conf_read_token wants a separator right after a closing quote.
      if (IsSpace(c) || c == ';') return EndWordAt(c);
      return Unexpected(c);
    case State::kBetween:
      break;
  }
  if (IsSpace(c)) {
    if (c == '\n') ++line_;
    return absl::OkStatus();
  }
  switch (c) {
    case ';':
      return EndStatement();
    case '{':
    case '}':
      return Unexpected(c);
    case '#':
      state_ = State::kComment;
      return absl::OkStatus();
    case '"':
    case '\'':
      state_ = State::kQuoted;
      quote_ = c;
      return absl::OkStatus();
    default:
      state_ = State::kWord;
      escape_ = c == '\\';
      word_.push_back(c);
      return absl::OkStatus();
  }
}

void GeoTextParser::EndWord() {
  words_.push_back(base::UnescapeNginxWord(word_));
  word_.clear();
  state_ = State::kBetween;
}

absl::Status GeoTextParser::EndWordAt(char separator) {
  EndWord();
  if (separator == ';') return EndStatement();
  if (separator == '\n') ++line_;
  return absl::OkStatus();
}

absl::Status GeoTextParser::EndStatement() {
  state_ = State::kBetween;
  std::vector<std::string> words = std::exchange(words_, {});
  if (words.empty()) return Error("unexpected \";\"");
  if (words[0] == "include") {
    if (words.size() != 2) return Error("invalid number of arguments in \"include\"");
    if (!loader_) return Error("\"include\" is not allowed here");
    if (depth_ >= kMaxIncludeDepth) {
      return Error(absl::StrCat("includes nested too deeply at \"", words[1], "\""));
    }
    absl::StatusOr<std::string> text = loader_(words[1]);
    if (!text.ok()) {
      return Error(absl::StrCat("include \"", words[1], "\": ", text.status().message()));
    }
    GeoTextParser child(builder_, words[1], loader_);
    child.depth_ = depth_ + 1;
    REALIP_RETURN_IF_ERROR(child.Feed(*text));
    return child.Finish();
  }
  std::vector<std::string_view> views(words.begin(), words.end());
  absl::Status status = builder_->ApplyStatement(views);
  if (!status.ok()) return Error(base::AsStd(status.message()));
  return absl::OkStatus();
}

absl::Status ParseGeoText(std::string_view text, std::string_view file_name,
                          GeoMapBuilder* builder, const GeoIncludeLoader& loader) {
  GeoTextParser parser(builder, std::string(file_name), loader);
  REALIP_RETURN_IF_ERROR(parser.Feed(text));
  return parser.Finish();
}

}  // namespace realip::access
