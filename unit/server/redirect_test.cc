#include "proxy/server/redirect.h"

#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "proxy/config/config.h"
#include "proxy/http/parser.h"
#include "proxy/net/ip_address.h"
#include "proxy/realip/proxy_protocol.h"
#include "proxy/server/request_context.h"
#include "proxy/server/rewrite.h"

namespace realip::server {
namespace {

// A server on 127.0.0.1:8080 whose `upstream pool` stands for the backend.
std::shared_ptr<const config::Config> Load(const std::string& server_body) {
  std::string text =
      "events {}\nhttp {\n  upstream pool { server 127.0.0.1:9001; }\n"
      "  server {\n    listen 127.0.0.1:8080;\n    server_name example.test;\n" +
      server_body + "\n  }\n}\n";
  auto config = config::LoadConfigFromString(text, "/test/realip-proxy.conf");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : nullptr;
}

http::MessageHead Parse(http::MessageKind kind, std::string_view raw) {
  http::MessageParser parser(kind, http::ParseLimits{});
  http::MessageParser::Result r = parser.Parse(raw, nullptr);
  EXPECT_EQ(r.event, http::MessageParser::Event::kHeadComplete) << parser.error().message;
  return parser.head();
}

// The start of ClientHead() for an upstream "302 Found" with "Content-Length: 0".
constexpr char k302Head[] =
    "HTTP/1.1 302 Found\r\nServer: realip-proxy\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
    "Content-Length: 0\r\nConnection: keep-alive\r\n";

// One request routed to a location of a loaded configuration.
class Request {
 public:
  Request(const std::string& server_body, std::string_view target,
          std::string_view host_line = "Host: example.test\r\n", const char* version = "1.1")
      : config_(Load(server_body)) {
    head_ =
        Parse(http::MessageKind::kRequest, std::string("GET ") + std::string(target) + " HTTP/" +
                                               version + "\r\n" + std::string(host_line) + "\r\n");
    const config::Server& server = *config_->servers.at(0);
    ctx.server = &server;
    ctx.location = &server.FindLocation(SplitTarget(head_.target).path);
    ctx.head = &head_;
    ctx.local = {*net::IpAddress::Parse("127.0.0.1"), 8080, false};
  }

  const std::vector<config::ProxyRedirect>& rules() const {
    return ctx.location->settings.proxy_redirects;
  }

  // The rewritten value, or "(none)" when no rule matched (then nothing may be written).
  std::string Rewrite(std::string_view name, std::string_view value) const {
    std::string out = "kept:";
    if (!RewriteRedirect(name, value, rules(), ctx, &out)) {
      EXPECT_EQ(out, "kept:");
      return "(none)";
    }
    return out.substr(5);
  }

  // The rewritten Set-Cookie value, or "(none)" (then nothing may be written).
  std::string Cookie(std::string_view value) const {
    const config::HttpSettings& s = ctx.location->settings;
    std::string out = "kept:";
    if (!RewriteSetCookie(value, s.proxy_cookie_domains, s.proxy_cookie_paths, ctx, &out)) {
      EXPECT_EQ(out, "kept:");
      return "(none)";
    }
    return out.substr(5);
  }

  // The head sent to the client for the upstream response `raw`.
  std::string ClientHead(std::string_view raw) const {
    http::MessageHead response = Parse(http::MessageKind::kResponse, raw);
    std::string head;
    AppendClientResponseHead(response, ctx.location->settings, ctx,
                             {"realip-proxy", "Thu, 01 Jan 1970 00:00:00 GMT"},
                             ClientFraming::kContentLength, true, false, &head);
    return head;
  }

  RequestContext ctx;

