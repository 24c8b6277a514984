#include "rollout/sampler.h"

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::rollout {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ValidateSamplingParamsTest, NamesTheField) {
  EXPECT_THAT(ValidateSamplingParams({}, "r"), IsOk());
  EXPECT_THAT(
      ValidateSamplingParams({.temperature = 0.0}, "requests[2].sampling"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("requests[2].sampling.temperature must be")));
  EXPECT_THAT(ValidateSamplingParams({.temperature = std::nan("")}, "s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("s.temperature")));
  EXPECT_THAT(ValidateSamplingParams({.top_p = 0.0}, "s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("s.top_p must be in (0, 1], got 0")));
  EXPECT_THAT(ValidateSamplingParams({.top_p = 1.5}, "s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("s.top_p")));
  EXPECT_THAT(ValidateSamplingParams({.top_k = -1}, "s"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("s.top_k must be >= 0, got -1")));
}

TEST(SequenceRngTest, SameSeedAndStreamRepeatDifferentOnesDiffer) {
  SequenceRng a(42, 3), b(42, 3), c(42, 4), d(43, 3);
  std::set<uint64_t> firsts;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    if (i == 0) {
      firsts.insert(x);
      firsts.insert(c.NextU64());
      firsts.insert(d.NextU64());
    }
  }
  EXPECT_EQ(firsts.size(), 3u);
}

TEST(SequenceRngTest, UniformsAreInUnitIntervalWithMeanOneHalf) {
  SequenceRng rng(7, 0);
  const int n = 20000;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.NextUniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Mean of n U[0,1): sd = sqrt(1/12/n) = 0.00204; 5 sd bound.
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12.0 / n));
}

TEST(SampleFromWeightsTest, PlainInverseCdfInIndexOrder) {
  const std::vector<double> w = {1, 2, 3, 4};  // cumulative 0.1, 0.3, 0.6, 1.0
  EXPECT_EQ(SampleFromWeights(w, 0, 1.0, 0.0), 0);
  EXPECT_EQ(SampleFromWeights(w, 0, 1.0, 0.0999), 0);
  EXPECT_EQ(SampleFromWeights(w, 0, 1.0, 0.1001), 1);
  EXPECT_EQ(SampleFromWeights(w, 0, 1.0, 0.5999), 2);
  EXPECT_EQ(SampleFromWeights(w, 0, 1.0, 0.6001), 3);
  EXPECT_EQ(SampleFromWeights(w, 0, 1.0, 0.999999), 3);
  // top_k >= V is off: same as plain.
  EXPECT_EQ(SampleFromWeights(w, 4, 1.0, 0.05), 0);
  // Zero-weight tokens are never drawn.
  EXPECT_EQ(SampleFromWeights({0, 1, 0, 1}, 0, 1.0, 0.0), 1);
  EXPECT_EQ(SampleFromWeights({0, 1, 0, 1}, 0, 1.0, 0.9), 3);
}

TEST(SampleFromWeightsTest, TopKKeepsTheHeaviestInDescendingOrder) {
  const std::vector<double> w = {1, 2, 3, 4};
  // Top-2 = {3 (4/7), 2 (3/7)} in that order.
  EXPECT_EQ(SampleFromWeights(w, 2, 1.0, 0.0), 3);
  EXPECT_EQ(SampleFromWeights(w, 2, 1.0, 4.0 / 7 - 1e-9), 3);
  EXPECT_EQ(SampleFromWeights(w, 2, 1.0, 4.0 / 7 + 1e-9), 2);
  EXPECT_EQ(SampleFromWeights(w, 2, 1.0, 0.999), 2);
  EXPECT_EQ(SampleFromWeights(w, 1, 1.0, 0.999), 3);
  // Ties go to the lower index.
  EXPECT_EQ(SampleFromWeights({5, 5, 5}, 1, 1.0, 0.9), 0);
  EXPECT_EQ(SampleFromWeights({1, 5, 5}, 2, 1.0, 0.4), 1);
  EXPECT_EQ(SampleFromWeights({1, 5, 5}, 2, 1.0, 0.6), 2);
}

TEST(SampleFromWeightsTest, TopPKeepsTheSmallestPrefixReachingP) {
  const std::vector<double> w = {1, 2, 3, 4};  // sorted probs 0.4, 0.3, 0.2, 0.1
  // p = 0.4: the first token alone reaches it.
  EXPECT_EQ(SampleFromWeights(w, 0, 0.4, 0.999), 3);
  // p = 0.5: {3, 2} (0.7); token 2 when u >= 4/7.
  EXPECT_EQ(SampleFromWeights(w, 0, 0.5, 0.5), 3);
  EXPECT_EQ(SampleFromWeights(w, 0, 0.5, 0.6), 2);
  // p = 0.95: all four; order 3, 2, 1, 0 with cumulative 0.4, 0.7, 0.9, 1.0.
  EXPECT_EQ(SampleFromWeights(w, 0, 0.95, 0.85), 1);
  EXPECT_EQ(SampleFromWeights(w, 0, 0.95, 0.95), 0);
  // top-k first (k = 3: 4, 3, 2 of mass 9), then p = 0.75 of that: 4/9 = 0.44, 7/9 = 0.78 -> {3, 2}.
  EXPECT_EQ(SampleFromWeights(w, 3, 0.75, 0.99), 2);
}

TEST(SampleTokenTest, RecordsFullDistributionLogProb) {
  // z = [0, ln 2, ln 3]: softmax = [1/6, 2/6, 3/6].
  const float z[3] = {0.0f, static_cast<float>(std::log(2.0)), static_cast<float>(std::log(3.0))};
  std::vector<double> scratch;
  SequenceRng rng(1, 0);
  auto greedy = SampleToken(z, 3, {.greedy = true}, &rng, &scratch);
  ASSERT_THAT(greedy, IsOk());
  EXPECT_EQ(greedy->token, 2);
  // The fp32 logits carry a rounding of <= 2^-24 relative (|z| < 1.1, so < 7e-8 absolute); the log-prob
  // is exact in float64 otherwise and rounded once to float: 1e-6 covers both.
  EXPECT_NEAR(greedy->logprob, std::log(0.5), 1e-6);
  EXPECT_NEAR(greedy->prob, 0.5, 1e-6);
  // Temperature 2: softmax(z / 2) = sqrt([1, 2, 3]) / (1 + sqrt2 + sqrt3).
  const double norm = 1 + std::sqrt(2.0) + std::sqrt(3.0);
  auto t2 = SampleToken(z, 3, {.temperature = 2.0, .greedy = true}, &rng, &scratch);
  ASSERT_THAT(t2, IsOk());
  EXPECT_NEAR(t2->logprob, std::log(std::sqrt(3.0) / norm), 1e-6);
  // Top-k = 1 sampling still records the full-distribution log-prob, not log(1).
  auto k1 = SampleToken(z, 3, {.top_k = 1}, &rng, &scratch);
  ASSERT_THAT(k1, IsOk());
  EXPECT_EQ(k1->token, 2);
  EXPECT_NEAR(k1->logprob, std::log(0.5), 1e-6);
}

TEST(SampleTokenTest, GreedyConsumesNoRandomnessSamplingConsumesOne) {
  const float z[4] = {0.1f, 0.2f, 0.3f, 0.4f};
  std::vector<double> scratch;
  SequenceRng a(9, 9), b(9, 9);
  ASSERT_THAT(SampleToken(z, 4, {.greedy = true}, &a, &scratch), IsOk());
  EXPECT_EQ(a.NextU64(), b.NextU64());
  ASSERT_THAT(SampleToken(z, 4, {}, &a, &scratch), IsOk());
  b.NextU64();
  EXPECT_EQ(a.NextU64(), b.NextU64());
}

TEST(SampleTokenTest, EmpiricalFrequenciesMatchTheNucleus) {
  // softmax([0, ln2, ln3, ln4]) = [0.1, 0.2, 0.3, 0.4]; top_p = 0.6 keeps {3, 2} -> 4/7, 3/7.
  const float z[4] = {0.0f, static_cast<float>(std::log(2.0)), static_cast<float>(std::log(3.0)),
                      static_cast<float>(std::log(4.0))};
  std::vector<double> scratch;
  SequenceRng rng(123, 0);
  const int n = 20000;
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < n; ++i) {
    auto s = SampleToken(z, 4, {.top_p = 0.6}, &rng, &scratch);
    ASSERT_THAT(s, IsOk());
    ++counts[s->token];
  }
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[1], 0);
  // Binomial sd = sqrt(n p (1-p)) = 70; 5 sd.
  EXPECT_NEAR(counts[3], n * 4.0 / 7, 5 * std::sqrt(n * (4.0 / 7) * (3.0 / 7)));
}

// behaviour_logprob truncated (issue 12 fix 4): the log-prob of the distribution actually sampled.
// softmax([0, ln2, ln3, ln4]) = [0.1, 0.2, 0.3, 0.4] (T = 1). Hand values:
//  top_k 2 keeps {3, 2} (mass 0.7): log(0.4 / 0.7) = log(4/7), log(0.3 / 0.7) = log(3/7);
//  top_p 0.8 keeps {3, 2, 1} (0.4, 0.7, 0.9 >= 0.8; mass 0.9): token 1 -> log(0.2 / 0.9) = log(2/9);
//  T = 2, top_k 1: only token 3 -> log 1 = 0.
TEST(SampleTokenTest, TruncatedBehaviourLogProbIsRenormalisedOverTheKeptSet) {
  const float z[4] = {0.0f, static_cast<float>(std::log(2.0)), static_cast<float>(std::log(3.0)),
                      static_cast<float>(std::log(4.0))};
  std::vector<double> scratch;
  SequenceRng rng(7, 0);
  const double want_k2[4] = {NAN, NAN, std::log(3.0 / 7.0), std::log(4.0 / 7.0)};
  const double want_p08[4] = {NAN, std::log(2.0 / 9.0), std::log(3.0 / 9.0), std::log(4.0 / 9.0)};
  const double full[4] = {std::log(0.1), std::log(0.2), std::log(0.3), std::log(0.4)};
  std::set<int32_t> seen_k2, seen_p08;
  for (int i = 0; i < 200; ++i) {
    auto k2 =
        SampleToken(z, 4, {.top_k = 2, .behaviour_logprob = BehaviourLogprob::kTruncated}, &rng, &scratch);
    ASSERT_THAT(k2, IsOk());
    ASSERT_TRUE(k2->token == 2 || k2->token == 3) << k2->token;
    EXPECT_NEAR(k2->logprob, want_k2[k2->token], 1e-6);
    EXPECT_NEAR(k2->prob, std::exp(want_k2[k2->token]), 1e-6);
    seen_k2.insert(k2->token);
    auto p08 =
        SampleToken(z, 4, {.top_p = 0.8, .behaviour_logprob = BehaviourLogprob::kTruncated}, &rng, &scratch);
    ASSERT_THAT(p08, IsOk());
    ASSERT_NE(p08->token, 0);
    EXPECT_NEAR(p08->logprob, want_p08[p08->token], 1e-6);
    seen_p08.insert(p08->token);
    // The same draw under `full` records the whole distribution's log-prob.
    auto f = SampleToken(z, 4, {.top_p = 0.8}, &rng, &scratch);
    ASSERT_THAT(f, IsOk());
    EXPECT_NEAR(f->logprob, full[f->token], 1e-6);
  }
  EXPECT_EQ(seen_k2.size(), 2u);
  EXPECT_EQ(seen_p08.size(), 3u);
  auto only =
      SampleToken(z, 4, {.temperature = 2.0, .top_k = 1, .behaviour_logprob = BehaviourLogprob::kTruncated},
                  &rng, &scratch);
  ASSERT_THAT(only, IsOk());
  EXPECT_EQ(only->token, 3);
  EXPECT_NEAR(only->logprob, 0.0, 1e-6);
  EXPECT_NEAR(only->prob, 1.0, 1e-6);
}

// Without a filter the two modes agree; greedy records the full log-prob in both.
TEST(SampleTokenTest, TruncatedEqualsFullWithoutTruncationAndForGreedy) {
  const float z[4] = {0.0f, static_cast<float>(std::log(2.0)), static_cast<float>(std::log(3.0)),
                      static_cast<float>(std::log(4.0))};
  std::vector<double> scratch;
  SequenceRng a(11, 3), b(11, 3);
  for (int i = 0; i < 50; ++i) {
    auto t = SampleToken(z, 4, {.behaviour_logprob = BehaviourLogprob::kTruncated}, &a, &scratch);
    auto f = SampleToken(z, 4, {}, &b, &scratch);
    ASSERT_THAT(t, IsOk());
    ASSERT_THAT(f, IsOk());
    EXPECT_EQ(t->token, f->token);
    EXPECT_EQ(t->logprob, f->logprob);
  }
  auto g = SampleToken(z, 4, {.top_k = 2, .greedy = true, .behaviour_logprob = BehaviourLogprob::kTruncated},
                       &a, &scratch);
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(g->token, 3);
  EXPECT_NEAR(g->logprob, std::log(0.4), 1e-6);
}

TEST(SampleFromWeightsTest, ReportsTheKeptMass) {
  const std::vector<double> w = {1, 2, 3, 4};
  double mass = 0;
  SampleFromWeights(w, 0, 1.0, 0.5, &mass);
  EXPECT_EQ(mass, 10.0);
  SampleFromWeights(w, 2, 1.0, 0.5, &mass);
  EXPECT_EQ(mass, 7.0);
  SampleFromWeights(w, 0, 0.8, 0.5, &mass);  // 4, 7, 9 >= 8
  EXPECT_EQ(mass, 9.0);
}

TEST(SampleTokenTest, NonFiniteLogitsAreInternalErrors) {
  std::vector<double> scratch;
  SequenceRng rng(1, 1);
  const float nan_row[2] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_THAT(SampleToken(nan_row, 2, {}, &rng, &scratch),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("logit 1 is")));
  const float inf = std::numeric_limits<float>::infinity();
  const float all_neg_inf[2] = {-inf, -inf};
  EXPECT_THAT(SampleToken(all_neg_inf, 2, {}, &rng, &scratch),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("all logits are -inf")));
  // -inf entries are allowed (masked tokens) and never drawn.
  const float masked[3] = {-inf, 0.0f, -inf};
  for (int i = 0; i < 10; ++i) {
    auto s = SampleToken(masked, 3, {}, &rng, &scratch);
    ASSERT_THAT(s, IsOk());
    EXPECT_EQ(s->token, 1);
    EXPECT_EQ(s->logprob, 0.0f);
  }
}

}  // namespace
}  // namespace m1rl::rollout
