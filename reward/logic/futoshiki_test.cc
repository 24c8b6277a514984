#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/internal/test_util.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::m1rl::reward::logic::testing;  // NOLINT

// 3x3, no givens, cell (1,1) < cell (1,2). By hand: 123/231/312 and 132/213/321 both satisfy it.
const nlohmann::json kOpen = {{"size", 3}, {"grid", "........."}, {"less", {{1, 1, 1, 2}}}};

TEST(FutoshikiTest, AnyValidGridAccepted) {
  EXPECT_EQ(Kind("futoshiki", kOpen, "123231312"), kCorrect);
  EXPECT_EQ(Kind("futoshiki", kOpen, "132/213/321"), kCorrect);
  EXPECT_EQ(Kind("futoshiki", kOpen, "1 3 2\n2 1 3\n3 2 1"), kCorrect);
}

TEST(FutoshikiTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("futoshiki", kOpen, "213132321", &why), kIncorrect);  // 2 < 1 fails
  EXPECT_THAT(why, HasSubstr("(1,1)<(1,2) fails: 2 >= 1"));
  EXPECT_EQ(Kind("futoshiki", kOpen, "123123123", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("column 1 repeats"));
  EXPECT_EQ(Kind("futoshiki", kOpen, "123312231", &why), kCorrect);  // rows shifted the other way
  EXPECT_EQ(Kind("futoshiki", kOpen, "124231312", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 column 3 holds 4"));
  const nlohmann::json given = {{"size", 3}, {"grid", "..2......"}, {"less", nlohmann::json::array()}};
  EXPECT_EQ(Kind("futoshiki", given, "123231312", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("changes the given 2"));
  EXPECT_EQ(Kind("futoshiki", given, "132213321"), kCorrect);
}

TEST(FutoshikiTest, Unparseable) {
  for (const char* bad : {"", "12323131", "1232313120", "a23231312", "1-2-3-2-3-1-3-1-2"}) {
    EXPECT_EQ(Kind("futoshiki", kOpen, bad), kUnparseable) << bad;
  }
}

TEST(FutoshikiTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("futoshiki", {{"grid", "...."}, {"less", nlohmann::json::array()}}, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.size: missing")));
  EXPECT_THAT(
      InstanceStatus("futoshiki", {{"size", 2}, {"grid", "..."}, {"less", nlohmann::json::array()}}, "1221"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: expected 4 cells")));
  EXPECT_THAT(
      InstanceStatus("futoshiki", {{"size", 2}, {"grid", "..3."}, {"less", nlohmann::json::array()}}, "1221"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: cell 2")));
  EXPECT_THAT(InstanceStatus("futoshiki", {{"size", 2}, {"grid", "...."}}, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.less: missing")));
  // Diagonal cells are not adjacent.
  EXPECT_THAT(InstanceStatus("futoshiki", {{"size", 2}, {"grid", "...."}, {"less", {{1, 1, 2, 2}}}}, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.less[0]: expected")));
  EXPECT_THAT(InstanceStatus("futoshiki", {{"size", 2}, {"grid", "...."}, {"less", {{1, 1, 1}}}}, "1221"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.less[0]")));
}

// The i-th cell of a row-major grid string, 1-based row and column.
char At(const std::string& grid, int n, int64_t r, int64_t c) {
  return grid[static_cast<size_t>((r - 1) * n + (c - 1))];
}

TEST(FutoshikiTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("futoshiki");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const int n = 4 + (d - 1) / 3;
      ASSERT_EQ(g->instance["size"], n);
      const std::string grid = g->instance["grid"].get<std::string>();
      // Independent re-check of the witness against the instance fields.
      for (size_t i = 0; i < grid.size(); ++i) {
        if (grid[i] != '.') {
          EXPECT_EQ(grid[i], g->witness[i]);
        }
      }
      for (const auto& l : g->instance["less"]) {
        EXPECT_LT(At(g->witness, n, l[0].get<int64_t>(), l[1].get<int64_t>()),
                  At(g->witness, n, l[2].get<int64_t>(), l[3].get<int64_t>()));
      }
      EXPECT_TRUE(f->Check(g->instance, g->witness)->correct());
      // Corrupt: swap two cells of row 1 -> two columns repeat a digit.
      std::string bad = g->witness;
      std::swap(bad[0], bad[1]);
      EXPECT_EQ(f->Check(g->instance, bad)->kind, kIncorrect);
      EXPECT_THAT(g->prompt, HasSubstr(std::to_string(n * n) + " digits row by row"));
    }
  }
}

TEST(FutoshikiTest, SameSeedSameInstance) {
  const TaskFamily* f = FindFamily("futoshiki");
  EXPECT_EQ(f->Generate(3, 5)->instance, f->Generate(3, 5)->instance);
  EXPECT_EQ(f->Generate(3, 5)->witness, f->Generate(3, 5)->witness);
  EXPECT_NE(f->Generate(3, 5)->witness, f->Generate(4, 5)->witness);
}

}  // namespace
}  // namespace m1rl::reward::logic
