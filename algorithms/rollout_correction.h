// Rollout/trainer mismatch correction (three-policy bookkeeping; ALGORITHMS.md §3): the rollout engine's
// behaviour log-probs l_roll, the trainer's recomputed old log-probs l_old and the current l are kept
// distinct. The policy ratio r = pi / pi_old drives CISPO/GRPO/DAPO as before; this module turns
// rho = pi_old / pi_roll = exp(l_old - l_roll) into a per-token factor f that ComputePolicyLoss multiplies
// into the detached weight (PolicyLossInputs::rollout_weight):
//   none:   f = 1
//   tis:    f = min(rho, C)                          (truncated IS; verl rollout_correction "token" TIS)
//   icepop: f = 1 if 1/k <= rho <= k, else 0          (IcePop: drop tokens whose engines disagree)
// f is exactly 0 where v = 0 (select, never multiply). Dropped tokens still count in the normaliser's
// N_tok (counts come from the masks before the first forward, ALGORITHMS.md §2.5).
// With algorithm.ratio_denominator rollout (l_old := l_roll) rho is 1 and every mode is the identity.
#ifndef M1RL_ALGORITHMS_ROLLOUT_CORRECTION_H_
#define M1RL_ALGORITHMS_ROLLOUT_CORRECTION_H_

#include <ATen/core/Tensor.h>

#include "algorithms/metrics.h"
#include "algorithms/params.h"

namespace m1rl::algorithms {

struct RolloutCorrectionResult {
  at::Tensor weight;             // [N] detached factor f, dtype of old_logprobs; 0 where v = 0
  RolloutCorrectionStats stats;  // reducible sums over v = 1 tokens
};

// REQUIRES: old_logprobs, rollout_logprobs [N] fp32|fp64, same dtype and device; mask [N] bool.
// log(rho) is clamped to [-params.log_ratio_clamp, +params.log_ratio_clamp] before exp. No gradient flows.
// One device sync (the stats). TORCH_CHECK on bad tensors (caller bug).
RolloutCorrectionResult ComputeRolloutCorrection(const RolloutCorrectionParams& params,
                                                 const at::Tensor& old_logprobs,      // [N] l_old
                                                 const at::Tensor& rollout_logprobs,  // [N] l_roll
                                                 const at::Tensor& mask);             // [N] bool, v

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_ROLLOUT_CORRECTION_H_
