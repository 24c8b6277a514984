// LibTorch binding of the CUDA kernels. See cuda_ops.h.
#include "kernels/cuda_ops.h"

#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/div.h>
#include <ATen/ops/embedding.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <limits>

#include "common/torch_compat.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/lightning_attention.h"
#include "kernels/cuda/lm_head.h"
#include "kernels/cuda/moe.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/sampling.h"
#include "kernels/cuda/swiglu.h"

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8)
#include <ATen/ops/_grouped_mm.h>
#define M1RL_HAVE_GROUPED_MM 1
#endif

namespace m1rl::cuda_ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

#define M1RL_CUDA_CHECK(expr)                                                                   \
  do {                                                                                          \
    const cudaError_t m1rl_err_ = (expr);                                                       \
    TORCH_CHECK(m1rl_err_ == cudaSuccess, #expr, " failed: ", cudaGetErrorName(m1rl_err_), " ", \
                cudaGetErrorString(m1rl_err_));                                                 \
  } while (0)

cuda::TokenHeadView View(const at::Tensor& t) {  // [T, H, d], last dim contiguous
  return {t.data_ptr(), t.stride(0), t.stride(1)};
}

// The kernels' io type: bf16 when q, k and v all are (tensor-core path), else fp32.
at::ScalarType IoDtype(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const bool bf16 = q.scalar_type() == at::kBFloat16 && k.scalar_type() == at::kBFloat16 &&
                    v.scalar_type() == at::kBFloat16;
  return bf16 ? at::kBFloat16 : at::kFloat;
}

cuda::IoType ToIoType(at::ScalarType t) {
  return t == at::kBFloat16 ? cuda::IoType::kBF16 : cuda::IoType::kF32;
}

at::Tensor AsIo(const at::Tensor& t, at::ScalarType io) {
  at::Tensor f = t.scalar_type() == io ? t : t.to(io);
  return f.stride(-1) == 1 ? f : f.contiguous();
}

at::Tensor CuSeqlensTensor(const std::vector<int64_t>& cu, const at::Device& device) {
  at::Tensor host = at::empty({static_cast<int64_t>(cu.size())}, at::TensorOptions().dtype(at::kInt));
  auto* p = host.data_ptr<int32_t>();
  for (size_t i = 0; i < cu.size(); ++i) p[i] = static_cast<int32_t>(cu[i]);
  return host.to(device);
}

class LightningFunction : public torch::autograd::Function<LightningFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k,
                               const at::Tensor& v, const at::Tensor& decay, const at::Tensor& cu,
                               const at::Tensor& init) {
    const int64_t T = q.size(0), H = q.size(1), D = q.size(2), B = cu.size(0) - 1;
    const at::ScalarType io = IoDtype(q, k, v);
    at::Tensor q32 = AsIo(q, io), k32 = AsIo(k, io), v32 = AsIo(v, io),
               d32 = decay.to(at::kFloat).contiguous();
    // An empty `init` stands for "no initial state" (autograd functions take no undefined inputs).
    const bool has_init = init.numel() > 0;
    at::Tensor init32 = has_init ? init.to(at::kFloat).contiguous() : init;
    at::Tensor out = at::empty({T, H, D}, q32.options());
    at::Tensor final_state = at::empty({B, H, D, D}, q32.options().dtype(at::kFloat));
    cuda::LightningScanArgs a;
    a.q = View(q32);
    a.k = View(k32);
    a.v = View(v32);
    a.cu_seqlens = cu.data_ptr<int32_t>();
    a.num_seqs = B;
    a.num_heads = H;
    a.head_dim = D;
    a.decay_rate = d32.data_ptr<float>();
    a.init_state = has_init ? init32.data_ptr<float>() : nullptr;
    a.final_state = final_state.data_ptr<float>();
    a.out = out.data_ptr();
    a.out_tok_stride = H * D;
    a.out_head_stride = D;
    a.io_type = ToIoType(io);
    M1RL_CUDA_CHECK(cuda::LightningScan(a, c10::cuda::getCurrentCUDAStream()));
    ctx->save_for_backward({q32, k32, v32, d32, cu, init32});
    ctx->saved_data["q_dtype"] = static_cast<int64_t>(q.scalar_type());
    ctx->saved_data["has_init"] = has_init;
    return {out.to(q.scalar_type()), final_state};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &decay = saved[3], &cu = saved[4],
                     &init = saved[5];
    const bool has_init = ctx->saved_data["has_init"].toBool();
    const int64_t T = q.size(0), H = q.size(1), D = q.size(2), B = cu.size(0) - 1;
    const at::ScalarType io = q.scalar_type();
    at::Tensor dout =
        grads[0].defined() ? AsIo(grads[0], io).contiguous() : at::zeros({T, H, D}, q.options());
    at::Tensor dfinal = grads[1].defined() ? grads[1].to(at::kFloat).contiguous() : at::Tensor();
    at::Tensor dq = at::empty({T, H, D}, q.options()), dk = at::empty_like(dq), dv = at::empty_like(dq);
    at::Tensor dinit = has_init ? at::empty({B, H, D, D}, q.options().dtype(at::kFloat)) : at::Tensor();
    cuda::LightningBackwardArgs a;
    a.q = View(q);
    a.k = View(k);
    a.v = View(v);
    a.dout = View(dout);
    a.cu_seqlens = cu.data_ptr<int32_t>();
    a.num_seqs = B;
    a.num_heads = H;
    a.head_dim = D;
    a.decay_rate = decay.data_ptr<float>();
    a.init_state = has_init ? init.data_ptr<float>() : nullptr;
    a.d_final_state = dfinal.defined() ? dfinal.data_ptr<float>() : nullptr;
    a.dq = dq.data_ptr();
    a.dk = dk.data_ptr();
    a.dv = dv.data_ptr();
    a.d_init_state = has_init ? dinit.data_ptr<float>() : nullptr;
    a.io_type = ToIoType(io);
    M1RL_CUDA_CHECK(cuda::LightningBackward(a, c10::cuda::getCurrentCUDAStream()));
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["q_dtype"].toInt());
    return {dq.to(dtype), dk.to(dtype), dv.to(dtype), at::Tensor(), at::Tensor(), dinit};
  }
};

cuda::HeadGemmPrecision ToPrecision(HeadMode m) {
  switch (m) {
    case HeadMode::kIeeeFp32:
      return cuda::HeadGemmPrecision::kIeeeFp32;
    case HeadMode::kTf32:
      return cuda::HeadGemmPrecision::kTf32;
    case HeadMode::kBf16Fp32Out:
      return cuda::HeadGemmPrecision::kBf16Fp32Out;
  }
  return cuda::HeadGemmPrecision::kIeeeFp32;
}

