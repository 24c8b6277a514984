// Train/inference mismatch statistics from log-prob tensors (ALGORITHMS.md §3 "FP32 LM head", §9).
#ifndef M1RL_ALGORITHMS_MISMATCH_H_
#define M1RL_ALGORITHMS_MISMATCH_H_

#include <ATen/core/Tensor.h>

#include "algorithms/metrics.h"

namespace m1rl::algorithms {

// Sums for Pearson(p_old, p_roll), mean |l_old - l_roll|, RMS(l_old - l_roll), mean k3
// (delta = l_roll - l_old) and the mean entropy over v = 1 positions; v = 0 positions are selected away
// (their values may be garbage).
//   old_logprobs:     [N] fp32|fp64, l_old (trainer's recompute under theta_old, before the first update)
//   rollout_logprobs: [N] same dtype/device, l_roll (the rollout engine's values)
//   mask:             [N] bool, v
//   entropy:          [N] same dtype/device, the trainer's per-token entropy, or undefined (no entropy)
// No gradient flows (inputs are detached). One device sync. TORCH_CHECK on shape/dtype errors.
MismatchStats ComputeMismatchStats(const at::Tensor& old_logprobs, const at::Tensor& rollout_logprobs,
                                   const at::Tensor& mask, const at::Tensor& entropy = at::Tensor());

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_MISMATCH_H_
