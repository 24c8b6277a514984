// The unified per-token policy loss (ALGORITHMS.md §2, M1 Eq. 6-7): the only code path for cispo, grpo,
// dapo and reinforce.
//
//   r   = exp(clamp(l - l_old, -C, C))                       (C = log_ratio_clamp, clamps counted)
//   r^  = clip(r, lo_IS, hi_IS) if the IS band is on, else r
//   M   = 0 if (A > 0 and r > 1+eps_TR_high) or (A < 0 and r < 1-eps_TR_low) (strict; TR on), else 1
//   w   = sg(M * r^ * f)                                      (f = rollout_weight, 1 when not given)
//   L   = -sum_t c_t * w_t * A_t * l_t  + beta * sum_t c_t * k_t(l_t - l_ref_t)
// so the per-token gradient is dL/dl_t = -c_t w_t A_t (+ beta c_t dk/dl). Positions with v = 0 are
// removed by select (never by multiplying with 0): any value there (inf, NaN, 1e30) in l, l_old, A, c,
// l_ref leaves loss and all gradients unchanged, and dL/dl is exactly 0 there.
//
// The IS band and the trust-region band are separate parameters ([m1rl], §2): PPO/GRPO clipping is exact
// with the IS band off and TR on; CISPO is the IS band on and TR off.
#ifndef M1RL_ALGORITHMS_POLICY_LOSS_H_
#define M1RL_ALGORITHMS_POLICY_LOSS_H_

#include <ATen/core/Tensor.h>

#include "algorithms/kl.h"
#include "algorithms/metrics.h"
#include "algorithms/params.h"  // PolicyLossParams

namespace m1rl::algorithms {

// Flat packed per-token inputs of one micro-batch. All float tensors share one dtype (fp32 in training,
// fp64 in tests) and device.
struct PolicyLossInputs {
  at::Tensor logprobs;        // [N] fp32|fp64, l (trainer FP32 log-probs; carries the gradient)
  at::Tensor old_logprobs;    // [N] l_old (detached here: no gradient ever reaches it)
  at::Tensor advantages;      // [N] A, broadcast from the sequence's advantage
  at::Tensor mask;            // [N] bool, v
  at::Tensor coef;            // [N] c from LossCoefficients (global counts)
  at::Tensor ref_logprobs;    // [N] l_ref, or undefined. Required iff params.kl != kNone; when given with
                              // kNone it only feeds the k1/k3 metrics.
  at::Tensor entropy;         // [N] per-token entropy (no grad), or undefined; metrics only
  at::Tensor rollout_weight;  // [N] rollout/trainer correction factor (ComputeRolloutCorrection: TIS weight
                              // or IcePop 0/1 mask), or undefined (factor 1). Multiplies w: w = sg(M r^ f).
};

struct PolicyLossResult {
  at::Tensor loss;        // [] same dtype as logprobs: the micro-batch SUM (backward this)
  at::Tensor weight;      // [N] detached w = M * r^ * f, exactly 0 where v = 0
  at::Tensor trust_mask;  // [N] bool M (false where v = 0)
  at::Tensor ratio;       // [N] detached r (1 where v = 0)
  PolicyStats stats;      // reducible metric sums of this micro-batch
};

// Computes the loss of one micro-batch. Bad tensor input (shapes, dtypes, missing ref/IS cap) throws
// c10::Error via TORCH_CHECK (S15); the trainer catches it at its step boundary (S16).
// Syncs the device once (the stats are read in one transfer).
PolicyLossResult ComputePolicyLoss(const PolicyLossParams& params, const PolicyLossInputs& inputs);

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_POLICY_LOSS_H_