class HeadFunction : public torch::autograd::Function<HeadFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                               const at::Tensor& targets, double temperature, int64_t mode, int64_t chunk,
                               bool compute_entropy) {
    const auto prec = ToPrecision(static_cast<HeadMode>(mode));
    const auto gemm_dtype = prec == cuda::HeadGemmPrecision::kBf16Fp32Out ? at::kBFloat16 : at::kFloat;
    at::Tensor xg = x.to(gemm_dtype).contiguous(), wg = w.to(gemm_dtype).contiguous();
    at::Tensor tg = targets.to(at::kLong).contiguous();
    const int64_t T = x.size(0), H = x.size(1), V = w.size(0);
    const int64_t ch = std::min(chunk, V);
    auto f32 = x.options().dtype(at::kFloat);
    at::Tensor ws = at::empty({cuda::HeadWorkspaceFloats(T, ch)}, f32);
    at::Tensor lp = at::empty({T}, f32), lse = at::empty({T}, f32);
    at::Tensor ent = compute_entropy ? at::empty({T}, f32) : at::Tensor();
    cuda::HeadForwardArgs a;
    a.x = xg.data_ptr();
    a.w = wg.data_ptr();
    a.targets = tg.data_ptr<int64_t>();
    a.num_tokens = T;
    a.hidden = H;
    a.vocab = V;
    a.inv_temperature = static_cast<float>(1.0 / temperature);
    a.chunk = ch;
    a.precision = prec;
    a.workspace = ws.data_ptr<float>();
    a.logprobs = lp.data_ptr<float>();
    a.entropy = compute_entropy ? ent.data_ptr<float>() : nullptr;
    a.lse = lse.data_ptr<float>();
    cublasHandle_t handle = at::cuda::getCurrentCUDABlasHandle();
    M1RL_CUDA_CHECK(cuda::HeadLogProbsForward(handle, a, c10::cuda::getCurrentCUDAStream()));
    ctx->save_for_backward({xg, wg, tg, lse});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["mode"] = mode;
    ctx->saved_data["chunk"] = ch;
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(w.scalar_type());
    at::Tensor ent_out = compute_entropy ? ent : at::empty({0}, f32);
    ctx->mark_non_differentiable({ent_out});
    return {lp, ent_out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &xg = saved[0], &wg = saved[1], &tg = saved[2], &lse = saved[3];
    const int64_t T = xg.size(0), H = xg.size(1), V = wg.size(0);
    const int64_t ch = ctx->saved_data["chunk"].toInt();
    const auto prec = ToPrecision(static_cast<HeadMode>(ctx->saved_data["mode"].toInt()));
    auto f32 = lse.options();
    at::Tensor g = grads[0].defined() ? grads[0].to(at::kFloat).contiguous() : at::zeros({T}, f32);
    at::Tensor ws = at::empty({T * ch + (T * ch + 1) / 2}, f32);
    at::Tensor dx = at::empty({T, H}, f32), dw = at::empty({V, H}, f32);
    cuda::HeadBackwardArgs a;
    a.x = xg.data_ptr();
    a.w = wg.data_ptr();
    a.targets = tg.data_ptr<int64_t>();
    a.grad = g.data_ptr<float>();
    a.lse = lse.data_ptr<float>();
    a.num_tokens = T;
    a.hidden = H;
    a.vocab = V;
    a.inv_temperature = static_cast<float>(1.0 / ctx->saved_data["temperature"].toDouble());
    a.chunk = ch;
    a.precision = prec;
    a.workspace = ws.data_ptr<float>();
    a.dx = dx.data_ptr<float>();
    a.dw = dw.data_ptr<float>();
    M1RL_CUDA_CHECK(cuda::HeadLogProbsBackward(at::cuda::getCurrentCUDABlasHandle(), a,
                                               c10::cuda::getCurrentCUDAStream()));
    const auto xd = static_cast<at::ScalarType>(ctx->saved_data["x_dtype"].toInt());
    const auto wd = static_cast<at::ScalarType>(ctx->saved_data["w_dtype"].toInt());
    return {dx.to(xd), dw.to(wd), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void CheckThd(const at::Tensor& t, const char* name, int64_t H, int64_t D) {
  TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
  TORCH_CHECK(t.dim() == 3 && t.size(1) == H && t.size(2) == D, name, " must be [T, ", H, ", ", D, "], got ",
              t.sizes());
}

}  // namespace

std::pair<at::Tensor, at::Tensor> LightningAttention(const at::Tensor& q, const at::Tensor& k,
                                                     const at::Tensor& v, const at::Tensor& decay,
                                                     const std::vector<int64_t>& cu_seqlens,
                                                     const at::Tensor& initial_state) {
  TORCH_CHECK(q.dim() == 3, "q must be [T, N_h, d], got ", q.sizes());
  const int64_t T = q.size(0), H = q.size(1), D = q.size(2);
  CheckThd(k, "k", H, D);
  CheckThd(v, "v", H, D);
  TORCH_CHECK(k.size(0) == T && v.size(0) == T, "q, k, v must have the same T");
  TORCH_CHECK(D <= 128, "CUDA lightning attention supports head_dim <= 128, got ", D);
  TORCH_CHECK(!cu_seqlens.empty() && cu_seqlens.front() == 0 && cu_seqlens.back() == T,
              "cu_seqlens must run from 0 to T=", T);
  const int64_t B = static_cast<int64_t>(cu_seqlens.size()) - 1;
  if (initial_state.defined())
    TORCH_CHECK(initial_state.sizes() == at::IntArrayRef({B, H, D, D}), "initial_state must be [", B, ", ", H,
                ", ", D, ", ", D, "], got ", initial_state.sizes());
  c10::cuda::CUDAGuard guard(q.device());
  at::Tensor cu = CuSeqlensTensor(cu_seqlens, q.device());
  at::Tensor init = initial_state.defined() ? initial_state : at::empty({0}, q.options().dtype(at::kFloat));
  auto outs = LightningFunction::apply(q, k, v, decay, cu, init);
  return {outs[0], outs[1]};
}

at::Tensor LightningDecode(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& decay, at::Tensor& state, const at::Tensor& slot_idx) {
  TORCH_CHECK(q.dim() == 3, "q must be [B, N_h, d], got ", q.sizes());
  const int64_t B = q.size(0), H = q.size(1), D = q.size(2);
  CheckThd(k, "k", H, D);
  CheckThd(v, "v", H, D);
  TORCH_CHECK(state.is_cuda() && state.scalar_type() == at::kFloat && state.is_contiguous() &&
                  state.dim() == 4 && state.size(1) == H && state.size(2) == D && state.size(3) == D,
              "state must be contiguous fp32 [slots, ", H, ", ", D, ", ", D, "], got ", state.sizes());
  if (!slot_idx.defined()) TORCH_CHECK(state.size(0) >= B, "state has fewer slots than the batch");
  c10::cuda::CUDAGuard guard(q.device());
  const at::ScalarType io = IoDtype(q, k, v);
  at::Tensor q32 = AsIo(q, io), k32 = AsIo(k, io), v32 = AsIo(v, io), d32 = decay.to(at::kFloat).contiguous();
  at::Tensor slots = slot_idx.defined() ? slot_idx.to(at::kInt).contiguous() : at::Tensor();
  at::Tensor out = at::empty({B, H, D}, q32.options());
  cuda::LightningDecodeArgs a;
  a.q = View(q32);
  a.k = View(k32);
  a.v = View(v32);
  a.batch = B;
  a.num_heads = H;
  a.head_dim = D;
  a.decay_rate = d32.data_ptr<float>();
  a.state_pool = state.data_ptr<float>();
  a.slot_idx = slots.defined() ? slots.data_ptr<int32_t>() : nullptr;
  a.out = out.data_ptr();
  a.io_type = ToIoType(io);
  M1RL_CUDA_CHECK(cuda::LightningDecode(a, c10::cuda::getCurrentCUDAStream()));
  return out.to(q.scalar_type());
}

std::pair<at::Tensor, at::Tensor> HeadLogProbs(const at::Tensor& x, const at::Tensor& w,
                                               const at::Tensor& targets, double temperature, HeadMode mode,
                                               int64_t chunk, bool compute_entropy) {
  TORCH_CHECK(x.is_cuda() && w.is_cuda() && targets.is_cuda(), "HeadLogProbs needs CUDA tensors");
  TORCH_CHECK(x.dim() == 2 && w.dim() == 2 && x.size(1) == w.size(1), "x [T, H] and w [V, H] expected, got ",
              x.sizes(), " and ", w.sizes());
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == x.size(0), "targets must be [T]");
  TORCH_CHECK(temperature > 0, "temperature must be > 0, got ", temperature);
  TORCH_CHECK(chunk > 0, "chunk must be > 0");
  c10::cuda::CUDAGuard guard(x.device());
  auto outs =
      HeadFunction::apply(x, w, targets, temperature, static_cast<int64_t>(mode), chunk, compute_entropy);
  return {outs[0], compute_entropy ? outs[1] : at::Tensor()};
}

MoeRouting MoeRoute(const at::Tensor& router_logits, int64_t top_k) {
  TORCH_CHECK(router_logits.is_cuda() && router_logits.dim() == 2, "router_logits must be CUDA [T, E]");
  c10::cuda::CUDAGuard guard(router_logits.device());
  at::Tensor logits = router_logits.to(at::kFloat).contiguous();
  const int64_t T = logits.size(0), E = logits.size(1);
  auto i32 = logits.options().dtype(at::kInt);
  MoeRouting r;
  r.experts = at::empty({T, top_k}, i32);
  r.weights = at::empty({T, top_k}, logits.options());
  r.probs = at::empty({T, E}, logits.options());
  r.offsets = at::empty({E + 1}, i32);
  r.row_to_slot = at::empty({T * top_k}, i32);
  r.slot_to_row = at::empty({T * top_k}, i32);
  auto stream = c10::cuda::getCurrentCUDAStream();
  M1RL_CUDA_CHECK(cuda::MoeRoute(logits.data_ptr<float>(), T, E, top_k, r.experts.data_ptr<int32_t>(),
                                 r.weights.data_ptr<float>(), r.probs.data_ptr<float>(), stream));
  M1RL_CUDA_CHECK(cuda::MoePermuteIndices(r.experts.data_ptr<int32_t>(), T, top_k, E,
                                          r.offsets.data_ptr<int32_t>(), r.row_to_slot.data_ptr<int32_t>(),
                                          r.slot_to_row.data_ptr<int32_t>(), stream));
  return r;
}

at::Tensor MoeExperts(const at::Tensor& x, const MoeRouting& routing, const at::Tensor& w13,
                      const at::Tensor& w2) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 2, "x must be CUDA [T, H]");
  const int64_t T = x.size(0), H = x.size(1), E = w13.size(0), I = w2.size(2), k = routing.experts.size(1);
  TORCH_CHECK(w13.dim() == 3 && w13.size(1) == 2 * I && w13.size(2) == H, "w13 must be [E, 2I, H], got ",
              w13.sizes());
  TORCH_CHECK(w2.dim() == 3 && w2.size(0) == E && w2.size(1) == H, "w2 must be [E, H, I], got ", w2.sizes());
  c10::cuda::CUDAGuard guard(x.device());
  auto stream = c10::cuda::getCurrentCUDAStream();
  at::Tensor xc = x.to(w13.scalar_type()).contiguous();
  at::Tensor xp = at::empty({T * k, H}, xc.options());
  M1RL_CUDA_CHECK(cuda::MoeGather(xc.data_ptr(), routing.row_to_slot.data_ptr<int32_t>(), T, k, H,
                                  static_cast<int>(xc.element_size()), xp.data_ptr(), stream));
  at::Tensor yp;
