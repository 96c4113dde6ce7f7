#include "proxy/server/observability.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/base/logging.h"
#include "proxy/base/strings.h"
#include "proxy/http/headers.h"
#include "proxy/realip/forwarded.h"
#include "proxy/server/access_log.h"

namespace realip::server {
namespace {

using metrics::Metric;

// Headers that claim a client address even when real_ip_header does not name them; the
// resolver counts the same ones as spoofing attempts from untrusted senders.
constexpr std::string_view kForwardedHeaders[] = {"x-forwarded-for", "x-real-ip", "forwarded"};

// A minimal JSON writer: the caller places commas with Key()/Item(), values are escaped.
class Json {
 public:
  void Open(char c) {
    Separate();
    out_.push_back(c);
    first_ = true;
  }
  void Close(char c) {
    out_.push_back(c);
    first_ = false;
  }
  Json& Key(std::string_view key) {
    Separate();
    String(key);
    out_.push_back(':');
    first_ = true;  // the value that follows needs no comma
    return *this;
  }
  void Str(std::string_view value) {
    Separate();
    String(value);
  }
  void Raw(std::string_view literal) {
    Separate();
    out_.append(literal);
  }
  void Int(int64_t value) { Raw(std::to_string(value)); }
  void Bool(bool value) { Raw(value ? "true" : "false"); }
  void Null() { Raw("null"); }
  // {"address": "...", "port": N|null}
  void Address(const net::SocketAddress& a) {
    Open('{');
    Key("address").Str(a.HostToString());
    if (a.is_unix || a.port == 0) {
      Key("port").Null();
    } else {
      Key("port").Int(a.port);
    }
    Close('}');
  }
  std::string Take() { return std::move(out_); }

