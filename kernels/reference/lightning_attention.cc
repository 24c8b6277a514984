#include "kernels/reference/lightning_attention.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"

namespace m1rl::reference {
namespace {

void CheckInputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& decay,
                 const std::vector<int64_t>& cu_seqlens, const at::Tensor& initial_state) {
  TORCH_CHECK(q.dim() == 3, "lightning: expected q [T, N_h, d], got ", q.sizes());
  TORCH_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(),
              "lightning: q, k, v shapes differ: ", q.sizes(), " ", k.sizes(), " ", v.sizes());
  TORCH_CHECK(decay.dim() == 1 && decay.size(0) == q.size(1), "lightning: expected decay [", q.size(1),
              "], got ", decay.sizes());
  TORCH_CHECK(cu_seqlens.size() >= 2 && cu_seqlens.front() == 0 && cu_seqlens.back() == q.size(0),
              "lightning: cu_seqlens must run from 0 to T=", q.size(0));
  for (size_t i = 1; i < cu_seqlens.size(); ++i) {
    TORCH_CHECK(cu_seqlens[i] >= cu_seqlens[i - 1], "lightning: cu_seqlens must be non-decreasing at ", i);
  }
  if (initial_state.defined()) {
    const int64_t b = static_cast<int64_t>(cu_seqlens.size()) - 1;
    TORCH_CHECK(initial_state.dim() == 4 && initial_state.size(0) == b &&
                    initial_state.size(1) == q.size(1) && initial_state.size(2) == q.size(2) &&
                    initial_state.size(3) == q.size(2),
                "lightning: expected initial_state [", b, ", ", q.size(1), ", ", q.size(2), ", ", q.size(2),
                "], got ", initial_state.sizes());
  }
}

}  // namespace

LightningResult LightningAttentionChunked(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                          const at::Tensor& decay, const std::vector<int64_t>& cu_seqlens,
                                          const at::Tensor& initial_state, int64_t block_size,
                                          at::ScalarType state_dtype) {
  CheckInputs(q, k, v, decay, cu_seqlens, initial_state);
  TORCH_CHECK(block_size > 0, "lightning: block_size must be > 0, got ", block_size);
  const int64_t num_tokens = q.size(0);
  const int64_t num_heads = q.size(1);
  const int64_t dim = q.size(2);
  const int64_t batch = static_cast<int64_t>(cu_seqlens.size()) - 1;
  const auto opts = q.options().dtype(state_dtype);

  std::vector<int64_t> lens(batch);
  int64_t max_len = 0;
  for (int64_t b = 0; b < batch; ++b) {
    lens[b] = cu_seqlens[b + 1] - cu_seqlens[b];
    max_len = std::max(max_len, lens[b]);
  }
  at::Tensor state =
      initial_state.defined() ? initial_state.to(state_dtype) : at::zeros({batch, num_heads, dim, dim}, opts);
  if (max_len == 0) {
    return {at::zeros({0, num_heads, dim}, q.options()), state};
  }

  // [T, N_h, d] -> [B, N_h, max_len, d] in the state dtype, zero pads.
  const ops::PackedPadding padding = ops::MakePackedPadding(cu_seqlens, q.device());
  const at::Tensor qp = ops::PadPacked(q.to(state_dtype), padding);
  const at::Tensor kp = ops::PadPacked(k.to(state_dtype), padding);
  const at::Tensor vp = ops::PadPacked(v.to(state_dtype), padding);
  const at::Tensor rate = decay.to(opts).view({num_heads, 1, 1});  // a_h = s_h·f_i, λ_h = exp(−a_h)
  std::vector<double> lens_d(lens.begin(), lens.end());

  std::vector<at::Tensor> outs;
  for (int64_t start = 0; start < max_len; start += block_size) {
    const int64_t m = std::min(block_size, max_len - start);
    const at::Tensor qb = qp.narrow(2, start, m);  // [B, N_h, m, d]
    const at::Tensor kb = kp.narrow(2, start, m);
    const at::Tensor vb = vp.narrow(2, start, m);
    const at::Tensor pos = at::arange(m, opts);  // local i = 0..m-1
    // Intra-block: o_i += Σ_{j≤i} λ^(i−j) (q_i·k_j) v_j.
    const at::Tensor diff = pos.view({m, 1}) - pos.view({1, m});                 // [m, m]
    const at::Tensor causal = diff.ge(0).to(state_dtype);                        // [m, m]
    const at::Tensor intra_decay = at::exp(-rate * diff.clamp_min(0)) * causal;  // [N_h, m, m]
    at::Tensor o =
        ops::BatchedMatmul(ops::BatchedMatmul(qb, kb.transpose(-1, -2)) * intra_decay, vb);  // [B, N_h, m, d]
    // Inter-block: o_i += λ^(i+1) q_i·S_{start}.
    const at::Tensor q_decay = at::exp(-rate * (pos + 1).view({1, m, 1}));  // [N_h, m, 1]
    o = o + ops::BatchedMatmul(qb * q_decay, state);
    outs.push_back(o);
    // State: S ← λ^{m_b} S + Σ_{j<m_b} λ^(m_b−1−j) k_jᵀ v_j with m_b the valid tokens of sequence b here.
    at::Tensor mb = at::empty({batch}, at::TensorOptions().dtype(at::kDouble));
    double* mbp = mb.data_ptr<double>();
    for (int64_t b = 0; b < batch; ++b)
      mbp[b] = static_cast<double>(std::clamp<int64_t>(lens[b] - start, 0, m));
    mb = mb.to(opts);
    const at::Tensor expo = mb.view({batch, 1}) - 1 - pos.view({1, m});  // [B, m]
    const at::Tensor valid = expo.ge(0).to(state_dtype).view({batch, 1, m, 1});
    const at::Tensor k_decay =
        at::exp(-rate.view({1, num_heads, 1, 1}) * expo.clamp_min(0).view({batch, 1, m, 1})) *
        valid;  // [B, N_h, m, 1]
    const at::Tensor s_decay =
        at::exp(-rate.view({1, num_heads, 1, 1}) * mb.view({batch, 1, 1, 1}));  // [B, N_h, 1, 1]
    state = s_decay * state + ops::BatchedMatmul((kb * k_decay).transpose(-1, -2), vb);
  }
  const at::Tensor out = ops::UnpadPacked(at::cat(outs, 2), padding)  // [B, N_h, max_len, d] -> [T, N_h·d]
                             .view({num_tokens, num_heads, dim})
                             .to(q.scalar_type());
  return {out, state};
}

