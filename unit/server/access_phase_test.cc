// The preaccess/access phases on a loaded configuration: limit_req verdicts and counts,
// limit_conn leases, allow/deny on the resolved client, $geo and $limit_req_status.
#include "proxy/server/access_phase.h"

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

RequestContext ContextFor(const config::Config& c, const config::Location& loc, const char* ip) {
  RequestContext ctx;
  ctx.server = c.servers[0].get();
  ctx.location = &loc;
  ctx.access = &c.access;
  ctx.resolution.client = {*net::IpAddress::Parse(ip), 1000, false};
  return ctx;
}

constexpr char kConfig[] = R"(
http {
  geo $region { default other; 10.0.0.0/8 ten; }
  geo $http_x_addr $by_header { default none; 192.0.2.0/24 doc; }
  limit_req_zone $binary_remote_addr zone=perip:1m rate=1r/s;
  limit_req_zone $region zone=byregion:1m rate=1r/s;
  limit_conn_zone $binary_remote_addr zone=addr:1m;
  server {
    server_name example.test;
    location /nodelay { limit_req zone=perip burst=2 nodelay; limit_req_status 429; }
    location /delay { limit_req zone=perip burst=2; }
    location /dry { limit_req zone=perip; limit_req_dry_run on; }
    location /region { limit_req zone=byregion; }
    location /conn { limit_conn addr 2; limit_conn_status 429; }
    location /conndry { limit_conn addr 1; limit_conn_dry_run on; }
    location /deny { allow 10.1.0.0/16; deny 10.0.0.0/8; }
  }
}
)";

const config::Location& At(const config::Config& c, std::string_view path) {
  return c.servers[0]->FindLocation(path);
}

using Action = LimitReqVerdict::Action;

