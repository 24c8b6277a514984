#include "algorithms/rollout_correction.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>

#include <array>
#include <vector>

namespace m1rl::algorithms {

RolloutCorrectionResult ComputeRolloutCorrection(const RolloutCorrectionParams& params,
                                                 const at::Tensor& old_logprobs,
                                                 const at::Tensor& rollout_logprobs, const at::Tensor& mask) {
  TORCH_CHECK(old_logprobs.defined() && old_logprobs.dim() == 1,
              "ComputeRolloutCorrection: expected old_logprobs [N]");
  TORCH_CHECK(old_logprobs.scalar_type() == at::kFloat || old_logprobs.scalar_type() == at::kDouble,
              "ComputeRolloutCorrection: expected float32|float64, got ", old_logprobs.scalar_type());
  TORCH_CHECK(rollout_logprobs.defined() && rollout_logprobs.sizes() == old_logprobs.sizes() &&
                  rollout_logprobs.scalar_type() == old_logprobs.scalar_type() &&
                  rollout_logprobs.device() == old_logprobs.device(),
              "ComputeRolloutCorrection: expected rollout_logprobs like old_logprobs");
  TORCH_CHECK(mask.defined() && mask.sizes() == old_logprobs.sizes() && mask.scalar_type() == at::kBool &&
                  mask.device() == old_logprobs.device(),
              "ComputeRolloutCorrection: expected mask [N] bool on the log-probs' device");
  TORCH_CHECK(params.tis_cap >= 1.0 && params.icepop_k > 1.0 && params.log_ratio_clamp > 0,
              "ComputeRolloutCorrection: expected tis_cap >= 1, icepop_k > 1, log_ratio_clamp > 0");
  const at::Tensor zeros = at::zeros_like(old_logprobs);
  // Select, never multiply: v = 0 positions have log rho = 0 (rho = 1) before any arithmetic.
  const at::Tensor log_rho = at::where(mask, old_logprobs.detach() - rollout_logprobs.detach(), zeros)
                                 .clamp(-params.log_ratio_clamp, params.log_ratio_clamp);
  const at::Tensor rho = log_rho.exp();
  at::Tensor factor;
  at::Tensor corrected;  // bool [N]
  switch (params.kind) {
    case RolloutCorrection::kNone:
      factor = at::ones_like(rho);
      corrected = at::zeros_like(mask);
      break;
    case RolloutCorrection::kTis:
      factor = rho.clamp_max(params.tis_cap);
      corrected = rho.gt(params.tis_cap) & mask;
      break;
    case RolloutCorrection::kIcePop: {
      const at::Tensor inside = rho.ge(1.0 / params.icepop_k) & rho.le(params.icepop_k);
      factor = at::where(inside, at::ones_like(rho), zeros);
      corrected = ~inside & mask;
      break;
    }
  }
  RolloutCorrectionResult out;
  out.weight = at::where(mask, factor, zeros);
  const std::vector<at::Tensor> parts = {mask.sum().to(rho.scalar_type()), at::where(mask, rho, zeros).sum(),
                                         out.weight.sum(), corrected.sum().to(rho.scalar_type())};
  const at::Tensor host = at::stack(parts).to(at::kDouble).cpu().contiguous();
  std::array<double, RolloutCorrectionStats::kNumSums> sums{};
  for (int i = 0; i < RolloutCorrectionStats::kNumSums; ++i) sums[i] = host.data_ptr<double>()[i];
  out.stats.SetSums(sums);
  return out;
}

}  // namespace m1rl::algorithms
