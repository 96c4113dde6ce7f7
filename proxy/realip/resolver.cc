#include "proxy/realip/resolver.h"

#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"
#include "proxy/realip/forwarded.h"

namespace realip::realip {
namespace {

using net::SocketAddress;

constexpr std::string_view kXffLower = "x-forwarded-for";
constexpr std::string_view kForwardedLower = "forwarded";
// Headers that claim a client address; seen from an untrusted sender they are a spoofing
// attempt or a misconfiguration.
constexpr std::string_view kForwardedHeaders[] = {kXffLower, "x-real-ip", kForwardedLower};

bool NameIs(std::string_view name, std::string_view lower) {
  return base::EqualsIgnoreCase(name, lower);
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

using Lines = absl::InlinedVector<std::string_view, 4>;

// nginx reads every line of X-Forwarded-For but only the first line of X-Real-IP or of a
// generic header; RFC 7239 allows a Forwarded list to span lines, so all are read.
Lines CollectLines(std::span<const HeaderField> headers, std::string_view lower, bool all) {
  Lines lines;
  for (const HeaderField& h : headers) {
    if (!NameIs(h.name, lower)) continue;
    lines.push_back(h.value);
    if (!all) break;
  }
  return lines;
}

void AddUntrusted(std::string_view lower, Resolution* res) {
  for (const std::string& seen : res->untrusted_headers) {
    if (seen == lower) return;
  }
  res->untrusted_headers.emplace_back(lower);
}

}  // namespace

namespace internal {

bool HeaderNameIs(std::string_view name, std::string_view lower) { return NameIs(name, lower); }

}  // namespace internal

absl::StatusOr<RealIpSource> ParseRealIpSource(std::string_view value) {
  // nginx compares "proxy_protocol" case-sensitively; any other value is a header name.
  if (value == "proxy_protocol") {
    return RealIpSource{RealIpSource::Kind::kProxyProtocol, "proxy_protocol", "proxy_protocol"};
  }
  if (!IsToken(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid real_ip_header \"", base::AsAbsl(value), "\""));
  }
  RealIpSource source;
  source.kind = RealIpSource::Kind::kHeader;
  source.name = std::string(value);
  source.lower_name = absl::AsciiStrToLower(base::AsAbsl(value));
  return source;
}

Resolution Resolve(const RealIpSettings& settings, const ResolveInput& input) {
  Resolution res;
  Resolve(settings, input, &res);
  return res;
}

void Resolve(const RealIpSettings& settings, const ResolveInput& input, Resolution* out) {
  static const net::CidrSet kNothingTrusted;
  const net::CidrSet& trusted = settings.trusted ? *settings.trusted : kNothingTrusted;

  // Every member is set below, in place: the strings keep their memory (a connection's next
  // request) and nothing is assigned twice.
  Resolution& res = *out;
  res.client = input.peer;
  res.realip_remote = input.peer;
  res.trusted_hops = 0;
  res.untrusted_forwarded = false;
  res.untrusted_headers.clear();
  const std::string* source_name = nullptr;  // null: "peer"

  // Every address the walks stepped onto, in order; each step passed a trusted address.
  HopList hops;
  bool first_hop_from_proxy = false;
  if (!trusted.empty()) {
    SocketAddress current = input.peer;
    for (const RealIpSource& source : settings.sources) {
      const size_t before = hops.size();
      WalkResult walk;
      if (source.kind == RealIpSource::Kind::kProxyProtocol) {
        // nginx: only a header that carried addresses counts (UNKNOWN/LOCAL decline), and the
        // immediate peer must be trusted; the port comes from the header too.
        if (input.proxy == nullptr || input.proxy->local || !trusted.Contains(current)) continue;
        walk.replaced = true;
        walk.client = input.proxy->source;
        hops.push_back(walk.client);
      } else {
        const bool xff = source.lower_name == kXffLower;
        const bool forwarded = source.lower_name == kForwardedLower;
        Lines lines = CollectLines(input.headers, source.lower_name, xff || forwarded);
        if (lines.empty()) continue;
        walk = forwarded ? WalkForwarded(lines, trusted, settings.recursive, current, &hops)
                         : WalkXff(lines, trusted, settings.recursive, current, &hops);
      }
      if (!walk.replaced) continue;
      if (before == 0 && source.kind == RealIpSource::Kind::kProxyProtocol) {
        first_hop_from_proxy = true;
      }
      current = walk.client;
      source_name = &source.name;
    }
    res.client = current;
    res.trusted_hops = static_cast<int>(hops.size());
  }

  if (source_name != nullptr) {
    res.source = *source_name;
  } else {
    res.source = "peer";
  }

  // The hop that connected to us: an accepted PROXY header names it (the load balancer in
  // front is transparent), otherwise it is the TCP peer. It also sent the request headers.
  const SocketAddress& connecting = first_hop_from_proxy ? hops.front() : input.peer;

  if (!trusted.Contains(connecting)) {
    for (const HeaderField& h : input.headers) {
      for (std::string_view known : kForwardedHeaders) {
        if (NameIs(h.name, known)) AddUntrusted(known, &res);
      }
      for (const RealIpSource& source : settings.sources) {
        if (source.kind == RealIpSource::Kind::kHeader && NameIs(h.name, source.lower_name)) {
          AddUntrusted(source.lower_name, &res);
        }
      }
    }
    res.untrusted_forwarded = !res.untrusted_headers.empty();
  }

  // $realip_x_forwarded_for: only what the trust walk verified, client first. Entries left of
  // the client were written by the client and are dropped. Written in place: room for the
  // longest text of every address, then cut to what was written.
  std::string& chain = res.realip_x_forwarded_for;
  constexpr size_t kSlot = net::IpAddress::kMaxStringLength + 2;  // address and ", "
  chain.resize((hops.size() + 1) * kSlot);
  char* const begin = chain.data();
  char* p = begin;
  for (size_t i = hops.size(); i-- > 0;) {
    if (p != begin) p = std::copy_n(", ", 2, p);
    p += hops[i].FormatHost(p);
  }
  if (!first_hop_from_proxy) {
    if (p != begin) p = std::copy_n(", ", 2, p);
    p += input.peer.FormatHost(p);
  }
  chain.resize(static_cast<size_t>(p - begin));

  res.connecting = connecting;
}

void AppendProxyAddXForwardedFor(std::span<const HeaderField> headers,
                                 const Resolution& resolution, std::string* out) {
  for (const HeaderField& h : headers) {
    if (!NameIs(h.name, kXffLower)) continue;
    out->append(h.value);
    out->append(", ");
  }
  resolution.connecting.AppendHostTo(out);
}

}  // namespace realip::realip
