#include "algorithms/mismatch.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>

#include <array>
#include <vector>

#include "algorithms/kl.h"

namespace m1rl::algorithms {

MismatchStats ComputeMismatchStats(const at::Tensor& old_logprobs, const at::Tensor& rollout_logprobs,
                                   const at::Tensor& mask, const at::Tensor& entropy) {
  TORCH_CHECK(old_logprobs.dim() == 1, "ComputeMismatchStats: expected old_logprobs [N], got ",
              old_logprobs.sizes());
  TORCH_CHECK(old_logprobs.scalar_type() == at::kFloat || old_logprobs.scalar_type() == at::kDouble,
              "ComputeMismatchStats: expected float32|float64, got ", old_logprobs.scalar_type());
  TORCH_CHECK(rollout_logprobs.sizes() == old_logprobs.sizes() &&
                  rollout_logprobs.scalar_type() == old_logprobs.scalar_type(),
              "ComputeMismatchStats: expected rollout_logprobs like old_logprobs, got ",
              rollout_logprobs.sizes(), " ", rollout_logprobs.scalar_type());
  TORCH_CHECK(mask.sizes() == old_logprobs.sizes() && mask.scalar_type() == at::kBool,
              "ComputeMismatchStats: expected mask [N] bool");
  TORCH_CHECK(!entropy.defined() || (entropy.sizes() == old_logprobs.sizes() &&
                                     entropy.scalar_type() == old_logprobs.scalar_type()),
              "ComputeMismatchStats: expected entropy like old_logprobs or undefined");
  // Select, never multiply: v = 0 positions become l = 0 on both sides (p = 1, zero difference), and are
  // removed from the p sums below by a second select.
  const at::Tensor zeros = at::zeros_like(old_logprobs);
  const at::Tensor l_old = at::where(mask, old_logprobs.detach(), zeros);
  const at::Tensor l_roll = at::where(mask, rollout_logprobs.detach(), zeros);
  const at::Tensor x = at::where(mask, l_old.exp(), zeros);
  const at::Tensor y = at::where(mask, l_roll.exp(), zeros);
  const std::vector<at::Tensor> parts = {
      mask.sum().to(old_logprobs.scalar_type()),
      x.sum(),
      y.sum(),
      (x * x).sum(),
      (y * y).sum(),
      (x * y).sum(),
      (l_old - l_roll).abs().sum(),
      KlPerToken(KlEstimator::kK3, l_roll, l_old).sum(),
      (l_old - l_roll).square().sum(),
      entropy.defined() ? at::where(mask, entropy.detach(), zeros).sum() : zeros.sum(),
      entropy.defined() ? mask.sum().to(old_logprobs.scalar_type()) : zeros.sum(),
  };
  const at::Tensor host = at::stack(parts).to(at::kDouble).cpu().contiguous();
  std::array<double, MismatchStats::kNumSums> sums{};
  for (int i = 0; i < MismatchStats::kNumSums; ++i) sums[i] = host.data_ptr<double>()[i];
  MismatchStats out;
  out.SetSums(sums);
  return out;
}

}  // namespace m1rl::algorithms
