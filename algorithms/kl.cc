#include "algorithms/kl.h"

#include <ATen/TensorOperators.h>

namespace m1rl::algorithms {

at::Tensor KlPerToken(KlEstimator estimator, const at::Tensor& logprobs, const at::Tensor& ref_logprobs) {
  TORCH_CHECK(estimator != KlEstimator::kNone, "KlPerToken: expected an estimator, got none");
  TORCH_CHECK(logprobs.sizes() == ref_logprobs.sizes(), "KlPerToken: expected ref_logprobs of shape ",
              logprobs.sizes(), ", got ", ref_logprobs.sizes());
  TORCH_CHECK(logprobs.scalar_type() == ref_logprobs.scalar_type(),
              "KlPerToken: expected ref_logprobs dtype ", logprobs.scalar_type(), ", got ",
              ref_logprobs.scalar_type());
  const at::Tensor delta = logprobs - ref_logprobs.detach();
  switch (estimator) {
    case KlEstimator::kK1:
      return delta;
    case KlEstimator::kK2:
      return delta * delta * 0.5;
    case KlEstimator::kK3:
      // expm1 keeps k3 accurate for small |delta| (exp(-d) - 1 cancels); k3 = expm1(-d) + d.
      return (-delta).expm1() + delta;
    case KlEstimator::kNone:
      break;
  }
  TORCH_INTERNAL_ASSERT(false, "unreachable");
}

}  // namespace m1rl::algorithms
