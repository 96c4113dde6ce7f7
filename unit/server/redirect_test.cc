#include "proxy/server/redirect.h"

#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "proxy/config/config.h"
#include "proxy/http/parser.h"
#include "proxy/net/ip_address.h"
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
  http::MessageHead response =
      Parse(http::MessageKind::kResponse,
            "HTTP/1.1 302 Found\r\nLocation: http://pool/login\r\nX-A: http://pool/x\r\n"
            "Refresh: 3; url=http://other/a\r\nContent-Location: http://pool/c\r\n"
            "Location: /kept\r\nContent-Length: 0\r\n\r\n");
  std::string head;
  AppendClientResponseHead(response, r.ctx.location->settings, r.ctx,
                           {"realip-proxy", "Thu, 01 Jan 1970 00:00:00 GMT"},
                           ClientFraming::kContentLength, true, false, &head);
  EXPECT_EQ(head,
            "HTTP/1.1 302 Found\r\nServer: realip-proxy\r\n"
            "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Length: 0\r\n"
            "Connection: keep-alive\r\nLocation: http://example.test:8080/login\r\n"
            "X-A: http://pool/x\r\nRefresh: 3; url=http://moved/a\r\n"
            "Content-Location: http://pool/c\r\nLocation: /kept\r\n\r\n");
}

}  // namespace
}  // namespace realip::server
