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

// 3x3, no givens, one clue: 3 buildings visible from the top of column 1, so column 1 reads 1,2,3
// downwards. By hand: 123/231/312 and 132/213/321 both have that column.
const nlohmann::json kOpen = {{"size", 3},           {"grid", "........."}, {"top", {3, 0, 0}},
                              {"bottom", {0, 0, 0}}, {"left", {0, 0, 0}},   {"right", {0, 0, 0}}};

TEST(SkyscrapersTest, AnyValidGridAccepted) {
  EXPECT_EQ(Kind("skyscrapers", kOpen, "123231312"), kCorrect);
  EXPECT_EQ(Kind("skyscrapers", kOpen, "132/213/321"), kCorrect);
  EXPECT_EQ(Kind("skyscrapers", kOpen, "1 3 2\n2 1 3\n3 2 1"), kCorrect);
}

TEST(SkyscrapersTest, NearMissesRejected) {
  std::string why;
  // Column 1 reads 2,1,3: only 2 and 3 are visible from the top.
  EXPECT_EQ(Kind("skyscrapers", kOpen, "213132321", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("top clue of column 1 is 3 but 2 buildings are visible"));
  EXPECT_EQ(Kind("skyscrapers", kOpen, "123123123", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("column 1 repeats"));
  EXPECT_EQ(Kind("skyscrapers", kOpen, "124231312", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 column 3 holds 4"));
  // Row clues from the right: 2 for row 2, 3 for row 3 (so row 3 must read 321).
  nlohmann::json right = kOpen;
  right["top"] = {0, 0, 0};
  right["right"] = {0, 2, 3};
  // 123/231/312: row 2 seen from the right is 1,3,2 (2 visible, ok); row 3 is 2,1,3 (2 visible, not 3).
  EXPECT_EQ(Kind("skyscrapers", right, "123231312", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("right clue of row 3 is 3 but 2 buildings are visible"));
  // 213/132/321: row 2 from the right 2,3,1 (2 visible); row 3 from the right 1,2,3 (3 visible).
  EXPECT_EQ(Kind("skyscrapers", right, "213132321"), kCorrect);
  const nlohmann::json given = {{"size", 3},           {"grid", "..2......"}, {"top", {0, 0, 0}},
                                {"bottom", {0, 0, 0}}, {"left", {0, 0, 0}},   {"right", {0, 0, 0}}};
  EXPECT_EQ(Kind("skyscrapers", given, "123231312", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("changes the given 2"));
  EXPECT_EQ(Kind("skyscrapers", given, "132213321"), kCorrect);
}

TEST(SkyscrapersTest, Unparseable) {
  for (const char* bad : {"", "12323131", "1232313120", "a23231312", "1-2-3-2-3-1-3-1-2"}) {
    EXPECT_EQ(Kind("skyscrapers", kOpen, bad), kUnparseable) << bad;
  }
}

TEST(SkyscrapersTest, MalformedInstance) {
  nlohmann::json no_size = kOpen;
  no_size.erase("size");
  EXPECT_THAT(InstanceStatus("skyscrapers", no_size, "123231312"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.size: missing")));
  nlohmann::json short_grid = kOpen;
  short_grid["grid"] = "....";
  EXPECT_THAT(InstanceStatus("skyscrapers", short_grid, "123231312"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: expected 9 cells")));
  nlohmann::json big_clue = kOpen;
  big_clue["left"] = {0, 4, 0};
  EXPECT_THAT(InstanceStatus("skyscrapers", big_clue, "123231312"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.left[1]: must be in [0, 3]")));
  nlohmann::json few_clues = kOpen;
  few_clues["bottom"] = {0, 0};
  EXPECT_THAT(InstanceStatus("skyscrapers", few_clues, "123231312"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.bottom: expected 3..3")));
  nlohmann::json no_right = kOpen;
  no_right.erase("right");
  EXPECT_THAT(InstanceStatus("skyscrapers", no_right, "123231312"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.right: missing")));
}

// Buildings visible along `line` (heights in viewing order), counted independently of the family.
int CountVisible(const std::vector<int>& line) {
  int seen = 0, tallest = 0;
  for (int h : line) {
    seen += h > tallest;
    tallest = h > tallest ? h : tallest;
  }
  return seen;
}

TEST(SkyscrapersTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("skyscrapers");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 25; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const int n = 4 + (d - 1) / 2;
      ASSERT_EQ(g->instance["size"], n);
      const std::string& w = g->witness;
      ASSERT_EQ(w.size(), static_cast<size_t>(n * n));
      auto at = [&](int r, int c) {
        return w[static_cast<size_t>(r) * static_cast<size_t>(n) + static_cast<size_t>(c)] - '0';
      };
      // Odd levels show 3n of the 4n clues, even levels 2n (a shown clue is never 0).
      int shown = 0;
      for (const char* side : {"top", "bottom", "left", "right"}) {
        for (const auto& clue : g->instance[side]) shown += clue.get<int>() != 0;
      }
      EXPECT_EQ(shown, d % 2 == 1 ? 3 * n : 2 * n);
      // Independent re-check of every clue against the witness.
      for (int i = 0; i < n; ++i) {
        std::vector<int> down, up, right, left;
        for (auto* v : {&down, &up, &right, &left}) v->reserve(static_cast<size_t>(n));
        for (int k = 0; k < n; ++k) {
          down.push_back(at(k, i));
          up.push_back(at(n - 1 - k, i));
          right.push_back(at(i, k));
          left.push_back(at(i, n - 1 - k));
        }
        for (const auto& [side, line] : {std::pair{"top", down}, std::pair{"bottom", up},
                                         std::pair{"left", right}, std::pair{"right", left}}) {
          const int clue = g->instance[side][i].get<int>();
          if (clue != 0) {
            EXPECT_EQ(clue, CountVisible(line)) << side << " " << i;
          }
        }
      }
      EXPECT_TRUE(f->Check(g->instance, g->witness)->correct());
      // Corrupt: swap two cells of row 1 -> two columns repeat a digit.
      std::string bad = g->witness;
      std::swap(bad[0], bad[1]);
      EXPECT_EQ(f->Check(g->instance, bad)->kind, kIncorrect);
    }
  }
}

TEST(SkyscrapersTest, SameSeedSameInstance) {
  const TaskFamily* f = FindFamily("skyscrapers");
  EXPECT_EQ(f->Generate(3, 5)->instance, f->Generate(3, 5)->instance);
  EXPECT_NE(f->Generate(3, 5)->instance, f->Generate(4, 5)->instance);
  EXPECT_THAT(f->Generate(3, 5)->prompt, HasSubstr("36 digits row by row"));
}

}  // namespace
}  // namespace m1rl::reward::logic
