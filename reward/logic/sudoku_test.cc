#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

nlohmann::json Four(const std::string& grid) {
  return {{"size", 4}, {"box_rows", 2}, {"box_cols", 2}, {"grid", grid}};
}

// A valid 4x4 solution, rows 1234 / 3412 / 2143 / 4321 (checked by hand: rows, columns and the
// four 2x2 boxes {1,2,3,4}).
constexpr const char* kSolution = "1234341221434321";

TEST(SudokuTest, WitnessAndFormattedAnswersAccepted) {
  const nlohmann::json inst = Four("12.43.1221.34.21");
  EXPECT_EQ(Kind("sudoku", inst, kSolution), kCorrect);
  EXPECT_EQ(Kind("sudoku", inst, "1234\n3412\n2143\n4321"), kCorrect);
  EXPECT_EQ(Kind("sudoku", inst, "12|34\n34|12\n-----\n21|43\n43|21"), kCorrect);
}

TEST(SudokuTest, AlternativeSolutionAccepted) {
  // An empty grid: any valid sudoku is accepted, e.g. the digits 1<->2 swapped in kSolution.
  const nlohmann::json empty = Four("................");
  EXPECT_EQ(Kind("sudoku", empty, kSolution), kCorrect);
  EXPECT_EQ(Kind("sudoku", empty, "2134342112434312"), kCorrect);
  // With only the first row given, both 1234/3412/2143/4321 and 1234/3412/4321/2143 fit.
  const nlohmann::json row = Four("1234............");
  EXPECT_EQ(Kind("sudoku", row, "1234341221434321"), kCorrect);
  EXPECT_EQ(Kind("sudoku", row, "1234341243212143"), kCorrect);
}

TEST(SudokuTest, NearMissesRejected) {
  const nlohmann::json inst = Four("12.43.1221.34.21");
  std::string why;
  // Cells (1,3) and (1,4) swapped: the row still holds 1..4, the columns do not.
  EXPECT_EQ(Kind("sudoku", Four("12.............."), "1243341221434321", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("repeats"));
  // A given changed: 2134... is a valid sudoku but cell (1,1) was given as 1.
  EXPECT_EQ(Kind("sudoku", inst, "2134342112434312", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("changes the given"));
  // Rows and columns valid, boxes not: a Latin square that is not a sudoku.
  EXPECT_EQ(Kind("sudoku", Four("................"), "1234234134124123", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("box"));
  EXPECT_EQ(Kind("sudoku", Four("................"), "1234341221434325", &why), kIncorrect);  // 5 in a 4x4
  EXPECT_EQ(Kind("sudoku", Four("................"), "0234341221434321", &why), kIncorrect);
}

TEST(SudokuTest, NineByNineClassic) {
  const std::string solution =
      "534678912672195348198342567859761423426853791713924856961537284287419635345286179";
  std::string puzzle = solution;
  for (size_t i = 0; i < puzzle.size(); i += 2) puzzle[i] = '.';
  const nlohmann::json inst = {{"size", 9}, {"box_rows", 3}, {"box_cols", 3}, {"grid", puzzle}};
  EXPECT_EQ(Kind("sudoku", inst, solution), kCorrect);
  std::string bad = solution;
  std::swap(bad[0], bad[2]);  // both blanks in the puzzle: row intact, columns 1 and 3 broken
  EXPECT_EQ(Kind("sudoku", inst, bad), kIncorrect);
}

TEST(SudokuTest, Unparseable) {
  const nlohmann::json inst = Four("12.43.1221.34.21");
  for (const char* bad :
       {"123434122143432", "12343412214343211", "1234 3412 2143 432x", "", "[[1,2,3,4],...]"}) {
    EXPECT_EQ(Kind("sudoku", inst, bad), kUnparseable) << bad;
  }
}

TEST(SudokuTest, MalformedInstance) {
  EXPECT_THAT(
      InstanceStatus("sudoku", Four("123"), kSolution),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: expected 16 cells, got 3")));
  EXPECT_THAT(InstanceStatus("sudoku", Four("12.43.1221.34.29"), kSolution),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: cell 15 is '9'")));
  EXPECT_THAT(
      InstanceStatus("sudoku", {{"size", 4}, {"box_rows", 2}, {"box_cols", 3}, {"grid", "................"}},
                     kSolution),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.box_rows")));
  EXPECT_THAT(
      InstanceStatus("sudoku", {{"size", 4}, {"box_rows", 2}, {"grid", "................"}}, kSolution),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.box_cols: missing")));
}

}  // namespace
}  // namespace m1rl::reward::logic
