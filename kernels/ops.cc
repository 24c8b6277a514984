#include "kernels/ops.h"

#include <ATen/Context.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/mkldnn_linear.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include <limits>

#include "kernels/cuda/sampling_args.h"
#include "kernels/reference/lightning_attention.h"
#include "kernels/reference/sampling.h"

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
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w) {
    ctx->save_for_backward({x, w});
    return MatmulNT(x, w);
  }
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
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
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return LoopMatmulNT(a, b.transpose(1, 2));
  }
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
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

// ---- slotted decode ---------------------------------------------------------------------------------------

namespace {

void CheckSlots(const at::Tensor& slots, int64_t batch, const at::Tensor& like) {
  TORCH_CHECK(slots.dim() == 1 && slots.size(0) == batch && slots.scalar_type() == at::kInt,
              "slots: expected [", batch, "] int32, got ", slots.sizes(), " ", slots.scalar_type());
  TORCH_CHECK(slots.device() == like.device(), "slots: expected device ", like.device(), ", got ",
              slots.device());
}

}  // namespace

at::Tensor LightningDecodeSlots(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& decay, at::Tensor& pool, const at::Tensor& slots) {
  CheckDtype(q, k, v);
  TORCH_CHECK(q.dim() == 3, "lightning decode: expected q [B, N_h, d], got ", q.sizes());
  CheckSlots(slots, q.size(0), q);
  TORCH_CHECK(pool.dim() == 4 && pool.size(1) == q.size(1) && pool.size(2) == q.size(2) &&
                  pool.size(3) == q.size(2) && pool.scalar_type() == StateDtype(q),
              "lightning decode: expected pool [S, ", q.size(1), ", ", q.size(2), ", ", q.size(2), "] ",
              StateDtype(q), ", got ", pool.sizes(), " ", pool.scalar_type());
#ifdef M1RL_WITH_CUDA_OPS
  if (q.is_cuda() && q.scalar_type() != at::kDouble) {
    return cuda_ops::LightningDecode(q, k, v, decay, pool, slots).to(q.scalar_type());
  }
#endif
  const at::Tensor idx = slots.to(at::kLong);
  at::Tensor states = pool.index_select(0, idx);
  const at::Tensor out = reference::LightningDecodeStep(q, k, v, decay, states);
  pool.index_copy_(0, idx, states);
  return out.to(q.scalar_type());
}

namespace {

// The element types of the fused CUDA norm and SwiGLU kernels: bf16 or fp32.
[[maybe_unused]] bool IsNormIo(at::ScalarType t) { return t == at::kBFloat16 || t == at::kFloat; }

// An operand in those types, or undefined (absent).
[[maybe_unused]] bool IsNormIo(const at::Tensor& t) { return !t.defined() || IsNormIo(t.scalar_type()); }

}  // namespace

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps, at::ScalarType out_dtype) {
#ifdef M1RL_WITH_CUDA_OPS
  if (x.is_cuda() && x.dim() >= 1 && x.size(-1) > 0 && w.dim() == 1 && w.size(0) == x.size(-1) &&
      w.device() == x.device() && IsNormIo(x) && IsNormIo(w) && IsNormIo(out_dtype)) {
    return cuda_ops::RmsNorm(x, w, eps, out_dtype);
  }
#endif
  const at::ScalarType cdt = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor xf = x.to(cdt);
  const at::Tensor y = xf * (xf * xf).mean({-1}, /*keepdim=*/true).add(eps).rsqrt();
  return (y * w.to(cdt)).to(out_dtype);
}

at::Tensor SwiGlu(const at::Tensor& h) {
  TORCH_CHECK(h.dim() >= 1 && h.size(-1) % 2 == 0, "swiglu: expected h [..., 2I], got ", h.sizes());
  const int64_t inter = h.size(-1) / 2;
#ifdef M1RL_WITH_CUDA_OPS
  if (h.is_cuda() && inter > 0 && IsNormIo(h)) {
    return cuda_ops::SwiGlu(h);
  }
#endif
  return at::silu(h.narrow(-1, 0, inter)) * h.narrow(-1, inter, inter);
}

at::Tensor WidenToFloat(const at::Tensor& x) {
#ifdef M1RL_WITH_CUDA_OPS
  if (x.is_cuda() && x.scalar_type() == at::kBFloat16 && x.is_contiguous() &&
      !(at::GradMode::is_enabled() && x.requires_grad())) {
    return cuda_ops::WidenBf16ToFloat(x);
  }
#endif
  return x.to(at::kFloat);
}