#ifdef M1RL_HAVE_GROUPED_MM
  if (xc.scalar_type() == at::kBFloat16 && I % 2 == 0) {
    at::Tensor ends = routing.offsets.slice(0, 1, E + 1);
    at::Tensor h = at::_grouped_mm(xp, w13.transpose(1, 2), ends);  // [T*k, 2I]
    at::Tensor act = at::empty({T * k, I}, h.options());
    M1RL_CUDA_CHECK(cuda::MoeSwiGlu(h.data_ptr(), T * k, I, act.data_ptr(), stream));
    yp = at::_grouped_mm(act, w2.transpose(1, 2), ends);  // [T*k, H]
  }
#endif
  if (!yp.defined()) {
    // Loop fallback (LibTorch < 2.8 or fp32 weights): one GEMM pair per non-empty expert.
    at::Tensor off = routing.offsets.to(at::kCPU);
    const int32_t* o = off.data_ptr<int32_t>();
    yp = at::empty({T * k, H}, xc.options());
    for (int64_t e = 0; e < E; ++e) {
      if (o[e + 1] == o[e]) continue;
      at::Tensor rows = xp.slice(0, o[e], o[e + 1]);
      at::Tensor h = rows.matmul(w13[e].t());
      at::Tensor g = h.slice(1, 0, I), u = h.slice(1, I, 2 * I);
      yp.slice(0, o[e], o[e + 1]).copy_(g.mul(g.sigmoid()).mul(u).matmul(w2[e].t()));
    }
  }
  at::Tensor out = at::empty({T, H}, x.options().dtype(at::kFloat));
  M1RL_CUDA_CHECK(cuda::MoeScatterCombine(
      yp.data_ptr(), routing.slot_to_row.data_ptr<int32_t>(), routing.weights.data_ptr<float>(), T, k, H,
      static_cast<int>(yp.element_size()), out.data_ptr<float>(), stream));
  return out;
}

namespace {

// out [t, H] fp32 of the combine over contiguous yp [p, H], dest int32 [t*k] and fp32 w [t, k].
at::Tensor CombineRows(const at::Tensor& yp, const at::Tensor& dest, const at::Tensor& w) {
  const int64_t t = w.size(0), k = w.size(1), hidden = yp.size(1);
  at::Tensor out = at::empty({t, hidden}, yp.options().dtype(at::kFloat));
  M1RL_CUDA_CHECK(cuda::MoeScatterCombine(yp.data_ptr(), dest.data_ptr<int32_t>(), w.data_ptr<float>(), t, k,
                                          hidden, static_cast<int>(yp.element_size()), out.data_ptr<float>(),
                                          c10::cuda::getCurrentCUDAStream()));
  return out;
}

// Autograd over CombineRows: saves yp, dest and the fp32 weights; one backward kernel gives dyp (yp's dtype,
// padding rows zero) and dw (fp32, cast back to weights' dtype).
class MoeCombineFunction : public torch::autograd::Function<MoeCombineFunction> {
 public:
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& yp, const at::Tensor& dest,
                            const at::Tensor& weights) {
    const at::Tensor w = weights.to(at::kFloat).contiguous();
    ctx->save_for_backward({yp, dest, w});
    ctx->saved_data["w_dtype"] = static_cast<int64_t>(weights.scalar_type());
    return CombineRows(yp, dest, w);
  }

  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list out(3);
    if (!grads[0].defined()) return out;
    auto saved = ctx->get_saved_variables();
    const at::Tensor &yp = saved[0], &dest = saved[1], &w = saved[2];
    c10::cuda::CUDAGuard guard(yp.device());
    const int64_t t = w.size(0), k = w.size(1), hidden = yp.size(1);
    const at::Tensor dout = grads[0].to(at::kFloat).contiguous();
    if (ctx->needs_input_grad(0)) out[0] = at::empty(yp.sizes(), yp.options());
    const at::Tensor dw = ctx->needs_input_grad(2) ? at::empty({t, k}, w.options()) : at::Tensor();
    M1RL_CUDA_CHECK(cuda::MoeCombineBackward(
        dout.data_ptr<float>(), yp.data_ptr(), dest.data_ptr<int32_t>(), w.data_ptr<float>(), t, k, hidden,
        yp.size(0), static_cast<int>(yp.element_size()), out[0].defined() ? out[0].data_ptr() : nullptr,
        dw.defined() ? dw.data_ptr<float>() : nullptr, c10::cuda::getCurrentCUDAStream()));
    if (dw.defined()) out[2] = dw.to(static_cast<at::ScalarType>(ctx->saved_data["w_dtype"].toInt()));
    return out;
  }
};

}  // namespace

