#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/family_util.h"
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

TEST(ArithAddTest, SumIsRecomputedFromTheOperands) {
  const nlohmann::json inst = {{"a", 47}, {"b", 38}};  // 85 by hand
  for (const char* family : {"arith_add", "arith_add_heldout"}) {
    EXPECT_EQ(Kind(family, inst, "85"), kCorrect) << family;
    EXPECT_EQ(Kind(family, inst, "85.0"), kCorrect) << family;
    EXPECT_EQ(Kind(family, inst, "84"), kIncorrect) << family;
    EXPECT_EQ(Kind(family, inst, "47+38"), kUnparseable) << family;
  }
  EXPECT_THAT(InstanceStatus("arith_add", {{"a", 47}}, "85"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.b")));
  EXPECT_THAT(InstanceStatus("arith_add", {{"a", -1}, {"b", 3}}, "2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.a")));
  EXPECT_EQ(FindFamily("arith_add")->domain(), "math");
  EXPECT_EQ(FindFamily("arith_add")->default_difficulty(), 2);
}

// The unordered problem {a, b} of a prompt "a+b=" with both operands of `digits` digits.
std::pair<int64_t, int64_t> AddProblem(const nlohmann::json& row, int digits) {
  const std::string p = row["prompt"].get<std::string>();
  const size_t plus = p.find('+');
  int64_t a = -1, b = -1;
  EXPECT_TRUE(plus != std::string::npos && p.back() == '=') << p;
  EXPECT_TRUE(absl::SimpleAtoi(p.substr(0, plus), &a) &&
              absl::SimpleAtoi(p.substr(plus + 1, p.size() - plus - 2), &b))
      << p;
  EXPECT_EQ(row["answer"].get<std::string>(), std::to_string(a + b)) << p;
  const int64_t lo = digits == 1 ? 0 : digits == 2 ? 10 : 100, hi = digits == 1 ? 9 : digits == 2 ? 99 : 999;
  EXPECT_TRUE(a >= lo && a <= hi && b >= lo && b <= hi) << p;
  return {std::min(a, b), std::max(a, b)};
}

std::set<std::pair<int64_t, int64_t>> AddProblems(const char* family, int64_t n, uint64_t seed, int digits,
                                                  int64_t* rows_checked) {
  absl::StatusOr<std::vector<nlohmann::json>> rows = MakeDataset(family, n, seed, digits);
  EXPECT_TRUE(rows.ok()) << rows.status();
  std::set<std::pair<int64_t, int64_t>> problems;
  if (!rows.ok()) return problems;
  for (const nlohmann::json& r : *rows) problems.insert(AddProblem(r, digits));
  *rows_checked += static_cast<int64_t>(rows->size());
  return problems;
}

// The quickstart's data (tools/quickstart.sh: 20,000 arith_add rows with seed 1, 200 arith_add_heldout rows
// with seed 2, d = 2) share no problem in either operand order, and neither do other seeds' sets: the
// split is a property of the problem, not of the seed. The two-digit space has 90*91/2 = 4095 unordered
// problems; the held-out side is about 1/8 of them and the eval seeds together reach most of it.
TEST(ArithAddTest, TrainAndHeldOutProblemsAreDisjointForEverySeed) {
  int64_t train_rows = 0, eval_rows = 0;
  std::set<std::pair<int64_t, int64_t>> train = AddProblems("arith_add", 20000, 1, 2, &train_rows);
  std::set<std::pair<int64_t, int64_t>> eval = AddProblems("arith_add_heldout", 200, 2, 2, &eval_rows);
  for (uint64_t seed = 3; seed < 8; ++seed) {
    for (const auto& p : AddProblems("arith_add", 2000, seed, 2, &train_rows)) train.insert(p);
    for (const auto& p : AddProblems("arith_add_heldout", 200, seed + 100, 2, &eval_rows)) eval.insert(p);
  }
  EXPECT_EQ(train_rows, 30000);
  EXPECT_EQ(eval_rows, 1200);
  int64_t shared = 0;
  for (const auto& p : eval) shared += train.count(p);
  EXPECT_EQ(shared, 0);
  // Exhaustively: every problem is on exactly one side, and every generated problem on its family's side.
  int64_t held_total = 0, total = 0;
  for (int64_t a = 10; a < 100; ++a) {
    for (int64_t b = a; b < 100; ++b, ++total) {
      const bool held = internal::HeldOutBucket(a, b);
      ASSERT_EQ(held, internal::HeldOutBucket(b, a));
      held_total += held;
      if (held) {
        EXPECT_EQ(train.count({a, b}), 0u) << a << "+" << b;
      } else {
        EXPECT_EQ(eval.count({a, b}), 0u) << a << "+" << b;
      }
    }
  }
  EXPECT_EQ(total, 4095);
  EXPECT_NEAR(static_cast<double>(held_total) / static_cast<double>(total), 0.125, 0.02);
  // 30,000 draws cover the ~3,580 training problems; 1,200 draws reach most of the ~510 held-out ones.
  EXPECT_GE(static_cast<double>(train.size()), 0.99 * static_cast<double>(total - held_total));
  EXPECT_GE(static_cast<double>(eval.size()), 0.8 * static_cast<double>(held_total));
  EXPECT_LE(static_cast<int64_t>(eval.size()), held_total);
}

// One- and three-digit sets: the same split, disjoint too (d = 1 has 55 problems, a handful held out).
TEST(ArithAddTest, OtherDifficultiesAreDisjointToo) {
  for (int d : {1, 3}) {
    int64_t rows = 0;
    const std::set<std::pair<int64_t, int64_t>> train = AddProblems("arith_add", 3000, 1, d, &rows);
    const std::set<std::pair<int64_t, int64_t>> eval = AddProblems("arith_add_heldout", 300, 2, d, &rows);
    EXPECT_EQ(rows, 3300);
    EXPECT_FALSE(eval.empty());
    for (const auto& p : eval)
      EXPECT_EQ(train.count(p), 0u) << "d=" << d << " " << p.first << "+" << p.second;
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
