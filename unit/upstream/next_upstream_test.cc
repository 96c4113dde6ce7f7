#include "proxy/upstream/next_upstream.h"

#include <gtest/gtest.h>

namespace realip::upstream {
namespace {

constexpr uint32_t kDefault =
    RetryOn(FailureKind::kError) | RetryOn(FailureKind::kTimeout);  // nginx's default
constexpr uint32_t kAll5xx = RetryOn(FailureKind::kError) | RetryOn(FailureKind::kTimeout) |
                             RetryOn(FailureKind::kHttp500) | RetryOn(FailureKind::kHttp502) |
                             RetryOn(FailureKind::kHttp503) | RetryOn(FailureKind::kHttp504);

struct NextCase {
  const char* name;
  uint32_t conditions;
  int tries;
  AttemptFacts facts;
  NextUpstreamDecision want;
};

const NextCase kCases[] = {
    {"connect_error_is_retried_by_default",
     kDefault,
     0,
     {FailureKind::kError, 1},
     {true, true, 502}},
    {"timeout_is_retried_by_default_and_answers_504",
     kDefault,
     0,
     {FailureKind::kTimeout, 1, true},
     {true, true, 504}},
    {"off_never_retries_but_still_counts_the_failure",
     0,
     0,
     {FailureKind::kError, 1},
     {false, true, 502}},
    {"off_timeout_answers_504", 0, 0, {FailureKind::kTimeout, 1}, {false, true, 504}},
    {"invalid_header_not_listed",
     kDefault,
     0,
     {FailureKind::kInvalidHeader, 1, true},
     {false, true, 502}},
    {"invalid_header_listed",
     kDefault | RetryOn(FailureKind::kInvalidHeader),
     0,
     {FailureKind::kInvalidHeader, 1, true},
     {true, true, 502}},
    {"http_502_not_listed_passes_the_response_and_is_no_failure",
     kDefault,
     0,
     {FailureKind::kHttp502, 1, true},
     {false, false, 0}},
    {"http_502_listed_retries_and_counts",
     kAll5xx,
     0,
     {FailureKind::kHttp502, 1, true},
     {true, true, 0}},
    {"http_503_listed", kAll5xx, 0, {FailureKind::kHttp503, 1, true}, {true, true, 0}},
    {"http_504_listed", kAll5xx, 0, {FailureKind::kHttp504, 1, true}, {true, true, 0}},
    {"http_500_listed", kAll5xx, 0, {FailureKind::kHttp500, 1, true}, {true, true, 0}},
    {"http_429_listed",
     RetryOn(FailureKind::kHttp429),
     0,
     {FailureKind::kHttp429, 1, true},
     {true, true, 0}},
    {"http_404_listed_retries_but_is_no_failure",
     RetryOn(FailureKind::kHttp404),
     0,
     {FailureKind::kHttp404, 1, true},
     {true, false, 0}},
    {"http_403_listed_retries_but_is_no_failure",
     RetryOn(FailureKind::kHttp403),
     0,
     {FailureKind::kHttp403, 1, true},
     {true, false, 0}},
    {"tries_limit_reached", kDefault, 2, {FailureKind::kError, 2}, {false, true, 502}},
    {"tries_limit_not_reached", kDefault, 3, {FailureKind::kError, 2}, {true, true, 502}},
    {"tries_zero_is_unlimited", kDefault, 0, {FailureKind::kError, 50}, {true, true, 502}},
    {"tries_one_never_retries", kDefault, 1, {FailureKind::kError, 1}, {false, true, 502}},
    {"bytes_already_sent_to_client",
     kDefault,
     0,
     {FailureKind::kError, 1, true, true},
     {false, true, 502}},
    {"post_not_sent_yet_is_retried",
     kDefault,
     0,
     {FailureKind::kError, 1, false, false, false},
     {true, true, 502}},
    {"post_sent_is_not_retried",
     kDefault,
     0,
     {FailureKind::kTimeout, 1, true, false, false},
     {false, true, 504}},
    {"post_sent_with_non_idempotent_is_retried",
     kDefault | kRetryNonIdempotent,
     0,
     {FailureKind::kTimeout, 1, true, false, false},
     {true, true, 504}},
    {"non_idempotent_alone_retries_nothing",
     kRetryNonIdempotent,
     0,
     {FailureKind::kError, 1, true, false, false},
     {false, true, 502}},
};

TEST(NextUpstreamTest, Decisions) {
  for (const NextCase& c : kCases) {
    NextUpstreamDecision d = DecideNextUpstream(c.conditions, c.tries, c.facts);
    EXPECT_EQ(d.retry, c.want.retry) << c.name;
    EXPECT_EQ(d.peer_failed, c.want.peer_failed) << c.name;
    EXPECT_EQ(d.status, c.want.status) << c.name;
  }
}

TEST(NextUpstreamTest, ConditionBitsFollowTheConfigLayout) {
  // config::NextUpstream: error, timeout, invalid_header, http_500, 502, 503, 504, 403, 404,
  // 429, non_idempotent from bit 0 up.
  EXPECT_EQ(RetryOn(FailureKind::kError), 1u << 0);
  EXPECT_EQ(RetryOn(FailureKind::kInvalidHeader), 1u << 2);
  EXPECT_EQ(RetryOn(FailureKind::kHttp504), 1u << 6);
  EXPECT_EQ(RetryOn(FailureKind::kHttp429), 1u << 9);
  EXPECT_EQ(kRetryNonIdempotent, 1u << 10);
}

TEST(NextUpstreamTest, IdempotentMethods) {
  struct {
    const char* method;
    bool idempotent;
  } cases[] = {{"GET", true},   {"HEAD", true},     {"OPTIONS", true}, {"TRACE", true},
               {"PUT", true},   {"DELETE", true},   {"POST", false},   {"PATCH", false},
               {"LOCK", false}, {"CONNECT", false}, {"get", false},    {"PROPFIND", false},
               {"", false}};
  for (const auto& c : cases) EXPECT_EQ(IsIdempotentMethod(c.method), c.idempotent) << c.method;
}

TEST(NextUpstreamTest, RetryOnFreshConnection) {
  struct {
    const char* name;
    ReusedConnectionFacts facts;
    bool retry;
  } cases[] = {
      {"stale_pooled_get", {true, false, true, false, false}, true},
      {"fresh_connection_failed", {false, false, true, false, false}, false},
      {"response_byte_arrived", {true, true, true, false, false}, false},
      {"second_time", {true, false, true, false, true}, false},
      {"post_without_body", {true, false, false, false, false}, true},
      {"post_with_body", {true, false, false, true, false}, false},
      {"put_with_body", {true, false, true, true, false}, true},
  };
  for (const auto& c : cases) EXPECT_EQ(RetryOnFreshConnection(c.facts), c.retry) << c.name;
}

}  // namespace
}  // namespace realip::upstream