at::Tensor MoeCombine(const at::Tensor& yp, const at::Tensor& dest, const at::Tensor& weights, int64_t t) {
  TORCH_CHECK(
      yp.is_cuda() && yp.dim() == 2 && (yp.scalar_type() == at::kBFloat16 || yp.scalar_type() == at::kFloat),
      "moe combine: yp must be a bf16 or fp32 CUDA tensor [p, H], got ", yp.sizes(), " ", yp.scalar_type(),
      " on ", yp.device());
  TORCH_CHECK(weights.dim() == 2 && weights.size(0) == t && weights.device() == yp.device() &&
                  c10::isFloatingType(weights.scalar_type()),
              "moe combine: weights must be floating [", t, ", k] on ", yp.device(), ", got ",
              weights.sizes(), " ", weights.scalar_type(), " on ", weights.device());
  const int64_t n = t * weights.size(1);
  TORCH_CHECK(dest.dim() == 1 && dest.size(0) == n && dest.device() == yp.device() &&
                  (dest.scalar_type() == at::kInt || dest.scalar_type() == at::kLong),
              "moe combine: dest must be int32 or int64 [", n, "] on ", yp.device(), ", got ", dest.sizes(),
              " ", dest.scalar_type(), " on ", dest.device());
  TORCH_CHECK(yp.size(0) >= n && yp.size(0) <= std::numeric_limits<int32_t>::max(), "moe combine: yp's ",
              yp.size(0), " rows must cover the ", n, " slots and fit int32");
  c10::cuda::CUDAGuard guard(yp.device());
  const at::Tensor rows = yp.contiguous(), dest32 = dest.to(at::kInt).contiguous();
  if (at::GradMode::is_enabled() && (yp.requires_grad() || weights.requires_grad()))
    return MoeCombineFunction::apply(rows, dest32, weights);
  return CombineRows(rows, dest32, weights.to(at::kFloat).contiguous());
}

namespace {

// xp [src rows, H] of contiguous u [t, H] and contiguous int32 src.
at::Tensor GatherSlotRows(const at::Tensor& u, const at::Tensor& src, int64_t k) {
  at::Tensor xp = at::empty({src.size(0), u.size(1)}, u.options());
  cuda::MoeGatherSlotsArgs a;
  a.tokens = u.size(0);
  a.top_k = k;
  a.hidden = u.size(1);
  a.rows = src.size(0);
  a.u = u.data_ptr();
  a.src = src.data_ptr<int32_t>();
  a.xp = xp.data_ptr();
  a.type = ToIoType(u.scalar_type());
  M1RL_CUDA_CHECK(cuda::MoeGatherSlots(a, c10::cuda::getCurrentCUDAStream()));
  return xp;
}

// Autograd over GatherSlotRows: saves dest (int32) and t; du [t, H] in u's dtype from one backward kernel
// that reads each token's k slot rows.
class MoeGatherSlotsFunction : public torch::autograd::Function<MoeGatherSlotsFunction> {
 public:
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& u, const at::Tensor& src,
                            const at::Tensor& dest, int64_t k) {
    ctx->save_for_backward({dest});
    ctx->saved_data["t"] = u.size(0);
    ctx->saved_data["k"] = k;
    return GatherSlotRows(u, src, k);
  }

  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    variable_list out(4);
    if (!grads[0].defined()) return out;
    const at::Tensor dest = ctx->get_saved_variables()[0];
    c10::cuda::CUDAGuard guard(dest.device());
    const at::Tensor dxp = grads[0].contiguous();
    const int64_t t = ctx->saved_data["t"].toInt();
    out[0] = at::empty({t, dxp.size(1)}, dxp.options());
    cuda::MoeGatherSlotsBackwardArgs a;
    a.tokens = t;
    a.top_k = ctx->saved_data["k"].toInt();
    a.hidden = dxp.size(1);
    a.rows = dxp.size(0);
    a.dxp = dxp.data_ptr();
    a.dest = dest.data_ptr<int32_t>();
    a.du = out[0].data_ptr();
    a.type = ToIoType(dxp.scalar_type());
    M1RL_CUDA_CHECK(cuda::MoeGatherSlotsBackward(a, c10::cuda::getCurrentCUDAStream()));
    return out;
  }
};

}  // namespace

at::Tensor MoeGatherSlots(const at::Tensor& u, const at::Tensor& src, const at::Tensor& dest, int64_t k) {
  TORCH_CHECK(u.is_cuda() && u.dim() == 2 && u.size(1) > 0 &&
                  (u.scalar_type() == at::kBFloat16 || u.scalar_type() == at::kFloat),
              "moe gather: u must be a bf16 or fp32 CUDA tensor [t, H] with H > 0, got ", u.sizes(), " ",
              u.scalar_type(), " on ", u.device());
  const int64_t n = u.size(0) * k;
  TORCH_CHECK(k >= 1 && n <= std::numeric_limits<int32_t>::max(), "moe gather: top_k ", k,
              " must be >= 1 with t·k fitting int32, got t ", u.size(0));
  TORCH_CHECK(src.dim() == 1 && src.size(0) <= std::numeric_limits<int32_t>::max() &&
                  src.device() == u.device() &&
                  (src.scalar_type() == at::kInt || src.scalar_type() == at::kLong),
              "moe gather: src must be int32 or int64 [p] (p fitting int32) on ", u.device(), ", got ",
              src.sizes(), " ", src.scalar_type(), " on ", src.device());
  TORCH_CHECK(dest.dim() == 1 && dest.size(0) == n && dest.device() == u.device() &&
                  (dest.scalar_type() == at::kInt || dest.scalar_type() == at::kLong),
              "moe gather: dest must be int32 or int64 [", n, "] on ", u.device(), ", got ", dest.sizes(),
              " ", dest.scalar_type(), " on ", dest.device());
  c10::cuda::CUDAGuard guard(u.device());
  const at::Tensor rows = u.contiguous(), src32 = src.to(at::kInt).contiguous();
  if (at::GradMode::is_enabled() && u.requires_grad())
    return MoeGatherSlotsFunction::apply(rows, src32, dest.to(at::kInt).contiguous(), k);
  return GatherSlotRows(rows, src32, k);
}

