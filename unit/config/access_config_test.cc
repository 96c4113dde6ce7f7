// allow/deny, geo, limit_req and limit_conn in the configuration: stored values, nginx's
// inheritance, zones carried over on reload, geo variables, and every error with its line.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proxy/base/strings.h"
#include "proxy/config/config.h"

namespace realip::config {
namespace {

constexpr char kPath[] = "/etc/realip-proxy/realip-proxy.conf";

absl::StatusOr<std::shared_ptr<const Config>> Load(const std::string& text) {
  return LoadConfigFromString(text, kPath);
}

std::shared_ptr<const Config> MustLoad(const std::string& text) {
  absl::StatusOr<std::shared_ptr<const Config>> c = Load(text);
  EXPECT_TRUE(c.ok()) << c.status().message() << "\n" << text;
  return c.ok() ? *c : nullptr;
}

net::SocketAddress Client(const char* ip) { return {*net::IpAddress::Parse(ip), 1234, false}; }

constexpr char kFull[] = R"(
http {
  geo $geo_region { default unknown; 10.0.0.0/8 ten; 10.1.0.0/16 ten-one; }
  geo $http_x_addr $geo_by_header { 192.0.2.0/24 doc; }
  limit_req_zone $binary_remote_addr zone=perip:1m rate=10r/s;
  limit_req_zone "$geo_region:$remote_addr" zone=byregion:64k rate=30r/m;
  limit_conn_zone $binary_remote_addr zone=addr:1m;
  limit_req zone=perip burst=5 nodelay;
  limit_req_status 429;
  limit_conn addr 10;
  deny 192.0.2.1;
  server {
    listen 127.0.0.1:8001;
    location / { }
    location /own/ {
      allow 10.0.0.0/8;
      deny all;
      limit_req zone=byregion burst=2 delay=1;
      limit_req zone=perip;
      limit_req_dry_run on;
      limit_conn addr 1;
      limit_conn_status 444;
      limit_conn_dry_run on;
      proxy_set_header X-Region $geo_region;
    }
  }
}
)";

TEST(AccessConfigTest, StoresZonesRulesAndInheritsWholeLists) {
  auto c = MustLoad(kFull);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->access.limit_req_zones.size(), 2u);
  EXPECT_EQ(c->access.limit_req_zones[0]->name, "perip");
  EXPECT_EQ(c->access.limit_req_zones[0]->rate, 10000u);
  EXPECT_EQ(c->access.limit_req_zones[0]->size, 1024u * 1024u);
  EXPECT_EQ(c->access.limit_req_zones[1]->key.source, "$geo_region:$remote_addr");
  EXPECT_EQ(c->access.limit_req_zones[1]->rate, 500u);
  ASSERT_EQ(c->access.limit_conn_zones.size(), 1u);
  ASSERT_EQ(c->access.geo.size(), 2u);
  EXPECT_EQ(c->access.geo[0].name, "geo_region");
  EXPECT_FALSE(c->access.geo[0].has_address);
  EXPECT_EQ(c->access.geo[0].map->Lookup(Client("10.1.2.3")), "ten-one");
  EXPECT_EQ(c->access.geo[0].map->Lookup(Client("11.0.0.1")), "unknown");
  EXPECT_TRUE(c->access.geo[1].has_address);
  EXPECT_EQ(c->access.geo[1].address.source, "$http_x_addr");
  EXPECT_EQ(c->access.geo[1].map->LookupText("192.0.2.9"), "doc");

  // The root location inherits everything from http.
  const AccessSettings& root = c->servers[0]->locations[0].settings.access;
  ASSERT_EQ(root.limit_req.size(), 1u);
  EXPECT_EQ(root.limit_req[0].zone->name, "perip");
  EXPECT_EQ(root.limit_req[0].policy.burst, 5000u);
  EXPECT_EQ(root.limit_req_status, 429);
  EXPECT_FALSE(root.limit_req_dry_run);
  ASSERT_EQ(root.limit_conn.size(), 1u);
  EXPECT_EQ(root.limit_conn[0].limit, 10u);
  EXPECT_EQ(root.limit_conn_status, 503);
  ASSERT_NE(root.rules, nullptr);
  EXPECT_EQ(root.rules->Evaluate(Client("192.0.2.1")), access::Verdict::kDeny);
  EXPECT_EQ(root.rules->Evaluate(Client("10.0.0.1")), access::Verdict::kAllow);

