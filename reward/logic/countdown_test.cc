#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

const nlohmann::json kCountdown = {{"numbers", {2, 3, 7, 25, 50}}, {"target", 175}};

TEST(CountdownTest, AnyExpressionReachingTheTargetIsAccepted) {
  // By hand: 7*25 = 175 and 50*3+25 = 150+25 = 175.
  EXPECT_EQ(Kind("countdown", kCountdown, "7*25"), kCorrect);
  EXPECT_EQ(Kind("countdown", kCountdown, "50*3+25"), kCorrect);                 // alternative
  EXPECT_EQ(Kind("countdown", kCountdown, "(50 x 3) + 25 = 175"), kCorrect);     // trailing claim ignored
  EXPECT_EQ(Kind("countdown", kCountdown, "25 * (2 + 3 + 50/25)"), kIncorrect);  // uses 25 twice
}

TEST(CountdownTest, NearMissesAndWrongTargets) {
  std::string why;
  EXPECT_EQ(Kind("countdown", kCountdown, "7*25+2", &why), kIncorrect);  // 177
  EXPECT_THAT(why, HasSubstr("evaluates to 177, not 175"));
  EXPECT_EQ(Kind("countdown", kCountdown, "7*5*5", &why), kIncorrect);  // 5 is not available
  EXPECT_THAT(why, HasSubstr("uses 5"));
  EXPECT_EQ(Kind("countdown", kCountdown, "7*25*(3-3)", &why), kIncorrect);  // 3 used twice
  EXPECT_EQ(Kind("countdown", kCountdown, "7/(3-3)", &why), kIncorrect);
  // L1: a claimed "= 175" does not make a wrong expression right.
  EXPECT_EQ(Kind("countdown", kCountdown, "2+3 = 175", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("evaluates to 5"));
}

TEST(CountdownTest, UnparseableAnswers) {
  for (const char* bad : {"seven times 25", "7*25;", "(7*25", "7**25", "-7*-25", "175 = 7*25", "7 25", ""}) {
    EXPECT_EQ(Kind("countdown", kCountdown, bad), kUnparseable) << bad;
  }
}

TEST(CountdownTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("countdown", {{"numbers", {2, 3}}}, "5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.target: missing")));
  EXPECT_THAT(InstanceStatus("countdown", {{"numbers", "2 3"}, {"target", 5}}, "5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.numbers: expected an array")));
  EXPECT_THAT(
      InstanceStatus("countdown", {{"numbers", {2, 0}}, {"target", 5}}, "5"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.numbers[1]: must be in [1, 1000]")));
  EXPECT_THAT(InstanceStatus("countdown", {{"numbers", {1, 2, 3, 4, 5, 6, 7, 8, 9}}, {"target", 5}}, "5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.numbers")));
}

const nlohmann::json k24 = {{"numbers", {3, 3, 8, 8}}, {"target", 24}};

TEST(Game24Test, FractionalIntermediatesAndAllNumbersRequired) {
  EXPECT_EQ(Kind("game24", k24, "8/(3-8/3)"), kCorrect);  // the only solution of 3 3 8 8
  EXPECT_EQ(Kind("game24", k24, "8 / (3 - (8 / 3))"), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("game24", k24, "3*8", &why), kIncorrect);  // = 24 but leaves 3 and 8 unused
  EXPECT_THAT(why, HasSubstr("does not use"));
  EXPECT_EQ(Kind("game24", k24, "3*8+8-8", &why), kIncorrect);  // 8 three times
  EXPECT_EQ(Kind("game24", k24, "8*3+3-8", &why), kIncorrect);  // 19
}

TEST(Game24Test, MultipleSolutionsAccepted) {
  const nlohmann::json inst = {{"numbers", {1, 2, 3, 4}}, {"target", 24}};
  // By hand: 1*2*3*4 = 24, (1+2+3)*4 = 24, 4*3*2*1 = 24, (4+2)*(3+1) = 24.
  for (const char* ok : {"1*2*3*4", "(1+2+3)*4", "4*3*2*1", "(4+2)*(3+1)"}) {
    EXPECT_EQ(Kind("game24", inst, ok), kCorrect) << ok;
  }
  // The SynLogic bug (L1): a well-formed expression that equals itself but not 24 scores 0.
  EXPECT_EQ(Kind("game24", inst, "1+2+3+4"), kIncorrect);
  EXPECT_EQ(Kind("game24", inst, "1+2+3+4 = 10"), kIncorrect);
}

TEST(Game24Test, GeneratedNumbersAreInRange) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    absl::StatusOr<GeneratedInstance> g = FindFamily("game24")->Generate(seed, 1);
    ASSERT_TRUE(g.ok());
    ASSERT_EQ(g->instance["numbers"].size(), 4u);
    for (const auto& n : g->instance["numbers"]) {
      EXPECT_GE(n.get<int64_t>(), 1);
      EXPECT_LE(n.get<int64_t>(), 6);
    }
    EXPECT_EQ(g->instance["target"], 24);
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
