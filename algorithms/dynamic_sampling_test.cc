// Tests for algorithms/dynamic_sampling.h.
// Covers ALGORITHMS.md §4 dynamic sampling, §10 V9 (stream with #correct in {0, G, 1, G-1, ...}, B = 3:
// kept set, rounds, discards, both on_exhausted modes) and §8 pitfall 7 (an all-correct group with unequal
// shaped rewards is dropped; 0 < #correct < G kept; unscored samples excluded from G').
#include "algorithms/dynamic_sampling.h"

#include <optional>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Verdicts = std::vector<std::optional<bool>>;

// G = 4 verdicts with `num_correct` correct.
Verdicts WithCorrect(int num_correct) {
  Verdicts v(4, false);
  for (int i = 0; i < num_correct; ++i) v[i] = true;
  return v;
}

TEST(DynamicSamplingTest, Pitfall7AllCorrectWithUnequalShapedRewardsIsDropped) {
  // All four correct, but overlong shaping made the rewards unequal: the filter uses the verdict.
  const Verdicts all_correct = {true, true, true, true};
  const std::vector<std::optional<double>> shaped = {1.0, 0.8, 1.0, 0.5};
  EXPECT_FALSE(KeepGroupByVerdict(all_correct));
  EXPECT_TRUE(KeepGroupByReward(shaped));  // what a reward-variance filter would wrongly keep
  EXPECT_FALSE(KeepGroupByVerdict(WithCorrect(0)));
  EXPECT_TRUE(KeepGroupByVerdict(WithCorrect(1)));
  EXPECT_TRUE(KeepGroupByVerdict(WithCorrect(3)));
  // Unscored samples are excluded from G': {true, true, unscored, unscored} is all-correct over G' = 2.
  EXPECT_FALSE(KeepGroupByVerdict(Verdicts{true, true, std::nullopt, std::nullopt}));
  EXPECT_TRUE(KeepGroupByVerdict(Verdicts{true, false, std::nullopt, std::nullopt}));
  EXPECT_FALSE(KeepGroupByVerdict(Verdicts{true, std::nullopt, std::nullopt, std::nullopt}));  // G' < 2
  // GenRM-only sources: reward variance.
  EXPECT_FALSE(KeepGroupByReward(std::vector<std::optional<double>>{0.3, 0.3, std::nullopt}));
}

TEST(DynamicSamplingTest, V9StreamKeepsExactlyBAndCountsDiscards) {
  DynamicSampler s(/*target_groups=*/3, /*max_gen_rounds=*/5, OnExhausted::kError);
  ASSERT_TRUE(s.NeedsMoreGroups());
  ASSERT_THAT(s.BeginRound(), IsOk());
  EXPECT_FALSE(s.OfferGroup(0, WithCorrect(0)));  // all wrong
  EXPECT_FALSE(s.OfferGroup(1, WithCorrect(4)));  // all correct
  EXPECT_TRUE(s.OfferGroup(2, WithCorrect(1)));
  EXPECT_TRUE(s.OfferGroup(3, WithCorrect(3)));  // G - 1
  ASSERT_TRUE(s.NeedsMoreGroups());
  ASSERT_THAT(s.BeginRound(), IsOk());
  EXPECT_FALSE(s.OfferGroup(4, WithCorrect(4)));
  EXPECT_TRUE(s.OfferGroup(5, WithCorrect(2)));   // the B-th
  EXPECT_FALSE(s.OfferGroup(6, WithCorrect(1)));  // passes, but B already kept: discarded extra
  EXPECT_FALSE(s.OfferGroup(7, WithCorrect(0)));  // filtered (not an extra)
  EXPECT_FALSE(s.NeedsMoreGroups());
  EXPECT_THAT(s.BeginRound(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already has 3")));
  M1RL_ASSERT_OK_AND_ASSIGN(DynamicSamplingResult r, s.Finish());
  EXPECT_THAT(r.kept_group_ids, ElementsAre(2, 3, 5));
  EXPECT_EQ(r.rounds, 2);
  EXPECT_EQ(r.num_offered, 8);
  EXPECT_EQ(r.num_filtered, 4);
  EXPECT_EQ(r.num_discarded_extra, 1);
  EXPECT_FALSE(r.partial);
}

TEST(DynamicSamplingTest, V9ExhaustedErrorNamesTheField) {
  DynamicSampler s(3, 2, OnExhausted::kError);
  ASSERT_THAT(s.BeginRound(), IsOk());
  s.OfferGroup(0, WithCorrect(2));
  s.OfferGroup(1, WithCorrect(4));
  ASSERT_THAT(s.BeginRound(), IsOk());
  s.OfferGroup(2, WithCorrect(0));
  s.OfferGroup(3, WithCorrect(1));
  EXPECT_TRUE(s.NeedsMoreGroups());
  EXPECT_THAT(s.BeginRound(), StatusIs(absl::StatusCode::kResourceExhausted,
                                       HasSubstr("algorithm.dynamic_sampling.max_gen_rounds=2")));
  EXPECT_THAT(s.Finish(), StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("kept 2 of 3 groups")));
}

TEST(DynamicSamplingTest, V9ExhaustedTrainPartialReturnsWhatWasKept) {
  DynamicSampler s(3, 2, OnExhausted::kTrainPartial);
  int rounds = 0;
  while (s.NeedsMoreGroups()) {
    ASSERT_THAT(s.BeginRound(), IsOk());
    ++rounds;
    s.OfferGroup(10 * rounds, WithCorrect(1));
    s.OfferGroup(10 * rounds + 1, WithCorrect(0));
  }
  EXPECT_EQ(rounds, 2);
  M1RL_ASSERT_OK_AND_ASSIGN(DynamicSamplingResult r, s.Finish());
  EXPECT_TRUE(r.partial);
  EXPECT_THAT(r.kept_group_ids, ElementsAre(10, 20));
  EXPECT_EQ(r.num_filtered, 2);
  EXPECT_EQ(r.rounds, 2);
  EXPECT_THAT(s.BeginRound(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("exhausted")));
}

}  // namespace
}  // namespace m1rl::algorithms
