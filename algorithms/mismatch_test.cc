// Tests for algorithms/mismatch.h and MismatchStats (metrics.h).
// Covers ALGORITHMS.md §9 mismatch metrics: Pearson(p_old, p_roll), mean |l_old - l_roll|, RMS log-ratio,
// mean k3, mean entropy, with
// expected values from the formulas in float64 (two-pass Pearson, independent of the one-pass sums);
// v = 0 garbage ignored; accumulation over micro-batches equals one batch.
#include "algorithms/mismatch.h"

#include <cmath>
#include <limits>
#include <vector>

#include "algorithms/internal/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using testing::BoolVec;
using testing::Vec;

const std::vector<double> kPOld = {0.5, 0.25, 0.9, 0.05};
const std::vector<double> kPRoll = {0.4, 0.3, 0.9, 0.07};

std::vector<double> Log(const std::vector<double>& p) {
  std::vector<double> out;
  out.reserve(p.size());
  for (double v : p) out.push_back(std::log(v));
  return out;
}

TEST(MismatchTest, ValuesFromTheFormulas) {
  // Two-pass Pearson in float64.
  const double n = 4;
  double mx = 0, my = 0;
  for (int i = 0; i < 4; ++i) {
    mx += kPOld[i] / n;
    my += kPRoll[i] / n;
  }
  double cxy = 0, cxx = 0, cyy = 0, abs_diff = 0, k3 = 0, sq = 0;
  for (int i = 0; i < 4; ++i) {
    cxy += (kPOld[i] - mx) * (kPRoll[i] - my);
    cxx += (kPOld[i] - mx) * (kPOld[i] - mx);
    cyy += (kPRoll[i] - my) * (kPRoll[i] - my);
    abs_diff += std::abs(std::log(kPOld[i] / kPRoll[i]));
    sq += std::log(kPOld[i] / kPRoll[i]) * std::log(kPOld[i] / kPRoll[i]);
    const double ratio = kPOld[i] / kPRoll[i];  // k3 of KL(pi_roll || pi_old) = ratio - 1 - log ratio
    k3 += ratio - 1 - std::log(ratio);
  }
  // Append a masked position full of garbage.
  std::vector<double> lo = Log(kPOld), lr = Log(kPRoll);
  lo.push_back(std::nan(""));
  lr.push_back(std::numeric_limits<double>::infinity());
  const MismatchStats s = ComputeMismatchStats(Vec(lo), Vec(lr), BoolVec({1, 1, 1, 1, 0}));
  const MismatchMetrics m = s.Finalize();
  EXPECT_EQ(m.num_tokens, 4);
  EXPECT_NEAR(m.pearson, cxy / std::sqrt(cxx * cyy), 1e-12);
  EXPECT_NEAR(m.mean_abs_logprob_diff, abs_diff / 4, 1e-12);
  EXPECT_NEAR(m.mean_k3, k3 / 4, 1e-12);
  EXPECT_NEAR(m.rms_log_ratio, std::sqrt(sq / 4), 1e-12);
  EXPECT_EQ(m.ToMap().at("mismatch/num_tokens"), 4);

  // Two micro-batches accumulate to the same sums (integer-exact count, float sums to 1e-15).
  MismatchStats a = ComputeMismatchStats(Vec({lo[0], lo[1]}), Vec({lr[0], lr[1]}), BoolVec({1, 1}));
  a.Accumulate(ComputeMismatchStats(Vec({lo[2], lo[3]}), Vec({lr[2], lr[3]}), BoolVec({1, 1})));
  for (int i = 0; i < MismatchStats::kNumSums; ++i) EXPECT_NEAR(a.Sums()[i], s.Sums()[i], 1e-15) << i;
}

// Hand values: log-ratios l_old - l_roll = 0.1, -0.2, 0 on the kept tokens, so RMS = sqrt(0.05 / 3); the
// fourth position is masked and holds garbage in every input. Mean entropy (1 + 2 + 4) / 3.
TEST(MismatchTest, RmsLogRatioAndEntropyHandValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const MismatchStats s = ComputeMismatchStats(Vec({-1.0, -2.0, -0.5, inf}), Vec({-1.1, -1.8, -0.5, -inf}),
                                               BoolVec({1, 1, 1, 0}), Vec({1.0, 2.0, 4.0, std::nan("")}));
  const MismatchMetrics m = s.Finalize();
  EXPECT_EQ(m.num_tokens, 3);
  EXPECT_NEAR(m.rms_log_ratio, std::sqrt(0.05 / 3.0), 1e-12);
  ASSERT_TRUE(m.mean_entropy.has_value());
  EXPECT_NEAR(*m.mean_entropy, 7.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.ToMap().at("mismatch/rms_log_ratio"), std::sqrt(0.05 / 3.0), 1e-12);
  EXPECT_NEAR(m.ToMap().at("mismatch/mean_entropy"), 7.0 / 3.0, 1e-12);
  // Without entropy there is no entropy metric.
  const MismatchMetrics no_ent = ComputeMismatchStats(Vec({-1.0}), Vec({-1.5}), BoolVec({1})).Finalize();
  EXPECT_FALSE(no_ent.mean_entropy.has_value());
  EXPECT_EQ(no_ent.ToMap().count("mismatch/mean_entropy"), 0u);
  EXPECT_NEAR(no_ent.rms_log_ratio, 0.5, 1e-15);
}

TEST(MismatchTest, IdenticalSidesAndDegenerateCases) {
  const MismatchMetrics same =
      ComputeMismatchStats(Vec(Log(kPOld)), Vec(Log(kPOld)), BoolVec({1, 1, 1, 1})).Finalize();
  EXPECT_NEAR(same.pearson, 1.0, 1e-12);
  EXPECT_EQ(same.mean_abs_logprob_diff, 0.0);
  EXPECT_EQ(same.mean_k3, 0.0);
  EXPECT_EQ(same.rms_log_ratio, 0.0);
  const MismatchMetrics none = ComputeMismatchStats(Vec({-1.0}), Vec({-2.0}), BoolVec({0})).Finalize();
  EXPECT_EQ(none.num_tokens, 0);
  EXPECT_EQ(none.pearson, 0.0);
  EXPECT_THROW(ComputeMismatchStats(Vec({-1.0}), Vec({-1.0, -2.0}), BoolVec({1})), c10::Error);
}

}  // namespace
}  // namespace m1rl::algorithms