namespace {

// The operands the fused CUDA residual norm takes: a [T, C] (C > 0) and b, gate [T, C], w [C], all bf16/fp32
// on a's CUDA device, the gate (if any) in out_dtype. Anything else (broadcasts, other devices) takes the
// tensor ops.
[[maybe_unused]] bool FusedResidualNorm(const at::Tensor& a, const at::Tensor& b, const at::Tensor& w,
                                        const at::Tensor& gate, at::ScalarType out_dtype) {
  auto like_a = [&a](const at::Tensor& t) {
    return !t.defined() || (t.device() == a.device() && t.sizes() == a.sizes());
  };
  return a.is_cuda() && a.dim() == 2 && a.size(1) > 0 && like_a(b) && like_a(gate) && w.dim() == 1 &&
         w.size(0) == a.size(1) && w.device() == a.device() && IsNormIo(a) && IsNormIo(b) && IsNormIo(w) &&
         IsNormIo(gate) && IsNormIo(out_dtype) && (!gate.defined() || gate.scalar_type() == out_dtype);
}

// The tensor ops of ResidualRmsNorm.
ResidualNormOutput ResidualRmsNormComposite(const at::Tensor& a, const at::Tensor& b, double alpha,
                                            double beta, const at::Tensor& w, double eps,
                                            const at::Tensor& gate, at::ScalarType out_dtype) {
  const at::Tensor h = b.defined() ? a * alpha + b.to(a.scalar_type()) * beta : a;
  const at::Tensor y = RmsNorm(h, w, eps, out_dtype);
  return {gate.defined() ? gate.sigmoid() * y : y, h};
}

}  // namespace

at::Tensor ResidualRmsNorm(const at::Tensor& a, const at::Tensor& b, double alpha, double beta,
                           const at::Tensor& w, double eps, const at::Tensor& gate,
                           at::ScalarType out_dtype) {
#ifdef M1RL_WITH_CUDA_OPS
  const bool grad = at::GradMode::is_enabled() &&
                    (a.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()) ||
                     (gate.defined() && gate.requires_grad()));
  if (FusedResidualNorm(a, b, w, gate, out_dtype)) {
    return grad ? cuda_ops::ResidualRmsNormWithSum(a, b, alpha, beta, w, eps, gate, out_dtype).first
                : cuda_ops::ResidualRmsNorm(a, b, alpha, beta, w, eps, gate, out_dtype);
  }
#endif
  return ResidualRmsNormComposite(a, b, alpha, beta, w, eps, gate, out_dtype).normed;
}

ResidualNormOutput ResidualRmsNormWithSum(const at::Tensor& a, const at::Tensor& b, double alpha, double beta,
                                          const at::Tensor& w, double eps, const at::Tensor& gate,
                                          at::ScalarType out_dtype) {
#ifdef M1RL_WITH_CUDA_OPS
  if (FusedResidualNorm(a, b, w, gate, out_dtype)) {
    auto [normed, sum] = cuda_ops::ResidualRmsNormWithSum(a, b, alpha, beta, w, eps, gate, out_dtype);
    return {normed, sum};
  }
#endif
  return ResidualRmsNormComposite(a, b, alpha, beta, w, eps, gate, out_dtype);
}

void KvCacheAppend(const at::Tensor& k_new, const at::Tensor& v_new, at::Tensor& k_cache, at::Tensor& v_cache,
                   const at::Tensor& slots, const at::Tensor& positions) {
  TORCH_CHECK(k_new.dim() == 3 && v_new.sizes() == k_new.sizes(),
              "kv append: expected k, v [B, N_kv, d], got ", k_new.sizes(), " and ", v_new.sizes());
  TORCH_CHECK(k_cache.dim() == 4 && k_cache.size(2) == k_new.size(1) && k_cache.size(3) == k_new.size(2) &&
                  v_cache.sizes() == k_cache.sizes() && k_cache.scalar_type() == k_new.scalar_type() &&
                  v_cache.scalar_type() == k_new.scalar_type(),
              "kv append: expected caches [S, T, ", k_new.size(1), ", ", k_new.size(2), "] ",
              k_new.scalar_type(), ", got ", k_cache.sizes(), " ", k_cache.scalar_type());
  CheckSlots(slots, k_new.size(0), k_new);
  TORCH_CHECK(
      positions.dim() == 1 && positions.size(0) == k_new.size(0) && positions.scalar_type() == at::kLong,
      "kv append: expected positions [B] int64, got ", positions.sizes());
#ifdef M1RL_WITH_CUDA_OPS
  if (k_new.is_cuda() && k_new.scalar_type() != at::kDouble) {
    cuda_ops::KvCacheAppend(k_new, v_new, k_cache, v_cache, slots, positions);
    return;
  }
#endif
  const at::Tensor idx = slots.to(at::kLong);
  k_cache.index_put_({idx, positions}, k_new);
  v_cache.index_put_({idx, positions}, v_new);
}

