#include "model/head.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/full.h>
#include <ATen/ops/maximum.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <limits>

#include "kernels/ops.h"

namespace m1rl::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// z = τ⁻¹·(x·w_cᵀ) for vocabulary rows [start, start + c), in x's dtype, under `precision`.
at::Tensor ChunkLogits(const at::Tensor& x_rounded, const at::Tensor& weight, int64_t start, int64_t c,
                       HeadPrecision precision) {
  const at::Tensor wc = RoundHeadOperand(weight.narrow(0, start, c).to(x_rounded.scalar_type()), precision);
  at::Tensor logits = ops::MatmulNT(x_rounded, wc);
  if (precision == HeadPrecision::kBf16) logits = logits.to(at::kBFloat16).to(x_rounded.scalar_type());
  return logits;
}

class ChunkedHeadFunction : public torch::autograd::Function<ChunkedHeadFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& targets, double inv_temperature, int64_t precision_int,
                               int64_t chunk, bool compute_entropy) {
    const auto precision = static_cast<HeadPrecision>(precision_int);
    const int64_t t = hidden.size(0);
    const int64_t vocab = weight.size(0);
    const at::Tensor x = RoundHeadOperand(hidden, precision);
    const auto opts = hidden.options();
    at::Tensor run_max = at::full({t}, -std::numeric_limits<double>::infinity(), opts);
    at::Tensor sum_exp = at::zeros({t}, opts);
    at::Tensor sum_exp_z = at::zeros({t}, opts);
    at::Tensor target_z = at::zeros({t}, opts);
    for (int64_t start = 0; start < vocab; start += chunk) {
      const int64_t c = std::min(chunk, vocab - start);
      const at::Tensor z = ChunkLogits(x, weight, start, c, precision) * inv_temperature;  // [T, c]
      const at::Tensor new_max = at::maximum(run_max, std::get<0>(z.max(1)));
      const at::Tensor scale = (run_max - new_max).exp();
      const at::Tensor e = (z - new_max.unsqueeze(1)).exp();
      sum_exp = sum_exp * scale + e.sum(1);
      if (compute_entropy) sum_exp_z = sum_exp_z * scale + (e * z).sum(1);
      run_max = new_max;
      const at::Tensor in_chunk = (targets >= start).logical_and(targets < start + c);
      const at::Tensor local = (targets - start).clamp(0, c - 1).unsqueeze(1);
      target_z = target_z + z.gather(1, local).squeeze(1) * in_chunk.to(z.scalar_type());
    }
    const at::Tensor lse = run_max + sum_exp.log();
    const at::Tensor mu = sum_exp_z / sum_exp;  // Σ p·z
    ctx->save_for_backward({hidden, weight, targets, lse, mu});
    ctx->saved_data["inv_temperature"] = inv_temperature;
    ctx->saved_data["precision"] = precision_int;
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["entropy"] = compute_entropy;
    const at::Tensor logp = target_z - lse;
    return {logp, compute_entropy ? lse - mu : at::zeros({t}, opts)};
  }

  // dz_v = g_logp·(1[v = y] − p_v) − g_ent·p_v·(z_v − μ);  dlogit = τ⁻¹·dz (KERNELS.md §4). The reduced
  // precisions use the rounded operands in the backward GEMMs as well (straight-through rounding).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& hidden = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& targets = saved[2];
    const at::Tensor& lse = saved[3];
    const at::Tensor& mu = saved[4];
    const double inv_temperature = ctx->saved_data["inv_temperature"].toDouble();
    const auto precision = static_cast<HeadPrecision>(ctx->saved_data["precision"].toInt());
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const bool entropy = ctx->saved_data["entropy"].toBool();
    const int64_t t = hidden.size(0);
    const int64_t vocab = weight.size(0);
    const at::Tensor g_logp = grads[0].defined() ? grads[0] : at::zeros({t}, hidden.options());
    const bool use_ent = entropy && grads[1].defined();
    const at::Tensor x = RoundHeadOperand(hidden, precision);
    at::Tensor dx = at::zeros_like(hidden);
    at::Tensor dw = at::zeros({vocab, hidden.size(1)}, hidden.options());
    for (int64_t start = 0; start < vocab; start += chunk) {
      const int64_t c = std::min(chunk, vocab - start);
      // In place wherever possible: z, p, dz ([T, c] each) plus temporaries (head.h formula).
      at::Tensor z = ChunkLogits(x, weight, start, c, precision).mul_(inv_temperature);
      at::Tensor p = (z - lse.unsqueeze(1)).exp_();
      at::Tensor dz = p * (-g_logp.unsqueeze(1));
      if (use_ent) dz.sub_(p.mul_(z.sub_(mu.unsqueeze(1))).mul_(grads[1].unsqueeze(1)));
      z.reset();
      p.reset();
      const at::Tensor in_chunk = (targets >= start).logical_and(targets < start + c);
      const at::Tensor local = (targets - start).clamp(0, c - 1).unsqueeze(1);
      dz.scatter_add_(1, local, (g_logp * in_chunk.to(dz.scalar_type())).unsqueeze(1));
      dz.mul_(inv_temperature);  // dlogit [T, c]
      const at::Tensor wc = RoundHeadOperand(weight.narrow(0, start, c).to(x.scalar_type()), precision);
      dx.add_(ops::MatmulNT(dz, wc.t()));
      dw.narrow(0, start, c).copy_(ops::MatmulNT(dz.t(), x.t()));
    }
    return {dx,          dw.to(weight.scalar_type()), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

int64_t HeadChunkSize(int64_t num_tokens, int64_t vocab, int64_t elem_bytes, int64_t requested) {
  if (requested > 0) return std::min(requested, std::max<int64_t>(vocab, 1));
  const int64_t c = kHeadChunkBytes / std::max<int64_t>(1, num_tokens * elem_bytes);
  return std::clamp<int64_t>(c, 1, std::max<int64_t>(vocab, 1));
}

HeadPeakBytes HeadPeakMemory(int64_t t, int64_t v, int64_t h, int64_t e, int64_t c) {
  HeadPeakBytes p;
  p.forward = 3 * t * c * e + c * h * e + 4 * t * e;
  p.backward = 6 * t * c * e + c * h * e + t * h * e + v * h * e;
  p.full_logits = t * v * e;
  return p;
}

at::Tensor RoundHeadOperand(const at::Tensor& x, HeadPrecision precision) {
  switch (precision) {
    case HeadPrecision::kIeeeFp32:
      return x;
    case HeadPrecision::kTf32: {
      // Round the fp32 mantissa to 10 bits, to nearest (ties away from zero), as the TF32 conversion does.
      const at::Tensor f = x.to(at::kFloat).contiguous();
      const at::Tensor bits = f.view(at::kInt);
      const at::Tensor rounded = (bits + 0x1000).bitwise_and(static_cast<int32_t>(0xFFFFE000u));
      return rounded.view(at::kFloat).to(x.scalar_type());
    }
    case HeadPrecision::kBf16Fp32Out:
    case HeadPrecision::kBf16:
      return x.to(at::kBFloat16).to(x.scalar_type());
  }
  return x;
}

HeadOutput ChunkedLogProbs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                           double inv_temperature, HeadPrecision precision, int64_t chunk,
                           bool compute_entropy) {
  TORCH_CHECK(hidden.dim() == 2 && weight.dim() == 2 && hidden.size(1) == weight.size(1),
              "head: expected hidden [T, H] and weight [V, H], got ", hidden.sizes(), " and ",
              weight.sizes());
  TORCH_CHECK(hidden.scalar_type() == at::kFloat || hidden.scalar_type() == at::kDouble,
              "head: expected fp32/fp64 hidden, got ", hidden.scalar_type());
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == hidden.size(0) && targets.scalar_type() == at::kLong,
              "head: expected targets [", hidden.size(0), "] int64, got ", targets.sizes(), " ",
              targets.scalar_type());
  TORCH_CHECK(inv_temperature > 0, "head: inverse temperature must be > 0, got ", inv_temperature);
  const int64_t c = HeadChunkSize(hidden.size(0), weight.size(0), hidden.element_size(), chunk);
  if (hidden.is_cuda() && precision != HeadPrecision::kBf16) {
    const ops::HeadMode mode = precision == HeadPrecision::kIeeeFp32 ? ops::HeadMode::kIeeeFp32
                               : precision == HeadPrecision::kTf32   ? ops::HeadMode::kTf32
                                                                     : ops::HeadMode::kBf16Fp32Out;
    HeadOutput out;
    if (ops::CudaHeadLogProbs(hidden, weight, targets, 1.0 / inv_temperature, mode, c, compute_entropy,
                              &out.logprobs, &out.entropy)) {
      return out;
    }
  }
  variable_list r = ChunkedHeadFunction::apply(hidden, weight, targets, inv_temperature,
                                               static_cast<int64_t>(precision), c, compute_entropy);
  HeadOutput out;
  out.logprobs = r[0];
  if (compute_entropy) out.entropy = r[1];
  return out;
}

at::Tensor HeadLogits(const at::Tensor& hidden, const at::Tensor& weight, HeadPrecision precision) {
  const at::Tensor x = RoundHeadOperand(hidden, precision);
  return ChunkLogits(x, weight, 0, weight.size(0), precision);
}

}  // namespace m1rl::model
