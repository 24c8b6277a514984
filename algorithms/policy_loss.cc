#include "algorithms/policy_loss.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros_like.h>

#include <array>
#include <limits>
#include <vector>

namespace m1rl::algorithms {

namespace {

void CheckLike(const at::Tensor& ref, const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.defined(), "ComputePolicyLoss: expected ", name, " to be defined");
  TORCH_CHECK(t.sizes() == ref.sizes(), "ComputePolicyLoss: expected ", name, " of shape ", ref.sizes(),
              ", got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), "ComputePolicyLoss: expected ", name, " dtype ",
              ref.scalar_type(), ", got ", t.scalar_type());
  TORCH_CHECK(t.device() == ref.device(), "ComputePolicyLoss: expected ", name, " on ", ref.device(),
              ", got ", t.device());
}

}  // namespace

PolicyLossResult ComputePolicyLoss(const PolicyLossParams& params, const PolicyLossInputs& in) {
  const at::Tensor& l = in.logprobs;
  TORCH_CHECK(l.defined() && l.dim() == 1, "ComputePolicyLoss: expected logprobs [N]");
  TORCH_CHECK(l.scalar_type() == at::kFloat || l.scalar_type() == at::kDouble,
              "ComputePolicyLoss: expected logprobs float32|float64, got ", l.scalar_type());
  CheckLike(l, in.old_logprobs, "old_logprobs");
  CheckLike(l, in.advantages, "advantages");
  CheckLike(l, in.coef, "coef");
  TORCH_CHECK(in.mask.defined() && in.mask.sizes() == l.sizes() && in.mask.scalar_type() == at::kBool,
              "ComputePolicyLoss: expected mask [N] bool");
  const bool have_ref = in.ref_logprobs.defined();
  if (have_ref) CheckLike(l, in.ref_logprobs, "ref_logprobs");
  TORCH_CHECK(params.kl == KlEstimator::kNone || have_ref, "ComputePolicyLoss: KL estimator ",
              KlEstimatorName(params.kl), " needs ref_logprobs");
  if (in.entropy.defined()) CheckLike(l, in.entropy, "entropy");
  if (in.rollout_weight.defined()) CheckLike(l, in.rollout_weight, "rollout_weight");
  TORCH_CHECK(!params.is_enabled || params.is_high.has_value(),
              "ComputePolicyLoss: IS band enabled without a cap (algorithm.is_weight.eps_high)");
  TORCH_CHECK(params.log_ratio_clamp > 0, "ComputePolicyLoss: expected log_ratio_clamp > 0, got ",
              params.log_ratio_clamp);

  const at::Tensor& v = in.mask;
  const at::Tensor zeros = at::zeros_like(l, l.options().requires_grad(false));
  // Select, never multiply (pitfall 3): v = 0 positions are replaced before any arithmetic.
  const at::Tensor l_sel = at::where(v, l, zeros);  // carries grad; exactly 0 grad where v = 0
  const at::Tensor l_old = at::where(v, in.old_logprobs.detach(), zeros);
  const at::Tensor adv = at::where(v, in.advantages.detach(), zeros);
  const at::Tensor coef = at::where(v, in.coef.detach(), zeros);

  const double clamp = params.log_ratio_clamp;
  const at::Tensor log_ratio_raw = l_sel.detach() - l_old;
  const at::Tensor clamped = log_ratio_raw.abs().gt(clamp);  // false where v = 0 (log ratio 0 there)
  const at::Tensor ratio = log_ratio_raw.clamp(-clamp, clamp).exp();

  at::Tensor is_weight = ratio;
  at::Tensor is_high_hit = at::zeros_like(v);
  at::Tensor is_low_hit = at::zeros_like(v);
  if (params.is_enabled) {
    const double hi = *params.is_high;
    is_high_hit = ratio.gt(hi) & v;
    is_weight = is_weight.clamp_max(hi);
    if (params.is_low.has_value()) {
      const double lo = *params.is_low;
      is_low_hit = ratio.lt(lo) & v;
      is_weight = is_weight.clamp_min(lo);
    }
  }

  const at::Tensor pos = adv.gt(0);
  const at::Tensor neg = adv.lt(0);
  at::Tensor trust = v.clone();
  at::Tensor above = at::zeros_like(v);
  at::Tensor below = at::zeros_like(v);
  if (params.tr_enabled) {
    above = ratio.gt(1.0 + params.tr_eps_high) & v;
    below = ratio.lt(1.0 - params.tr_eps_low) & v;
    trust = v & ~((above & pos) | (below & neg));
  }
  // The rollout correction factor multiplies after the IS cap: the cap bounds the policy ratio r, the
  // factor is a separate importance weight pi_old / pi_roll (three-policy decomposition).
  const at::Tensor factor =
      in.rollout_weight.defined() ? at::where(v, in.rollout_weight.detach(), zeros) : at::Tensor();
  const at::Tensor weight =
      at::where(trust, factor.defined() ? is_weight * factor : is_weight, zeros);  // detached: w = sg(M r^ f)

  at::Tensor loss = -(coef * weight * adv * l_sel).sum();

  at::Tensor k1_sum = zeros.sum();
  at::Tensor k3_sum = zeros.sum();
  if (have_ref) {
    const at::Tensor l_ref = at::where(v, in.ref_logprobs.detach(), zeros);
    if (params.kl != KlEstimator::kNone && params.kl_beta != 0.0) {
      loss = loss + params.kl_beta * (coef * KlPerToken(params.kl, l_sel, l_ref)).sum();
    }
    const at::Tensor l_det = l_sel.detach();
    k1_sum = KlPerToken(KlEstimator::kK1, l_det, l_ref).sum();
    k3_sum = KlPerToken(KlEstimator::kK3, l_det, l_ref).sum();
  }
  at::Tensor entropy_sum = zeros.sum();
  if (in.entropy.defined()) entropy_sum = at::where(v, in.entropy.detach(), zeros).sum();

  const double inf = std::numeric_limits<double>::infinity();
  const auto cnt = [&](const at::Tensor& b) { return b.sum().to(l.scalar_type()); };
  // One transfer for all statistics, in float64 on the host.
  const std::vector<at::Tensor> parts = {
      at::full_like(k1_sum, static_cast<double>(v.numel())),
      cnt(v),
      cnt(clamped & v),
      at::where(v, ratio, zeros).sum(),
      cnt(is_high_hit),
      cnt(is_low_hit),
      cnt(above & pos),
      cnt(above & neg),
      cnt(below & pos),
      cnt(below & neg),
      cnt(v & ~trust),
      adv.abs().sum(),
      entropy_sum,
      in.entropy.defined() ? cnt(v) : zeros.sum(),
      k1_sum,
      k3_sum,
      have_ref ? cnt(v) : zeros.sum(),
      l.numel() > 0 ? at::where(v, ratio, at::full_like(ratio, inf)).min() : at::full_like(k1_sum, inf),
      l.numel() > 0 ? at::where(v, ratio, at::full_like(ratio, -inf)).max() : at::full_like(k1_sum, -inf),
  };
  const at::Tensor host = at::stack(parts).to(at::kDouble).cpu().contiguous();
  const double* h = host.data_ptr<double>();
  PolicyLossResult out;
  std::array<double, PolicyStats::kNumSums> sums{};
  for (int i = 0; i < PolicyStats::kNumSums; ++i) sums[i] = h[i];
  out.stats.SetSums(sums);
  out.stats.ratio_min = h[PolicyStats::kNumSums];
  out.stats.ratio_max = h[PolicyStats::kNumSums + 1];
  out.loss = loss;
  out.weight = weight;
  out.trust_mask = trust;
  out.ratio = ratio;
  return out;
}

}  // namespace m1rl::algorithms
