#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT: Kind, kCorrect, ...

TEST(ArithTest, ValueIsRecomputedFromTheExpression) {
  const nlohmann::json inst = {{"expression", "3*4+2"}};  // 14 by hand
  EXPECT_EQ(Kind("arith", inst, "14"), kCorrect);
  EXPECT_EQ(Kind("arith", inst, " 14 "), kCorrect);
  EXPECT_EQ(Kind("arith", inst, "28/2"), kCorrect);  // alternative form of the same number
  EXPECT_EQ(Kind("arith", inst, "14.0"), kCorrect);
  EXPECT_EQ(Kind("arith", inst, "13"), kIncorrect);       // near miss
  EXPECT_EQ(Kind("arith", inst, "20"), kIncorrect);       // a wrong value
  EXPECT_EQ(Kind("arith", inst, "3*4+2"), kUnparseable);  // an expression is not a number
  EXPECT_EQ(Kind("arith", inst, "fourteen"), kUnparseable);
  EXPECT_EQ(Kind("arith", {{"expression", "7-9"}}, "-2"), kCorrect);
}

TEST(ArithTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("arith", nlohmann::json::object(), "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.expression: missing")));
  EXPECT_THAT(
      InstanceStatus("arith", {{"expression", 12}}, "12"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.expression: expected a string")));
  EXPECT_THAT(InstanceStatus("arith", {{"expression", "3+"}}, "3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.expression")));
  EXPECT_THAT(InstanceStatus("arith", {{"expression", "1/0"}}, "3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("division by zero")));
}

TEST(ArithTest, PromptIsTheBareProblem) {
  absl::StatusOr<GeneratedInstance> g = FindFamily("arith")->Generate(9, 1);
  ASSERT_TRUE(g.ok());
  // d=1: "a+b=" with one-digit operands.
  ASSERT_EQ(g->prompt.size(), 4u);
  EXPECT_EQ(g->prompt[1], '+');
  EXPECT_EQ(g->witness, std::to_string((g->prompt[0] - '0') + (g->prompt[2] - '0')));
}

TEST(ArithChainTest, StepsAppliedInOrder) {
  // 7 -> +5 = 12 -> *3 = 36 -> -4 = 32 -> /5 = 32/5.
  const nlohmann::json inst = {{"start", 7},
                               {"steps",
                                {{{"op", "add"}, {"arg", 5}},
                                 {{"op", "mul"}, {"arg", 3}},
                                 {{"op", "sub"}, {"arg", 4}},
                                 {{"op", "div"}, {"arg", 5}}}}};
  EXPECT_EQ(Kind("arith_chain", inst, "32/5"), kCorrect);
  EXPECT_EQ(Kind("arith_chain", inst, "6.4"), kCorrect);    // alternative notation
  EXPECT_EQ(Kind("arith_chain", inst, "64/10"), kCorrect);  // not in lowest terms: same number
  EXPECT_EQ(Kind("arith_chain", inst, "6"), kIncorrect);    // truncated
  EXPECT_EQ(Kind("arith_chain", inst, "32"), kIncorrect);   // last step missed
  EXPECT_EQ(Kind("arith_chain", inst, "6.4."), kUnparseable);
  EXPECT_EQ(Kind("arith_chain", inst, "x = 6.4"), kUnparseable);
}

TEST(ArithChainTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("arith_chain", {{"start", 1}, {"steps", {{{"op", "pow"}, {"arg", 2}}}}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.steps[0].op: must be add|sub|mul|div")));
  EXPECT_THAT(
      InstanceStatus("arith_chain", {{"start", 1}, {"steps", {{{"op", "div"}, {"arg", 0}}}}}, "1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.steps[0].arg: division by zero")));
  EXPECT_THAT(InstanceStatus("arith_chain", {{"start", 1}, {"steps", {{{"op", "add"}}}}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.steps[0].arg: missing")));
  EXPECT_THAT(InstanceStatus("arith_chain", {{"start", "1"}, {"steps", nlohmann::json::array()}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.start")));
}

}  // namespace
}  // namespace m1rl::reward::logic
