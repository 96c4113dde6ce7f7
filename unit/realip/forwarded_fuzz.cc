// Fuzz target for the forwarded-header parsers and walks. The input is split into header
// lines at '\n'; the first byte picks recursion.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/base/check.h"
#include "proxy/realip/forwarded.h"

namespace {

const realip::net::CidrSet& Trusted() {
  static const realip::net::CidrSet* set = [] {
    auto* s = new realip::net::CidrSet;
    for (const char* e : {"10.0.0.0/8", "127.0.0.0/8", "2001:db8::/32", "unix:"}) {
      REALIP_CHECK(s->Add(e).ok());
    }
    return s;
  }();
  return *set;
}

// What a walk may return: its start address, or an address it stepped onto (the last one).
void CheckWalk(const realip::realip::WalkResult& r, const realip::realip::HopList& hops,
               const realip::net::SocketAddress& start) {
  if (!r.replaced) {
    REALIP_CHECK(r.client == start && hops.empty());
  } else {
    REALIP_CHECK(!hops.empty() && hops.back() == r.client);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool recursive = data[0] & 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> lines;
  for (size_t start = 0;;) {
    size_t nl = in.find('\n', start);
    lines.push_back(in.substr(start, nl == in.npos ? in.npos : nl - start));
    if (nl == in.npos) break;
    start = nl + 1;
  }
  for (std::string_view line : lines) {
    size_t total = 0;
    realip::realip::XffReverseSplitter splitter(line);
    while (std::optional<std::string_view> e = splitter.Next()) {
      total += e->size();
      REALIP_CHECK(total <= line.size() + 1);
      if (std::optional<realip::net::SocketAddress> a = realip::realip::ParseXffEntry(*e)) {
        std::string text = a->port != 0 ? a->ToString() : a->HostToString();
        REALIP_CHECK(realip::realip::ParseXffEntry(text) == a);
      }
    }
    if (auto elements = realip::realip::ParseForwarded(line)) {
      for (const auto& el : *elements) {
        if (el.for_node) (void)realip::realip::ParseForwardedNode(*el.for_node);
      }
    }
  }
  const realip::net::SocketAddress start{realip::net::IpAddress::FromV4(0x0a000001), 1, false};
  realip::realip::HopList hops;
  CheckWalk(realip::realip::WalkXff(lines, Trusted(), recursive, start, &hops), hops, start);
  hops.clear();
  CheckWalk(realip::realip::WalkForwarded(lines, Trusted(), recursive, start, &hops), hops,
            start);
  return 0;
}
