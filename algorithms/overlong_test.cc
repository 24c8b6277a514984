// Tests for algorithms/overlong.h.
// Covers ALGORITHMS.md §4 soft overlong penalty and §10 V7: |y| = L_max - L_cache, +1, mid-buffer, L_max,
// L_max + 1, with L_max = 20, L_cache = 4 (free length 16), and the DAPO recipe 20480/4096.
#include "algorithms/overlong.h"

#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

TEST(OverlongTest, V7Boundaries) {
  EXPECT_EQ(SoftOverlongPenalty(0, 20, 4), 0.0);
  EXPECT_EQ(SoftOverlongPenalty(16, 20, 4), 0.0);    // L_max - L_cache: no penalty
  EXPECT_EQ(SoftOverlongPenalty(17, 20, 4), -0.25);  // (16 - 17) / 4
  EXPECT_EQ(SoftOverlongPenalty(18, 20, 4), -0.5);   // mid-buffer
  EXPECT_EQ(SoftOverlongPenalty(20, 20, 4), -1.0);   // L_max: (16 - 20) / 4
  EXPECT_EQ(SoftOverlongPenalty(21, 20, 4), -1.0);   // beyond L_max
}

TEST(OverlongTest, DapoRecipe) {
  EXPECT_EQ(SoftOverlongPenalty(16384, 20480, 4096), 0.0);
  EXPECT_EQ(SoftOverlongPenalty(16385, 20480, 4096), -1.0 / 4096);
  EXPECT_EQ(SoftOverlongPenalty(18432, 20480, 4096), -0.5);
  EXPECT_EQ(SoftOverlongPenalty(20481, 20480, 4096), -1.0);
}

}  // namespace
}  // namespace m1rl::algorithms