 private:
  void Separate() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  void String(std::string_view s) {
    out_.push_back('"');
    AppendJsonEscaped(s, true, &out_);
    out_.push_back('"');
  }
  std::string out_;
  bool first_ = true;
};

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

// The $proxy_protocol_tlv_NAME name of a TLV type, or "" for types without one.
std::string_view TlvName(uint8_t type) {
  switch (type) {
    case realip::pp2::kTypeAlpn:
      return "alpn";
    case realip::pp2::kTypeAuthority:
      return "authority";
    case realip::pp2::kTypeCrc32c:
      return "crc32c";
    case realip::pp2::kTypeNoop:
      return "noop";
    case realip::pp2::kTypeUniqueId:
      return "unique_id";
    case realip::pp2::kTypeSsl:
      return "ssl";
    case realip::pp2::kTypeNetns:
      return "netns";
    case realip::pp2::kTypeAws:
      return "aws_vpce_id";
    case realip::pp2::kTypeAzure:
      return "azure_pl_id";
    case realip::pp2::kTypeGcp:
      return "gcp_conn_id";
    default:
      return "";
  }
}

void WriteProxyHeader(const realip::ProxyHeader* pp, Json& j) {
  if (pp == nullptr) {
    j.Null();
    return;
  }
  j.Open('{');
  j.Key("version").Int(pp->version);
  j.Key("command").Str(pp->command);
  j.Key("local").Bool(pp->local);
  j.Key("source");
  if (pp->local) {
    j.Null();
  } else {
    j.Address(pp->source);
  }
  j.Key("destination");
  if (pp->local) {
    j.Null();
  } else {
    j.Address(pp->destination);
  }
  j.Key("tlvs").Open('[');
  for (const realip::ProxyTlv& tlv : pp->tlvs) {
    j.Open('{');
    char type[8];
    std::snprintf(type, sizeof(type), "0x%02x", tlv.type);
    j.Key("type").Str(type);
    std::string_view name = TlvName(tlv.type);
    j.Key("name").Str(name.empty() ? std::string_view(type) : name);
    j.Key("length").Int(static_cast<int64_t>(tlv.value.size()));
    j.Key("hex").Str(Hex(tlv.value));
    // Text and decoded values where the TLV has one (ssl, crc32c and noop are binary).
    if (!name.empty() && name != "ssl" && name != "crc32c" && name != "noop") {
      std::optional<std::string> value = pp->TlvByName(name);
      if (value.has_value()) j.Key("value").Str(*value);
    }
    j.Close('}');
  }
  j.Close(']');
  j.Key("ssl");
  if (pp->FindTlv(realip::pp2::kTypeSsl) == nullptr) {
    j.Null();
  } else {
    j.Open('{');
    if (auto client = pp->SslClient()) j.Key("client").Int(*client);
    if (auto verify = pp->SslVerify()) j.Key("verify").Int(*verify);
    for (std::string_view field : {"version", "cn", "cipher", "sig_alg", "key_alg"}) {
      if (auto v = pp->TlvByName(absl::StrCat("ssl_", base::AsAbsl(field)))) {
        j.Key(field).Str(*v);
      }
    }
    j.Close('}');
  }
  j.Close('}');
}

// One header line's hops, left to right as written, each marked trusted or not.
void WriteHops(std::string_view lower_name, std::string_view value, const net::CidrSet& trusted,
               Json& j) {
  struct Hop {
    std::string entry;
    std::optional<net::SocketAddress> address;
  };
  std::vector<Hop> hops;
  if (lower_name == "forwarded") {
    if (auto elements = realip::ParseForwarded(value)) {
      for (const realip::ForwardedElement& e : *elements) {
        if (!e.for_node.has_value()) continue;
        hops.push_back({*e.for_node, realip::ParseForwardedNode(*e.for_node)});
      }
    }
  } else {
    // The resolver walks every other header with X-Forwarded-For's list syntax.
    realip::XffReverseSplitter split(value);
    while (std::optional<std::string_view> entry = split.Next()) {
      hops.push_back({std::string(*entry), realip::ParseXffEntry(*entry)});
    }
    std::reverse(hops.begin(), hops.end());
  }
  j.Open('[');
  for (const Hop& hop : hops) {
    j.Open('{');
    j.Key("entry").Str(hop.entry);
    j.Key("address");
    if (hop.address.has_value()) {
      j.Str(hop.address->HostToString());
    } else {
      j.Null();
    }
    j.Key("trusted").Bool(hop.address.has_value() && trusted.Contains(*hop.address));
    j.Close('}');
  }
  j.Close(']');
}

bool IsForwardedHeader(std::string_view name, const realip::RealIpSettings& settings) {
  for (std::string_view known : kForwardedHeaders) {
    if (http::EqualsIgnoreCase(name, known)) return true;
  }
  for (const realip::RealIpSource& source : settings.sources) {
    if (source.kind == realip::RealIpSource::Kind::kHeader &&
        http::EqualsIgnoreCase(name, source.lower_name)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view ServerLabel(const config::Server* server) {
  if (server == nullptr || server->names.empty() || server->names.front().empty()) return "_";
  return server->names.front();
}

std::string_view UpstreamFailureReason(int status, std::string_view why) {
  if (status == 504) return "timeout";
  if (absl::StartsWith(base::AsAbsl(why), "connect")) return "connect";
  if (absl::StrContains(base::AsAbsl(why), "prematurely closed")) return "closed";
  if (absl::StrContains(base::AsAbsl(why), "invalid") ||
      absl::StrContains(base::AsAbsl(why), "101")) {
    return "invalid_response";
  }
  return "io";
}

void CountProxyHeader(metrics::Shard& shard, const realip::ProxyHeader& header) {
  if (!shard.collecting()) return;
  shard.Add(Metric::kProxyProtocol, {header.version == 2 ? "2" : "1", header.command});
}

void RequestMetrics::Clear() {
  servers_.Clear();
  peers_.Clear();
  sources_.clear();
}

void RequestMetrics::CountRequest(const RequestContext& ctx, absl::Time now) {
  if (!shard_->collecting()) return;  // and find no series: none may appear while off
  ServerSeries& s = servers_.Get(ctx.server);
  metrics::SeriesRef requests = s.requests.Get(ctx.status);
  if (!requests.valid()) {
    // Status codes and their labels correspond one to one, so the code is the key.
    char code[12];
    requests = shard_->Find(Metric::kHttpRequests,
                            {ServerLabel(ctx.server), StatusLabel(ctx.status, code)});
    s.requests.codes.emplace_back(ctx.status, requests);
  }
  shard_->Add(requests);
  if (!s.duration.valid()) {
    s.duration = shard_->Find(Metric::kHttpRequestDuration, {ServerLabel(ctx.server)});
  }
  shard_->Observe(s.duration, absl::ToDoubleSeconds(now - ctx.start));
}

void RequestMetrics::CountUpstreamResponse(const config::Upstream& upstream,
                                           upstream::PeerIndex peer, std::string_view peer_label,
                                           int status, absl::Duration elapsed) {
  if (!shard_->collecting()) return;
  PeerSeries& p = peers_.Get(PeerKey(&upstream, peer));
  metrics::SeriesRef requests = p.requests.Get(status);
  if (!requests.valid()) {
    char code[12];
    requests = shard_->Find(Metric::kUpstreamRequests,
                            {upstream.name, peer_label, StatusLabel(status, code)});
    p.requests.codes.emplace_back(status, requests);
  }
  shard_->Add(requests);
  if (!p.response.valid()) p.response = shard_->Find(Metric::kUpstreamResponse, {upstream.name});
  shard_->Observe(p.response, absl::ToDoubleSeconds(elapsed));
}

void RequestMetrics::CountResolution(const realip::Resolution& resolution) {
  if (!shard_->collecting()) return;
  metrics::SeriesRef source;
  for (const auto& [name, series] : sources_) {
    if (name == resolution.source) {
      source = series;
      break;
    }
  }
  if (!source.valid()) {
    // The label is lower case: header names are case-insensitive.
    source = shard_->Find(Metric::kClientIpSource,
                          {absl::AsciiStrToLower(base::AsAbsl(resolution.source))});
    sources_.emplace_back(resolution.source, source);
  }
  shard_->Add(source);
  for (const std::string& header : resolution.untrusted_headers) {
    shard_->Add(Metric::kUntrustedForwardedHeaders, {header});
  }
}

std::string RealipEchoJson(const RequestContext& ctx, const EchoFacts& facts) {
  static const net::CidrSet kNothingTrusted;
  const realip::RealIpSettings& realip = facts.settings->realip;
  const net::CidrSet& trusted = realip.trusted != nullptr ? *realip.trusted : kNothingTrusted;
  const realip::Resolution& r = ctx.resolution;
  Json j;
  j.Open('{');
  j.Key("client");
  j.Address(r.client);
  j.Key("source").Str(r.source);
  j.Key("tcp_peer");
  j.Address(facts.peer);
  j.Key("realip_remote");
  j.Address(r.realip_remote);
  j.Key("server");
  j.Address(ctx.local);
  j.Key("proxy_protocol");
  WriteProxyHeader(ctx.proxy_header, j);

  j.Key("trust").Open('{');
  j.Key("trusted_networks").Int(static_cast<int64_t>(trusted.size()));
  j.Key("tcp_peer_trusted").Bool(trusted.Contains(facts.peer));
  j.Key("real_ip_header").Open('[');
  for (const realip::RealIpSource& source : realip.sources) j.Str(source.name);
  j.Close(']');
  j.Key("real_ip_recursive").Bool(realip.recursive);
  j.Close('}');

  j.Key("forwarded_headers").Open('[');
  if (ctx.head != nullptr) {
    for (const http::Header& h : ctx.head->headers) {
      if (!IsForwardedHeader(h.name, realip)) continue;
      std::string lower = absl::AsciiStrToLower(base::AsAbsl(h.name));
      j.Open('{');
      j.Key("name").Str(h.name);
      j.Key("value").Str(h.value);
      j.Key("hops");
      WriteHops(lower, h.value, trusted, j);
      j.Close('}');
    }
  }
  j.Close(']');
  j.Key("trusted_hops").Int(r.trusted_hops);
  j.Key("untrusted_headers").Open('[');
  for (const std::string& name : r.untrusted_headers) j.Str(name);
  j.Close(']');
  j.Key("realip_x_forwarded_for").Str(r.realip_x_forwarded_for);
  std::string proxy_add;
  AppendProxyAddXForwardedFor(ctx, &proxy_add);
  j.Key("proxy_add_x_forwarded_for").Str(proxy_add);
  j.Key("scheme").Str(ctx.https ? "https" : "http");
  j.Key("tls").Open('{');
  j.Key("listener_ssl").Bool(facts.listener_ssl);
  const realip::ProxyHeader* pp = ctx.proxy_header;
  std::optional<uint8_t> ssl_client = pp != nullptr ? pp->SslClient() : std::nullopt;
  // PP2_CLIENT_SSL (bit 0): the client used TLS to reach the proxy in front of us.
  j.Key("client_tls_via_proxy_protocol");
  if (ssl_client.has_value()) {
    j.Bool((*ssl_client & 0x01) != 0);
  } else {
    j.Null();
  }
  j.Close('}');
  j.Close('}');
  std::string out = j.Take();
  out.push_back('\n');
  return out;
}

void LogListeners(const config::Config& config) {
  for (const config::Listener& l : config.listeners) {
    std::vector<std::string> flags;
    if (l.ssl) flags.push_back("ssl");
    if (l.proxy_protocol == config::ProxyProtocolMode::kRequired) flags.push_back("proxy_protocol");
    if (l.proxy_protocol == config::ProxyProtocolMode::kOptional) {
      flags.push_back("proxy_protocol optional");
    }
    if (l.reuseport) flags.push_back("reuseport");
    const config::Server& server = *l.default_server;
    const std::shared_ptr<const net::CidrSet>& trusted = server.settings.realip.trusted;
    size_t trusted_size = trusted != nullptr ? trusted->size() : 0;
    std::string sources;
    for (const realip::RealIpSource& s : server.settings.realip.sources) {
      absl::StrAppend(&sources, sources.empty() ? "" : " ", s.name);
    }
    REALIP_LOG(kNotice, "listening on ", l.text,
               flags.empty() ? "" : absl::StrCat(" (", absl::StrJoin(flags, ", "), ")"),
               ", default server \"", base::AsAbsl(ServerLabel(&server)), "\", ", trusted_size,
               " trusted network", trusted_size == 1 ? "" : "s", ", real_ip_header ", sources,
               l.servers.size() > 1 ? absl::StrCat(", ", l.servers.size(), " servers") : "");
  }
}

}  // namespace realip::server
