// KL estimators against a reference policy (ALGORITHMS.md §5; GRPO arm only). With delta = l - l_ref
// (samples from pi_old ~ pi_theta):
//   k1 = delta                      dk/dl = 1            (zero expected gradient; metric)
//   k2 = delta^2 / 2                dk/dl = delta        (on-policy gradient of KL(pi_theta || pi_ref))
//   k3 = exp(-delta) - 1 + delta    dk/dl = 1 - exp(-delta)  (>= 0; GRPO's; gradient of KL(pi_ref ||
//   pi_theta))
// The policy loss adds + beta * sum c * k with the policy term's coefficient c.
#ifndef M1RL_ALGORITHMS_KL_H_
#define M1RL_ALGORITHMS_KL_H_

#include <ATen/core/Tensor.h>

#include "algorithms/params.h"  // KlEstimator, KlEstimatorName

namespace m1rl::algorithms {

// Per-token estimate, differentiable in `logprobs` (not in `ref_logprobs`, which is detached).
//   logprobs:     [N] fp32|fp64, l
//   ref_logprobs: [N] same dtype and device, l_ref
// Returns [N] same dtype. REQUIRES: estimator != kNone, equal shapes/dtypes (TORCH_CHECK).
// Callers mask positions themselves (ComputePolicyLoss passes 0 for both at v = 0 positions).
at::Tensor KlPerToken(KlEstimator estimator, const at::Tensor& logprobs, const at::Tensor& ref_logprobs);

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_KL_H_
