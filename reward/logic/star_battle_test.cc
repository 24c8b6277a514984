#include <algorithm>
#include <cstdlib>
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

// AAAB / CAAB / CDDB / CDDB. On 4x4 only the placements 2 4 1 3 and 3 1 4 2 keep columns distinct
// and stars apart; by hand each puts one star in every region of this map, so both are valid.
const nlohmann::json kTwo = {{"size", 4}, {"regions", "AAABCAABCDDBCDDB"}};

TEST(StarBattleTest, AnyValidPlacementAccepted) {
  EXPECT_EQ(Kind("star_battle", kTwo, "2 4 1 3"), kCorrect);
  EXPECT_EQ(Kind("star_battle", kTwo, "3, 1, 4, 2"), kCorrect);
  EXPECT_EQ(Kind("star_battle", kTwo, "[3 1 4 2]"), kCorrect);
}

TEST(StarBattleTest, NearMissesRejected) {
  std::string why;
  EXPECT_EQ(Kind("star_battle", kTwo, "2 4 1 4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("rows 2 and 4 share column 4"));
  EXPECT_EQ(Kind("star_battle", kTwo, "5 1 3 2", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("row 1 column 5 is off the grid"));
  EXPECT_EQ(Kind("star_battle", kTwo, "2 4 1", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("expected 4 columns, got 3"));
  // BAAA / BBBA / CCDD / CCDD: 2 4 1 3 puts the stars of rows 1 and 2 both in region A.
  const nlohmann::json shared = {{"size", 4}, {"regions", "BAAABBBACCDDCCDD"}};
  EXPECT_EQ(Kind("star_battle", shared, "2 4 1 3", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("rows 1 and 2 share region A"));
  // Regions = rows: 1 2 3 4 has distinct columns and regions, but neighbouring stars touch.
  const nlohmann::json rows = {{"size", 4}, {"regions", "AAAABBBBCCCCDDDD"}};
  EXPECT_EQ(Kind("star_battle", rows, "1 2 3 4", &why), kIncorrect);
  EXPECT_THAT(why, HasSubstr("the stars of rows 1 and 2 touch"));
  EXPECT_EQ(Kind("star_battle", rows, "3 1 4 2"), kCorrect);
}

TEST(StarBattleTest, Unparseable) {
  for (const char* bad : {"", "a b c d", "2;4;x;3", "two four one three", "2.4.1.3"}) {
    EXPECT_EQ(Kind("star_battle", kTwo, bad), kUnparseable) << bad;
  }
}

TEST(StarBattleTest, MalformedInstance) {
  EXPECT_THAT(InstanceStatus("star_battle", {{"regions", "AAAABBBBCCCCDDDD"}}, "2 4 1 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.size: missing")));
  EXPECT_THAT(InstanceStatus("star_battle", {{"size", 4}, {"regions", "AAAABBBB"}}, "2 4 1 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.regions: expected 16 cells")));
  EXPECT_THAT(InstanceStatus("star_battle", {{"size", 4}, {"regions", "AAAABBBBCCCCDDDE"}}, "2 4 1 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.regions: cell 15 is 'E'")));
  EXPECT_THAT(InstanceStatus("star_battle", {{"size", 4}, {"regions", "AAAABBBBCCCCCCCC"}}, "2 4 1 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.regions: region D is empty")));
}

// Whether every region of the map is one 4-connected piece (flood fill from its first cell).
bool RegionsConnected(const std::string& regions, int n) {
  std::set<char> letters(regions.begin(), regions.end());
  for (char letter : letters) {
    std::vector<bool> seen(regions.size());
    std::vector<int> stack = {static_cast<int>(regions.find(letter))};
    seen[static_cast<size_t>(stack[0])] = true;
    size_t reached = 0;
    while (!stack.empty()) {
      const int i = stack.back();
      stack.pop_back();
      ++reached;
      for (int j : {i - n, i + n, (i % n) ? i - 1 : -1, (i % n != n - 1) ? i + 1 : -1}) {
        if (j < 0 || j >= n * n || seen[static_cast<size_t>(j)] || regions[static_cast<size_t>(j)] != letter)
          continue;
        seen[static_cast<size_t>(j)] = true;
        stack.push_back(j);
      }
    }
    if (reached != static_cast<size_t>(std::count(regions.begin(), regions.end(), letter))) return false;
  }
  return true;
}

TEST(StarBattleTest, GeneratedWitnessVerifiesAcrossSeedsAndDifficulties) {
  const TaskFamily* f = FindFamily("star_battle");
  for (int d = f->min_difficulty(); d <= f->max_difficulty(); ++d) {
    for (uint64_t seed = 0; seed < 25; ++seed) {
      absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
      ASSERT_TRUE(g.ok()) << g.status();
      const int n = d + 3;
      ASSERT_EQ(g->instance["size"], n);
      const std::string regions = g->instance["regions"].get<std::string>();
      EXPECT_TRUE(RegionsConnected(regions, n)) << regions;
      // Independent re-check: a permutation of columns, stars apart, one per region.
      std::vector<int> cols;
      std::istringstream in(g->witness);
      for (int c = 0; in >> c;) cols.push_back(c);
      ASSERT_EQ(cols.size(), static_cast<size_t>(n));
      std::set<int> distinct_cols(cols.begin(), cols.end());
      std::set<char> distinct_regions;
      for (int r = 0; r < n; ++r) {
        distinct_regions.insert(regions[static_cast<size_t>(r * n + cols[static_cast<size_t>(r)] - 1)]);
        if (r > 0) {
          EXPECT_GE(std::abs(cols[static_cast<size_t>(r)] - cols[static_cast<size_t>(r - 1)]), 2);
        }
      }
      EXPECT_EQ(distinct_cols.size(), static_cast<size_t>(n));
      EXPECT_EQ(distinct_regions.size(), static_cast<size_t>(n));
      EXPECT_TRUE(f->Check(g->instance, g->witness)->correct());
      // Corrupt: the star of row 1 moved to row 2's column.
      std::vector<int> bad = cols;
      bad[0] = bad[1];
      std::string bad_text;
      for (int c : bad) bad_text += std::to_string(c) + " ";
      EXPECT_EQ(f->Check(g->instance, bad_text)->kind, kIncorrect);
    }
  }
}

TEST(StarBattleTest, SameSeedSameInstance) {
  const TaskFamily* f = FindFamily("star_battle");
  EXPECT_EQ(f->Generate(3, 5)->instance, f->Generate(3, 5)->instance);
  EXPECT_NE(f->Generate(3, 5)->instance, f->Generate(4, 5)->instance);
  EXPECT_THAT(f->Generate(3, 5)->prompt, HasSubstr("8x8 star battle"));
}

}  // namespace
}  // namespace m1rl::reward::logic
