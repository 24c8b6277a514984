#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// (x1 | x2 | x3) & (-x1 | -x2 | x3): falsified by 0 0 0 (clause 1) and 1 1 0 (clause 2) only.
const nlohmann::json kTwo = {{"num_vars", 3}, {"clauses", {{1, 2, 3}, {-1, -2, 3}}}};

TEST(SatTest, EverySatisfyingAssignmentAccepted) {
  // All 8 assignments against a direct evaluation: six models are accepted.
  int accepted = 0;
  for (int mask = 0; mask < 8; ++mask) {
    const bool x1 = (mask & 1) != 0;
    const bool x2 = (mask & 2) != 0;
    const bool x3 = (mask & 4) != 0;
    const bool want = (x1 || x2 || x3) && (!x1 || !x2 || x3);
    const std::string answer = std::string(x1 ? "1" : "0") + " " + (x2 ? "1" : "0") + " " + (x3 ? "1" : "0");
    EXPECT_EQ(Kind("sat", kTwo, answer), want ? kCorrect : kIncorrect) << answer;
    accepted += want ? 1 : 0;
  }
  EXPECT_EQ(accepted, 6);
  EXPECT_EQ(Kind("sat", kTwo, "[1, 0, 0]"), kCorrect);
}

TEST(SatTest, ReasonsNameTheFalseClause) {
  std::string why;
  EXPECT_EQ(Kind("sat", kTwo, "0 0 0", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("clause 1 (x1 | x2 | x3) is false"));
  EXPECT_EQ(Kind("sat", kTwo, "1 1 0", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("clause 2 (-x1 | -x2 | x3) is false"));
  EXPECT_EQ(Kind("sat", kTwo, "1 0", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 3 values"));
  EXPECT_EQ(Kind("sat", kTwo, "1 0 2", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("not 0 or 1"));
}

TEST(SatTest, Unparseable) {
  for (const char* bad : {"", "true false true", "x1=1 x2=0 x3=0"}) {
    EXPECT_EQ(Kind("sat", kTwo, bad), kUnparseable) << bad;
  }
}

TEST(SatTest, GeneratedWitnessVerifiesAndFalsifyingClauseOneFails) {
  const TaskFamily* f = FindFamily("sat");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed : {0ULL, 3ULL, 99ULL}) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(Kind("sat", g->instance, g->witness), kCorrect);
      // Set every variable of clause 1 to the value that makes its literal false.
      std::vector<char> v;
      for (size_t i = 0; i < g->witness.size(); i += 2) v.push_back(g->witness[i]);
      for (const auto& lit : g->instance["clauses"][0]) {
        const int64_t l = lit.get<int64_t>();
        v[static_cast<size_t>(std::abs(l) - 1)] = l > 0 ? '0' : '1';
      }
      std::string bad;
      for (char c : v) bad += std::string(1, c) + " ";
      std::string why;
      EXPECT_EQ(Kind("sat", g->instance, bad, &why), kIncorrect);
      EXPECT_THAT(why, HasSubstr("clause 1 "));
      // Determinism: the same seed gives the same instance.
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
}

TEST(SatTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("sat", {{"clauses", {{1}}}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.num_vars: missing")));
  EXPECT_THAT(InstanceStatus("sat", {{"num_vars", 2}, {"clauses", {{1, 3}}}}, "1 1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.clauses[0]")));
  EXPECT_THAT(InstanceStatus("sat", {{"num_vars", 2}, {"clauses", {{1, 0}}}}, "1 1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.clauses[0]")));
  EXPECT_THAT(InstanceStatus("sat", {{"num_vars", 2}}, "1 1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.clauses: missing")));
}

}  // namespace
}  // namespace m1rl::reward::logic
