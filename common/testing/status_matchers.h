// gmock matchers for absl::Status / absl::StatusOr (GoogleTest 1.12 and Abseil 20220623 ship none).
//
//   EXPECT_THAT(s, IsOk());
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trainer.optim.lr")));
//   EXPECT_THAT(statusor, IsOkAndHolds(Eq(3)));
//   M1RL_ASSERT_OK_AND_ASSIGN(auto x, MakeX());
#ifndef M1RL_COMMON_TESTING_STATUS_MATCHERS_H_
#define M1RL_COMMON_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::testing {

namespace internal {
inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

MATCHER(IsOk, "is OK") {
  const absl::Status& s = internal::GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code) + " and a matching message") {
  const absl::Status& s = internal::GetStatus(arg);
  if (s.code() != code) {
    *result_listener << "status is " << s;
    return false;
  }
  return ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace m1rl::testing

#define M1RL_ASSERT_OK(expr) ASSERT_THAT((expr), ::m1rl::testing::IsOk())
#define M1RL_EXPECT_OK(expr) EXPECT_THAT((expr), ::m1rl::testing::IsOk())

#define M1RL_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  ASSERT_TRUE(tmp.ok()) << tmp.status();                \
  lhs = std::move(*tmp)
#define M1RL_TESTING_CONCAT_INNER_(a, b) a##b
#define M1RL_TESTING_CONCAT_(a, b) M1RL_TESTING_CONCAT_INNER_(a, b)
#define M1RL_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  M1RL_ASSERT_OK_AND_ASSIGN_IMPL_(M1RL_TESTING_CONCAT_(m1rl_sor_, __LINE__), lhs, expr)

#endif  // M1RL_COMMON_TESTING_STATUS_MATCHERS_H_
