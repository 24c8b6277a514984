#include "kernels/ops.h"

#include <ATen/Context.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mkldnn_linear.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels/reference/lightning_attention.h"

#ifdef M1RL_WITH_CUDA_OPS
#include "kernels/cuda_ops.h"
#endif

namespace m1rl::ops {
namespace {

at::ScalarType StateDtype(const at::Tensor& q) {
  return q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

void CheckDtype(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const auto t = q.scalar_type();
  TORCH_CHECK(t == at::kFloat || t == at::kBFloat16 || t == at::kDouble,
              "lightning: expected q float, bfloat16 or double, got ", t);
  TORCH_CHECK(k.scalar_type() == t && v.scalar_type() == t, "lightning: q, k, v dtypes differ: ", t, " ",
              k.scalar_type(), " ", v.scalar_type());
  TORCH_CHECK(k.device() == q.device() && v.device() == q.device(),
              "lightning: q, k, v on different devices");
}

// Batched products whose per-entry GEMM has fewer multiply-adds than this use at::matmul instead of a
// loop of per-entry oneDNN calls (whose conversions and set-up dominate small entries): tools/bench_model
// train fwd+bwd, tiny2 64 x 14 packed tokens 268 -> 122 CPU-us/token, tiny8 16 x 128 657 -> 512.
constexpr int64_t kSmallGemm = int64_t{1} << 18;

bool UseOneDnn(const at::Tensor& a, const at::Tensor& b) {
  return at::hasMKLDNN() && a.device().is_cpu() && a.scalar_type() == at::kFloat &&
         b.scalar_type() == at::kFloat && a.numel() > 0 && b.numel() > 0;
}

class LinearFunction : public torch::autograd::Function<LinearFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w) {
    ctx->save_for_backward({x, w});
    return MatmulNT(x, w);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor& dy = grads[0];
    at::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) dx = MatmulNT(dy, w.t());
    if (ctx->needs_input_grad(1)) dw = MatmulNT(dy.t(), x.t());
    return {dx, dw};
  }
};

// Per-entry oneDNN GEMMs of a [G, M, K] and bᵀ given as bt [G, N, K] -> [G, M, N].
at::Tensor LoopMatmulNT(const at::Tensor& a, const at::Tensor& bt) {
  std::vector<at::Tensor> out;
  out.reserve(a.size(0));
  for (int64_t g = 0; g < a.size(0); ++g) out.push_back(MatmulNT(a[g], bt[g]));
  return at::stack(out, 0);
}

class BatchedMatmulFunction : public torch::autograd::Function<BatchedMatmulFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return LoopMatmulNT(a, b.transpose(1, 2));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& a = saved[0];   // [G, M, K]
    const at::Tensor& b = saved[1];   // [G, K, N]
    const at::Tensor& dy = grads[0];  // [G, M, N]
    at::Tensor da, db;
    if (ctx->needs_input_grad(0)) da = LoopMatmulNT(dy, b);                                  // dy·bᵀ
    if (ctx->needs_input_grad(1)) db = LoopMatmulNT(a.transpose(1, 2), dy.transpose(1, 2));  // aᵀ·dy
    return {da, db};
  }
};

}  // namespace

at::Tensor BatchedMatmul(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.dim() >= 3 && b.dim() == a.dim() && a.size(-1) == b.size(-2) &&
                  a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2),
              "BatchedMatmul: expected a [..., M, K], b [..., K, N] with equal batch dims, got ", a.sizes(),
              " and ", b.sizes());
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  if (!UseOneDnn(a, b) || m * n * k < kSmallGemm) return a.matmul(b);
  std::vector<int64_t> out_shape = a.sizes().vec();
  out_shape.back() = n;
  return BatchedMatmulFunction::apply(a.reshape({-1, m, k}), b.reshape({-1, k, n})).view(out_shape);
}