at::Tensor MoeExpertsGrouped(const at::Tensor& u, const at::Tensor& top_idx, const at::Tensor& weights,
                             const at::Tensor& w13, const at::Tensor& w2) {
#ifdef M1RL_HAVE_GROUPED_MM
  const int64_t t = u.size(0), hidden = u.size(1), k = top_idx.size(1), e = w13.size(0), inter = w2.size(2);
  if (u.scalar_type() != at::kBFloat16 || w13.scalar_type() != at::kBFloat16 ||
      w2.scalar_type() != at::kBFloat16 || hidden % 8 != 0 || inter % 8 != 0 || t == 0) {
    return at::Tensor();
  }
  c10::cuda::CUDAGuard guard(u.device());
  // Every expert's rows start at a multiple of kAlign (the grouped GEMM's backward splits K at the group
  // offsets); padding rows read a zero row and are never combined. The last group also takes the slack up
  // to the static bound p, so no row of the buffer is outside a group.
  constexpr int64_t kAlign = 16;
  const int64_t n = t * k;
  const int64_t p = (n + e * (kAlign - 1) + kAlign - 1) / kAlign * kAlign;
  const auto lopt = top_idx.options().dtype(at::kLong);
  const at::Tensor flat_e = top_idx.reshape({n}).to(at::kLong);
  const at::Tensor counts = at::zeros({e}, lopt).scatter_add_(0, flat_e, at::ones({n}, lopt));
  const at::Tensor padded = at::div(counts + (kAlign - 1), kAlign, "floor") * kAlign;
  const at::Tensor pend = padded.cumsum(0);
  const at::Tensor pstart = pend - padded;
  const at::Tensor start = counts.cumsum(0) - counts;
  const auto sorted = flat_e.sort(/*stable=*/true, 0, /*descending=*/false);
  const at::Tensor& sorted_e = std::get<0>(sorted);
  const at::Tensor rank = at::arange(n, lopt) - start.index_select(0, sorted_e);
  // dest[s]: the buffer row of slot s = (token s / k, choice s % k), int32 for the gather's backward and the
  // combine.
  const at::Tensor dest =
      at::empty({n}, lopt).scatter_(0, std::get<1>(sorted), pstart.index_select(0, sorted_e) + rank);
  const at::Tensor dest32 = dest.to(at::kInt);
  // src[r]: the slot buffer row r reads (n = a zero row: padding), int32 for the gather.
  const auto iopt = lopt.dtype(at::kInt);
  const at::Tensor src = at::full({p}, n, iopt).scatter_(0, dest, at::arange(n, iopt));
  const at::Tensor ends = at::cat({pend.narrow(0, 0, e - 1), at::full({1}, p, lopt)}).to(at::kInt);
  // The gather (MoeGatherSlots, one kernel each way) copies token rows into the buffer; its backward sums a
  // token's k slot rows in a fixed order (no atomics), bit-identical for k <= 2 to the expand / cat /
  // index_select it replaces. The combine (MoeCombine, one kernel each way) writes yp's gradient rows
  // directly and sums dweights in a fixed order.
  const at::Tensor xp = MoeGatherSlots(u, src, dest32, k);               // [p, H]
  const at::Tensor h = at::_grouped_mm(xp, w13.transpose(1, 2), ends);   // [p, 2I]
  const at::Tensor act = SwiGlu(h);                                      // [p, I]
  const at::Tensor yp = at::_grouped_mm(act, w2.transpose(1, 2), ends);  // [p, H]
  return MoeCombine(yp, dest32, weights, t);                             // [T, H] fp32
#else
  (void)u, (void)top_idx, (void)weights, (void)w13, (void)w2;
  return at::Tensor();
#endif
}

at::Tensor CausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t n = q.size(0), heads = q.size(1), dim = q.size(2), group = heads / k.size(1);
  c10::cuda::CUDAGuard guard(q.device());
  // Query head h reads kv head h / group: repeat each kv head `group` times in place.
  auto per_head = [&](const at::Tensor& x) {  // [n, N_kv, d] -> [1, N_h, n, d]
    return (group == 1 ? x : x.repeat_interleave(group, 1)).transpose(0, 1).unsqueeze(0);
  };
  const at::Tensor o =
      at::scaled_dot_product_attention(q.transpose(0, 1).unsqueeze(0), per_head(k), per_head(v), {}, 0.0,
                                       /*is_causal=*/true);  // [1, N_h, n, d]
  return o.squeeze(0).transpose(0, 1).reshape({n, heads * dim});
}

