// $name of a map block evaluated against a request: the source, the selected value with its
// variables, maps naming maps, cycles, and line breaks kept out of header values.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/config/config.h"
#include "proxy/server/request_context.h"
#include "unit/config/must_load.h"

namespace realip::server {
namespace {

using config::testing_util::MustLoad;

constexpr char kConfig[] = R"(
http {
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  map $http_x_tenant $tenant { default "$scheme-$host"; acme acme-id; peer $remote_addr; }
  map $host $site { hostnames; *.example.com wild; default none; }
  map $tenant $tier { acme-id gold; default $site; }
  map $a $a { default x; }
  map $http_x_loop $b { default $c; stop b; }
  map $b $c { default $b; }
  map $http_x_raw $raw { default $binary_remote_addr; }
  server {
    listen 127.0.0.1:8001;
    location / {
      proxy_set_header X-Tenant $tenant;
      proxy_set_header X-Raw "[$raw]";
    }
  }
}
)";

// Evaluates `text`, compiled knowing the configuration's map names; `field`: as a header value.
std::string Eval(const config::Config& c, const RequestContext& ctx, const std::string& text,
                 bool field = false) {
  std::vector<std::string> names;
  for (const config::MapVariable& m : c.access.maps) names.push_back(m.name);
  config::ScopedConfigVariables known(nullptr, &names);
  absl::StatusOr<config::CompiledString> s = config::CompileString(text);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return "";
  std::string out;
  if (field) {
    EvaluateFieldTo(*s, ctx, &out);
  } else {
    EvaluateTo(*s, ctx, &out);
  }
  return out;
}

class MapEvalTest : public testing::Test {
 protected:
  void SetUp() override {
    config_ = MustLoad(kConfig);
    ASSERT_NE(config_, nullptr);
    ctx_.server = config_->servers[0].get();
    ctx_.location = &config_->servers[0]->locations[0];
    ctx_.access = &config_->access;
    ctx_.head = &head_;
    ctx_.resolution.client = {*net::IpAddress::Parse("192.0.2.7"), 1000, false};
  }

  std::string Eval(const std::string& text, bool field = false) {
    return server::Eval(*config_, ctx_, text, field);
  }

  std::shared_ptr<const config::Config> config_;
  http::MessageHead head_;
  RequestContext ctx_;
};

TEST_F(MapEvalTest, WebSocketSnippet) {
  EXPECT_EQ(Eval("$connection_upgrade"), "close");
  head_.headers.Add("Upgrade", "websocket");
  EXPECT_EQ(Eval("$connection_upgrade"), "upgrade");
}

TEST_F(MapEvalTest, ValuesEvaluateTheirVariables) {
  head_.headers.Add("Host", "App.Example.com");
  EXPECT_EQ(Eval("$tenant"), "http-app.example.com");  // the default, "$scheme-$host"
  EXPECT_EQ(Eval("$site"), "wild");
  EXPECT_EQ(Eval("$tier"), "wild");  // a map whose source and value are maps
  head_.headers.Add("X-Tenant", "ACME");
  EXPECT_EQ(Eval("<$tenant|$tier>"), "<acme-id|gold>");
}

TEST_F(MapEvalTest, AValueMayBeAnotherRequestsData) {
  head_.headers.Add("X-Tenant", "peer");
  EXPECT_EQ(Eval("$tenant"), "192.0.2.7");
}

TEST_F(MapEvalTest, ACycleIsEmptyAndNotFound) {
  // `map $a $a`: its source is itself, which is not found there, so the default applies (nginx
  // gives the same value once its depth limit stops the recursion).
  EXPECT_EQ(Eval("[$a]"), "[x]");
  // $b's default is $c, whose source and default are $b: evaluating $b meets $b again, so
  // $c's source is empty and its default, $b, is not found.
  EXPECT_EQ(Eval("[$b]"), "[]");
  EXPECT_EQ(Eval("[$c]"), "[]");
  head_.headers.Add("X-Loop", "stop");
  EXPECT_EQ(Eval("[$b|$c]"), "[b|b]");
  // A map evaluated twice in one string is no cycle.
  EXPECT_EQ(Eval("$connection_upgrade $connection_upgrade"), "close close");
}

TEST_F(MapEvalTest, AFoundValueIsSetEvenWhenEmpty) {
  config::VariableRef tenant{config::VariableId::kMap, "tenant", 1};
  std::string out;
  EXPECT_TRUE(AppendVariable(tenant, ctx_, &out));
  config::VariableRef upgrade{config::VariableId::kMap, "connection_upgrade", 0};
  out.clear();
  EXPECT_TRUE(AppendVariable(upgrade, ctx_, &out));
  EXPECT_EQ(out, "close");
}

TEST_F(MapEvalTest, HeaderValuesGetNoLineBreaksFromAMap) {
  ctx_.resolution.client = {*net::IpAddress::Parse("10.13.10.0"), 1000, false};  // CR LF NUL
  EXPECT_EQ(Eval("[$raw]"), std::string("[\x0a\x0d\x0a\x00]", 6));
  EXPECT_EQ(Eval("[$raw]", /*field=*/true), std::string("[    ]", 6));
}

}  // namespace
}  // namespace realip::server