bool CudaHeadLogProbs(const at::Tensor& x, const at::Tensor& w, const at::Tensor& targets, double temperature,
                      HeadMode mode, int64_t chunk, bool compute_entropy, at::Tensor* logprobs,
                      at::Tensor* entropy) {
#ifdef M1RL_WITH_CUDA_OPS
  if (!x.is_cuda() || x.scalar_type() == at::kDouble) return false;
  const cuda_ops::HeadMode m = mode == HeadMode::kIeeeFp32 ? cuda_ops::HeadMode::kIeeeFp32
                               : mode == HeadMode::kTf32   ? cuda_ops::HeadMode::kTf32
                                                           : cuda_ops::HeadMode::kBf16Fp32Out;
  auto [lp, ent] = cuda_ops::HeadLogProbs(x, w, targets, temperature, m, chunk, compute_entropy);
  *logprobs = lp;
  *entropy = ent;
  return true;
#else
  return false;
#endif
}

PackedPadding MakePackedPadding(const std::vector<int64_t>& cu_seqlens, at::Device device) {
  TORCH_CHECK(!cu_seqlens.empty() && cu_seqlens.front() == 0, "packed padding: cu_seqlens must start at 0");
  PackedPadding p;
  p.batch = static_cast<int64_t>(cu_seqlens.size()) - 1;
  for (int64_t b = 0; b < p.batch; ++b) p.max_len = std::max(p.max_len, cu_seqlens[b + 1] - cu_seqlens[b]);
  at::Tensor index = at::empty({cu_seqlens.back()}, at::TensorOptions().dtype(at::kLong));
  int64_t* idx = index.data_ptr<int64_t>();
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t t = cu_seqlens[b]; t < cu_seqlens[b + 1]; ++t) idx[t] = b * p.max_len + (t - cu_seqlens[b]);
  }
  p.index = index.to(device);
  return p;
}

at::Tensor PadPacked(const at::Tensor& x, const PackedPadding& p) {
  const int64_t t = x.size(0), n = x.size(1), d = x.size(2);
  at::Tensor flat =
      at::zeros({p.batch * p.max_len, n * d}, x.options()).index_copy(0, p.index, x.reshape({t, n * d}));
  return flat.view({p.batch, p.max_len, n, d}).permute({0, 2, 1, 3});
}

at::Tensor UnpadPacked(const at::Tensor& y, const PackedPadding& p) {
  const int64_t n = y.size(1), d = y.size(3);
  return y.permute({0, 2, 1, 3}).reshape({p.batch * p.max_len, n * d}).index_select(0, p.index);
}

at::Tensor MatmulNT(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1),
              "MatmulNT: expected a [M, K], b [N, K], got ", a.sizes(), " and ", b.sizes());
  if (!UseOneDnn(a, b)) return a.matmul(b.t());
  return at::mkldnn_linear(a.contiguous().to_mkldnn(), b.contiguous().to_mkldnn(), {}).to_dense();
}

at::Tensor Linear(const at::Tensor& x, const at::Tensor& w) {
  TORCH_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1), "Linear: expected x [..., ", w.size(1),
              "] for w ", w.sizes(), ", got ", x.sizes());
  if (!UseOneDnn(x, w)) return x.matmul(w.t());
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = w.size(0);
  return LinearFunction::apply(x.reshape({-1, x.size(-1)}), w).view(out_shape);
}

LightningOutput LightningAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                   const at::Tensor& decay, const std::vector<int64_t>& cu_seqlens,
                                   const at::Tensor& initial_state, int64_t block_size) {
  CheckDtype(q, k, v);
#ifdef M1RL_WITH_CUDA_OPS
  if (q.is_cuda() && q.scalar_type() != at::kDouble) {
    auto [out, state] = cuda_ops::LightningAttention(q, k, v, decay, cu_seqlens, initial_state);
    return {out, state};
  }
#endif
  auto r = reference::LightningAttentionChunked(q, k, v, decay, cu_seqlens, initial_state, block_size,
                                                StateDtype(q));
  return {r.out, r.final_state};
}

at::Tensor LightningDecode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& decay, at::Tensor& state) {
  CheckDtype(q, k, v);
  TORCH_CHECK(state.scalar_type() == StateDtype(q), "lightning decode: expected state dtype ", StateDtype(q),
              ", got ", state.scalar_type());
#ifdef M1RL_WITH_CUDA_OPS
  if (q.is_cuda() && q.scalar_type() != at::kDouble) {
    return cuda_ops::LightningDecode(q, k, v, decay, state, at::Tensor()).to(q.scalar_type());
  }
#endif
  return reference::LightningDecodeStep(q, k, v, decay, state).to(q.scalar_type());
}

}  // namespace m1rl::ops
