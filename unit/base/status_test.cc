#include "proxy/base/status.h"

#include <gtest/gtest.h>

namespace realip::base {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::Status Quarter(int x, int* out) {
  REALIP_ASSIGN_OR_RETURN(int half, Half(x));
  REALIP_ASSIGN_OR_RETURN(*out, Half(half));
  return absl::OkStatus();
}

absl::Status Chain(int x) {
  int q = 0;
  REALIP_RETURN_IF_ERROR(Quarter(x, &q));
  return q == 2 ? absl::OkStatus() : absl::OutOfRangeError("not two");
}

TEST(StatusMacrosTest, AssignOrReturnPropagates) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(Quarter(6, &out).message(), "odd");
}

TEST(StatusMacrosTest, ReturnIfErrorPropagates) {
  EXPECT_TRUE(Chain(8).ok());
  EXPECT_EQ(Chain(2).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Chain(6).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Chain(16).code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace realip::base