TEST(AccessPhaseTest, LimitReqVerdictsFollowTheBucket) {
  struct Step {
    const char* path;
    const char* ip;
    uint64_t now_ms;
    Action action;
    std::string_view status_name;
    uint64_t delay_ms;
  };
  // rate 1r/s, burst 2: three requests at once pass (nodelay) or wait 0/1000/2000 ms.
  const Step steps[] = {
      {"/nodelay", "10.0.0.1", 1000, Action::kContinue, "PASSED", 0},
      {"/nodelay", "10.0.0.1", 1000, Action::kContinue, "PASSED", 0},
      {"/nodelay", "10.0.0.1", 1000, Action::kContinue, "PASSED", 0},
      {"/nodelay", "10.0.0.1", 1000, Action::kReject, "REJECTED", 0},
      {"/nodelay", "10.0.0.2", 1000, Action::kContinue, "PASSED", 0},
      {"/nodelay", "10.0.0.1", 2000, Action::kContinue, "PASSED", 0},
      {"/delay", "10.0.0.3", 5000, Action::kContinue, "PASSED", 0},
      {"/delay", "10.0.0.3", 5000, Action::kDelay, "DELAYED", 1000},
      {"/delay", "10.0.0.3", 5000, Action::kDelay, "DELAYED", 2000},
      {"/delay", "10.0.0.3", 5000, Action::kReject, "REJECTED", 0},
      {"/dry", "10.0.0.4", 9000, Action::kContinue, "PASSED", 0},
      {"/dry", "10.0.0.4", 9000, Action::kContinue, "REJECTED_DRY_RUN", 0},
      // Keyed by geo value: two clients of one network share a bucket.
      {"/region", "10.0.0.5", 9000, Action::kContinue, "PASSED", 0},
      {"/region", "10.9.9.9", 9000, Action::kReject, "REJECTED", 0},
      {"/region", "11.0.0.1", 9000, Action::kContinue, "PASSED", 0},
  };
  auto c = MustLoad(kConfig);
  ASSERT_NE(c, nullptr);
  metrics::Registry registry("test");
  metrics::Shard* shard = registry.NewShard();
  for (const Step& step : steps) {
    SCOPED_TRACE(std::string(step.path) + " " + step.ip + " @" + std::to_string(step.now_ms));
    const config::Location& loc = At(*c, step.path);
    LimitReqVerdict v =
        ApplyLimitReq(loc.settings.access, ContextFor(*c, loc, step.ip), step.now_ms, shard);
    EXPECT_EQ(v.action, step.action);
    EXPECT_EQ(v.status_name, step.status_name);
    EXPECT_EQ(v.delay_ms, step.delay_ms);
    if (v.action == Action::kReject) {
      EXPECT_EQ(v.status, step.path == std::string("/nodelay") ? 429 : 503);
    }
  }
  const std::string text = registry.Scrape();
  for (const char* line : {
           "realip_limit_req_total{zone=\"perip\",result=\"passed\"} 7\n",
           "realip_limit_req_total{zone=\"perip\",result=\"rejected\"} 2\n",
           "realip_limit_req_total{zone=\"perip\",result=\"delayed\"} 2\n",
           "realip_limit_req_total{zone=\"perip\",result=\"rejected_dry_run\"} 1\n",
           "realip_limit_req_total{zone=\"byregion\",result=\"rejected\"} 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << text;
  }
}

TEST(AccessPhaseTest, LimitConnHoldsSlotsUntilTheLeasesGo) {
  auto c = MustLoad(kConfig);
  ASSERT_NE(c, nullptr);
  const config::Location& loc = At(*c, "/conn");
  const RequestContext ctx = ContextFor(*c, loc, "10.0.0.1");
  std::vector<access::ConnLimitLease> a, b, d;
  EXPECT_EQ(ApplyLimitConn(loc.settings.access, ctx, &a), 0);
  EXPECT_EQ(ApplyLimitConn(loc.settings.access, ctx, &b), 0);
  EXPECT_EQ(ApplyLimitConn(loc.settings.access, ctx, &d), 429);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(ApplyLimitConn(loc.settings.access, ContextFor(*c, loc, "10.0.0.2"), &d), 0);
  a.clear();
  std::vector<access::ConnLimitLease> e;
  EXPECT_EQ(ApplyLimitConn(loc.settings.access, ctx, &e), 0);

  const config::Location& dry = At(*c, "/conndry");
  const RequestContext other = ContextFor(*c, dry, "10.0.0.9");
  std::vector<access::ConnLimitLease> f, g;
  EXPECT_EQ(ApplyLimitConn(dry.settings.access, other, &f), 0);
  EXPECT_EQ(ApplyLimitConn(dry.settings.access, other, &g), 0);  // over, but dry run
  EXPECT_EQ(f.size(), 1u);
  EXPECT_TRUE(g.empty());
}

TEST(AccessPhaseTest, AllowDenyOnTheResolvedClient) {
  struct Case {
    const char* ip;
    bool allowed;
  };
  const Case cases[] = {{"10.1.2.3", true}, {"10.2.0.1", false}, {"192.0.2.1", true}};
  auto c = MustLoad(kConfig);
  ASSERT_NE(c, nullptr);
  metrics::Registry registry("test");
  metrics::Shard* shard = registry.NewShard();
  const config::Location& loc = At(*c, "/deny");
  for (const Case& k : cases) {
    EXPECT_EQ(AccessAllowed(loc.settings.access, ContextFor(*c, loc, k.ip), shard), k.allowed)
        << k.ip;
  }
  EXPECT_TRUE(
      AccessAllowed(At(*c, "/").settings.access, ContextFor(*c, loc, "10.2.0.1"), shard));
  EXPECT_NE(registry.Scrape().find("realip_access_denied_total{server=\"example.test\"} 1\n"),
            std::string::npos);
}

TEST(AccessPhaseTest, GeoAndLimitReqStatusVariables) {
  auto c = MustLoad(kConfig);
  ASSERT_NE(c, nullptr);
  const config::Location& loc = At(*c, "/");
  http::MessageHead head;
  head.headers.Add("X-Addr", "192.0.2.44");
  RequestContext ctx = ContextFor(*c, loc, "10.3.3.3");
  ctx.head = &head;
  ctx.limit_req_status = "DELAYED";
  absl::StatusOr<config::CompiledString> s =
      config::CompileString("$limit_req_status $binary_remote_addr");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Evaluate(*s, ctx), std::string("DELAYED \x0a\x03\x03\x03", 12));
  config::VariableRef region{config::VariableId::kGeo, "region", 0};
  config::VariableRef by_header{config::VariableId::kGeo, "by_header", 1};
  std::string out;
  AppendVariable(region, ctx, &out);
  out += "|";
  AppendVariable(by_header, ctx, &out);
  EXPECT_EQ(out, "ten|doc");
  ctx.resolution.client = {net::IpAddress(), 0, true};  // a Unix-socket client
  out.clear();
  AppendVariable(region, ctx, &out);
  EXPECT_EQ(out, "other");
}

}  // namespace
}  // namespace realip::server
