#include "proxy/config/variables.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "proxy/base/strings.h"

namespace realip::config {
namespace {

// Renders segments as "lit|$name|lit".
std::string Render(const CompiledString& s) {
  std::string out;
  for (const Segment& seg : s.segments) {
    if (!out.empty()) out += "|";
    if (seg.variable.has_value()) {
      absl::StrAppend(&out, "$", VariableName(*seg.variable));
    } else {
      out += seg.literal;
    }
  }
  return out;
}

struct CompileCase {
  const char* name;
  const char* text;
  const char* result;  // Render() or "error: message"
};

const CompileCase kCompileCases[] = {
    {"empty", "", ""},
    {"literal", "plain text", "plain text"},
    {"one_variable", "$remote_addr", "$remote_addr"},
    {"mixed", "a=$remote_addr, b=$remote_port.", "a=|$remote_addr|, b=|$remote_port|."},
    {"braces_glue_text", "${host}x", "$host|x"},
    {"adjacent_variables", "$scheme$host", "$scheme|$host"},
    {"http_header", "$http_x_forwarded_for", "$http_x_forwarded_for"},
    {"http_header_upper", "$http_User_Agent", "$http_user_agent"},
    {"tlv_named", "$proxy_protocol_tlv_alpn", "$proxy_protocol_tlv_alpn"},
    {"tlv_numbered", "$proxy_protocol_tlv_0x05", "$proxy_protocol_tlv_0x05"},
    {"tlv_vendor", "$proxy_protocol_tlv_aws_vpce_id", "$proxy_protocol_tlv_aws_vpce_id"},
    {"name_ends_at_punctuation", "$uri?$args", "$uri|?|$args"},
    {"combined_format",
     "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent",
     "$remote_addr| - |$remote_user| [|$time_local|] \"|$request|\" |$status| |$body_bytes_sent"},
    {"arg", "$arg_Page", "$arg_page"},
    {"arg_keeps_underscores", "$arg_utm_source", "$arg_utm_source"},
    {"cookie", "$cookie_SID", "$cookie_sid"},
    {"sent_http", "$sent_http_X_Request_Id", "$sent_http_x_request_id"},
    {"upstream_http", "$upstream_http_cache_control", "$upstream_http_cache_control"},
    {"https_is_not_a_header", "$https", "$https"},
    {"upstream_bytes", "$upstream_bytes_received/$upstream_bytes_sent",
     "$upstream_bytes_received|/|$upstream_bytes_sent"},
    {"unknown_prefixless_arg", "$arg_", "error: unknown \"arg_\" variable"},
    {"unknown_prefixless_cookie", "$cookie_", "error: unknown \"cookie_\" variable"},
    {"unknown", "$nope", "error: unknown \"nope\" variable"},
    {"unknown_prefixless_http", "$http_", "error: unknown \"http_\" variable"},
    {"unknown_tlv", "$proxy_protocol_tlv_bogus",
     "error: unknown \"proxy_protocol_tlv_bogus\" variable"},
    {"lone_dollar", "cost $", "error: invalid variable name in \"cost $\""},
    {"dollar_space", "$ x", "error: invalid variable name in \"$ x\""},
    {"unclosed_brace", "${host", "error: the closing bracket in \"host\" variable is missing"},
    {"empty_braces", "${}", "error: invalid variable name in \"${}\""},
};

class CompileTest : public testing::TestWithParam<CompileCase> {};

TEST_P(CompileTest, Compiles) {
  absl::StatusOr<CompiledString> c = CompileString(GetParam().text);
  const std::string got =
      c.ok() ? Render(*c) : "error: " + std::string(base::AsStd(c.status().message()));
  EXPECT_EQ(got, GetParam().result);
  if (c.ok()) {
    EXPECT_EQ(c->source, GetParam().text);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, CompileTest, testing::ValuesIn(kCompileCases),
                         [](const testing::TestParamInfo<CompileCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(VariablesTest, CommonLogFormatVariablesAreKnown) {
  const std::pair<const char*, VariableId> plain[] = {
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
  for (const auto& [name, id] : plain) {
    std::optional<VariableRef> ref = LookupVariable(name);
    ASSERT_TRUE(ref.has_value()) << name;
    EXPECT_EQ(ref->id, id) << name;
    EXPECT_EQ(VariableName(*ref), name);
  }
  const std::pair<const char*, VariableRef> prefixed[] = {
      {"arg_Q_x", {VariableId::kArg, "q_x", 0}},
      {"cookie_Session_ID", {VariableId::kCookie, "session_id", 0}},
      {"sent_http_content_TYPE",
       {VariableId::kSentHttp, "content-type", 0, base::FieldId::kContentType}},
      {"upstream_http_x_cache", {VariableId::kUpstreamHttp, "x-cache", 0}},
  };
  for (const auto& [name, want] : prefixed) {
    EXPECT_EQ(LookupVariable(name), want) << name;
  }
}

TEST(VariablesTest, UsageNotesOnlyCostlyVariables) {
  VariableUsage usage;
  {
    ScopedVariableUsage scope(&usage);
    ASSERT_TRUE(CompileString("$remote_addr $arg_a $cookie_b $upstream_status").ok());
    EXPECT_FALSE(usage.sent_http || usage.upstream_http || usage.upstream_bytes);
    ASSERT_TRUE(CompileString("$sent_http_x").ok());
    EXPECT_TRUE(usage.sent_http);
    EXPECT_FALSE(usage.upstream_http || usage.upstream_bytes);
    ASSERT_TRUE(CompileString("${upstream_http_x}").ok());
    EXPECT_TRUE(usage.upstream_http);
    ASSERT_TRUE(CompileString("$upstream_response_length").ok());
    EXPECT_TRUE(usage.upstream_bytes);
  }
  VariableUsage untouched;
  ASSERT_TRUE(CompileString("$sent_http_x $upstream_bytes_sent").ok());  // no scope: not noted
  EXPECT_FALSE(untouched.sent_http || untouched.upstream_bytes);
}

TEST(VariablesTest, EveryIssueVariableIsKnown) {
  // The list from the configuration issue.
  const char* names[] = {"remote_addr",
                         "binary_remote_addr",
                         "remote_port",
                         "remote_user",
                         "realip_remote_addr",
                         "realip_remote_port",
                         "realip_source",
                         "proxy_protocol_addr",
                         "proxy_protocol_port",
                         "proxy_protocol_server_addr",
                         "proxy_protocol_server_port",
                         "proxy_protocol_tlv_alpn",
                         "proxy_protocol_tlv_authority",
                         "proxy_protocol_tlv_unique_id",
                         "proxy_protocol_tlv_ssl_version",
                         "proxy_protocol_tlv_ssl_cn",
                         "proxy_protocol_tlv_aws_vpce_id",
                         "proxy_protocol_tlv_azure_pl_id",
                         "proxy_protocol_tlv_0xea",
                         "proxy_add_x_forwarded_for",
                         "realip_x_forwarded_for",
                         "scheme",
                         "host",
                         "http_x_real_ip",
                         "request",
                         "request_method",
                         "request_uri",
                         "uri",
                         "args",
                         "server_addr",
                         "server_port",
                         "server_name",
                         "status",
                         "body_bytes_sent",
                         "bytes_sent",
                         "request_length",
                         "request_time",
                         "upstream_addr",
                         "upstream_status",
                         "upstream_connect_time",
                         "upstream_header_time",
                         "upstream_response_time",
                         "msec",
                         "time_local",
                         "time_iso8601",
                         "request_id",
                         "connection",
                         "connection_requests"};
  for (const char* name : names) {
    std::optional<VariableRef> ref = LookupVariable(name);
    ASSERT_TRUE(ref.has_value()) << name;
    EXPECT_EQ(VariableName(*ref), name);
  }
}

TEST(VariablesTest, HttpParamIsLowerCaseWithDashes) {
  std::optional<VariableRef> ref = LookupVariable("http_X_Forwarded_For");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->id, VariableId::kHttp);
  EXPECT_EQ(ref->param, "x-forwarded-for");
}

TEST(VariablesTest, NamesAreCaseInsensitiveAsInNginx) {
  // ngx_http_get_variable_index() lowers the name: $Remote_Addr is $remote_addr.
  std::optional<VariableRef> ref = LookupVariable("Remote_Addr");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(*ref, *LookupVariable("remote_addr"));
  EXPECT_EQ(*LookupVariable("ARG_Page"), *LookupVariable("arg_page"));
  EXPECT_EQ(CompileString("${Host}:$SERVER_PORT").value().segments,
            CompileString("${host}:$server_port").value().segments);
  // An unknown name is reported lowered, as nginx reports it.
  EXPECT_EQ(CompileString("$NoSuch").status().message(), "unknown \"nosuch\" variable");
}

TEST(VariablesTest, LiteralHelpers) {
  CompiledString lit = CompileString("a b").value();
  EXPECT_TRUE(lit.IsLiteral());
  EXPECT_EQ(lit.LiteralText(), "a b");
  EXPECT_FALSE(CompileString("a $host").value().IsLiteral());
}

}  // namespace
}  // namespace realip::config