at::Tensor DecodeAttention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                           const at::Tensor& slots, const at::Tensor& positions, double scale) {
  TORCH_CHECK(q.dim() == 3 && k_cache.dim() == 4 && v_cache.sizes() == k_cache.sizes() &&
                  k_cache.size(3) == q.size(2) && q.size(1) % k_cache.size(2) == 0,
              "decode attention: expected q [B, N_h, d] and caches [S, T, N_kv, d] with N_kv | N_h, got ",
              q.sizes(), " and ", k_cache.sizes());
  CheckSlots(slots, q.size(0), q);
  TORCH_CHECK(positions.dim() == 1 && positions.size(0) == q.size(0) && positions.scalar_type() == at::kLong,
              "decode attention: expected positions [B] int64, got ", positions.sizes());
#ifdef M1RL_WITH_CUDA_OPS
  if (q.is_cuda() && q.scalar_type() != at::kDouble) {
    return cuda_ops::DecodeAttention(q, k_cache, v_cache, slots, positions, scale);
  }
#endif
  const int64_t b = q.size(0), heads = q.size(1), dim = q.size(2), kv = k_cache.size(2), t = k_cache.size(1);
  const int64_t group = heads / kv;
  const at::ScalarType cdt = StateDtype(q);
  const at::Tensor idx = slots.to(at::kLong);
  const at::Tensor kc = k_cache.index_select(0, idx).to(cdt).permute({0, 2, 3, 1});  // [B, N_kv, d, T]
  const at::Tensor vc = v_cache.index_select(0, idx).to(cdt).permute({0, 2, 1, 3});  // [B, N_kv, T, d]
  const at::Tensor qg = q.to(cdt).view({b, kv, group, dim});
  at::Tensor scores = at::matmul(qg, kc) * scale;  // [B, N_kv, G, T]
  const at::Tensor key_pos = at::arange(t, positions.options()).view({1, 1, 1, t});
  scores =
      scores.masked_fill(key_pos > positions.view({b, 1, 1, 1}), -std::numeric_limits<double>::infinity());
  return at::matmul(scores.softmax(-1), vc).reshape({b, heads, dim}).to(q.scalar_type());
}

bool GroupedMoe(const at::Tensor& u, const at::Tensor& top_idx, const at::Tensor& weights,
                const at::Tensor& gate_up, const at::Tensor& down, at::Tensor* out) {
#ifdef M1RL_WITH_CUDA_OPS
  if (!u.is_cuda()) return false;
  at::Tensor r = cuda_ops::MoeExpertsGrouped(u, top_idx, weights, gate_up, down);
  if (!r.defined()) return false;
  *out = r;
  return true;
#else
  (void)u, (void)top_idx, (void)weights, (void)gate_up, (void)down, (void)out;
  return false;
#endif
}

bool FusedCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, at::Tensor* out) {
#ifdef M1RL_WITH_CUDA_OPS
  const bool half = q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kHalf;
  if (!q.is_cuda() || !half || q.size(1) % k.size(1) != 0) return false;
  *out = cuda_ops::CausalAttention(q, k, v);
  return true;
#else
  (void)q, (void)k, (void)v, (void)out;
  return false;
#endif
}

bool CudaMoe(const at::Tensor& u, const at::Tensor& router, const at::Tensor& gate_up, const at::Tensor& down,
             int64_t top_k, at::Tensor* out) {
#ifdef M1RL_WITH_CUDA_OPS
  if (!u.is_cuda() || u.scalar_type() == at::kDouble) return false;
  const at::Tensor logits = Linear(u.to(router.scalar_type()), router).to(at::kFloat);  // [T, E]
  *out = cuda_ops::MoeExperts(u, cuda_ops::MoeRoute(logits, top_k), gate_up, down);
  return true;
#else
  (void)u, (void)router, (void)gate_up, (void)down, (void)top_k, (void)out;
  return false;
#endif
}

