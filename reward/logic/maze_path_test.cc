#include <cstdlib>
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

// S..#
// .#..
// ...G    By hand: the shortest paths have 5 moves (Manhattan distance 2+3): RRDDR, RRDRD, DDRRR.
const nlohmann::json kMaze = {{"rows", 3}, {"cols", 4}, {"grid", "S..#.#.....G"}};

TEST(MazePathTest, EveryShortestPathAccepted) {
  EXPECT_EQ(Kind("maze_path", kMaze, "RRDDR"), kCorrect);
  EXPECT_EQ(Kind("maze_path", kMaze, "RRDRD"), kCorrect);
  EXPECT_EQ(Kind("maze_path", kMaze, "D, D, R, R, R"), kCorrect);
}

TEST(MazePathTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("maze_path", kMaze, "RDDRR", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("move 2 (D) hits a wall"));
  EXPECT_EQ(Kind("maze_path", kMaze, "U", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("leaves the grid"));
  EXPECT_EQ(Kind("maze_path", kMaze, "DDRR", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("does not end on G"));
  EXPECT_EQ(Kind("maze_path", kMaze, "DDRRRLR", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("path has 7 moves; the shortest has 5"));
}

TEST(MazePathTest, Unparseable) {
  for (const char* bad : {"", "  ", "rrddr", "RRDDR.", "right right down", "NNEES"}) {
    EXPECT_EQ(Kind("maze_path", kMaze, bad), kUnparseable) << bad;
  }
}

TEST(MazePathTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("maze_path", {{"cols", 2}, {"grid", "SG"}}, "R"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.rows: missing")));
  EXPECT_THAT(InstanceStatus("maze_path", {{"rows", 1}, {"cols", 3}, {"grid", "SG"}}, "R"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: expected 3 cells")));
  EXPECT_THAT(InstanceStatus("maze_path", {{"rows", 1}, {"cols", 3}, {"grid", "SGS"}}, "R"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: more than one 'S'")));
  EXPECT_THAT(InstanceStatus("maze_path", {{"rows", 1}, {"cols", 3}, {"grid", "SxG"}}, "RR"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: cell 1 is 'x'")));
  EXPECT_THAT(
      InstanceStatus("maze_path", {{"rows", 1}, {"cols", 3}, {"grid", "S.."}}, "RR"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: needs one 'S' and one 'G'")));
  EXPECT_THAT(InstanceStatus("maze_path", {{"rows", 1}, {"cols", 3}, {"grid", "S#G"}}, "RR"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.grid: G is unreachable")));
}

// Manhattan distance of S and G in a generated grid: a lower bound on any path's length.
int Manhattan(const std::string& grid, int cols) {
  const int s = static_cast<int>(grid.find('S'));
  const int g = static_cast<int>(grid.find('G'));
  return std::abs(s / cols - g / cols) + std::abs(s % cols - g % cols);
}

TEST(MazePathTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("maze_path");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const int w = 2 * d + 3;
      ASSERT_EQ(g->instance["rows"], w);
      const std::string grid = g->instance["grid"].get<std::string>();
      ASSERT_EQ(grid.size(), static_cast<size_t>(w * w));
      EXPECT_GE(static_cast<int>(g->witness.size()), Manhattan(grid, w));
      EXPECT_TRUE(f->Check(g->instance, g->witness)->correct());
      // Corrupt: one step back and forth is a valid walk to G but two moves too long.
      const char back = g->witness[0] == 'U'   ? 'D'
                        : g->witness[0] == 'D' ? 'U'
                        : g->witness[0] == 'L' ? 'R'
                                               : 'L';
      const std::string longer = g->witness.substr(0, 1) + back + g->witness;
      EXPECT_EQ(f->Check(g->instance, longer)->kind, kIncorrect) << longer;
      // Dropping the last move ends off G.
      EXPECT_EQ(f->Check(g->instance, g->witness.substr(0, g->witness.size() - 1))->kind,
                g->witness.size() == 1 ? kUnparseable : kIncorrect);
    }
  }
}

TEST(MazePathTest, SameSeedSameInstance) {
  const TaskFamily* f = FindFamily("maze_path");
  EXPECT_EQ(f->Generate(8, 6)->instance, f->Generate(8, 6)->instance);
  EXPECT_NE(f->Generate(8, 6)->instance, f->Generate(9, 6)->instance);
  EXPECT_THAT(f->Generate(8, 6)->prompt, HasSubstr("string of U/D/L/R letters"));
}

}  // namespace
}  // namespace m1rl::reward::logic