namespace {

bool IsNormIo(at::ScalarType t) { return t == at::kBFloat16 || t == at::kFloat; }

// The forward of contiguous x [rows, cols] (a, in the residual form), optional contiguous b and gate
// [rows, cols] (undefined: none; b in x's dtype, gate in out_dtype) and contiguous w [cols]: y [rows, cols]
// out_dtype, h (the residual sum, x's dtype; undefined without b) and rstd [rows] fp32.
struct NormRows {
  at::Tensor y, h, rstd;
};

NormRows NormForwardRows(const at::Tensor& x, const at::Tensor& b, double alpha, double beta,
                         const at::Tensor& w, double eps, const at::Tensor& gate, at::ScalarType out_dtype) {
  const int64_t rows = x.size(0), cols = x.size(1);
  NormRows r;
  r.y = at::empty({rows, cols}, x.options().dtype(out_dtype));
  r.rstd = at::empty({rows}, x.options().dtype(at::kFloat));
  cuda::RmsNormForwardArgs a;
  a.rows = rows;
  a.cols = cols;
  a.x = x.data_ptr();
  a.x_type = ToIoType(x.scalar_type());
  if (b.defined()) {
    r.h = at::empty({rows, cols}, x.options());
    a.b = b.data_ptr();
    a.alpha = static_cast<float>(alpha);
    a.beta = static_cast<float>(beta);
    a.h = r.h.data_ptr();
  }
  a.w = w.data_ptr();
  a.w_type = ToIoType(w.scalar_type());
  a.eps = static_cast<float>(eps);
  a.gate = gate.defined() ? gate.data_ptr() : nullptr;
  a.out = r.y.data_ptr();
  a.out_type = ToIoType(out_dtype);
  a.rstd = r.rstd.data_ptr<float>();
  M1RL_CUDA_CHECK(cuda::RmsNormForward(a, c10::cuda::getCurrentCUDAStream()));
  return r;
}

// Autograd over NormForwardRows, the plain RMSNorm being the case without b and gate (autograd functions
// take no undefined inputs: absent b / gate are empty placeholders, flagged by has_b / has_gate). Returns
// {y, h}, h an empty non-differentiable placeholder without b. Saves the norm's input (h, else x), w, rstd
// and the gate. Backward (one kernel plus dw's fixed-order reduction): dx in x's dtype and db in b's (x's),
// scaled by alpha and beta and rounded once; dgate in out_dtype; dw in w's dtype.
class ResidualNormFunction : public torch::autograd::Function<ResidualNormFunction> {
 public:
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& b,
                               const at::Tensor& w, const at::Tensor& gate, double alpha, double beta,
                               double eps, int64_t out_dtype, bool has_b, bool has_gate) {
    const NormRows r =
        NormForwardRows(x, has_b ? b : at::Tensor(), alpha, beta, w, eps, has_gate ? gate : at::Tensor(),
                        static_cast<at::ScalarType>(out_dtype));
    ctx->save_for_backward({has_b ? r.h : x, w, r.rstd, gate});
    // An unused output (the sum, most often) brings an undefined gradient, not a [T, C] of zeros to read.
    ctx->set_materialize_grads(false);
    ctx->saved_data["out_dtype"] = out_dtype;
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["beta"] = beta;
    ctx->saved_data["has_b"] = has_b;
    ctx->saved_data["has_gate"] = has_gate;
    if (has_b) return {r.y, r.h};
    at::Tensor none = at::empty({0}, x.options());
    ctx->mark_non_differentiable({none});
    return {r.y, none};
  }

  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const bool has_b = ctx->saved_data["has_b"].toBool(), has_gate = ctx->saved_data["has_gate"].toBool();
    const bool with_dh = has_b && grads[1].defined();
    variable_list out(10);
    if (!grads[0].defined() && !with_dh) return out;
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w = saved[1], &rstd = saved[2], &gate = saved[3];
    const auto out_dtype = static_cast<at::ScalarType>(ctx->saved_data["out_dtype"].toInt());
    c10::cuda::CUDAGuard guard(x.device());
    const int64_t rows = x.size(0), cols = x.size(1);
    const at::Tensor dy = grads[0].defined() ? grads[0].to(out_dtype).contiguous()
                                             : at::zeros({rows, cols}, x.options().dtype(out_dtype));
    const at::Tensor dh = with_dh ? grads[1].to(x.scalar_type()).contiguous() : at::Tensor();
    out[0] = at::empty({rows, cols}, x.options());
    if (has_b && ctx->needs_input_grad(1)) out[1] = at::empty({rows, cols}, x.options());
    at::Tensor partial;
    if (ctx->needs_input_grad(2)) {
      out[2] = at::empty({cols}, w.options());
      partial = at::empty({cuda::RmsNormBackwardBlocks(rows, cols), cols}, x.options().dtype(at::kFloat));
    }
    if (has_gate && ctx->needs_input_grad(3)) out[3] = at::empty({rows, cols}, x.options().dtype(out_dtype));
    cuda::RmsNormBackwardArgs a;
    a.rows = rows;
    a.cols = cols;
    a.dy = dy.data_ptr();
    a.out_type = ToIoType(out_dtype);
    a.x = x.data_ptr();
    a.x_type = ToIoType(x.scalar_type());
    a.w = w.data_ptr();
    a.w_type = ToIoType(w.scalar_type());
    a.rstd = rstd.data_ptr<float>();
    a.gate = has_gate ? gate.data_ptr() : nullptr;
    a.dh = with_dh ? dh.data_ptr() : nullptr;
    a.dx = out[0].data_ptr();
    a.dx_scale = has_b ? static_cast<float>(ctx->saved_data["alpha"].toDouble()) : 1.f;
    a.db = out[1].defined() ? out[1].data_ptr() : nullptr;
    a.db_scale = static_cast<float>(ctx->saved_data["beta"].toDouble());
    a.dgate = out[3].defined() ? out[3].data_ptr() : nullptr;
    a.dw = out[2].defined() ? out[2].data_ptr() : nullptr;
    a.dw_partial = partial.defined() ? partial.data_ptr<float>() : nullptr;
    M1RL_CUDA_CHECK(cuda::RmsNormBackward(a, c10::cuda::getCurrentCUDAStream()));
    return out;
  }
};

// The fused forward of rows (x, b, gate contiguous [rows, cols], b in x's dtype; undefined b / gate: none),
// through ResidualNormFunction when a gradient is needed: {y, h (undefined without b)}.
std::pair<at::Tensor, at::Tensor> NormRowsMaybeGrad(const at::Tensor& x, const at::Tensor& b, double alpha,
                                                    double beta, const at::Tensor& w, double eps,
                                                    const at::Tensor& gate, at::ScalarType out_dtype) {
  auto needs = [](const at::Tensor& t) { return t.defined() && t.requires_grad(); };
  if (!at::GradMode::is_enabled() || !(needs(x) || needs(b) || needs(w) || needs(gate))) {
    const NormRows r = NormForwardRows(x, b, alpha, beta, w, eps, gate, out_dtype);
    return {r.y, r.h};
  }
  const at::Tensor none = at::empty({0}, x.options());
  auto outs =
      ResidualNormFunction::apply(x, b.defined() ? b : none, w, gate.defined() ? gate : none, alpha, beta,
                                  eps, static_cast<int64_t>(out_dtype), b.defined(), gate.defined());
  return {outs[0], b.defined() ? outs[1] : at::Tensor()};
}

}  // namespace

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps, at::ScalarType out_dtype) {
  TORCH_CHECK(x.is_cuda() && x.dim() >= 1 && x.size(-1) > 0 && IsNormIo(x.scalar_type()),
              "rms norm: x must be a bf16 or fp32 CUDA tensor [..., H] with H > 0, got ", x.sizes(), " ",
              x.scalar_type(), " on ", x.device());
  const int64_t cols = x.size(-1);
  TORCH_CHECK(w.dim() == 1 && w.size(0) == cols && w.device() == x.device() && IsNormIo(w.scalar_type()),
              "rms norm: w must be [", cols, "] bf16 or fp32 on ", x.device(), ", got ", w.sizes(), " ",
              w.scalar_type(), " on ", w.device());
  TORCH_CHECK(IsNormIo(out_dtype), "rms norm: out_dtype must be bf16 or fp32, got ", out_dtype);
  c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor rows = x.reshape({x.numel() / cols, cols}).contiguous();
  const at::Tensor y =
      NormRowsMaybeGrad(rows, at::Tensor(), 1.0, 1.0, w.contiguous(), eps, at::Tensor(), out_dtype).first;
  return y.view(x.sizes());
}

namespace {

// act [rows, inter] of contiguous h [rows, 2·inter].
at::Tensor SwiGluRows(const at::Tensor& h) {
  const int64_t rows = h.size(0), inter = h.size(1) / 2;
  at::Tensor act = at::empty({rows, inter}, h.options());
  cuda::SwiGluForwardArgs a;
  a.rows = rows;
  a.inter = inter;
  a.h = h.data_ptr();
  a.act = act.data_ptr();
  a.type = ToIoType(h.scalar_type());
  M1RL_CUDA_CHECK(cuda::SwiGluForward(a, c10::cuda::getCurrentCUDAStream()));
  return act;
}

// Autograd over SwiGluRows: saves h; dh [rows, 2·inter] in h's dtype from one backward kernel.
class SwiGluFunction : public torch::autograd::Function<SwiGluFunction> {
 public:
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& h) {
    ctx->save_for_backward({h});
    return SwiGluRows(h);
  }

  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor()};
    const at::Tensor h = ctx->get_saved_variables()[0];
    c10::cuda::CUDAGuard guard(h.device());
    const int64_t rows = h.size(0), inter = h.size(1) / 2;
    const at::Tensor dact = grads[0].to(h.scalar_type()).contiguous();
    at::Tensor dh = at::empty({rows, 2 * inter}, h.options());
    cuda::SwiGluBackwardArgs a;
    a.rows = rows;
    a.inter = inter;
    a.h = h.data_ptr();
    a.dact = dact.data_ptr();
    a.dh = dh.data_ptr();
    a.type = ToIoType(h.scalar_type());
    M1RL_CUDA_CHECK(cuda::SwiGluBackward(a, c10::cuda::getCurrentCUDAStream()));
    return {dh};
  }
};

}  // namespace

