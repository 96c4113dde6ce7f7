// allow/deny, geo, limit_req and limit_conn in the configuration: stored values, nginx's
// inheritance, zones carried over on reload and geo variables (errors: config_errors_test.cc).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proxy/config/config.h"
#include "proxy/net/ip_address.h"
#include "unit/config/must_load.h"

namespace realip::config {
namespace {

using testing_util::MustLoad;

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

TEST(AccessConfigTest, GeoVariableNamesAreCaseInsensitive) {
  auto c = MustLoad(
      "http { geo $Region { default x; }\n"
      "  server { location / { proxy_set_header X-Region $REGION; proxy_pass http://127.0.0.1:1; } "
      "} }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->access.geo[0].name, "region");
  const HeaderRewrite& h = c->servers[0]->locations[0].settings.proxy_set_headers[0];
  ASSERT_TRUE(h.value.segments[0].variable.has_value());
  EXPECT_EQ(h.value.segments[0].variable->id, VariableId::kGeo);
}

// nginx resolves variable names once the whole configuration is read, and a later geo or map
// block for a name replaces an earlier one of either kind (ngx_http_add_variable).
TEST(AccessConfigTest, GeoVariablesAreUsableBeforeTheirBlockAndTheLastBlockDefinesThem) {
  auto c = MustLoad(
      "http {\n"
      "  log_format f \"$early $g $m $mg $gm\";\n"
      "  geo $early { default before; }\n"
      "  geo $g { default first; }\n"
      "  geo $G { default second; }\n"
      "  geo $gm { default geo; }\n"
      "  map $host $gm { default map; }\n"
      "  map $host $mg { default map; }\n"
      "  geo $mg { default geo; }\n"
      "  map $host $m { default m; }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  std::vector<std::string> geo;
  for (const GeoVariable& g : c->access.geo) geo.push_back(g.name);
  EXPECT_EQ(geo, (std::vector<std::string>{"early", "g", "mg"}));
  std::vector<std::string> maps;
  for (const MapVariable& m : c->access.maps) maps.push_back(m.name);
  EXPECT_EQ(maps, (std::vector<std::string>{"gm", "m"}));
  EXPECT_EQ(c->access.geo[1].map->Lookup(*net::IpAddress::Parse("10.0.0.1")), "second");
  const CompiledString& f = c->log_formats.at("f")->format;
  std::vector<std::pair<VariableId, std::string>> refs;
  for (const auto& segment : f.segments) {
    if (segment.variable.has_value()) {
      refs.emplace_back(segment.variable->id, VariableName(*segment.variable));
    }
  }
  EXPECT_EQ(refs, (std::vector<std::pair<VariableId, std::string>>{{VariableId::kGeo, "early"},
                                                                   {VariableId::kGeo, "g"},
                                                                   {VariableId::kMap, "m"},
                                                                   {VariableId::kGeo, "mg"},
                                                                   {VariableId::kMap, "gm"}}));
}

TEST(AccessConfigTest, ReloadKeepsAnUnchangedZoneAndReplacesAChangedOne) {
  const std::string base =
      "http { limit_req_zone $binary_remote_addr zone=z:1m rate=10r/s;"
      " limit_conn_zone $binary_remote_addr zone=c:1m; }\n";
  auto first = MustLoad(base);
  auto same = MustLoad(base, first.get());
  auto resized = MustLoad(
      "http { limit_req_zone $binary_remote_addr zone=z:2m rate=10r/s;"
      " limit_conn_zone $remote_addr zone=c:1m; }\n",
      first.get());
  auto rerated = MustLoad(
      "http { limit_req_zone $binary_remote_addr zone=z:1m rate=30r/m;"
      " limit_conn_zone $binary_remote_addr zone=c:1m; }\n",
      first.get());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(same, nullptr);
  ASSERT_NE(resized, nullptr);
  ASSERT_NE(rerated, nullptr);
  EXPECT_EQ(first->access.limit_req_zones[0]->limiter, same->access.limit_req_zones[0]->limiter);
  // A new rate keeps the states (nginx); each configuration keeps its own rate.
  EXPECT_EQ(first->access.limit_req_zones[0]->limiter, rerated->access.limit_req_zones[0]->limiter);
  EXPECT_EQ(first->access.limit_req_zones[0]->rate, 10000u);
  EXPECT_EQ(rerated->access.limit_req_zones[0]->rate, 500u);
  EXPECT_EQ(first->access.limit_conn_zones[0]->limiter, same->access.limit_conn_zones[0]->limiter);
  EXPECT_NE(first->access.limit_req_zones[0]->limiter, resized->access.limit_req_zones[0]->limiter);
  EXPECT_NE(first->access.limit_conn_zones[0]->limiter,
            resized->access.limit_conn_zones[0]->limiter);
  // Without a running configuration (the start, `-t`) every zone starts empty.
  first->access.limit_req_zones[0]->limiter->Check("k", 10000, {}, 1000);
  auto fresh = MustLoad(base);
  ASSERT_NE(fresh, nullptr);
  EXPECT_NE(fresh->access.limit_req_zones[0]->limiter, first->access.limit_req_zones[0]->limiter);
  EXPECT_EQ(fresh->access.limit_req_zones[0]->limiter->size(), 0u);
}

// nginx compares a new cycle's zones with the previous cycle's only: after A, then B with the
// zone resized, then A again, the zone starts empty even while connections of the first A
// (and so its zone) are still alive.
TEST(AccessConfigTest, OnlyTheRunningConfigurationLendsItsZones) {
  const std::string a = "http { limit_req_zone $binary_remote_addr zone=z:1m rate=10r/s; }\n";
  const std::string b = "http { limit_req_zone $binary_remote_addr zone=z:2m rate=10r/s; }\n";
  auto first = MustLoad(a);
  ASSERT_NE(first, nullptr);
  first->access.limit_req_zones[0]->limiter->Check("k", 10000, {}, 1000);
  auto second = MustLoad(b, first.get());
  ASSERT_NE(second, nullptr);
  auto third = MustLoad(a, second.get());
  ASSERT_NE(third, nullptr);
  EXPECT_NE(third->access.limit_req_zones[0]->limiter, first->access.limit_req_zones[0]->limiter);
  EXPECT_EQ(third->access.limit_req_zones[0]->limiter->size(), 0u);
  EXPECT_EQ(first->access.limit_req_zones[0]->limiter->size(), 1u);
}

std::string Zones(const char* req_key, const char* req_size, const char* conn_key,
                  const char* rate = "1r/s") {
  return absl::StrCat("http {\n limit_req_zone ", req_key, " zone=one:", req_size, " rate=", rate,
                      ";\n limit_conn_zone ", conn_key, " zone=addr:1m;\n}\n");
}

// nginx's ngx_http_limit_req_init_zone / ngx_http_limit_conn_init_zone: a zone that keeps its
// name and size (so nginx keeps its shared memory) must keep its key, or the reload fails.
TEST(AccessConfigTest, ReloadRefusesANewKeyForAZoneOfTheSameNameAndSize) {
  auto running = MustLoad(Zones("$binary_remote_addr", "10m", "$binary_remote_addr"));
  ASSERT_NE(running, nullptr);
  struct Case {
    const char* name;
    std::string next;
    std::string error;  // empty: accepted
  };
  const Case cases[] = {
      {"unchanged", Zones("$binary_remote_addr", "10m", "$binary_remote_addr"), ""},
      {"quoted", Zones("\"$binary_remote_addr\"", "10m", "$binary_remote_addr"), ""},
      {"limit_req key", Zones("$realip_remote_addr", "10m", "$binary_remote_addr"),
       "limit_req \"one\" uses the \"$realip_remote_addr\" key while previously it used the "
       "\"$binary_remote_addr\" key in /etc/realip-proxy/realip-proxy.conf:2"},
      {"limit_conn key", Zones("$binary_remote_addr", "10m", "$remote_addr"),
       "limit_conn_zone \"addr\" uses the \"$remote_addr\" key while previously it used the "
       "\"$binary_remote_addr\" key in /etc/realip-proxy/realip-proxy.conf:3"},
      {"key and size", Zones("$realip_remote_addr", "20m", "$binary_remote_addr"), ""},
      {"rate", Zones("$binary_remote_addr", "10m", "$binary_remote_addr", "5r/s"), ""},
      {"zones renamed",
       "http { limit_req_zone $remote_addr zone=two:10m rate=1r/s;"
       " limit_conn_zone $remote_addr zone=other:1m; }\n",
       ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto next = MustLoad(c.next, running.get());
    ASSERT_NE(next, nullptr);
    absl::Status st = CheckZonesOnReload(running->access, next->access);
    if (c.error.empty()) {
      EXPECT_TRUE(st.ok()) << st.message();
    } else {
      EXPECT_EQ(st.message(), c.error);
    }
  }
  // A refused configuration took nothing from the running one's zones.
  running->access.limit_req_zones[0]->limiter->Check("k", 10000, {}, 1000);
  EXPECT_EQ(running->access.limit_req_zones[0]->limiter->size(), 1u);
}

TEST(AccessConfigTest, GeoWarningsCarryTheirLocation) {
  auto c = MustLoad("http {\n geo $g {\n  10.0.0.0/8 a;\n  10.0.0.0/8 b;\n }\n}\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_EQ(c->warnings[0],
            "duplicate network \"10.0.0.0/8\", value: \"b\", old value: \"a\" in "
            "/etc/realip-proxy/realip-proxy.conf:4");
}

}  // namespace
}  // namespace realip::config