LightningResult LightningAttentionRecurrent(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                            const at::Tensor& decay, const std::vector<int64_t>& cu_seqlens,
                                            const at::Tensor& initial_state) {
  CheckInputs(q, k, v, decay, cu_seqlens, initial_state);
  const int64_t num_heads = q.size(1);
  const int64_t dim = q.size(2);
  const int64_t batch = static_cast<int64_t>(cu_seqlens.size()) - 1;
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor qd = q.detach().to(at::kCPU).to(at::kDouble).contiguous();
  const at::Tensor kd = k.detach().to(at::kCPU).to(at::kDouble).contiguous();
  const at::Tensor vd = v.detach().to(at::kCPU).to(at::kDouble).contiguous();
  const at::Tensor ad = decay.detach().to(at::kCPU).to(at::kDouble).contiguous();
  at::Tensor state = initial_state.defined()
                         ? initial_state.detach().to(at::kCPU).to(at::kDouble).contiguous().clone()
                         : at::zeros({batch, num_heads, dim, dim}, f64);
  at::Tensor out = at::zeros({q.size(0), num_heads, dim}, f64);
  const double* qp = qd.data_ptr<double>();
  const double* kp = kd.data_ptr<double>();
  const double* vp = vd.data_ptr<double>();
  double* sp = state.data_ptr<double>();
  double* op = out.data_ptr<double>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < num_heads; ++h) {
      const double lambda = std::exp(-ad.data_ptr<double>()[h]);
      double* s = sp + (b * num_heads + h) * dim * dim;
      for (int64_t t = cu_seqlens[b]; t < cu_seqlens[b + 1]; ++t) {
        const double* qt = qp + (t * num_heads + h) * dim;
        const double* kt = kp + (t * num_heads + h) * dim;
        const double* vt = vp + (t * num_heads + h) * dim;
        for (int64_t i = 0; i < dim; ++i) {
          for (int64_t j = 0; j < dim; ++j) s[i * dim + j] = lambda * s[i * dim + j] + kt[i] * vt[j];
        }
        double* ot = op + (t * num_heads + h) * dim;
        for (int64_t j = 0; j < dim; ++j) {
          double acc = 0.0;
          for (int64_t i = 0; i < dim; ++i) acc += qt[i] * s[i * dim + j];
          ot[j] = acc;
        }
      }
    }
  }
  return {out, state};
}

at::Tensor LightningDecodeStep(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& decay, at::Tensor& state) {
  TORCH_CHECK(q.dim() == 3 && k.sizes() == q.sizes() && v.sizes() == q.sizes(),
              "lightning decode: expected q, k, v [B, N_h, d], got ", q.sizes(), " ", k.sizes(), " ",
              v.sizes());
  TORCH_CHECK(state.dim() == 4 && state.size(0) == q.size(0) && state.size(1) == q.size(1) &&
                  state.size(2) == q.size(2) && state.size(3) == q.size(2),
              "lightning decode: expected state [B, N_h, d, d], got ", state.sizes());
  const auto sd = state.scalar_type();
  const at::Tensor lambda = at::exp(-decay.to(state.options())).view({1, q.size(1), 1, 1});
  state.mul_(lambda).add_(k.to(sd).unsqueeze(-1) * v.to(sd).unsqueeze(-2));
  return q.to(sd).unsqueeze(-2).matmul(state).squeeze(-2);
}

}  // namespace m1rl::reference