  // A level with its own lists replaces the inherited ones whole.
  const AccessSettings& own = c->servers[0]->locations[1].settings.access;
  ASSERT_EQ(own.limit_req.size(), 2u);
  EXPECT_EQ(own.limit_req[0].zone->name, "byregion");
  EXPECT_EQ(own.limit_req[0].policy.burst, 2000u);
  EXPECT_EQ(own.limit_req[0].policy.delay, 1000u);
  EXPECT_EQ(own.limit_req[1].policy.burst, 0u);
  EXPECT_EQ(own.limit_req[0].zone, c->access.limit_req_zones[1]);
  EXPECT_EQ(own.limit_req_status, 429);  // inherited value
  EXPECT_TRUE(own.limit_req_dry_run);
  ASSERT_EQ(own.limit_conn.size(), 1u);
  EXPECT_EQ(own.limit_conn[0].limit, 1u);
  EXPECT_EQ(own.limit_conn_status, 444);
  EXPECT_TRUE(own.limit_conn_dry_run);
  EXPECT_EQ(own.rules->Evaluate(Client("192.0.2.1")), access::Verdict::kDeny);
  EXPECT_EQ(own.rules->Evaluate(Client("10.0.0.1")), access::Verdict::kAllow);
  EXPECT_EQ(own.rules->size(), 2u);
}

TEST(AccessConfigTest, GeoVariablesCompileWhereverVariablesDo) {
  auto c = MustLoad(kFull);
  ASSERT_NE(c, nullptr);
  const HttpSettings& s = c->servers[0]->locations[1].settings;
  const HeaderRewrite& h = s.proxy_set_headers[0];
  ASSERT_EQ(h.value.segments.size(), 1u);
  ASSERT_TRUE(h.value.segments[0].variable.has_value());
  EXPECT_EQ(h.value.segments[0].variable->id, VariableId::kGeo);
  EXPECT_EQ(h.value.segments[0].variable->index, 0u);
  EXPECT_EQ(VariableName(*h.value.segments[0].variable), "geo_region");
  // Outside a load, the name means nothing.
  EXPECT_FALSE(LookupVariable("geo_region").has_value());
  EXPECT_EQ(LookupVariable("limit_req_status")->id, VariableId::kLimitReqStatus);
}

TEST(AccessConfigTest, ReloadKeepsAnUnchangedZoneAndReplacesAChangedOne) {
  const std::string base =
      "http { limit_req_zone $binary_remote_addr zone=z:1m rate=10r/s;"
      " limit_conn_zone $binary_remote_addr zone=c:1m; }\n";
  auto first = MustLoad(base);
  auto same = MustLoad(base);
  auto resized = MustLoad(
      "http { limit_req_zone $binary_remote_addr zone=z:2m rate=10r/s;"
      " limit_conn_zone $remote_addr zone=c:1m; }\n");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(same, nullptr);
  ASSERT_NE(resized, nullptr);
  EXPECT_EQ(first->access.limit_req_zones[0]->limiter, same->access.limit_req_zones[0]->limiter);
  EXPECT_EQ(first->access.limit_conn_zones[0]->limiter,
            same->access.limit_conn_zones[0]->limiter);
  EXPECT_NE(first->access.limit_req_zones[0]->limiter,
            resized->access.limit_req_zones[0]->limiter);
  EXPECT_NE(first->access.limit_conn_zones[0]->limiter,
            resized->access.limit_conn_zones[0]->limiter);
  // Once no configuration holds a zone, a new load starts it afresh.
  access::RateLimiter* old = first->access.limit_req_zones[0]->limiter.get();
  first.reset();
  same.reset();
  auto fresh = MustLoad(base);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->access.limit_req_zones[0]->limiter->size(), 0u);
  (void)old;
}

TEST(AccessConfigTest, GeoWarningsCarryTheirLocation) {
  auto c = MustLoad("http {\n geo $g {\n  10.0.0.0/8 a;\n  10.0.0.0/8 b;\n }\n}\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0],
            "duplicate network \"10.0.0.0/8\", value: \"b\", old value: \"a\" in "
            "/etc/realip-proxy/realip-proxy.conf:4");
}

struct ErrorCase {
  const char* name;
  const char* config;
  const char* message;  // without " in FILE:LINE"
  int line;
};

#define LOC(body) "http {\n server {\n  location / {\n" body "\n  }\n }\n}\n"
#define HTTP(body) "http {\n" body "\n}\n"

