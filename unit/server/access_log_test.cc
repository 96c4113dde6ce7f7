#include "proxy/server/access_log.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "proxy/config/variables.h"
#include "proxy/http/parser.h"
#include "proxy/net/ip_address.h"

namespace realip::server {
namespace {

config::LogFormat Format(const char* text, config::LogEscape escape) {
  config::LogFormat format;
  format.escape = escape;
  absl::StatusOr<config::CompiledString> compiled = config::CompileString(text);
  EXPECT_TRUE(compiled.ok()) << text;
  format.format = *compiled;
  return format;
}

TEST(FormatLogLineTest, EscapingPerFormat) {
  http::MessageParser parser(http::MessageKind::kRequest, http::ParseLimits{});
  ASSERT_EQ(parser.Parse("GET /p HTTP/1.1\r\nHost: a\r\nUser-Agent: q\"b\\\xc3\xa9\r\n\r\n",
                         nullptr)
                .event,
            http::MessageParser::Event::kHeadComplete);
  RequestContext ctx;
  http::MessageHead head = parser.head();
  ctx.head = &head;
  ctx.resolution.client = net::SocketAddress{*net::IpAddress::Parse("192.0.2.1"), 5, false};
  ctx.status = 200;
  struct Case {
    config::LogEscape escape;
    const char* want;
  };
  for (const Case& c : {
           Case{config::LogEscape::kDefault, "192.0.2.1 \"q\\x22b\\x5C\\xC3\\xA9\" - 200\n"},
           Case{config::LogEscape::kJson, "192.0.2.1 \"q\\\"b\\\\\xc3\xa9\"  200\n"},
           Case{config::LogEscape::kNone, "192.0.2.1 \"q\"b\\\xc3\xa9\" - 200\n"},
       }) {
    EXPECT_EQ(FormatLogLine(Format("$remote_addr \"$http_user_agent\" $http_referer $status",
                                   c.escape),
                            ctx),
              c.want);
  }
}

}  // namespace
}  // namespace realip::server
