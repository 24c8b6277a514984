#include <algorithm>
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

// 1x3, the middle cell shows 1, one mine: by hand the mine is left or right, both valid.
const nlohmann::json kLine = {{"rows", 1}, {"cols", 3}, {"mines", 1}, {"board", ".1."}};
// 3x3: corner (1,1) shows 1; (3,3) shows 0, so its neighbours (2,2), (2,3), (3,2) are mine-free;
// two mines: one of (1,2), (2,1), the other on one of (1,3), (3,1) (not adjacent to the 1).
const nlohmann::json kSquare = {{"rows", 3}, {"cols", 3}, {"mines", 2}, {"board", "1.......0"}};

TEST(MinesweeperTest, EveryConsistentMineSetAccepted) {
  EXPECT_EQ(Kind("minesweeper", kLine, "*.."), kCorrect);
  EXPECT_EQ(Kind("minesweeper", kLine, "..*"), kCorrect);
  EXPECT_EQ(Kind("minesweeper", kLine, "*1."), kCorrect);  // the shown digit may be copied
  EXPECT_EQ(Kind("minesweeper", kSquare, ".*./.../*.."), kCorrect);
  EXPECT_EQ(Kind("minesweeper", kSquare, ".**\n...\n..."), kCorrect);
  EXPECT_EQ(Kind("minesweeper", kSquare, "1.*|*..|..0"), kCorrect);
}

TEST(MinesweeperTest, ViolationsRejected) {
  std::string why;
  EXPECT_EQ(Kind("minesweeper", kLine, "...", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("shows 1 but has 0 marked neighbours"));
  EXPECT_EQ(Kind("minesweeper", kLine, "*.*", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("shows 1 but has 2"));
  EXPECT_EQ(Kind("minesweeper", kLine, ".*.", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("uncovered but marked as a mine"));
  EXPECT_EQ(Kind("minesweeper", kLine, "*2.", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("writes 2 where the board shows 1"));
  EXPECT_EQ(Kind("minesweeper", kSquare, ".*./.../...", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 2 mines, got 1"));
  EXPECT_EQ(Kind("minesweeper", kSquare, ".*./..*/...", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 3 column 3 shows 0 but has 1"));
  EXPECT_EQ(Kind("minesweeper", kSquare, "**./.../...", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 column 1 is uncovered"));
}

TEST(MinesweeperTest, Unparseable) {
  for (const char* bad : {"", "*.", "*...", "X..", "mine at 1", "*.9"}) {
    EXPECT_EQ(Kind("minesweeper", kLine, bad), kUnparseable) << bad;
  }
}

TEST(MinesweeperTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("minesweeper", {{"cols", 3}, {"mines", 1}, {"board", ".1."}}, "*.."),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.rows: missing")));
  EXPECT_THAT(InstanceStatus("minesweeper", {{"rows", 1}, {"cols", 3}, {"mines", 1}, {"board", ".1"}}, "*.."),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.board: expected 3 cells")));
  EXPECT_THAT(
      InstanceStatus("minesweeper", {{"rows", 1}, {"cols", 3}, {"mines", 1}, {"board", ".9."}}, "*.."),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.board: cell 1")));
  EXPECT_THAT(
      InstanceStatus("minesweeper", {{"rows", 1}, {"cols", 3}, {"mines", 4}, {"board", ".1."}}, "*.."),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.mines: must be in [0, 3]")));
}

// Mines around 0-based (r, c) of a row-major '*'/'.' grid, counted independently of the family.
int Around(const std::string& m, int n, int r, int c) {
  int k = 0;
  for (int rr = r - 1; rr <= r + 1; ++rr) {
    for (int cc = c - 1; cc <= c + 1; ++cc) {
      if (rr >= 0 && rr < n && cc >= 0 && cc < n && (rr != r || cc != c))
        k += m[static_cast<size_t>(rr) * static_cast<size_t>(n) + static_cast<size_t>(cc)] == '*';
    }
  }
  return k;
}

TEST(MinesweeperTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("minesweeper");
  int swaps_tried = 0;
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 30; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const int n = 4 + 2 * ((d - 1) / 3);
      ASSERT_EQ(g->instance["rows"], n);
      const std::string board = g->instance["board"].get<std::string>();
      std::string m = g->witness;
      m.erase(std::remove(m.begin(), m.end(), '/'), m.end());
      ASSERT_EQ(m.size(), board.size());
      EXPECT_EQ(std::count(m.begin(), m.end(), '*'), g->instance["mines"].get<int64_t>());
      for (int i = 0; i < n * n; ++i) {
        if (board[static_cast<size_t>(i)] == '.') continue;
        EXPECT_EQ(m[static_cast<size_t>(i)], '.');
        EXPECT_EQ(board[static_cast<size_t>(i)] - '0', Around(m, n, i / n, i % n));
      }
      EXPECT_EQ(Kind("minesweeper", g->instance, g->witness), kCorrect);
      // Corrupt: drop the first mine (the count no longer matches).
      std::string bad = m;
      bad[bad.find('*')] = '.';
      EXPECT_EQ(Kind("minesweeper", g->instance, bad), kIncorrect);
      // Alternative: move a mine that no digit sees to a covered cell that no digit sees.
      auto unseen = [&](int i) {
        for (int rr = i / n - 1; rr <= i / n + 1; ++rr) {
          for (int cc = i % n - 1; cc <= i % n + 1; ++cc) {
            if (rr >= 0 && rr < n && cc >= 0 && cc < n &&
                board[static_cast<size_t>(rr) * static_cast<size_t>(n) + static_cast<size_t>(cc)] != '.')
              return false;
          }
        }
        return true;
      };
      int mine = -1, free_cell = -1;
      for (int i = 0; i < n * n; ++i) {
        if (!unseen(i)) continue;
        if (m[static_cast<size_t>(i)] == '*') mine = i;
        if (m[static_cast<size_t>(i)] == '.') free_cell = i;
      }
      if (mine >= 0 && free_cell >= 0) {
        std::string alt = m;
        std::swap(alt[static_cast<size_t>(mine)], alt[static_cast<size_t>(free_cell)]);
        EXPECT_EQ(Kind("minesweeper", g->instance, alt), kCorrect) << alt;
        ++swaps_tried;
      }
      EXPECT_EQ(f->Generate(seed, d)->instance, g->instance);
    }
  }
  EXPECT_GT(swaps_tried, 10);
}

}  // namespace
}  // namespace m1rl::reward::logic
