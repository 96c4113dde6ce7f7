// error_page, recursive_error_pages, proxy_intercept_errors and named locations in the
// configuration: the accepted forms and nginx's inheritance (errors: config_errors_test.cc).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "unit/config/must_load.h"

namespace realip::config {
namespace {

using testing_util::MustLoad;

struct Page {
  int status;
  int overwrite;
  std::string uri;
  bool operator==(const Page&) const = default;
};

std::vector<Page> Pages(const HttpSettings& s) {
  std::vector<Page> out;
  for (const ErrorPage& p : s.error_pages) out.push_back({p.status, p.overwrite, p.uri.source});
  return out;
}

TEST(ErrorPageConfigTest, AcceptedForms) {
  auto c = MustLoad(R"(http {
  server {
    error_page 404 /404.html;
    error_page 500 502 503 504 =200 /50x?from=$uri;
    error_page 403 = @denied;
    error_page 410 =301 http://example.com/gone;
    error_page 497 https://$host$request_uri;
    error_page 495 =302 /cert;
    error_page 418 =0 /tea;
    error_page 404 /second;
    location @denied { return 200; }
  }
})");
  ASSERT_NE(c, nullptr);
  const HttpSettings& s = c->servers[0]->settings;
  EXPECT_EQ(Pages(s), (std::vector<Page>{
                          {404, -1, "/404.html"},
                          {500, 200, "/50x?from=$uri"},
                          {502, 200, "/50x?from=$uri"},
                          {503, 200, "/50x?from=$uri"},
                          {504, 200, "/50x?from=$uri"},
                          {403, 0, "@denied"},
                          {410, 301, "http://example.com/gone"},
                          {497, 400, "https://$host$request_uri"},  // nginx's 400 for 494-497
                          {495, 302, "/cert"},
                          {418, 0, "/tea"},
                          {404, -1, "/second"},
                      }));
  // The first entry of a code is the one used.
  ASSERT_NE(FindErrorPage(s, 404), nullptr);
  EXPECT_EQ(FindErrorPage(s, 404)->uri.source, "/404.html");
  EXPECT_EQ(FindErrorPage(s, 405), nullptr);
  EXPECT_FALSE(s.recursive_error_pages);
  EXPECT_FALSE(s.proxy_intercept_errors);
}

TEST(ErrorPageConfigTest, ALevelWithErrorPagesReplacesTheInheritedList) {
  auto c = MustLoad(R"(http {
  error_page 404 /h404;
  error_page 500 /h500;
  recursive_error_pages on;
  proxy_intercept_errors on;
  server {
    location /inherits { }
    location /own {
      error_page 502 /l502;
      recursive_error_pages off;
      location /own/nested { proxy_intercept_errors off; }
    }
  }
  server {
    error_page 403 /s403;
    location / { }
  }
})");
  ASSERT_NE(c, nullptr);
  const Server& first = *c->servers[0];
  const std::vector<Page> http_pages = {{404, -1, "/h404"}, {500, -1, "/h500"}};
  EXPECT_EQ(Pages(first.settings), http_pages);
  EXPECT_EQ(Pages(first.FindLocation("/inherits").settings), http_pages);
  EXPECT_TRUE(first.FindLocation("/inherits").settings.recursive_error_pages);
  const HttpSettings& own = first.FindLocation("/own").settings;
  EXPECT_EQ(Pages(own), (std::vector<Page>{{502, -1, "/l502"}}));
  EXPECT_FALSE(own.recursive_error_pages);
  EXPECT_TRUE(own.proxy_intercept_errors);
  const HttpSettings& nested = first.FindLocation("/own/nested/x").settings;
  EXPECT_EQ(Pages(nested), (std::vector<Page>{{502, -1, "/l502"}}));
  EXPECT_FALSE(nested.proxy_intercept_errors);
  const Server& second = *c->servers[1];
  EXPECT_EQ(Pages(second.FindLocation("/").settings), (std::vector<Page>{{403, -1, "/s403"}}));
}

TEST(ErrorPageConfigTest, NamedLocationsAreReachedByNameOnly) {
  auto c = MustLoad(R"(http {
  server {
    proxy_read_timeout 7s;
    location / { return 200; }
    location @backend { proxy_pass http://127.0.0.1:8081; }
    location @backend { return 204; }
    location = @exact { return 201; }
  }
})");
  ASSERT_NE(c, nullptr);
  const Server& server = *c->servers[0];
  ASSERT_EQ(server.named_locations.size(), 2u);
  // A URI never matches a named location, even one spelled like it.
  EXPECT_EQ(&server.FindLocation("@backend"), &server.fallback);
  EXPECT_EQ(server.FindLocation("@exact").path, "@exact");
  const Location* named = server.FindNamedLocation("@backend");
  ASSERT_NE(named, nullptr);
  // The first of two with one name, as nginx.
  EXPECT_EQ(named->settings.handler, ContentHandler::kProxyPass);
  EXPECT_EQ(named->settings.proxy_read_timeout, absl::Seconds(7));  // merged from the server
  EXPECT_EQ(server.FindNamedLocation("@exact"), nullptr);
  EXPECT_EQ(server.FindNamedLocation("@none"), nullptr);
}

}  // namespace
}  // namespace realip::config