void SampleSlots(const SampleSlotsTensors& t, double repetition_threshold, int32_t repetition_run_length,
                 int32_t advance_length) {
  TORCH_CHECK(t.logits.dim() == 2 && t.logits.scalar_type() == at::kFloat && t.logits.stride(1) == 1,
              "sample: expected logits [B, V] fp32 with contiguous rows, got ", t.logits.sizes(), " ",
              t.logits.scalar_type());
  const int64_t b = t.logits.size(0);
  CheckSlots(t.slots, b, t.logits);
  const int64_t s = t.params.size(0);
  TORCH_CHECK(t.params.dim() == 2 && t.params.size(1) == sizeof(cuda::SlotSamplingParams) &&
                  t.params.scalar_type() == at::kByte && t.params.is_contiguous(),
              "sample: params must be contiguous uint8 [S, ", sizeof(cuda::SlotSamplingParams), "]");
  TORCH_CHECK(t.state.dim() == 2 && t.state.size(0) == s &&
                  t.state.size(1) == sizeof(cuda::SlotSamplingState) && t.state.scalar_type() == at::kByte &&
                  t.state.is_contiguous(),
              "sample: state must be contiguous uint8 [S, ", sizeof(cuda::SlotSamplingState), "]");
  TORCH_CHECK(t.next_token.numel() == s && t.next_token.scalar_type() == at::kLong && t.length.numel() == s &&
                  t.length.scalar_type() == at::kLong,
              "sample: next_token and length must be [S] int64");
  TORCH_CHECK(t.out_token.numel() == b && t.out_token.scalar_type() == at::kInt && t.out_stop.numel() == b &&
                  t.out_stop.scalar_type() == at::kInt && t.out_logprob.numel() == b &&
                  t.out_logprob.scalar_type() == at::kFloat,
              "sample: outputs must be [B] int32 / fp32 / int32");
  TORCH_CHECK(t.eos_ids.dim() == 1 && t.eos_ids.scalar_type() == at::kInt,
              "sample: eos_ids must be int32 [n]");
  cuda::SampleSlotsArgs a;
  a.logits = t.logits.data_ptr<float>();
  a.batch = b;
  a.vocab = t.logits.size(1);
  a.logits_row_stride = t.logits.stride(0);
  a.slots = t.slots.data_ptr<int32_t>();
  a.params = reinterpret_cast<const cuda::SlotSamplingParams*>(t.params.data_ptr<uint8_t>());
  a.state = reinterpret_cast<cuda::SlotSamplingState*>(t.state.data_ptr<uint8_t>());
  a.eos_ids = t.eos_ids.numel() > 0 ? t.eos_ids.data_ptr<int32_t>() : nullptr;
  a.num_eos = static_cast<int32_t>(t.eos_ids.numel());
  a.repetition_threshold = repetition_threshold;
  a.repetition_run_length = repetition_run_length;
  a.next_token = t.next_token.data_ptr<int64_t>();
  a.length = t.length.data_ptr<int64_t>();
  a.advance_length = advance_length;
  a.out_token = t.out_token.data_ptr<int32_t>();
  a.out_logprob = t.out_logprob.data_ptr<float>();
  a.out_stop = t.out_stop.data_ptr<int32_t>();
#ifdef M1RL_WITH_CUDA_OPS
  if (t.logits.is_cuda()) {
    cuda_ops::SampleSlots(a);
    return;
  }
#endif
  TORCH_CHECK(t.logits.device().is_cpu(), "sample: no kernel for device ", t.logits.device());
  reference::SampleSlots(a);
}

std::unique_ptr<DeviceGraph> CaptureDeviceGraph(at::Device device, const std::function<void()>& fn,
                                                std::string* why) {
#ifdef M1RL_WITH_CUDA_OPS
  if (device.is_cuda()) return cuda_ops::CaptureGraph(device, fn, why);
#endif
  fn();
  *why = device.is_cuda() ? "this build has no CUDA graphs" : "not a CUDA device";
  return nullptr;
}

int64_t PeakDeviceBytes(at::Device device, bool reset) {
#ifdef M1RL_WITH_CUDA_OPS
  if (device.is_cuda()) return cuda_ops::PeakDeviceBytes(device, reset);
#endif
  (void)reset;
  return 0;
}

struct DeviceEvent::Impl {
#ifdef M1RL_WITH_CUDA_OPS
  cuda_ops::TimedEvent event;
#endif
};

DeviceEvent::DeviceEvent(at::Device device) : device_(device), impl_(std::make_unique<Impl>()) {
#ifdef M1RL_WITH_CUDA_OPS
  if (device_.is_cuda()) impl_->event = cuda_ops::TimedEvent(device_);
#endif
}

DeviceEvent::~DeviceEvent() = default;

void DeviceEvent::Record() {
#ifdef M1RL_WITH_CUDA_OPS
  if (device_.is_cuda()) impl_->event.Record();
#endif
}

void DeviceEvent::Wait() {
#ifdef M1RL_WITH_CUDA_OPS
  if (device_.is_cuda()) impl_->event.Wait();
#endif
}

double DeviceEvent::ElapsedMsSince(const DeviceEvent& start) const {
#ifdef M1RL_WITH_CUDA_OPS
  if (device_.is_cuda()) return impl_->event.ElapsedMsSince(start.impl_->event);
#endif
  (void)start;
  return 0.0;
}

}  // namespace m1rl::ops