at::Tensor SwiGlu(const at::Tensor& h) {
  TORCH_CHECK(
      h.is_cuda() && h.dim() >= 1 && h.size(-1) > 0 && h.size(-1) % 2 == 0 && IsNormIo(h.scalar_type()),
      "swiglu: h must be a bf16 or fp32 CUDA tensor [..., 2I] with I > 0, got ", h.sizes(), " ",
      h.scalar_type(), " on ", h.device());
  const int64_t cols = h.size(-1);
  c10::cuda::CUDAGuard guard(h.device());
  // (A no-op for the usual [rows, 2I] with unit last stride and rows 2I apart.)
  const at::Tensor rows = h.reshape({h.numel() / cols, cols}).contiguous();
  const bool grad = at::GradMode::is_enabled() && h.requires_grad();
  const at::Tensor act = grad ? SwiGluFunction::apply(rows) : SwiGluRows(rows);
  std::vector<int64_t> sizes = h.sizes().vec();
  sizes.back() = cols / 2;
  return act.view(sizes);
}

at::Tensor WidenBf16ToFloat(const at::Tensor& x) {
  TORCH_CHECK(x.is_cuda() && x.scalar_type() == at::kBFloat16 && x.is_contiguous(),
              "widen: x must be a contiguous bf16 CUDA tensor, got ", x.sizes(), " ", x.scalar_type(), " on ",
              x.device(), x.is_contiguous() ? "" : " (not contiguous)");
  c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty(x.sizes(), x.options().dtype(at::kFloat));
  M1RL_CUDA_CHECK(cuda::WidenBf16ToF32(x.data_ptr(), out.data_ptr<float>(), x.numel(),
                                       c10::cuda::getCurrentCUDAStream()));
  return out;
}

std::pair<at::Tensor, at::Tensor> ResidualRmsNormWithSum(const at::Tensor& a, const at::Tensor& b,
                                                         double alpha, double beta, const at::Tensor& w,
                                                         double eps, const at::Tensor& gate,
                                                         at::ScalarType out_dtype) {
  TORCH_CHECK(a.is_cuda() && a.dim() == 2 && a.size(1) > 0 && IsNormIo(a.scalar_type()),
              "residual rms norm: a must be a bf16 or fp32 CUDA tensor [T, C] with C > 0, got ", a.sizes(),
              " ", a.scalar_type(), " on ", a.device());
  auto operand = [&a](const at::Tensor& t, const char* name) {
    TORCH_CHECK(t.sizes() == a.sizes() && t.device() == a.device() && IsNormIo(t.scalar_type()),
                "residual rms norm: ", name, " must be bf16 or fp32 [", a.size(0), ", ", a.size(1), "] on ",
                a.device(), ", got ", t.sizes(), " ", t.scalar_type(), " on ", t.device());
    return t.contiguous();
  };
  TORCH_CHECK(w.dim() == 1 && w.size(0) == a.size(1) && w.device() == a.device() && IsNormIo(w.scalar_type()),
              "residual rms norm: w must be [", a.size(1), "] bf16 or fp32 on ", a.device(), ", got ",
              w.sizes(), " ", w.scalar_type(), " on ", w.device());
  TORCH_CHECK(IsNormIo(out_dtype), "residual rms norm: out_dtype must be bf16 or fp32, got ", out_dtype);
  TORCH_CHECK(!gate.defined() || gate.scalar_type() == out_dtype, "residual rms norm: gate must be ",
              out_dtype, ", got ", gate.defined() ? gate.scalar_type() : out_dtype);
  c10::cuda::CUDAGuard guard(a.device());
  // b joins in a's dtype, as the tensor ops' b.to(a.dtype) (whose backward casts db back).
  const at::Tensor bb = b.defined() ? operand(b.to(a.scalar_type()), "b") : at::Tensor();
  const at::Tensor g = gate.defined() ? operand(gate, "gate") : at::Tensor();
  auto [y, h] = NormRowsMaybeGrad(operand(a, "a"), bb, alpha, beta, w.contiguous(), eps, g, out_dtype);
  return {y, b.defined() ? h : a};
}

at::Tensor ResidualRmsNorm(const at::Tensor& a, const at::Tensor& b, double alpha, double beta,
                           const at::Tensor& w, double eps, const at::Tensor& gate,
                           at::ScalarType out_dtype) {
  auto io = [](const at::Tensor& t, const char* name) {
    TORCH_CHECK(t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kFloat,
                "residual rms norm: ", name, " must be bf16 or fp32, got ", t.scalar_type());
    return ToIoType(t.scalar_type());
  };
  auto rows = [&a](const at::Tensor& t, const char* name) {
    TORCH_CHECK(t.dim() == 2 && t.sizes() == a.sizes() && t.stride(1) == 1 && t.device() == a.device(),
                "residual rms norm: ", name, " must be [", a.size(0), ", ", a.size(1),
                "] with contiguous rows on ", a.device(), ", got ", t.sizes());
    return t;
  };
  rows(a, "a");
  TORCH_CHECK(w.dim() == 1 && w.size(0) == a.size(1) && w.is_contiguous() && w.device() == a.device(),
              "residual rms norm: w must be [", a.size(1), "] on ", a.device(), ", got ", w.sizes(), " on ",
              w.device());
  c10::cuda::CUDAGuard guard(a.device());
  at::Tensor out = at::empty(a.sizes(), a.options().dtype(out_dtype));
  cuda::ResidualRmsNormArgs r;
  r.rows = a.size(0);
  r.cols = a.size(1);
  r.a = a.data_ptr();
  r.a_stride = a.stride(0);
  r.a_type = io(a, "a");
  r.h_type = r.a_type;
  if (b.defined()) {
    r.b = rows(b, "b").data_ptr();
    r.b_stride = b.stride(0);
    r.b_type = io(b, "b");
    r.alpha = static_cast<float>(alpha);
    r.beta = static_cast<float>(beta);
  }
  r.w = w.data_ptr();
  r.w_type = io(w, "w");
  r.eps = static_cast<float>(eps);
  r.out = out.data_ptr();
  r.out_type = io(out, "out");
  if (gate.defined()) {
    TORCH_CHECK(gate.scalar_type() == out_dtype, "residual rms norm: gate must be ", out_dtype);
    r.gate = rows(gate, "gate").data_ptr();
    r.gate_stride = gate.stride(0);
  }
  M1RL_CUDA_CHECK(cuda::ResidualRmsNorm(r, c10::cuda::getCurrentCUDAStream()));
  return out;
}

