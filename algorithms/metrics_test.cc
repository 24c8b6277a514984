// Tests for algorithms/metrics.h.
// Covers ALGORITHMS.md §9 reduction protocol: sums add, ratio extremes min/max, Sums()/SetSums() round-trip
// (the all-reduce buffer), Finalize() fractions by hand, and that two micro-batches accumulated give the
// same metrics as one (V4 for metrics).
#include "algorithms/metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

PolicyStats Example(double scale) {
  PolicyStats s;
  s.num_positions = 10 * scale;
  s.num_tokens = 8 * scale;
  s.num_log_ratio_clamped = 1;
  s.ratio_sum = 8.8 * scale;
  s.is_clip_high = 2 * scale;
  s.is_clip_low = 1 * scale;
  s.tr_above_pos = 1;
  s.tr_above_neg = 2;
  s.tr_below_pos = 3;
  s.tr_below_neg = 1;
  s.tr_masked = 2;
  s.abs_advantage_sum = 4 * scale;
  s.entropy_sum = 2;
  s.entropy_count = 8 * scale;
  s.ratio_min = 0.5 / scale;
  s.ratio_max = 2 * scale;
  return s;
}

TEST(MetricsTest, AccumulateAndFinalize) {
  PolicyStats a = Example(1);
  a.Accumulate(Example(2));
  EXPECT_EQ(a.num_positions, 30);
  EXPECT_EQ(a.num_tokens, 24);
  EXPECT_EQ(a.ratio_min, 0.25);
  EXPECT_EQ(a.ratio_max, 4);
  const PolicyMetrics m = a.Finalize();
  EXPECT_EQ(m.num_tokens, 24);
  EXPECT_DOUBLE_EQ(m.masked_fraction, 6.0 / 30);
  EXPECT_DOUBLE_EQ(m.ratio_mean, 26.4 / 24);
  EXPECT_DOUBLE_EQ(m.is_clip_high_frac, 6.0 / 24);
  EXPECT_DOUBLE_EQ(m.is_clip_low_frac, 3.0 / 24);
  EXPECT_DOUBLE_EQ(m.tr_above_pos_frac, 2.0 / 24);
  EXPECT_DOUBLE_EQ(m.tr_above_neg_frac, 4.0 / 24);
  EXPECT_DOUBLE_EQ(m.tr_below_pos_frac, 6.0 / 24);
  EXPECT_DOUBLE_EQ(m.tr_below_neg_frac, 2.0 / 24);
  EXPECT_DOUBLE_EQ(m.tr_masked_frac, 4.0 / 24);
  EXPECT_EQ(m.log_ratio_clamped, 2);
  EXPECT_DOUBLE_EQ(*m.entropy_mean, 4.0 / 24);
  EXPECT_FALSE(m.k1_mean.has_value());
  const auto map = m.ToMap();
  EXPECT_DOUBLE_EQ(map.at("policy/is_clip_high_frac"), 6.0 / 24);
  EXPECT_EQ(map.count("policy/kl_k3_mean"), 0u);
  EXPECT_EQ(map.count("policy/entropy_mean"), 1u);
}

TEST(MetricsTest, SumsRoundTripCoversEveryField) {
  const PolicyStats a = Example(1);
  PolicyStats b;
  b.SetSums(a.Sums());
  b.ratio_min = a.ratio_min;
  b.ratio_max = a.ratio_max;
  EXPECT_EQ(b.Sums(), a.Sums());
  // Every SUM field is in the buffer: doubling the buffer doubles every count.
  std::array<double, PolicyStats::kNumSums> twice = a.Sums();
  for (double& v : twice) v *= 2;
  b.SetSums(twice);
  EXPECT_EQ(b.num_positions, 20);
  EXPECT_EQ(b.kl_count, 0);
  EXPECT_EQ(b.entropy_count, 16);
  EXPECT_EQ(b.tr_masked, 4);
}

TEST(MetricsTest, EmptyStatsFinalizeToZeros) {
  const PolicyMetrics m = PolicyStats().Finalize();
  EXPECT_EQ(m.num_tokens, 0);
  EXPECT_EQ(m.ratio_min, 0);
  EXPECT_EQ(m.ratio_max, 0);
  EXPECT_FALSE(m.entropy_mean.has_value());
}

}  // namespace
}  // namespace m1rl::algorithms