const ErrorCase kErrorCases[] = {
    {"allow_bad_address", LOC("allow 10.0.0.300;"), "invalid parameter \"10.0.0.300\"", 4},
    {"deny_two_args", LOC("deny 10.0.0.1 10.0.0.2;"),
     "invalid number of arguments in \"deny\" directive", 4},
    {"allow_in_main", "allow all;\n", "\"allow\" directive is not allowed here", 1},
    {"geo_in_server", "http {\n server {\n  geo $g { }\n }\n}\n",
     "\"geo\" directive is not allowed here", 3},
    {"geo_without_block", HTTP("geo $g;"), "directive \"geo\" has no opening \"{\"", 2},
    {"geo_bad_variable", HTTP("geo g { }"), "invalid variable name \"g\"", 2},
    {"geo_builtin_variable", HTTP("geo $remote_addr { }"),
     "the duplicate \"remote_addr\" variable", 2},
    {"geo_twice", HTTP("geo $g { }\ngeo $g { }"), "the duplicate \"g\" variable", 3},
    {"geo_unknown_address_variable", HTTP("geo $nope $g { }"), "unknown \"nope\" variable", 2},
    {"geo_bad_network", HTTP("geo $g {\n 10.0.0.300/8 x;\n}"), "invalid network \"10.0.0.300/8\"",
     3},
    {"geo_ranges", HTTP("geo $g {\n ranges;\n}"), "\"ranges\" is not supported in geo", 3},
    {"geo_proxy", HTTP("geo $g {\n proxy 10.0.0.1;\n}"), "\"proxy\" is not supported in geo", 3},
    {"geo_nested_block", HTTP("geo $g {\n x { }\n}"), "unexpected \"{\" in geo", 3},
    {"geo_variable_used_before_defined", HTTP("log_format f $g;\ngeo $g { }"),
     "unknown \"g\" variable", 2},
    {"limit_req_zone_bad_rate", HTTP("limit_req_zone $binary_remote_addr zone=z:1m rate=0r/s;"),
     "invalid rate \"rate=0r/s\"", 2},
    {"limit_req_zone_small", HTTP("limit_req_zone $binary_remote_addr zone=z:1k rate=1r/s;"),
     "zone \"zone=z:1k\" is too small", 2},
    {"limit_req_zone_unknown_variable", HTTP("limit_req_zone $nope zone=z:1m rate=1r/s;"),
     "unknown \"nope\" variable", 2},
    {"limit_req_zone_twice",
     HTTP("limit_req_zone $binary_remote_addr zone=z:1m rate=1r/s;\n"
          "limit_req_zone $remote_addr zone=z:1m rate=1r/s;"),
     "limit_req_zone \"z\" is already bound to key \"$binary_remote_addr\"", 3},
    {"limit_req_zone_in_server", "http {\n server {\n  limit_req_zone $a zone=z:1m rate=1r/s;\n }\n}\n",
     "\"limit_req_zone\" directive is not allowed here", 3},
    {"limit_req_unknown_zone", LOC("limit_req zone=nope;"), "unknown limit_req_zone \"nope\"", 4},
    {"limit_req_same_zone_twice",
     "http {\n limit_req_zone $binary_remote_addr zone=z:1m rate=1r/s;\n server {\n"
     "  limit_req zone=z;\n  limit_req zone=z burst=2;\n }\n}\n",
     "\"limit_req\" directive is duplicate", 5},
    {"limit_req_bad_burst", LOC("limit_req zone=z burst=x;"), "invalid burst value \"burst=x\"",
     4},
    {"limit_req_status_low", LOC("limit_req_status 399;"), "value must be between 400 and 599", 4},
    {"limit_req_status_word", LOC("limit_req_status many;"),
     "\"limit_req_status\" directive invalid number", 4},
    {"limit_req_dry_run_bad", LOC("limit_req_dry_run maybe;"),
     "invalid value \"maybe\" in \"limit_req_dry_run\" directive, it must be \"on\" or \"off\"",
     4},
    {"limit_req_status_twice", LOC("limit_req_status 429;\nlimit_req_status 503;"),
     "\"limit_req_status\" directive is duplicate", 5},
    {"limit_conn_zone_no_zone", HTTP("limit_conn_zone $binary_remote_addr;"),
     "invalid number of arguments in \"limit_conn_zone\" directive", 2},
    {"limit_conn_unknown_zone", LOC("limit_conn nope 1;"), "unknown limit_conn_zone \"nope\"", 4},
    {"limit_conn_zero", LOC("limit_conn a 0;"), "invalid number of connections \"0\"", 4},
    {"limit_conn_same_zone_twice",
     "http {\n limit_conn_zone $binary_remote_addr zone=a:1m;\n server {\n"
     "  limit_conn a 1;\n  limit_conn a 2;\n }\n}\n",
     "\"limit_conn\" directive is duplicate", 5},
    {"limit_conn_status_high", LOC("limit_conn_status 600;"), "value must be between 400 and 599",
     4},
};

class AccessConfigErrorTest : public testing::TestWithParam<ErrorCase> {};

TEST_P(AccessConfigErrorTest, FailsWithNginxMessageAndLine) {
  const ErrorCase& e = GetParam();
  absl::StatusOr<std::shared_ptr<const Config>> c = Load(e.config);
  ASSERT_FALSE(c.ok()) << e.config;
  EXPECT_EQ(base::AsStd(c.status().message()),
            std::string(e.message) + " in " + kPath + ":" + std::to_string(e.line));
}

INSTANTIATE_TEST_SUITE_P(Cases, AccessConfigErrorTest, testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace realip::config