 private:
  std::shared_ptr<const config::Config> config_;
  http::MessageHead head_;
};

TEST(IsRedirectHeaderTest, OnlyLocationAndRefreshInAnyCase) {
  EXPECT_TRUE(IsRedirectHeader("Location"));
  EXPECT_TRUE(IsRedirectHeader("LOCATION"));
  EXPECT_TRUE(IsRedirectHeader("refresh"));
  EXPECT_FALSE(IsRedirectHeader("Content-Location"));
  EXPECT_FALSE(IsRedirectHeader("Locations"));
  EXPECT_FALSE(IsRedirectHeader("Expires"));  // seven letters, not Refresh
  EXPECT_FALSE(IsRedirectHeader(""));
}

TEST(RewriteRedirectTest, DefaultWithoutUriPart) {
  Request r("location / { proxy_pass http://pool; }", "/");
  // "http://pool/" becomes "/", then absolute with the request's host and the local port.
  EXPECT_EQ(r.Rewrite("Location", "http://pool/login?next=/a"),
            "http://example.test:8080/login?next=/a");
  EXPECT_EQ(r.Rewrite("Location", "http://pool/"), "http://example.test:8080/");
  // A case-sensitive prefix: other spellings, other hosts and relative values stay.
  EXPECT_EQ(r.Rewrite("Location", "http://Pool/login"), "(none)");
  EXPECT_EQ(r.Rewrite("Location", "http://pool"), "(none)");
  EXPECT_EQ(r.Rewrite("Location", "http://pool2/x"), "(none)");
  EXPECT_EQ(r.Rewrite("Location", "/login"), "(none)");
  EXPECT_EQ(r.Rewrite("Location", ""), "(none)");
}

TEST(RewriteRedirectTest, DefaultWithUriPartPutsTheLocationBack) {
  Request r("location /app/ { proxy_pass http://pool/x/; }", "/app/");
  EXPECT_EQ(r.Rewrite("Location", "http://pool/x/a/b"), "http://example.test:8080/app/a/b");
  EXPECT_EQ(r.Rewrite("Location", "http://pool/y/a"), "(none)");

  Request exact("location = /exact { proxy_pass http://pool/y; }", "/exact");
  EXPECT_EQ(exact.Rewrite("Location", "http://pool/y/z"), "http://example.test:8080/exact/z");
  EXPECT_EQ(exact.Rewrite("Location", "http://pool/yz"), "http://example.test:8080/exactz");
}

TEST(RewriteRedirectTest, FirstMatchingRuleWins) {
  Request r(R"(location / {
      proxy_pass http://pool;
      proxy_redirect http://pool/ http://first/;
      proxy_redirect http://pool/login /second;
      proxy_redirect /old/ /new/;
      proxy_redirect http://keep/ "";
    })",
            "/");
  EXPECT_EQ(r.Rewrite("Location", "http://pool/login"), "http://first/login");
  // A rule may match a relative value; a result starting with '/' becomes absolute.
  EXPECT_EQ(r.Rewrite("Location", "/old/x"), "http://example.test:8080/new/x");
  // An empty replacement removes the prefix; only a result starting with '/' is made absolute.
  EXPECT_EQ(r.Rewrite("Location", "http://keep/"), "");
  EXPECT_EQ(r.Rewrite("Location", "http://keep/z"), "z");
  EXPECT_EQ(r.Rewrite("Location", "https://pool/login"), "(none)");
}

TEST(RewriteRedirectTest, VariablesInBothArguments) {
  Request r(R"(location / {
      proxy_pass http://pool;
      proxy_redirect http://$host/ https://$host:8443/;
      proxy_redirect http://$http_x_backend/ /b/;
    })",
            "/", "Host: Example.Test:9000\r\nX-Backend: be1\r\n");
  EXPECT_EQ(r.Rewrite("Location", "http://example.test/a"), "https://example.test:8443/a");
  EXPECT_EQ(r.Rewrite("Location", "http://be1/a"), "http://example.test:8080/b/a");
  EXPECT_EQ(r.Rewrite("Location", "http://other/a"), "(none)");
}

TEST(RewriteRedirectTest, RefreshRewritesTheUrlPartAndStaysRelative) {
  Request r("location / { proxy_pass http://pool; }", "/");
  EXPECT_EQ(r.Rewrite("Refresh", "5; URL=http://pool/a"), "5; URL=/a");
  EXPECT_EQ(r.Rewrite("refresh", "0;url=http://pool/"), "0;url=/");
  EXPECT_EQ(r.Rewrite("Refresh", "5; url=http://other/a"), "(none)");
  EXPECT_EQ(r.Rewrite("Refresh", "5"), "(none)");
  EXPECT_EQ(r.Rewrite("Refresh", "http://pool/a"), "(none)");  // no "url="
}

