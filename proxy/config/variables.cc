#include "proxy/config/variables.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"
#include "proxy/realip/proxy_protocol.h"

namespace realip::config {

using base::AsAbsl;

namespace {

struct Named {
  std::string_view name;
  VariableId id;
};

constexpr Named kPlain[] = {
    {"remote_addr", VariableId::kRemoteAddr},
    {"binary_remote_addr", VariableId::kBinaryRemoteAddr},
    {"remote_port", VariableId::kRemotePort},
    {"remote_user", VariableId::kRemoteUser},
    {"realip_remote_addr", VariableId::kRealipRemoteAddr},
    {"realip_remote_port", VariableId::kRealipRemotePort},
    {"realip_source", VariableId::kRealipSource},
    {"proxy_protocol_addr", VariableId::kProxyProtocolAddr},
    {"proxy_protocol_port", VariableId::kProxyProtocolPort},
    {"proxy_protocol_server_addr", VariableId::kProxyProtocolServerAddr},
    {"proxy_protocol_server_port", VariableId::kProxyProtocolServerPort},
    {"proxy_add_x_forwarded_for", VariableId::kProxyAddXForwardedFor},
    {"realip_x_forwarded_for", VariableId::kRealipXForwardedFor},
    {"proxy_host", VariableId::kProxyHost},
    {"proxy_port", VariableId::kProxyPort},
    {"scheme", VariableId::kScheme},
    {"host", VariableId::kHost},
    {"request", VariableId::kRequest},
    {"request_method", VariableId::kRequestMethod},
    {"request_uri", VariableId::kRequestUri},
    {"uri", VariableId::kUri},
    {"document_uri", VariableId::kUri},
    {"args", VariableId::kArgs},
    {"query_string", VariableId::kArgs},
    {"server_addr", VariableId::kServerAddr},
    {"server_port", VariableId::kServerPort},
    {"server_name", VariableId::kServerName},
    {"status", VariableId::kStatus},
    {"body_bytes_sent", VariableId::kBodyBytesSent},
    {"bytes_sent", VariableId::kBytesSent},
    {"request_length", VariableId::kRequestLength},
    {"request_time", VariableId::kRequestTime},
    {"upstream_addr", VariableId::kUpstreamAddr},
    {"upstream_status", VariableId::kUpstreamStatus},
    {"upstream_connect_time", VariableId::kUpstreamConnectTime},
    {"upstream_header_time", VariableId::kUpstreamHeaderTime},
    {"upstream_response_time", VariableId::kUpstreamResponseTime},
    {"msec", VariableId::kMsec},
    {"time_local", VariableId::kTimeLocal},
    {"time_iso8601", VariableId::kTimeIso8601},
    {"request_id", VariableId::kRequestId},
    {"connection", VariableId::kConnection},
    {"connection_requests", VariableId::kConnectionRequests},
    {"limit_req_status", VariableId::kLimitReqStatus},
    {"ssl_protocol", VariableId::kSslProtocol},
    {"ssl_cipher", VariableId::kSslCipher},
    {"ssl_server_name", VariableId::kSslServerName},
    {"ssl_session_reused", VariableId::kSslSessionReused},
    {"ssl_client_s_dn", VariableId::kSslClientSDn},
    {"ssl_client_verify", VariableId::kSslClientVerify},
    {"server_protocol", VariableId::kServerProtocol},
    {"is_args", VariableId::kIsArgs},
    {"content_type", VariableId::kContentType},
    {"content_length", VariableId::kContentLength},
    {"https", VariableId::kHttps},
    {"request_completion", VariableId::kRequestCompletion},
    {"connection_time", VariableId::kConnectionTime},
    {"pid", VariableId::kPid},
    {"hostname", VariableId::kHostname},
    {"nginx_version", VariableId::kNginxVersion},
    {"upstream_response_length", VariableId::kUpstreamResponseLength},
    {"upstream_bytes_received", VariableId::kUpstreamBytesReceived},
    {"upstream_bytes_sent", VariableId::kUpstreamBytesSent},
};

// Prefixes whose suffix is a parameter (ngx_http_get_variable's prefix list). Tried in order
// after the plain names, so "http_" does not shadow a longer plain name.
struct Prefixed {
  std::string_view prefix;
  VariableId id;
  bool header;  // the suffix names a header: '_' stands for '-'
};

constexpr Prefixed kPrefixed[] = {
    {"http_", VariableId::kHttp, true},
    {"sent_http_", VariableId::kSentHttp, true},
    {"upstream_http_", VariableId::kUpstreamHttp, true},
    {"arg_", VariableId::kArg, false},
    {"cookie_", VariableId::kCookie, false},
};

// The geo and map variables of the configuration being loaded on this thread
// (ScopedConfigVariables).
thread_local const std::vector<std::string>* geo_variables = nullptr;
thread_local const std::vector<std::string>* map_variables = nullptr;

std::optional<VariableRef> FindConfigVariable(const std::vector<std::string>* names, VariableId id,
                                              std::string_view name) {
  if (names == nullptr) return std::nullopt;
  for (size_t i = 0; i < names->size(); ++i) {
    if ((*names)[i] == name) return VariableRef{id, std::string(name), static_cast<uint32_t>(i)};
  }
  return std::nullopt;
}
// Where CompileString notes what it compiled (ScopedVariableUsage).
thread_local VariableUsage* variable_usage = nullptr;

void NoteUsage(VariableId id) {
  if (variable_usage == nullptr) return;
  switch (id) {
    case VariableId::kSentHttp:
      variable_usage->sent_http = true;
      break;
    case VariableId::kUpstreamHttp:
      variable_usage->upstream_http = true;
      break;
    case VariableId::kUpstreamResponseLength:
    case VariableId::kUpstreamBytesReceived:
    case VariableId::kUpstreamBytesSent:
      variable_usage->upstream_bytes = true;
      break;
    default:
      break;
  }
}

constexpr std::string_view kTlvPrefix = "proxy_protocol_tlv_";

bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

void AppendLiteral(std::vector<Segment>& segments, std::string_view text) {
  if (text.empty()) return;
  if (!segments.empty() && !segments.back().variable.has_value()) {
    segments.back().literal.append(text);
  } else {
    segments.push_back(Segment{std::string(text), std::nullopt});
  }
}

}  // namespace

bool CompiledString::IsLiteral() const {
  for (const Segment& s : segments) {
    if (s.variable.has_value()) return false;
  }
  return true;
}

std::string CompiledString::LiteralText() const {
  std::string out;
  for (const Segment& s : segments) out += s.literal;
  return out;
}

std::optional<VariableRef> LookupVariable(std::string_view written) {
  // nginx lowers a variable's name before looking it up (ngx_http_get_variable_index), so
  // `$Remote_Addr` is `$remote_addr`.
  const std::string lowered = absl::AsciiStrToLower(AsAbsl(written));
  const std::string_view name = lowered;
  for (const Named& n : kPlain) {
    if (n.name == name) return VariableRef{n.id, "", 0};
  }
  // A configuration's own names come before the prefixes: nginx finds a variable it was told
  // about (ngx_http_add_variable) before it tries prefixed names, so `map ... $http_x` wins.
  if (auto geo = FindConfigVariable(geo_variables, VariableId::kGeo, name)) return geo;
  if (auto map = FindConfigVariable(map_variables, VariableId::kMap, name)) return map;
  for (const Prefixed& p : kPrefixed) {
    if (name.size() <= p.prefix.size() || name.substr(0, p.prefix.size()) != p.prefix) continue;
    // nginx lowers variable names; ngx_http_variable_unknown_header() lets '_' in the name
    // match '-' in a header name.
    std::string param(name.substr(p.prefix.size()));
    for (char& c : param) {
      c = p.header && c == '_' ? '-' : absl::ascii_tolower(static_cast<unsigned char>(c));
    }
    const base::FieldId field = p.header ? base::ClassifyField(param) : base::FieldId::kOther;
    return VariableRef{p.id, std::move(param), 0, field};
  }
  if (name.size() > kTlvPrefix.size() && name.substr(0, kTlvPrefix.size()) == kTlvPrefix) {
    const std::string_view tlv = name.substr(kTlvPrefix.size());
    if (::realip::realip::IsValidTlvName(tlv)) {
      return VariableRef{VariableId::kProxyProtocolTlv, std::string(tlv), 0};
    }
  }
  return std::nullopt;
}

ScopedConfigVariables::ScopedConfigVariables(const std::vector<std::string>* geo,
                                             const std::vector<std::string>* maps)
    : previous_geo_(geo_variables), previous_maps_(map_variables) {
  geo_variables = geo;
  map_variables = maps;
}

ScopedConfigVariables::~ScopedConfigVariables() {
  geo_variables = previous_geo_;
  map_variables = previous_maps_;
}

ScopedVariableUsage::ScopedVariableUsage(VariableUsage* usage) : previous_(variable_usage) {
  variable_usage = usage;
}

ScopedVariableUsage::~ScopedVariableUsage() { variable_usage = previous_; }

std::string VariableName(const VariableRef& ref) {
  if (ref.id == VariableId::kGeo || ref.id == VariableId::kMap) return ref.param;
  for (const Prefixed& p : kPrefixed) {
    if (p.id != ref.id) continue;
    std::string name = absl::StrCat(AsAbsl(p.prefix), AsAbsl(ref.param));
    if (p.header) {
      for (char& c : name) c = c == '-' ? '_' : c;
    }
    return name;
  }
  if (ref.id == VariableId::kProxyProtocolTlv) {
    return absl::StrCat(AsAbsl(kTlvPrefix), AsAbsl(ref.param));
  }
  for (const Named& n : kPlain) {
    if (n.id == ref.id) return std::string(n.name);
  }
  return "";
}

absl::StatusOr<CompiledString> CompileString(std::string_view text) {
  // ngx_http_script_compile(): "$name" runs over [A-Za-z0-9_]; "${name}" delimits the name
  // so that text can follow it directly ("${host}x").
  CompiledString out;
  out.source = std::string(text);
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t dollar = text.find('$', pos);
    if (dollar == std::string_view::npos) {
      AppendLiteral(out.segments, text.substr(pos));
      break;
    }
    AppendLiteral(out.segments, text.substr(pos, dollar - pos));
    size_t i = dollar + 1;
    std::string_view name;
    if (i < text.size() && text[i] == '{') {
      const size_t start = ++i;
      while (i < text.size() && IsNameChar(text[i])) ++i;
      if (i == text.size() || text[i] != '}') {
        return absl::InvalidArgumentError(absl::StrCat("the closing bracket in \"",
                                                       AsAbsl(text.substr(start, i - start)),
                                                       "\" variable is missing"));
      }
      name = text.substr(start, i - start);
      ++i;
    } else {
      const size_t start = i;
      while (i < text.size() && IsNameChar(text[i])) ++i;
      name = text.substr(start, i - start);
    }
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid variable name in \"", AsAbsl(text), "\""));
    }
    std::optional<VariableRef> ref = LookupVariable(name);
    if (!ref.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown \"", absl::AsciiStrToLower(AsAbsl(name)), "\" variable"));
    }
    NoteUsage(ref->id);
    out.segments.push_back(Segment{"", std::move(ref)});
    pos = i;
  }
  return out;
}

}  // namespace realip::config
