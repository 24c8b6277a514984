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

// 2x2, one shaded cell in every row and column: by hand both diagonals fit.
const nlohmann::json kOpen = {{"rows", 2}, {"cols", 2}, {"row_clues", {{1}, {1}}}, {"col_clues", {{1}, {1}}}};

// 3x3: ###/#.#/... is the only grid (row 3 empty, row 1 full, row 2 "1 1").
const nlohmann::json kArch = {{"rows", 3},
                              {"cols", 3},
                              {"row_clues", {{3}, {1, 1}, nlohmann::json::array()}},
                              {"col_clues", {{2}, {1}, {2}}}};

TEST(NonogramTest, AnyValidGridAccepted) {
  EXPECT_EQ(Kind("nonogram", kOpen, "#./.#"), kCorrect);
  EXPECT_EQ(Kind("nonogram", kOpen, ".#/#."), kCorrect);
  EXPECT_EQ(Kind("nonogram", kOpen, "10\n01"), kCorrect);
  EXPECT_EQ(Kind("nonogram", kArch, "###|#.#|..."), kCorrect);
}

TEST(NonogramTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("nonogram", kOpen, "##/..", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 shows 2, clue 1"));
  EXPECT_EQ(Kind("nonogram", kOpen, "#./#.", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("column 1 shows 2, clue 1"));
  EXPECT_EQ(Kind("nonogram", kArch, "###/#.#/#..", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 3 shows 1, clue 0"));
  EXPECT_EQ(Kind("nonogram", kArch, "###/##./...", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 2 shows 2, clue 1 1"));
}

TEST(NonogramTest, Unparseable) {
  for (const char* bad : {"", "#.", "#./.#/#", "x./.#", "#-./.#", "2 1"}) {
    EXPECT_EQ(Kind("nonogram", kOpen, bad), kUnparseable) << bad;
  }
}

TEST(NonogramTest, MalformedInstance) {
  nlohmann::json no_rows = kOpen;
  no_rows.erase("rows");
  EXPECT_THAT(InstanceStatus("nonogram", no_rows, "#./.#"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.rows: missing")));
  nlohmann::json few = kOpen;
  few["row_clues"] = {{1}};
  EXPECT_THAT(
      InstanceStatus("nonogram", few, "#./.#"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.row_clues: expected an array of 2")));
  nlohmann::json too_long = kOpen;
  too_long["col_clues"][1] = {1, 1};
  EXPECT_THAT(InstanceStatus("nonogram", too_long, "#./.#"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("instance.col_clues[1]: runs need 3 cells, the line has 2")));
  nlohmann::json zero_run = kOpen;
  zero_run["row_clues"][0] = {0};
  EXPECT_THAT(
      InstanceStatus("nonogram", zero_run, "#./.#"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.row_clues[0][0]: must be in [1, 2]")));
  nlohmann::json not_array = kOpen;
  not_array["row_clues"][1] = 1;
  EXPECT_THAT(
      InstanceStatus("nonogram", not_array, "#./.#"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.row_clues[1]: expected an array")));
}

// Run lengths of a line of '#' / '.' characters, recomputed independently of the family.
std::vector<int64_t> Runs(const std::string& line) {
  std::vector<int64_t> runs;
  size_t i = 0;
  while ((i = line.find('#', i)) != std::string::npos) {
    const size_t end = line.find('.', i);
    const size_t stop = end == std::string::npos ? line.size() : end;
    runs.push_back(static_cast<int64_t>(stop - i));
    i = stop;
  }
  return runs;
}

TEST(NonogramTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("nonogram");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 25; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const size_t n = static_cast<size_t>(d) + 3;
      ASSERT_EQ(g->instance["rows"], n);
      ASSERT_EQ(g->witness.size(), n * n + n - 1);  // rows joined by '/'
      std::vector<std::string> rows;
      rows.reserve(n);
      for (size_t r = 0; r < n; ++r) rows.push_back(g->witness.substr(r * (n + 1), n));
      for (size_t i = 0; i < n; ++i) {
        std::string col;
        for (size_t r = 0; r < n; ++r) col.push_back(rows[r][i]);
        EXPECT_EQ(g->instance["row_clues"][i].get<std::vector<int64_t>>(), Runs(rows[i]));
        EXPECT_EQ(g->instance["col_clues"][i].get<std::vector<int64_t>>(), Runs(col));
      }
      EXPECT_TRUE(f->Check(g->instance, g->witness)->correct());
      // Corrupt: flip the first cell -> row 1 changes its runs.
      std::string bad = g->witness;
      bad[0] = bad[0] == '#' ? '.' : '#';
      EXPECT_EQ(f->Check(g->instance, bad)->kind, kIncorrect);
    }
  }
}

TEST(NonogramTest, SameSeedSameInstance) {
  const TaskFamily* f = FindFamily("nonogram");
  EXPECT_EQ(f->Generate(3, 5)->instance, f->Generate(3, 5)->instance);
  EXPECT_NE(f->Generate(3, 5)->instance, f->Generate(4, 5)->instance);
  EXPECT_THAT(f->Generate(3, 5)->prompt, HasSubstr("8x8 nonogram"));
}

}  // namespace
}  // namespace m1rl::reward::logic
