// Tests for algorithms/advantages.h.
// Covers ALGORITHMS.md §4 and §10 V5: rewards {1,0,0,0}, {1,1,1,1}, {0.5,-1,1,0}, a group with one
// unscored sample; grpo with sample and population std, Dr.GRPO (scale_by_std false), rloo.
// Expected values are worked out by hand below (float64, 1e-12).
#include "algorithms/advantages.h"

#include <cmath>
#include <optional>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

using Rewards = std::vector<std::optional<double>>;
constexpr double kTol = 1e-12;  // float64, a handful of operations on O(1) values

AdvantageParams Grpo(StdKind kind) {
  AdvantageParams p;
  p.std_kind = kind;
  return p;
}

void ExpectAdv(const GroupAdvantages& g, const std::vector<std::optional<double>>& want) {
  ASSERT_EQ(g.advantages.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(g.advantages[i].has_value(), want[i].has_value()) << i;
    if (want[i]) {
      EXPECT_NEAR(*g.advantages[i], *want[i], kTol) << i;
    }
  }
}

TEST(AdvantagesTest, V5OneCorrectOfFour) {
  const Rewards r = {1, 0, 0, 0};
  // mean 0.25; deviations 0.75, -0.25 x3; sum of squares 0.5625 + 3*0.0625 = 0.75.
  // sample std sqrt(0.75/3) = 0.5; population std sqrt(0.75/4) = sqrt(3)/4.
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages s, ComputeGroupAdvantages(Grpo(StdKind::kSample), r));
  ExpectAdv(s, {0.75 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6)});
  const double pop = std::sqrt(3.0) / 4.0;
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages p, ComputeGroupAdvantages(Grpo(StdKind::kPopulation), r));
  ExpectAdv(p, {0.75 / (pop + 1e-6), -0.25 / (pop + 1e-6), -0.25 / (pop + 1e-6), -0.25 / (pop + 1e-6)});
  AdvantageParams dr;
  dr.scale_by_std = false;
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages d, ComputeGroupAdvantages(dr, r));
  ExpectAdv(d, {0.75, -0.25, -0.25, -0.25});
  AdvantageParams rloo;
  rloo.estimator = AdvantageEstimator::kRloo;
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages l, ComputeGroupAdvantages(rloo, r));
  // R_i - mean of the others: 1 - 0 = 1; 0 - 1/3.
  ExpectAdv(l, {1.0, -1.0 / 3, -1.0 / 3, -1.0 / 3});
  EXPECT_FALSE(s.zero_variance);
  EXPECT_FALSE(s.dropped);
  EXPECT_EQ(s.num_scored, 4);
}

TEST(AdvantagesTest, V5AllCorrectIsExactlyZero) {
  const Rewards r = {1, 1, 1, 1};
  for (const AdvantageParams& p :
       {Grpo(StdKind::kSample), Grpo(StdKind::kPopulation),
        AdvantageParams{AdvantageEstimator::kRloo, true, StdKind::kSample, 1e-6}}) {
    M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages g, ComputeGroupAdvantages(p, r));
    EXPECT_TRUE(g.zero_variance);
    for (const auto& a : g.advantages) EXPECT_EQ(*a, 0.0);  // exactly, never (R - mu)/eps
  }
  // Rewards equal but not exactly representable as a mean: still exactly zero.
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages t,
                            ComputeGroupAdvantages(Grpo(StdKind::kSample), Rewards{0.1, 0.1, 0.1}));
  for (const auto& a : t.advantages) EXPECT_EQ(*a, 0.0);
}

