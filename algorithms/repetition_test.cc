// Tests for algorithms/repetition.h.
// Covers ALGORITHMS.md §6 and §10 V8 (run of N-1 then a break; exactly N; p == threshold not counted;
// environment token inside a run) with N = 5, the defaults (0.99, 3000), and the five loss policies.
#include "algorithms/repetition.h"

#include <cstdint>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Feeds probabilities; returns the 0-based index of the first token reported as REPETITION, or -1.
int64_t FirstStop(RepetitionDetector& d, const std::vector<double>& probs) {
  for (size_t i = 0; i < probs.size(); ++i) {
    if (d.ObserveSampledToken(probs[i])) return static_cast<int64_t>(i);
  }
  return -1;
}

TEST(RepetitionDetectorTest, V8RunOfNMinusOneThenBreakDoesNotStop) {
  RepetitionDetector d(0.99, 5);
  // 4 high tokens, a break (0.5), then 4 high again: never 5 in a row.
  EXPECT_EQ(FirstStop(d, {0.999, 0.999, 0.999, 0.999, 0.5, 0.999, 0.999, 0.999, 0.999}), -1);
  EXPECT_EQ(d.current_run(), 4);
}

TEST(RepetitionDetectorTest, V8ExactlyNStopsOnTheNthToken) {
  RepetitionDetector d(0.99, 5);
  // The 5th high token (index 5, after one low token) is the stop token; it is kept by the caller.
  EXPECT_EQ(FirstStop(d, {0.2, 0.995, 0.995, 0.995, 0.995, 0.995, 0.995}), 5);
  EXPECT_EQ(d.current_run(), 5);
}

TEST(RepetitionDetectorTest, V8ProbabilityEqualToThresholdIsNotCounted) {
  RepetitionDetector d(0.99, 5);
  // Strict '>': 0.99 itself resets the run, so 4 + 0.99 + 4 never reaches 5.
  EXPECT_EQ(FirstStop(d, {0.991, 0.991, 0.991, 0.991, 0.99, 0.991, 0.991, 0.991, 0.991}), -1);
  RepetitionDetector all_equal(0.99, 5);
  EXPECT_EQ(FirstStop(all_equal, std::vector<double>(20, 0.99)), -1);
}

TEST(RepetitionDetectorTest, V8EnvironmentTokenInsideARunResets) {
  RepetitionDetector d(0.99, 5);
  EXPECT_EQ(FirstStop(d, {0.999, 0.999, 0.999, 0.999}), -1);
  d.ObserveEnvironmentToken();
  EXPECT_EQ(d.current_run(), 0);
  // After the environment token a fresh run needs 5 more: stops on the 5th (index 4).
  EXPECT_EQ(FirstStop(d, {0.999, 0.999, 0.999, 0.999, 0.999}), 4);
}

TEST(RepetitionDetectorTest, DefaultsStopAfter3000) {
  RepetitionDetector d(0.99, 3000);
  for (int i = 0; i < 2999; ++i) ASSERT_FALSE(d.ObserveSampledToken(0.9999)) << i;
  EXPECT_TRUE(d.ObserveSampledToken(0.9999));
  d.Reset();
  EXPECT_EQ(d.current_run(), 0);
}

TEST(RepetitionPolicyTest, NamesAndVerifierCalls) {
  EXPECT_STREQ(RepetitionPolicyName(RepetitionPolicy::kMaskAll), "mask_all");
  EXPECT_TRUE(RepetitionPolicyCallsVerifier(RepetitionPolicy::kScore));
  EXPECT_FALSE(RepetitionPolicyCallsVerifier(RepetitionPolicy::kFail));
}

// A completion of 8 generated tokens, one environment token (v = 0) at index 1.
std::vector<uint8_t> Mask() { return {1, 0, 1, 1, 1, 1, 1, 1}; }

TEST(RepetitionPolicyTest, ScoreUsesTheVerifier) {
  const RepetitionOutcome o = ApplyRepetitionPolicy(RepetitionPolicy::kScore, -1.0, 3, Mask(), 0.7, true);
  EXPECT_FALSE(o.drop);
  EXPECT_EQ(o.reward, 0.7);
  EXPECT_EQ(o.correct, true);
  EXPECT_EQ(o.loss_mask, Mask());
  EXPECT_EQ(o.num_masked, 0);
}

TEST(RepetitionPolicyTest, FailGivesFailureRewardIncorrectAllTokensKept) {
  const RepetitionOutcome o =
      ApplyRepetitionPolicy(RepetitionPolicy::kFail, -0.5, 3, Mask(), std::nullopt, std::nullopt);
  EXPECT_FALSE(o.drop);
  EXPECT_EQ(o.reward, -0.5);
  EXPECT_EQ(o.correct, false);
  EXPECT_EQ(o.loss_mask, Mask());
  EXPECT_EQ(o.num_masked, 0);
}

TEST(RepetitionPolicyTest, FailMaskRunMasksTheLastNTokens) {
  const RepetitionOutcome o =
      ApplyRepetitionPolicy(RepetitionPolicy::kFailMaskRun, 0.0, 3, Mask(), std::nullopt, std::nullopt);
  EXPECT_EQ(o.reward, 0.0);
  EXPECT_EQ(o.correct, false);
  EXPECT_THAT(o.loss_mask, ElementsAre(1, 0, 1, 1, 1, 0, 0, 0));
  EXPECT_EQ(o.num_masked, 3);
  // N longer than the completion masks everything; the environment token was already 0 (not counted).
  const RepetitionOutcome all =
      ApplyRepetitionPolicy(RepetitionPolicy::kFailMaskRun, 0.0, 100, Mask(), std::nullopt, std::nullopt);
  EXPECT_THAT(all.loss_mask, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0));
  EXPECT_EQ(all.num_masked, 7);
}

TEST(RepetitionPolicyTest, MaskAllAndDrop) {
  const RepetitionOutcome m =
      ApplyRepetitionPolicy(RepetitionPolicy::kMaskAll, 0.0, 3, Mask(), std::nullopt, std::nullopt);
  EXPECT_THAT(m.loss_mask, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0));
  EXPECT_EQ(m.num_masked, 7);
  EXPECT_EQ(m.correct, false);
  const RepetitionOutcome d =
      ApplyRepetitionPolicy(RepetitionPolicy::kDrop, 0.0, 3, Mask(), std::nullopt, std::nullopt);
  EXPECT_TRUE(d.drop);
  EXPECT_FALSE(d.reward.has_value());
}

}  // namespace
}  // namespace m1rl::algorithms