TEST(RewriteRedirectTest, AbsoluteFormHostAndPort) {
  const char* kConf = "location / { proxy_pass http://pool; }";
  // The Host header's port is not used: the local port is (nginx's port_in_redirect).
  Request upper(kConf, "/", "Host: WWW.Example.Test.:9000\r\n");
  EXPECT_EQ(upper.Rewrite("Location", "http://pool/a"), "http://www.example.test:8080/a");

  Request v6(kConf, "/", "Host: [::1]:8080\r\n");
  EXPECT_EQ(v6.Rewrite("Location", "http://pool/a"), "http://[::1]:8080/a");

  // An absolute-form request-target names the host.
  Request absolute(kConf, "http://Named.Test:1234/x");
  EXPECT_EQ(absolute.Rewrite("Location", "http://pool/a"), "http://named.test:8080/a");

  // HTTP/1.0 without Host: the local address.
  Request no_host(kConf, "/", "", "1.0");
  EXPECT_EQ(no_host.Rewrite("Location", "http://pool/a"), "http://127.0.0.1:8080/a");
  no_host.ctx.local = {*net::IpAddress::Parse("::1"), 8080, false};
  EXPECT_EQ(no_host.Rewrite("Location", "http://pool/a"), "http://[::1]:8080/a");

  // The scheme's own port is left out.
  Request plain(kConf, "/");
  plain.ctx.local.port = 80;
  EXPECT_EQ(plain.Rewrite("Location", "http://pool/a"), "http://example.test/a");
  plain.ctx.https = true;
  EXPECT_EQ(plain.Rewrite("Location", "http://pool/a"), "https://example.test:80/a");
  plain.ctx.local.port = 443;
  EXPECT_EQ(plain.Rewrite("Location", "http://pool/a"), "https://example.test/a");
}

TEST(AppendLocationTest, OnlyARelativeLocationGetsThePrefix) {
  Request r("location / { return 301 /x; }", "/", "Host: Example.Test\r\n");
  std::string out;
  AppendLocation(r.ctx, "/moved?a=1", &out);
  EXPECT_EQ(out, "http://example.test:8080/moved?a=1");
  out.clear();
  AppendLocation(r.ctx, "https://elsewhere.test/", &out);
  EXPECT_EQ(out, "https://elsewhere.test/");
}

TEST(AppendLocationTest, AbsolutePortAndServerNameInRedirect) {
  struct Case {
    const char* directives;
    const char* want;
  };
  for (const Case& c : {
           Case{"", "http://other.test:8080/x"},
           Case{"absolute_redirect off;", "/x"},
           Case{"port_in_redirect off;", "http://other.test/x"},
           Case{"server_name_in_redirect on;", "http://example.test:8080/x"},
       }) {
    Request r(std::string("location / { return 302 /x; ") + c.directives + " }", "/",
              "Host: Other.Test\r\n");
    std::string out;
    AppendLocation(r.ctx, "/x", &out);
    EXPECT_EQ(out, c.want) << c.directives;
  }
}

TEST(RewriteRedirectTest, OffAndNoRules) {
  Request off("location / { proxy_pass http://pool; proxy_redirect off; }", "/");
  EXPECT_TRUE(off.rules().empty());
  EXPECT_EQ(off.Rewrite("Location", "http://pool/a"), "(none)");
}

TEST(RedirectRewritesTest, ResponseHeadCarriesTheRewrittenValues) {
  Request r(R"(location / {
      proxy_pass http://pool;
      proxy_redirect http://pool/ /;
      proxy_redirect http://other/ http://moved/;
    })",
            "/");
  const std::string head = r.ClientHead(
      "HTTP/1.1 302 Found\r\nLocation: http://pool/login\r\nX-A: http://pool/x\r\n"
      "Refresh: 3; url=http://other/a\r\nContent-Location: http://pool/c\r\n"
      "Location: /kept\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(head, std::string(k302Head) +
                      "Location: http://example.test:8080/login\r\n"
                      "X-A: http://pool/x\r\nRefresh: 3; url=http://moved/a\r\n"
                      "Content-Location: http://pool/c\r\nLocation: /kept\r\n\r\n");
}

