// CUDA tests for algorithms/policy_loss.h and algorithms/loss_agg.h: the same code path on CUDA tensors
// equals the CPU reference (ALGORITHMS.md §2, §2.5, §9; STYLE S26). Skipped without a CUDA device.
// Fixture: 37 positions (a prime), 5 sequences of mixed length in 3 groups, 6 positions with v = 0
// holding NaN/inf garbage, ratios spread over [0.05, 20] so every clip cell is hit; presets grpo (with
// reference log-probs), dapo and cispo.
#include <ATen/Context.h>
#include <ATen/TensorOperators.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "algorithms/algorithm_config.h"
#include "algorithms/internal/test_util.h"
#include "algorithms/loss_agg.h"
#include "algorithms/policy_loss.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::algorithms {
namespace {

using testing::BoolVec;
using testing::LongVec;
using testing::ToVector;
using testing::Vec;

struct Fixture {
  std::vector<double> l, old, ref, adv;
  std::vector<int64_t> mask, seq, grp;
};

Fixture Make() {
  const std::vector<int> lens = {9, 4, 11, 6, 7};
  const std::vector<int> groups = {0, 0, 1, 1, 2};
  const std::vector<double> seq_adv = {1.3, -0.7, 0.4, -2.1, 0.9};
  Fixture f;
  int i = 0;
  for (int s = 0; s < 5; ++s) {
    for (int k = 0; k < lens[s]; ++k, ++i) {
      const double old = -0.3 - 0.07 * i;
      const double log_r = 3.0 * std::sin(1.7 * i);  // r in [0.05, 20]
      const bool masked = (i % 6 == 5);
      f.old.push_back(masked ? std::numeric_limits<double>::infinity() : old);
      f.l.push_back(masked ? std::nan("") : old + log_r);
      f.ref.push_back(old + 0.2 * std::cos(i));
      f.adv.push_back(masked ? 1e30 : seq_adv[s]);
      f.mask.push_back(masked ? 0 : 1);
      f.seq.push_back(s);
      f.grp.push_back(groups[s]);
    }
  }
  return f;
}

struct Out {
  std::vector<double> grad, coef;
  double loss = 0;
  PolicyStats stats;
};

Out RunOn(const ResolvedAlgorithm& alg, const Fixture& f, at::Device device, c10::ScalarType dtype) {
  const at::Tensor mask = BoolVec(f.mask).to(device), seq = LongVec(f.seq).to(device),
                   grp = LongVec(f.grp).to(device);
  const TokenCounts counts = CountLossTokens(mask, seq, grp, 5, 3);
  const at::Tensor coef = LossCoefficients(alg.loss_agg, mask, seq, grp, counts, 64, dtype);
  at::Tensor l = Vec(f.l, dtype).to(device).requires_grad_(true);
  PolicyLossInputs in{l,
                      Vec(f.old, dtype).to(device),
                      Vec(f.adv, dtype).to(device),
                      mask,
                      coef,
                      alg.needs_reference_model() ? Vec(f.ref, dtype).to(device) : at::Tensor(),
                      at::Tensor()};
  const PolicyLossResult r = ComputePolicyLoss(alg.policy_loss, in);
  r.loss.backward();
  return {ToVector(l.grad()), ToVector(coef), r.loss.item<double>(), r.stats};
}

TEST(PolicyLossCudaTest, MatchesCpuForEveryPreset) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const Fixture f = Make();
  for (const std::string name : {"grpo", "dapo", "cispo"}) {
    SCOPED_TRACE(name);
    auto alg = ResolvePreset(name, /*max_new_tokens=*/20480,
                             name == "cispo" ? std::optional<double>(4.0) : std::nullopt);
    ASSERT_TRUE(alg.ok()) << alg.status();
    for (c10::ScalarType dtype : {at::kDouble, at::kFloat}) {
      const Out cpu = RunOn(*alg, f, at::Device(at::kCPU), dtype);
      const Out gpu = RunOn(*alg, f, at::Device(at::kCUDA), dtype);
      // Element-wise ops are correctly rounded on both devices except exp/expm1 (a few ulp on CUDA). The
      // gradient -c w A + beta c (1 - e^-d) is a sum of terms of size <= c (|A| w + 1) with w <= 20, so the
      // bound is 8 ulp of that size (the KL part cancels for small d); the loss sums 31 terms in another
      // order.
      const double eps = dtype == at::kDouble ? std::numeric_limits<double>::epsilon()
                                              : std::numeric_limits<float>::epsilon();
      for (size_t i = 0; i < cpu.grad.size(); ++i) {
        const double scale = std::abs(cpu.coef[i]) * (std::abs(f.mask[i] ? f.adv[i] : 0.0) * 20 + 1);
        EXPECT_NEAR(gpu.grad[i], cpu.grad[i], 8 * eps * scale) << i;
        EXPECT_EQ(gpu.coef[i], cpu.coef[i]) << i;
        if (f.mask[i] == 0) {
          EXPECT_EQ(gpu.grad[i], 0.0) << i;
        }
      }
      EXPECT_NEAR(gpu.loss, cpu.loss, 64 * eps * std::max(1.0, std::abs(cpu.loss)));
      EXPECT_EQ(gpu.stats.num_tokens, cpu.stats.num_tokens);
      EXPECT_EQ(gpu.stats.tr_masked, cpu.stats.tr_masked);
      EXPECT_EQ(gpu.stats.tr_above_pos, cpu.stats.tr_above_pos);
      EXPECT_EQ(gpu.stats.tr_below_neg, cpu.stats.tr_below_neg);
      EXPECT_EQ(gpu.stats.is_clip_high, cpu.stats.is_clip_high);
      EXPECT_NEAR(gpu.stats.ratio_max, cpu.stats.ratio_max, 8 * eps * cpu.stats.ratio_max);
    }
  }
}

}  // namespace
}  // namespace m1rl::algorithms