TEST(AdvantagesTest, V5MixedRewards) {
  const Rewards r = {0.5, -1, 1, 0};
  // mean 0.125; deviations 0.375, -1.125, 0.875, -0.125; squares sum
  // 0.140625 + 1.265625 + 0.765625 + 0.015625 = 2.1875.
  const double sample = std::sqrt(2.1875 / 3), pop = std::sqrt(2.1875 / 4);
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages s, ComputeGroupAdvantages(Grpo(StdKind::kSample), r));
  ExpectAdv(s, {0.375 / (sample + 1e-6), -1.125 / (sample + 1e-6), 0.875 / (sample + 1e-6),
                -0.125 / (sample + 1e-6)});
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages p, ComputeGroupAdvantages(Grpo(StdKind::kPopulation), r));
  ExpectAdv(p, {0.375 / (pop + 1e-6), -1.125 / (pop + 1e-6), 0.875 / (pop + 1e-6), -0.125 / (pop + 1e-6)});
  AdvantageParams rloo;
  rloo.estimator = AdvantageEstimator::kRloo;
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages l, ComputeGroupAdvantages(rloo, r));
  // 0.5 - (-1+1+0)/3 = 0.5; -1 - (0.5+1+0)/3 = -1.5; 1 - (0.5-1+0)/3 = 7/6; 0 - 0.5/3 = -1/6.
  ExpectAdv(l, {0.5, -1.5, 7.0 / 6, -1.0 / 6});
}

TEST(AdvantagesTest, V5UnscoredSampleIsExcludedAndCounted) {
  const Rewards r = {1, std::nullopt, 0, 0};
  // G' = 3, mean 1/3; deviations 2/3, -1/3, -1/3; squares 6/9; sample std sqrt(1/3).
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages s, ComputeGroupAdvantages(Grpo(StdKind::kSample), r));
  const double sd = std::sqrt(1.0 / 3);
  ExpectAdv(s, {(2.0 / 3) / (sd + 1e-6), std::nullopt, (-1.0 / 3) / (sd + 1e-6), (-1.0 / 3) / (sd + 1e-6)});
  EXPECT_EQ(s.num_scored, 3);
  EXPECT_EQ(s.num_unscored, 1);
  AdvantageParams rloo;
  rloo.estimator = AdvantageEstimator::kRloo;
  M1RL_ASSERT_OK_AND_ASSIGN(GroupAdvantages l, ComputeGroupAdvantages(rloo, r));
  ExpectAdv(l, {1.0, std::nullopt, -0.5, -0.5});  // 1 - 0; 0 - (1+0)/2
}

TEST(AdvantagesTest, FewerThanTwoScoredDropsTheGroup) {
  M1RL_ASSERT_OK_AND_ASSIGN(
      GroupAdvantages g,
      ComputeGroupAdvantages(Grpo(StdKind::kSample), Rewards{1, std::nullopt, std::nullopt}));
  EXPECT_TRUE(g.dropped);
  EXPECT_EQ(g.num_unscored, 2);
  for (const auto& a : g.advantages) EXPECT_FALSE(a.has_value());
}

TEST(AdvantagesTest, GroupSizeBelowTwoAndNonFiniteAreErrors) {
  EXPECT_THAT(ComputeGroupAdvantages(Grpo(StdKind::kSample), Rewards{1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("group size must be >= 2")));
  EXPECT_THAT(ComputeGroupAdvantages(Grpo(StdKind::kSample), Rewards{1, std::nan("")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not finite")));
}

TEST(AdvantagesTest, BatchStatsCountGroupsByKind) {
  AdvantageParams dr;
  dr.scale_by_std = false;  // Dr.GRPO: |A| by hand
  AdvantageStats stats;
  for (const Rewards& r : {Rewards{1, 0, 0, 0}, Rewards{1, 1, 1, 1},
                           Rewards{1, std::nullopt, std::nullopt, std::nullopt}, Rewards{0.5, -1, 1, 0}}) {
    auto g = ComputeGroupAdvantages(dr, r);
    ASSERT_TRUE(g.ok()) << g.status();
    stats.Add(*g);
  }
  EXPECT_EQ(stats.num_groups, 4);
  EXPECT_EQ(stats.num_dropped, 1);
  EXPECT_EQ(stats.num_zero_variance, 1);
  EXPECT_EQ(stats.num_unscored, 3);
  EXPECT_EQ(stats.num_scored, 12);
  EXPECT_DOUBLE_EQ(stats.zero_variance_share(), 1.0 / 3);
  // |A|: {0.75, 0.25 x3} sum 1.5; zeros; {0.375, 1.125, 0.875, 0.125} sum 2.5 -> 4 / 12.
  EXPECT_NEAR(stats.mean_abs_advantage(), 4.0 / 12, kTol);
}

}  // namespace
}  // namespace m1rl::algorithms