TEST(IsSetCookieHeaderTest, AnyCase) {
  EXPECT_TRUE(IsSetCookieHeader("Set-Cookie"));
  EXPECT_TRUE(IsSetCookieHeader("set-cookie"));
  EXPECT_TRUE(IsSetCookieHeader("SET-COOKIE"));
  EXPECT_FALSE(IsSetCookieHeader("Set-Cookie2"));
  EXPECT_FALSE(IsSetCookieHeader("Cookie"));
  EXPECT_FALSE(IsSetCookieHeader("X-Set-Cook"));  // ten letters, not Set-Cookie
}

// Each case: a Set-Cookie value and what it becomes (nginx 1.22's results for the same lines).
struct CookieCase {
  const char* name;
  const char* value;
  const char* expected;  // "(none)": the line is sent as received
};

class SetCookieTest : public testing::TestWithParam<CookieCase> {};

TEST_P(SetCookieTest, AsNginx) {
  const Request r(R"(
      location / {
        proxy_pass http://pool;
        proxy_cookie_domain .example.com new.example.net;
        proxy_cookie_domain other.org $host;
        proxy_cookie_path /app /v2/app;
        proxy_cookie_path /application /APP;
        proxy_cookie_path / /root/;
      })",
                  "/");
  EXPECT_EQ(r.Cookie(GetParam().value), GetParam().expected);
}

const CookieCase kCookieCases[] = {
    {"domain_any_case_leading_dot_kept", "a=1; Domain=.Example.COM",
     "a=1; Domain=.new.example.net"},
    {"domain_without_dot", "a=1; domain=example.com", "a=1; domain=new.example.net"},
    {"domain_must_be_equal", "a=1; domain=sub.example.com", "(none)"},
    {"domain_not_a_suffix_match", "a=1; domain=xexample.com", "(none)"},
    {"domain_replacement_variable", "h=8; domain=.other.org", "h=8; domain=.example.test"},
    {"path_prefix_rest_kept", "a=1; Path=/app/x", "a=1; Path=/v2/app/x"},
    {"path_first_rule_wins", "c=3; path=/application", "c=3; path=/v2/application"},
    {"path_case_sensitive", "a=1; path=/App", "a=1; path=/root/App"},
    {"path_catch_all", "a=1; path=/other", "a=1; path=/root/other"},
    {"both_attributes", "b=2;domain=example.com;path=/app",
     "b=2; domain=new.example.net; path=/v2/app"},
    {"spaces_dropped_when_rewritten", "c = 3 ;  PATH = /app ; HttpOnly",
     "c=3; PATH=/v2/app; HttpOnly"},
    {"other_attributes_kept", "a=1; Secure; Path=/app; SameSite=Lax; Max-Age=60",
     "a=1; Secure; Path=/v2/app; SameSite=Lax; Max-Age=60"},
    {"every_matching_attribute", "i=9;path=/app;path=/app/z;Domain=EXAMPLE.COM",
     "i=9; path=/v2/app; path=/v2/app/z; Domain=new.example.net"},
    {"attribute_without_value", "e=5; domain; path", "(none)"},
    {"empty_value_not_matched", "e=5; domain=; path=", "(none)"},
    {"first_part_without_equals", "nodelim; path=/app", "(none)"},
    {"name_value_never_rewritten", "path=/app; Secure", "(none)"},
    {"no_attributes", "a=1", "(none)"},
    {"value_with_equals_kept", "t=a=b==; path=/app", "t=a=b==; path=/v2/app"},
    {"trailing_semicolon", "f=6; path=/app;", "f=6; path=/v2/app; "},
    {"tab_is_not_trimmed", "j=\tx; path=\t/app", "(none)"},
    {"no_matching_rule", "a=1; domain=elsewhere.net", "(none)"},
    {"similar_names_untouched", "a=1; domains=example.com; paths=/app", "(none)"},
};

