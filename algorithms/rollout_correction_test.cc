// Tests for algorithms/rollout_correction.h and its composition with ComputePolicyLoss: hand values in
// float64 for none / tis / icepop (rho = pi_old / pi_roll), garbage at v = 0 never leaks, and the CISPO
// per-token gradient with an IcePop factor equals -c * min(r, cap) * f * A by hand.
#include "algorithms/rollout_correction.h"

#include <cmath>
#include <limits>
#include <vector>

#include "algorithms/internal/test_util.h"
#include "algorithms/policy_loss.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using testing::BoolVec;
using testing::ToVector;
using testing::Vec;

// rho = {1, 3, 0.25, 1.5} on kept tokens; the fifth position is masked and holds garbage.
const std::vector<double> kRho = {1.0, 3.0, 0.25, 1.5};

struct Inputs {
  at::Tensor l_old, l_roll, mask;
};

Inputs MakeInputs() {
  std::vector<double> l_roll = {-1.0, -2.0, -0.5, -3.0, std::nan("")};
  std::vector<double> l_old;
  for (size_t i = 0; i < kRho.size(); ++i) l_old.push_back(l_roll[i] + std::log(kRho[i]));
  l_old.push_back(std::numeric_limits<double>::infinity());
  return {Vec(l_old), Vec(l_roll), BoolVec({1, 1, 1, 1, 0})};
}

void ExpectVec(const at::Tensor& got, const std::vector<double>& want) {
  const std::vector<double> g = ToVector(got);
  ASSERT_EQ(g.size(), want.size());
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], 1e-12) << i;
}

TEST(RolloutCorrectionTest, HandValuesPerMode) {
  const Inputs in = MakeInputs();
  RolloutCorrectionParams p;
  p.kind = RolloutCorrection::kNone;
  RolloutCorrectionResult r = ComputeRolloutCorrection(p, in.l_old, in.l_roll, in.mask);
  ExpectVec(r.weight, {1, 1, 1, 1, 0});
  EXPECT_EQ(r.stats.num_corrected, 0);

  p.kind = RolloutCorrection::kTis;
  p.tis_cap = 2.0;
  r = ComputeRolloutCorrection(p, in.l_old, in.l_roll, in.mask);
  ExpectVec(r.weight, {1, 2, 0.25, 1.5, 0});  // min(rho, 2)
  RolloutCorrectionMetrics m = r.stats.Finalize();
  EXPECT_EQ(m.num_tokens, 4);
  EXPECT_NEAR(m.rho_mean, (1 + 3 + 0.25 + 1.5) / 4, 1e-12);
  EXPECT_NEAR(m.weight_mean, (1 + 2 + 0.25 + 1.5) / 4, 1e-12);
  EXPECT_NEAR(m.corrected_frac, 1.0 / 4, 1e-15);  // rho = 3 truncated

  p.kind = RolloutCorrection::kIcePop;
  p.icepop_k = 2.0;  // keep rho in [0.5, 2]
  r = ComputeRolloutCorrection(p, in.l_old, in.l_roll, in.mask);
  ExpectVec(r.weight, {1, 0, 0, 1, 0});
  m = r.stats.Finalize();
  EXPECT_NEAR(m.corrected_frac, 2.0 / 4, 1e-15);  // rho = 3 and 0.25 dropped
  EXPECT_NEAR(m.weight_mean, 0.5, 1e-15);
  EXPECT_EQ(m.ToMap().at("rollout_correction/corrected_frac"), 0.5);

  // Boundaries are inclusive: rho = k and rho = 1/k are kept.
  r = ComputeRolloutCorrection(p, Vec({std::log(2.0), std::log(0.5)}), Vec({0.0, 0.0}), BoolVec({1, 1}));
  ExpectVec(r.weight, {1, 1});

  // Micro-batches accumulate to the one-batch sums.
  RolloutCorrectionStats a = ComputeRolloutCorrection(p, in.l_old.narrow(0, 0, 2), in.l_roll.narrow(0, 0, 2),
                                                      in.mask.narrow(0, 0, 2))
                                 .stats;
  a.Accumulate(ComputeRolloutCorrection(p, in.l_old.narrow(0, 2, 3), in.l_roll.narrow(0, 2, 3),
                                        in.mask.narrow(0, 2, 3))
                   .stats);
  const RolloutCorrectionStats whole = ComputeRolloutCorrection(p, in.l_old, in.l_roll, in.mask).stats;
  for (int i = 0; i < RolloutCorrectionStats::kNumSums; ++i) EXPECT_NEAR(a.Sums()[i], whole.Sums()[i], 1e-15);

  EXPECT_THROW(ComputeRolloutCorrection(p, in.l_old, in.l_roll.narrow(0, 0, 2), in.mask), c10::Error);
}

// CISPO (cap 5) with an IcePop factor: r = {1, 1, 6, 0.5}, A = {1, -1, 1, 2}, c = 1/4, f = {1, 0, 0, 1}
// => w = min(r, 5) * f = {1, 0, 0, 0.5}, dL/dl = -c w A = {-0.25, 0, 0, -0.25}; the masked fifth
// position carries inf / NaN everywhere and gets gradient exactly 0.
TEST(RolloutCorrectionTest, ComposesWithCispoByHand) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> l_old = {-1.0, -2.0, -3.0, -0.5, inf};
  const std::vector<double> r = {1.0, 1.0, 6.0, 0.5};
  std::vector<double> l;
  for (size_t i = 0; i < r.size(); ++i) l.push_back(l_old[i] + std::log(r[i]));
  l.push_back(-inf);
  PolicyLossInputs in;
  in.logprobs = Vec(l).requires_grad_(true);
  in.old_logprobs = Vec(l_old);
  in.advantages = Vec({1, -1, 1, 2, std::nan("")});
  in.mask = BoolVec({1, 1, 1, 1, 0});
  in.coef = Vec({0.25, 0.25, 0.25, 0.25, inf});
  in.rollout_weight = Vec({1, 0, 0, 1, std::nan("")});
  PolicyLossParams p;
  p.is_enabled = true;
  p.is_high = 5.0;
  const PolicyLossResult out = ComputePolicyLoss(p, in);
  ExpectVec(out.weight, {1, 0, 0, 0.5, 0});
  out.loss.backward();
  ExpectVec(in.logprobs.grad(), {-0.25, 0, 0, -0.25, 0});
  // Without a factor the same inputs give w = min(r, 5) = {1, 1, 5, 0.5}.
  PolicyLossInputs plain = in;
  plain.logprobs = Vec(l).requires_grad_(true);
  plain.rollout_weight = at::Tensor();
  ExpectVec(ComputePolicyLoss(p, plain).weight, {1, 1, 5, 0.5, 0});
  // A factor of the wrong shape is a caller bug.
  plain.rollout_weight = Vec({1, 1});
  EXPECT_THROW(ComputePolicyLoss(p, plain), c10::Error);
}

}  // namespace
}  // namespace m1rl::algorithms
