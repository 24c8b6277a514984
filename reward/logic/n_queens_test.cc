#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// 4 queens has exactly two solutions: 2 4 1 3 and 3 1 4 2 (1-based columns).
const nlohmann::json kFour = {{"n", 4}, {"fixed", nlohmann::json::array()}};

TEST(NQueensTest, BothSolutionsAccepted) {
  EXPECT_EQ(Kind("n_queens", kFour, "2 4 1 3"), kCorrect);
  EXPECT_EQ(Kind("n_queens", kFour, "3, 1, 4, 2"), kCorrect);
  // With the queen of row 1 fixed at column 2 only the first remains.
  const nlohmann::json fixed = {{"n", 4}, {"fixed", {{1, 2}}}};
  EXPECT_EQ(Kind("n_queens", fixed, "2 4 1 3"), kCorrect);
  std::string why;
  EXPECT_EQ(Kind("n_queens", fixed, "3 1 4 2", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("was moved"));
}

TEST(NQueensTest, EightQueensAlternatives) {
  const nlohmann::json eight = {{"n", 8}, {"fixed", nlohmann::json::array()}};
  // Two of the 92 solutions, checked by hand on a board.
  EXPECT_EQ(Kind("n_queens", eight, "1 5 8 6 3 7 2 4"), kCorrect);
  EXPECT_EQ(Kind("n_queens", eight, "4 2 7 3 6 8 5 1"), kCorrect);
}

TEST(NQueensTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("n_queens", kFour, "2 4 3 1", &why), kIncorrect);  // rows 2,3: (2,4),(3,3) diagonal
  EXPECT_THAT(why, HasSubstr("attack"));
  EXPECT_EQ(Kind("n_queens", kFour, "1 2 3 4"), kIncorrect);  // one diagonal
  EXPECT_EQ(Kind("n_queens", kFour, "2 4 1 1"), kIncorrect);  // same column
  EXPECT_EQ(Kind("n_queens", kFour, "2 4 1", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 4 columns"));
  EXPECT_EQ(Kind("n_queens", kFour, "2 4 1 5", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("off the board"));
  EXPECT_EQ(Kind("n_queens", kFour, "1 3 0 2"), kIncorrect);  // 0-based answer: column 0 is off the board
}

TEST(NQueensTest, Unparseable) {
  for (const char* bad : {"b1 d2 a3 c4", "2;4;1;x", "", "(2,4),(1,3)"}) {
    EXPECT_EQ(Kind("n_queens", kFour, bad), kUnparseable) << bad;
  }
}

TEST(NQueensTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("n_queens", {{"fixed", nlohmann::json::array()}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.n: missing")));
  EXPECT_THAT(InstanceStatus("n_queens", {{"n", 4}, {"fixed", {{5, 1}}}}, "2 4 1 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.fixed[0]")));
  EXPECT_THAT(InstanceStatus("n_queens", {{"n", 4.5}, {"fixed", nlohmann::json::array()}}, "2 4 1 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.n: expected an integer")));
}

}  // namespace
}  // namespace m1rl::reward::logic