INSTANTIATE_TEST_SUITE_P(Cases, SetCookieTest, testing::ValuesIn(kCookieCases),
                         [](const testing::TestParamInfo<CookieCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(SetCookieRewriteTest, VariablesInThePattern) {
  Request r("location / { proxy_pass http://pool; proxy_cookie_domain $host front.test; }", "/");
  EXPECT_EQ(r.Cookie("a=1; domain=EXAMPLE.test"), "a=1; domain=front.test");
  EXPECT_EQ(r.Cookie("a=1; domain=pool"), "(none)");
}

// The configuration cannot hold a line end (config::CheckHeaderText); a variable can: a PROXY
// v2 TLV is bytes a load balancer or its client chose. As in add_header, they become spaces.
TEST(SetCookieRewriteTest, LineEndsFromAVariableBecomeSpaces) {
  Request r(
      "location / { proxy_pass http://pool; "
      "proxy_cookie_domain pool \"[$proxy_protocol_tlv_authority]\"; }",
      "/");
  realip::ProxyHeader proxy;
  proxy.version = 2;
  proxy.tlvs = {{realip::pp2::kTypeAuthority, std::string("a\r\nX-Injected: 1\0b", 18)}};
  r.ctx.proxy_header = &proxy;
  EXPECT_EQ(r.Cookie("a=1; domain=pool"), "a=1; domain=[a  X-Injected: 1 b]");
}

TEST(SetCookieRewriteTest, InheritanceOffAndReplacement) {
  const std::string body = R"(
      proxy_cookie_path /a /s;
      location /inherit/ { proxy_pass http://pool; }
      location /own/ { proxy_pass http://pool; proxy_cookie_path /b /own; }
      location /off/ {
        proxy_pass http://pool;
        proxy_cookie_path off;
        location /off/nested/ { proxy_pass http://pool; }
        location /off/again/ { proxy_pass http://pool; proxy_cookie_path /a /again; }
      })";
  EXPECT_EQ(Request(body, "/inherit/x").Cookie("c=1; path=/a/b"), "c=1; path=/s/b");
  // A level with rules replaces the inherited list whole.
  EXPECT_EQ(Request(body, "/own/x").Cookie("c=1; path=/a/b"), "(none)");
  EXPECT_EQ(Request(body, "/own/x").Cookie("c=1; path=/b"), "c=1; path=/own");
  EXPECT_EQ(Request(body, "/off/x").Cookie("c=1; path=/a"), "(none)");
  EXPECT_TRUE(Request(body, "/off/x").ctx.location->settings.proxy_cookie_paths.empty());
  EXPECT_EQ(Request(body, "/off/nested/x").Cookie("c=1; path=/a"), "(none)");
  EXPECT_EQ(Request(body, "/off/again/x").Cookie("c=1; path=/a"), "c=1; path=/again");
  // proxy_cookie_domain is a list of its own: unset everywhere here.
  EXPECT_TRUE(Request(body, "/inherit/x").ctx.location->settings.proxy_cookie_domains.empty());
}

TEST(SetCookieRewriteTest, NoRulesMeansNoRewriting) {
  Request r("location / { proxy_pass http://pool; }", "/");
  EXPECT_EQ(r.Cookie("a=1; domain=example.test; path=/"), "(none)");
}

TEST(RedirectRewritesTest, ResponseHeadCarriesTheRewrittenCookies) {
  Request r(R"(location / {
      proxy_pass http://pool;
      proxy_redirect http://pool/ /;
      proxy_cookie_domain pool example.test;
      proxy_cookie_path /app/ /;
    })",
            "/");
  const std::string head = r.ClientHead(
      "HTTP/1.1 302 Found\r\nSet-Cookie: a=1; Domain=pool; Path=/app/x\r\n"
      "Location: http://pool/login\r\nset-cookie: b=2; Path=/other\r\n"
      "SET-COOKIE: c=3;path=/app/;HttpOnly\r\nX-Cookie: d=4; path=/app/\r\n"
      "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(head, std::string(k302Head) +
                      "Set-Cookie: a=1; Domain=example.test; Path=/x\r\n"
                      "Location: http://example.test:8080/login\r\nset-cookie: b=2; Path=/other\r\n"
                      "SET-COOKIE: c=3; path=/; HttpOnly\r\nX-Cookie: d=4; path=/app/\r\n\r\n");
}

TEST(RedirectRewritesTest, CookiesWithoutRedirectRules) {
  Request r(R"(location / {
      proxy_pass http://pool;
      proxy_redirect off;
      proxy_cookie_path / /p/;
    })",
            "/");
  EXPECT_EQ(r.ClientHead("HTTP/1.1 302 Found\r\nLocation: http://pool/login\r\n"
                         "Set-Cookie: a=1; path=/\r\nContent-Length: 0\r\n\r\n"),
            std::string(k302Head) +
                "Location: http://pool/login\r\n"
                "Set-Cookie: a=1; path=/p/\r\n\r\n");
}

}  // namespace
}  // namespace realip::server
