#include <set>
#include <sstream>
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

// 3x3 with only the centre given (every 3x3 magic square has 5 there): the Lo Shu square 276/951/438
// and its mirror image 672/159/834 both complete it (lines sum to 15, checked by hand).
const nlohmann::json kCentre = {{"size", 3}, {"givens", {0, 0, 0, 0, 5, 0, 0, 0, 0}}};

TEST(MagicSquareTest, AnyMagicSquareAccepted) {
  EXPECT_EQ(Kind("magic_square", kCentre, "2 7 6 9 5 1 4 3 8"), kCorrect);
  EXPECT_EQ(Kind("magic_square", kCentre, "6, 7, 2; 1, 5, 9; 8, 3, 4"), kCorrect);
  EXPECT_EQ(Kind("magic_square", kCentre, "[4 9 2 3 5 7 8 1 6]"), kCorrect);
}

TEST(MagicSquareTest, NearMissesRejected) {
  std::string why;
  // Swapping 2 and 7 of row 1 keeps the row sum but breaks columns 1 and 2.
  EXPECT_EQ(Kind("magic_square", kCentre, "7 2 6 9 5 1 4 3 8", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("column 1 sums to 20, not 15"));
  // Rows and columns of 1..9 in a row-shifted order sum to 15 but the diagonals do not:
  // 1 5 9 / 6 7 2 / 8 3 4 -> rows 15, columns 15, diagonal 1+7+4 = 12.
  EXPECT_EQ(
      Kind("magic_square", {{"size", 3}, {"givens", std::vector<int>(9, 0)}}, "1 5 9 6 7 2 8 3 4", &why),
      kIncorrect);
  EXPECT_THAT(why, HasSubstr("the main diagonal sums to 12, not 15"));
  EXPECT_EQ(Kind("magic_square", kCentre, "2 7 6 9 5 1 4 3 3", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 3 column 3 repeats 3"));
  EXPECT_EQ(Kind("magic_square", kCentre, "2 7 6 9 5 1 4 3 10", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 3 column 3 holds 10, outside 1..9"));
  EXPECT_EQ(Kind("magic_square", kCentre, "2 7 6 9 5 1 4 3", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 9 numbers, got 8"));
  const nlohmann::json corner = {{"size", 3}, {"givens", {6, 0, 0, 0, 0, 0, 0, 0, 0}}};
  EXPECT_EQ(Kind("magic_square", corner, "2 7 6 9 5 1 4 3 8", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 column 1 changes the given 6"));
  EXPECT_EQ(Kind("magic_square", corner, "6 1 8 7 5 3 2 9 4"), kCorrect);
}

TEST(MagicSquareTest, Unparseable) {
  for (const char* bad : {"", "two seven six", "2 7 6 9 5 1 4 3 8 x", "2.7.6", "2 7 6 9 5 1 4 3 8 1"}) {
    EXPECT_EQ(Kind("magic_square", kCentre, bad), kUnparseable) << bad;
  }
}

TEST(MagicSquareTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("magic_square", {{"givens", std::vector<int>(9, 0)}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.size: missing")));
  EXPECT_THAT(InstanceStatus("magic_square", {{"size", 3}, {"givens", std::vector<int>(8, 0)}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.givens: expected 9..9")));
  EXPECT_THAT(
      InstanceStatus("magic_square", {{"size", 3}, {"givens", {10, 0, 0, 0, 0, 0, 0, 0, 0}}}, "1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.givens[0]: must be in [0, 9]")));
}

TEST(MagicSquareTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("magic_square");
  std::set<std::string> distinct_order4;
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const int n = 3 + (d - 1) / 2;
      ASSERT_EQ(g->instance["size"], n);
      std::vector<int64_t> v;
      std::istringstream in(g->witness);
      for (int64_t x = 0; in >> x;) v.push_back(x);
      ASSERT_EQ(v.size(), static_cast<size_t>(n * n));
      // Independent re-check: a permutation of 1..n^2 whose lines all sum to n(n^2+1)/2.
      EXPECT_EQ(std::set<int64_t>(v.begin(), v.end()).size(), v.size());
      const int64_t magic = n * (n * n + 1) / 2;
      auto at = [&](int r, int c) {
        return v[static_cast<size_t>(r) * static_cast<size_t>(n) + static_cast<size_t>(c)];
      };
      int64_t diag = 0, anti = 0;
      for (int i = 0; i < n; ++i) {
        int64_t row = 0, col = 0;
        for (int j = 0; j < n; ++j) {
          EXPECT_GE(at(i, j), 1);
          EXPECT_LE(at(i, j), n * n);
          row += at(i, j);
          col += at(j, i);
        }
        EXPECT_EQ(row, magic);
        EXPECT_EQ(col, magic);
        diag += at(i, i);
        anti += at(i, n - 1 - i);
      }
      EXPECT_EQ(diag, magic);
      EXPECT_EQ(anti, magic);
      const std::vector<int64_t> givens = g->instance["givens"].get<std::vector<int64_t>>();
      int given = 0;
      for (size_t i = 0; i < givens.size(); ++i) {
        if (givens[i] != 0) {
          EXPECT_EQ(givens[i], v[i]);
          ++given;
        }
      }
      EXPECT_EQ(given, d % 2 == 1 ? n + n / 2 : n / 2);
      if (n == 4) distinct_order4.insert(g->witness);
      EXPECT_TRUE(f->Check(g->instance, g->witness)->correct());
      // Corrupt: swap the first two numbers -> columns 1 and 2 change their sums.
      std::swap(v[0], v[1]);
      std::string bad;
      for (int64_t x : v) bad += std::to_string(x) + " ";
      EXPECT_EQ(f->Check(g->instance, bad)->kind, kIncorrect);
    }
  }
  EXPECT_GE(distinct_order4.size(), 16u);  // the transformations give more than a handful of squares
}

TEST(MagicSquareTest, SameSeedSameInstance) {
  const TaskFamily* f = FindFamily("magic_square");
  EXPECT_EQ(f->Generate(3, 5)->instance, f->Generate(3, 5)->instance);
  EXPECT_NE(f->Generate(3, 5)->instance, f->Generate(4, 5)->instance);
  EXPECT_THAT(f->Generate(3, 5)->prompt, HasSubstr("sum to 65"));
}

}  // namespace
}  // namespace m1rl::reward::logic
