// map blocks in the configuration: parsing, nginx's matching rules (exact keys ignoring case,
// hostnames masks), default, include, and where the variable compiles (errors:
// config_errors_test.cc).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "proxy/config/config.h"
#include "unit/config/must_load.h"
#include "unit/temp_dir.h"

namespace realip::config {
namespace {

using testing_util::MustLoad;

// The value `map` selects for `source`, as written in the configuration.
std::string Select(const MapVariable& map, std::string source) {
  return map.Select(&source).source;
}

TEST(MapConfigTest, WebSocketSnippet) {
  auto c = MustLoad(
      "http {\n"
      "  map $http_upgrade $connection_upgrade {\n"
      "    default upgrade;\n"
      "    ''      close;\n"
      "  }\n"
      "  server { location / { proxy_set_header Connection $connection_upgrade; } }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->access.maps.size(), 1u);
  const MapVariable& m = c->access.maps[0];
  EXPECT_EQ(m.name, "connection_upgrade");
  EXPECT_EQ(m.source.source, "$http_upgrade");
  EXPECT_EQ(Select(m, ""), "close");
  EXPECT_EQ(Select(m, "websocket"), "upgrade");
}

TEST(MapConfigTest, ExactKeysIgnoreCaseAndDefaultIsOptional) {
  auto c = MustLoad(
      "http {\n"
      "  map $http_x_tenant $tenant { Acme acme-id; \"beta corp\" beta; \\default escaped; }\n"
      "  map $http_x_tenant $no_default { a x; }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  const MapVariable& m = c->access.maps[0];
  EXPECT_EQ(Select(m, "acme"), "acme-id");
  EXPECT_EQ(Select(m, "ACME"), "acme-id");
  EXPECT_EQ(Select(m, "Beta Corp"), "beta");
  EXPECT_EQ(Select(m, "default"), "escaped");  // "\default" is a key, not the default
  EXPECT_EQ(Select(m, "acme."), "");           // no trailing-dot rule without hostnames
  EXPECT_EQ(Select(m, "other"), "");
  EXPECT_EQ(Select(c->access.maps[1], "b"), "");
  EXPECT_EQ(Select(c->access.maps[1], "A"), "x");
}

TEST(MapConfigTest, HostnamesPrecedence) {
  auto c = MustLoad(
      "http {\n"
      "  map $host $site {\n"
      "    hostnames;\n"
      "    default           none;\n"
      "    example.com       exact;\n"
      "    *.example.com     wild;\n"
      "    *.a.example.com   wild-a;\n"
      "    .example.org      org;\n"
      "    www.example.*     tail;\n"
      "    www.example.net.* tail-net;\n"
      "    www.example.net   exact-net;\n"
      "  }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  const MapVariable& m = c->access.maps[0];
  EXPECT_TRUE(m.hostnames());
  EXPECT_EQ(Select(m, "example.com"), "exact");
  EXPECT_EQ(Select(m, "Example.COM."), "exact");  // case and a trailing dot ignored
  EXPECT_EQ(Select(m, "x.example.com"), "wild");
  EXPECT_EQ(Select(m, "y.x.example.com"), "wild");
  EXPECT_EQ(Select(m, "x.a.example.com"), "wild-a");  // the longest leading mask
  EXPECT_EQ(Select(m, "a.example.com"), "wild");
  EXPECT_EQ(Select(m, "xexample.com"), "none");
  EXPECT_EQ(Select(m, "example.org"), "org");  // ".example.org" is also the name itself
  EXPECT_EQ(Select(m, "w.example.org"), "org");
  EXPECT_EQ(Select(m, "www.example.com"), "wild");  // a leading mask before a trailing one
  EXPECT_EQ(Select(m, "www.example.de"), "tail");
  EXPECT_EQ(Select(m, "www.example.net"), "exact-net");    // exact first
  EXPECT_EQ(Select(m, "www.example.net.uk"), "tail-net");  // the longest trailing mask
  EXPECT_EQ(Select(m, "www.example"), "none");
}

TEST(MapConfigTest, MasksAreExactKeysWithoutHostnames) {
  auto c = MustLoad("http { map $host $m { *.example.com wild; } }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Select(c->access.maps[0], "a.example.com"), "");
  EXPECT_EQ(Select(c->access.maps[0], "*.example.com"), "wild");
}

TEST(MapConfigTest, ValuesAndSourcesCompileVariables) {
  auto c = MustLoad(
      "http {\n"
      "  map \"$scheme://$host\" $origin { default \"$scheme-$host\"; volatile; a $Tenant; }\n"
      "  map $http_x_tenant $tenant { default t; }\n"
      "  log_format f \"$origin $tenant\";\n"
      "  limit_req_zone $tenant zone=t:1m rate=1r/s;\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  const MapVariable& m = c->access.maps[0];
  ASSERT_EQ(m.source.segments.size(), 3u);
  EXPECT_EQ(m.source.segments[0].variable->id, VariableId::kScheme);
  std::string key = "zzz";
  const CompiledString& v = m.Select(&key);
  ASSERT_EQ(v.segments.size(), 3u);
  EXPECT_EQ(v.segments[2].variable->id, VariableId::kHost);
  key = "a";
  const CompiledString& tenant = m.Select(&key);
  ASSERT_EQ(tenant.segments.size(), 1u);
  // Used before its block: nginx resolves names once the configuration is read.
  EXPECT_EQ(tenant.segments[0].variable->id, VariableId::kMap);
  EXPECT_EQ(tenant.segments[0].variable->index, 1u);
  EXPECT_EQ(VariableName(*tenant.segments[0].variable), "tenant");
  EXPECT_EQ(c->access.limit_req_zones[0]->key.segments[0].variable->id, VariableId::kMap);
  // Outside a load, the name means nothing.
  EXPECT_FALSE(LookupVariable("tenant").has_value());
}

TEST(MapConfigTest, UsableBeforeItsBlockAndByItself) {
  auto c = MustLoad(
      "http {\n"
      "  server { location / { add_header X-B $b; return 200 \"$a\"; } }\n"
      "  map $a $a { default x; }\n"
      "  map $http_x $b { default $c; }\n"
      "  map $b $c { default y; }\n"
      "}\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->access.maps.size(), 3u);
  EXPECT_EQ(c->access.maps[0].source.segments[0].variable->id, VariableId::kMap);
}

TEST(MapConfigTest, ALaterBlockForTheSameNameReplacesTheEarlier) {
  auto c = MustLoad("http { map $host $m { default first; } map $host $M { default second; } }\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->access.maps.size(), 1u);
  EXPECT_EQ(Select(c->access.maps[0], "x"), "second");
}

TEST(MapConfigTest, IncludeIsRelativeToTheConfigurationFolder) {
  const ScopedTempDir tmp;
  const std::filesystem::path dir = tmp.path();
  std::ofstream(dir / "tenants.map") << "acme 1;\nbeta 2;\n";
  const std::filesystem::path conf = dir / "main.conf";
  std::ofstream(conf) << "http {\n map $http_x_tenant $tenant {\n  default 0;\n"
                         "  include tenants.map;\n }\n}\n";
  absl::StatusOr<std::shared_ptr<const Config>> c = LoadConfig(conf.string());
  ASSERT_TRUE(c.ok()) << c.status().message();
  const MapVariable& m = (*c)->access.maps[0];
  EXPECT_EQ(Select(m, "beta"), "2");
  EXPECT_EQ(Select(m, "acme"), "1");
  EXPECT_EQ(Select(m, "gamma"), "0");
  std::ofstream(dir / "tenants.map") << "acme 1;\nACME 2;\n";
  c = LoadConfig(conf.string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), absl::StrCat("conflicting parameter \"acme\" in ",
                                               (dir / "tenants.map").string(), ":2"));
}

}  // namespace
}  // namespace realip::config