void KvCacheAppend(const at::Tensor& k_new, const at::Tensor& v_new, at::Tensor& k_cache, at::Tensor& v_cache,
                   const at::Tensor& slots, const at::Tensor& positions) {
  TORCH_CHECK(k_cache.is_contiguous() && v_cache.is_contiguous(), "kv caches must be contiguous");
  c10::cuda::CUDAGuard guard(k_new.device());
  const at::Tensor kn = k_new.contiguous(), vn = v_new.contiguous();
  const at::Tensor pos = positions.contiguous(), sl = slots.contiguous();
  cuda::KvCacheAppendArgs a;
  a.k_new = kn.data_ptr();
  a.v_new = vn.data_ptr();
  a.k_cache = k_cache.data_ptr();
  a.v_cache = v_cache.data_ptr();
  a.slots = sl.data_ptr<int32_t>();
  a.positions = pos.data_ptr<int64_t>();
  a.batch = kn.size(0);
  a.num_kv_heads = kn.size(1);
  a.head_dim = kn.size(2);
  a.max_tokens = k_cache.size(1);
  TORCH_CHECK(kn.scalar_type() == at::kBFloat16 || kn.scalar_type() == at::kFloat,
              "kv append: bf16 or fp32 expected, got ", kn.scalar_type());
  a.io_type = ToIoType(kn.scalar_type());
  M1RL_CUDA_CHECK(cuda::KvCacheAppend(a, c10::cuda::getCurrentCUDAStream()));
}

at::Tensor DecodeAttention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                           const at::Tensor& slots, const at::Tensor& positions, double scale) {
  TORCH_CHECK(k_cache.is_contiguous() && v_cache.is_contiguous(), "kv caches must be contiguous");
  TORCH_CHECK(q.scalar_type() == k_cache.scalar_type() &&
                  (q.scalar_type() == at::kBFloat16 || q.scalar_type() == at::kFloat),
              "decode attention: q and caches must share a bf16/fp32 dtype");
  c10::cuda::CUDAGuard guard(q.device());
  const at::Tensor qc = q.contiguous(), pos = positions.contiguous(), sl = slots.contiguous();
  const int64_t b = q.size(0), heads = q.size(1), dim = q.size(2);
  cuda::DecodeAttentionArgs a;
  a.q = qc.data_ptr();
  a.k_cache = k_cache.data_ptr();
  a.v_cache = v_cache.data_ptr();
  a.slots = sl.data_ptr<int32_t>();
  a.positions = pos.data_ptr<int64_t>();
  a.batch = b;
  a.num_heads = heads;
  a.num_kv_heads = k_cache.size(2);
  a.head_dim = dim;
  a.max_tokens = k_cache.size(1);
  a.scale = static_cast<float>(scale);
  a.num_splits = cuda::DecodeAttentionSplits(a.max_tokens);
  at::Tensor partial = at::empty({b, heads, a.num_splits, dim + 2}, q.options().dtype(at::kFloat));
  at::Tensor out = at::empty({b, heads, dim}, qc.options());
  a.partial = partial.data_ptr<float>();
  a.out = out.data_ptr();
  a.io_type = ToIoType(q.scalar_type());
  M1RL_CUDA_CHECK(cuda::DecodeAttention(a, c10::cuda::getCurrentCUDAStream()));
  return out;
}

void SampleSlots(const cuda::SampleSlotsArgs& args) {
  M1RL_CUDA_CHECK(cuda::SampleSlots(args, c10::cuda::getCurrentCUDAStream()));
}

namespace {

class CudaGraphImpl final : public ops::DeviceGraph {
 public:
  explicit CudaGraphImpl(std::unique_ptr<at::cuda::CUDAGraph> graph) : graph_(std::move(graph)) {}
  void Replay() override { graph_->replay(); }

 private:
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
};

}  // namespace

std::unique_ptr<ops::DeviceGraph> CaptureGraph(at::Device device, const std::function<void()>& fn,
                                               std::string* why) {
  c10::cuda::CUDAGuard guard(device);
  const c10::cuda::CUDAStream origin = c10::cuda::getCurrentCUDAStream();
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  TimedEvent ready(device);
  ready.Record();
  {
    c10::cuda::CUDAStreamGuard on_side(side);
    M1RL_CUDA_CHECK(cudaStreamWaitEvent(side.stream(), static_cast<cudaEvent_t>(ready.event_handle()), 0));
    fn();  // warm-up: lazy initialisation (cuBLAS handles, allocator blocks) must not happen under capture
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    std::unique_ptr<ops::DeviceGraph> result;
    try {
      // Each graph gets its own private memory pool. (A process-wide graph_pool_handle() shared by every
      // capture breaks once all graphs that used it are destroyed: the next capture_begin on it fails
      // PyTorch's "use_count > 0" assert in CUDACachingAllocator, seen on LibTorch 2.11.)
      graph->capture_begin();
      fn();
      graph->capture_end();
      result = std::make_unique<CudaGraphImpl>(std::move(graph));
    } catch (const c10::Error& e) {
      *why = e.what_without_backtrace();
      try {
        graph->capture_end();  // also returns the allocator's capture pool routing
      } catch (const c10::Error&) {
      }
      // Leave capture mode if the failure happened inside it.
      cudaStreamCaptureStatus status;
      if (cudaStreamIsCapturing(side.stream(), &status) == cudaSuccess &&
          status != cudaStreamCaptureStatusNone) {
        cudaGraph_t broken = nullptr;
        (void)cudaStreamEndCapture(side.stream(), &broken);
        if (broken != nullptr) (void)cudaGraphDestroy(broken);
      }
      (void)cudaGetLastError();  // clear the (non-sticky) capture error
    }
    TimedEvent done(device);
    done.Record();
    M1RL_CUDA_CHECK(cudaStreamWaitEvent(origin.stream(), static_cast<cudaEvent_t>(done.event_handle()), 0));
    return result;
  }
}

int64_t PeakDeviceBytes(at::Device device, bool reset) {
  const c10::DeviceIndex index = device.index() < 0 ? c10::cuda::current_device() : device.index();
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  const int64_t peak = stats.allocated_bytes[0].peak;  // StatType::AGGREGATE
  if (reset) c10::cuda::CUDACachingAllocator::resetPeakStats(index);
  return peak;
}

TimedEvent::TimedEvent(at::Device device) : device_index_(device.index() < 0 ? 0 : device.index()) {
  c10::cuda::CUDAGuard guard(device);
  cudaEvent_t e;
  M1RL_CUDA_CHECK(cudaEventCreate(&e));
  event_ = e;
}

TimedEvent::TimedEvent(TimedEvent&& other) noexcept
    : event_(other.event_), device_index_(other.device_index_) {
  other.event_ = nullptr;
}

TimedEvent& TimedEvent::operator=(TimedEvent&& other) noexcept {
  std::swap(event_, other.event_);
  std::swap(device_index_, other.device_index_);
  return *this;
}

TimedEvent::~TimedEvent() {
  if (event_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event_));
}

void TimedEvent::Record() {
  TORCH_CHECK(event_ != nullptr, "TimedEvent: not created");
  M1RL_CUDA_CHECK(cudaEventRecord(
      static_cast<cudaEvent_t>(event_),
      c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_index_)).stream()));
}

void TimedEvent::Wait() {
  TORCH_CHECK(event_ != nullptr, "TimedEvent: not created");
  M1RL_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event_)));
}

double TimedEvent::ElapsedMsSince(const TimedEvent& start) const {
  float ms = 0.0f;
  M1RL_CUDA_CHECK(
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.event_), static_cast<cudaEvent_t>(event_)));
  return ms;
}

}  // namespace m1rl::cuda_ops
