// Test helpers for the family tests: run a family's checker and describe the result.
#ifndef M1RL_REWARD_LOGIC_INTERNAL_TEST_UTIL_H_
#define M1RL_REWARD_LOGIC_INTERNAL_TEST_UTIL_H_

#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "reward/logic/tasks.h"

namespace m1rl::reward::logic::testing {

// Checks `answer` against `instance` (family added from `family`); the instance must be well-formed.
inline CheckResult::Kind Kind(std::string_view family, nlohmann::json instance, std::string_view answer,
                              std::string* reason = nullptr) {
  instance["family"] = std::string(family);
  absl::StatusOr<CheckResult> r = FindFamily(family)->Check(instance, answer);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return CheckResult::Kind::kUnparseable;
  if (reason != nullptr) *reason = r->reason;
  return r->kind;
}

// The status of checking a (malformed) instance.
inline absl::Status InstanceStatus(std::string_view family, nlohmann::json instance,
                                   std::string_view answer) {
  instance["family"] = std::string(family);
  return FindFamily(family)->Check(instance, answer).status();
}

inline constexpr CheckResult::Kind kCorrect = CheckResult::Kind::kCorrect;
inline constexpr CheckResult::Kind kIncorrect = CheckResult::Kind::kIncorrect;
inline constexpr CheckResult::Kind kUnparseable = CheckResult::Kind::kUnparseable;

}  // namespace m1rl::reward::logic::testing

#endif  // M1RL_REWARD_LOGIC_INTERNAL_TEST_UTIL_H_
