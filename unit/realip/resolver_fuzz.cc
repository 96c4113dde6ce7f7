// Fuzz target for Resolve(): byte 0 picks the settings, byte 1 the peer, and the rest is a
// request head of "name: value" lines, optionally preceded by a PROXY header.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/base/check.h"
#include "proxy/realip/resolver.h"

namespace {

using realip::realip::RealIpSource;

std::shared_ptr<const realip::net::CidrSet> Trusted() {
  static const auto set = [] {
    auto s = std::make_shared<realip::net::CidrSet>();
    for (const char* e : {"10.0.0.0/8", "172.16.0.0/12", "2001:db8::/48", "unix:"}) {
      REALIP_CHECK(s->Add(e).ok());
    }
    return s;
  }();
  return set;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0], peer_byte = data[1];
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);

  realip::realip::RealIpSettings settings;
  settings.trusted = (flags & 0x80) ? nullptr : Trusted();
  settings.recursive = flags & 1;
  settings.sources.clear();
  const char* const kSources[] = {"proxy_protocol", "X-Forwarded-For", "X-Real-IP",
                                  "Forwarded", "x-client-ip"};
  for (int i = 0; i < 5; ++i) {
    if (flags & (2 << i)) settings.sources.push_back(*realip::realip::ParseRealIpSource(kSources[i]));
  }

  realip::realip::ResolveInput input;
  if (peer_byte == 0xff) {
    input.peer.is_unix = true;
  } else {
    // Half of the peers are trusted (10.0.0.x), half are not (192.0.2.x).
    input.peer.ip = realip::net::IpAddress::FromV4(
        (peer_byte & 0x80 ? 0xc0000200u : 0x0a000000u) | (peer_byte & 0x7f));
    input.peer.port = 40000;
  }
  realip::realip::DecodeResult proxy = realip::realip::DecodeProxyHeader(in);
  if (proxy.status == realip::realip::DecodeStatus::kDone) {
    input.proxy = &proxy.header;
    in.remove_prefix(proxy.consumed);
  }
  std::vector<realip::realip::HeaderField> headers;
  for (size_t start = 0; start < in.size();) {
    size_t nl = in.find('\n', start);
    std::string_view line = in.substr(start, nl == in.npos ? in.npos : nl - start);
    start = nl == in.npos ? in.size() : nl + 1;
    size_t colon = line.find(':');
    if (colon == line.npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    headers.push_back({line.substr(0, colon), value});
  }
  input.headers = headers;

  realip::realip::Resolution r = realip::realip::Resolve(settings, input);
  REALIP_CHECK(r.realip_remote == input.peer);
  REALIP_CHECK(r.trusted_hops >= 0);
  REALIP_CHECK((r.trusted_hops == 0) == (r.source == "peer"));
  if (r.trusted_hops == 0) REALIP_CHECK(r.client == input.peer);
  REALIP_CHECK(r.untrusted_forwarded == !r.untrusted_headers.empty());
  REALIP_CHECK(r.untrusted_headers.size() <= 3 + settings.sources.size());
  // The verified chain starts with the client.
  std::string client_host = r.client.HostToString();
  REALIP_CHECK(std::string_view(r.realip_x_forwarded_for).substr(0, client_host.size()) ==
               client_host);
  std::string proxy_add;
  realip::realip::AppendProxyAddXForwardedFor(input.headers, r, &proxy_add);
  REALIP_CHECK(!proxy_add.empty());
  return 0;
}
