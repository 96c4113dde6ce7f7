#include "proxy/server/lifecycle.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace realip::server {
namespace {

TEST(LifecycleTest, ReadyUntilShutdownBegins) {
  Lifecycle lifecycle;
  EXPECT_TRUE(lifecycle.ready());
  lifecycle.BeginShutdown();
  EXPECT_FALSE(lifecycle.ready());
  lifecycle.BeginShutdown();
  EXPECT_FALSE(lifecycle.ready());
}

TEST(LifecycleTest, ReopenHooksRunInRegistrationOrderEveryTime) {
  Lifecycle lifecycle;
  std::string calls;
  lifecycle.RunReopenHooks();  // none registered: nothing to do
  lifecycle.AddReopenHook([&] { calls += "a"; });
  lifecycle.AddReopenHook([&] { calls += "b"; });
  lifecycle.RunReopenHooks();
  lifecycle.RunReopenHooks();
  EXPECT_EQ(calls, "abab");
}

TEST(LifecycleTest, ReloadsAreCountedAndReportedWithTheirResultLabel) {
  Lifecycle lifecycle;
  std::vector<std::string> results;
  lifecycle.AddReloadHook([&](std::string_view r) { results.emplace_back(r); });
  for (bool ok : {true, false, true}) lifecycle.ReloadFinished(ok);
  EXPECT_EQ(results, (std::vector<std::string>{"success", "failure", "success"}));
  EXPECT_EQ(lifecycle.reloads(true), 2u);
  EXPECT_EQ(lifecycle.reloads(false), 1u);
}

}  // namespace
}  // namespace realip::server
