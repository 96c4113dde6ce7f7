#include "proxy/upstream/health.h"

#include <gtest/gtest.h>

#include <vector>

namespace realip::upstream {
namespace {

using State = PassiveHealth::State;

enum class Event { kFailure, kSuccess, kPicked, kNothing };

// At `at` seconds, feed `event`, then expect `available` and `state` at that same instant.
struct Step {
  int at;
  Event event;
  bool available;
  State state;
};

struct HealthCase {
  const char* name;
  int max_fails;
  int fail_timeout_s;
  std::vector<Step> steps;
};

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

const HealthCase kCases[] = {
    {"one_failure_marks_down_with_default_max_fails",
     1,
     10,
     {{0, Event::kNothing, true, State::kUp},
      {1, Event::kFailure, false, State::kDown},
      {10, Event::kNothing, false, State::kDown},
      {11, Event::kNothing, true, State::kDown}}},
    {"failures_spread_wider_than_fail_timeout_do_not_add_up",
     3,
     10,
     {{0, Event::kFailure, true, State::kUp},
      {6, Event::kFailure, true, State::kUp},
      {11, Event::kFailure, true, State::kUp},  // the one at 0 fell out of the window
      {15, Event::kFailure, false, State::kDown}}},
    {"max_fails_within_fail_timeout_marks_down_for_fail_timeout",
     3,
     10,
     {{0, Event::kFailure, true, State::kUp},
      {5, Event::kFailure, true, State::kUp},
      {10, Event::kFailure, false, State::kDown},  // window edge is inclusive, as nginx's <=
      {19, Event::kNothing, false, State::kDown},
      {20, Event::kNothing, true, State::kDown}}},
    {"successes_between_failures_do_not_reset_the_count",
     2,
     10,
     {{0, Event::kFailure, true, State::kUp},
      {1, Event::kSuccess, true, State::kUp},
      {2, Event::kFailure, false, State::kDown}}},
    {"trial_success_brings_peer_up",
     1,
     10,
     {{0, Event::kFailure, false, State::kDown},
      {10, Event::kPicked, false, State::kTrial},  // one trial; everyone else keeps away
      {12, Event::kSuccess, true, State::kUp}}},
    {"trial_failure_marks_down_again",
     1,
     10,
     {{0, Event::kFailure, false, State::kDown},
      {10, Event::kPicked, false, State::kTrial},
      {12, Event::kFailure, false, State::kDown},
      {21, Event::kNothing, false, State::kDown},
      {22, Event::kNothing, true, State::kDown}}},
    {"unanswered_trial_lapses_after_fail_timeout",
     1,
     10,
     {{0, Event::kFailure, false, State::kDown},
      {10, Event::kPicked, false, State::kTrial},
      {20, Event::kNothing, true, State::kTrial},
      {20, Event::kPicked, false, State::kTrial},
      {21, Event::kSuccess, true, State::kUp}}},
    {"old_success_while_down_does_not_bring_peer_up",
     1,
     10,
     {{0, Event::kFailure, false, State::kDown}, {3, Event::kSuccess, false, State::kDown}}},
    {"failure_while_down_restarts_the_down_period",
     1,
     10,
     {{0, Event::kFailure, false, State::kDown},
      {5, Event::kFailure, false, State::kDown},
      {14, Event::kNothing, false, State::kDown},
      {15, Event::kNothing, true, State::kDown}}},
    {"pick_while_up_changes_nothing",
     2,
     10,
     {{0, Event::kPicked, true, State::kUp}, {1, Event::kFailure, true, State::kUp}}},
    {"after_recovery_the_count_starts_from_zero",
     2,
     10,
     {{0, Event::kFailure, true, State::kUp},
      {1, Event::kFailure, false, State::kDown},
      {11, Event::kPicked, false, State::kTrial},
      {12, Event::kSuccess, true, State::kUp},
      {13, Event::kFailure, true, State::kUp},
      {14, Event::kFailure, false, State::kDown}}},
    {"max_fails_zero_never_marks_down",
     0,
     10,
     {{0, Event::kFailure, true, State::kUp},
      {0, Event::kFailure, true, State::kUp},
      {1, Event::kPicked, true, State::kUp},
      {1, Event::kSuccess, true, State::kUp}}},
    {"zero_fail_timeout_counts_only_simultaneous_failures",
     2,
     0,
     {{0, Event::kFailure, true, State::kUp},
      {1, Event::kFailure, true, State::kUp},
      {1, Event::kFailure, true, State::kDown}}},  // down for zero seconds: trial at once
};

TEST(PassiveHealthTest, Scenarios) {
  for (const HealthCase& c : kCases) {
    PassiveHealth h(c.max_fails, absl::Seconds(c.fail_timeout_s));
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const Step& s = c.steps[i];
      absl::Time now = kT0 + absl::Seconds(s.at);
      switch (s.event) {
        case Event::kFailure:
          h.OnFailure(now);
          break;
        case Event::kSuccess:
          h.OnSuccess(now);
          break;
        case Event::kPicked:
          h.OnPicked(now);
          break;
        case Event::kNothing:
          break;
      }
      EXPECT_EQ(h.Available(now), s.available) << c.name << " step " << i;
      EXPECT_EQ(h.state(), s.state) << c.name << " step " << i;
      EXPECT_EQ(h.up(), s.state == State::kUp) << c.name << " step " << i;
    }
  }
}

TEST(PassiveHealthTest, RecentFailuresCountsOnlyTheWindow) {
  PassiveHealth h(5, absl::Seconds(10));
  h.OnFailure(kT0);
  h.OnFailure(kT0 + absl::Seconds(4));
  h.OnFailure(kT0 + absl::Seconds(8));
  EXPECT_EQ(h.RecentFailures(kT0 + absl::Seconds(8)), 3);
  EXPECT_EQ(h.RecentFailures(kT0 + absl::Seconds(11)), 2);
  EXPECT_EQ(h.RecentFailures(kT0 + absl::Seconds(19)), 0);
}

}  // namespace
}  // namespace realip::upstream
