// LibTorch binding of the CUDA kernels (kernels/cuda/*): checks shapes/dtypes/devices, allocates outputs on
// the current stream, and wraps forward/backward pairs as autograd functions. Built only when LibTorch has
// torch_cuda (STYLE S37); kernels/ops.cc dispatches CUDA tensors here. Contracts as in kernels/ops.h.
#ifndef M1RL_KERNELS_CUDA_OPS_H_
#define M1RL_KERNELS_CUDA_OPS_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/sampling_args.h"
#include "kernels/ops.h"

namespace m1rl::cuda_ops {

// Differentiable lightning attention (q, k, v and initial_state). Computes in fp32 (bf16 inputs upcast; the
// output is cast back to q's dtype). Returns {out [T, N_h, d], final_state [B, N_h, d, d] fp32}.
std::pair<at::Tensor, at::Tensor> LightningAttention(
    const at::Tensor& q,      // [T, N_h, d]
    const at::Tensor& k,      // [T, N_h, d]
    const at::Tensor& v,      // [T, N_h, d]
    const at::Tensor& decay,  // [N_h]
    const std::vector<int64_t>& cu_seqlens,
    const at::Tensor& initial_state);  // [B, N_h, d, d] or undefined

// One decode step; state [num_slots, N_h, d, d] fp32 updated in place at rows slot_idx (undefined = 0..B-1).
at::Tensor LightningDecode(const at::Tensor& q,          // [B, N_h, d]
                           const at::Tensor& k,          // [B, N_h, d]
                           const at::Tensor& v,          // [B, N_h, d]
                           const at::Tensor& decay,      // [N_h]
                           at::Tensor& state,            // [num_slots, N_h, d, d] fp32
                           const at::Tensor& slot_idx);  // [B] int32 or undefined

enum class HeadMode { kIeeeFp32, kTf32, kBf16Fp32Out };

// Differentiable (in x and w, through logprobs) fused head: logprobs [T] fp32 and entropy [T] fp32 (undefined
// unless requested) of z = x w^T / temperature, vocabulary chunk `chunk`. kBf16Fp32Out casts x, w to bf16.
std::pair<at::Tensor, at::Tensor> HeadLogProbs(const at::Tensor& x,        // [T, H] fp32 or bf16
                                               const at::Tensor& w,        // [V, H]
                                               const at::Tensor& targets,  // [T] int64
                                               double temperature, HeadMode mode, int64_t chunk,
                                               bool compute_entropy);

struct MoeRouting {
  at::Tensor experts;      // [T, k] int32
  at::Tensor weights;      // [T, k] fp32
  at::Tensor probs;        // [T, E] fp32
  at::Tensor offsets;      // [E + 1] int32
  at::Tensor row_to_slot;  // [T*k] int32
  at::Tensor slot_to_row;  // [T*k] int32
};
MoeRouting MoeRoute(const at::Tensor& router_logits,  // [T, E] fp32
                    int64_t top_k);

// Experts over a routing (inference path: custom gather/combine kernels, grouped GEMM on LibTorch >= 2.8,
// per-expert loop otherwise). x [T, H]; w13 [E, 2I, H] (w1 rows then w3 rows); w2 [E, H, I]. Returns [T, H]
// fp32.
at::Tensor MoeExperts(const at::Tensor& x, const MoeRouting& routing, const at::Tensor& w13,
                      const at::Tensor& w2);

// Training MoE (contract in kernels/ops.h, ops::GroupedMoe): differentiable, no host synchronisation;
// undefined when this LibTorch has no grouped GEMM (< 2.8) or the operands do not fit it.
at::Tensor MoeExpertsGrouped(const at::Tensor& u, const at::Tensor& top_idx, const at::Tensor& weights,
                             const at::Tensor& w13, const at::Tensor& w2);

// Differentiable weighted combine of the training MoE's expert outputs: out [t, H] fp32 with
// out[i, :] = sum_j weights[i, j] * yp[dest[i*k + j], :] (MoeScatterCombine: fp32 products summed in order j;
// for k <= 2 bit-identical to (yp.index_select(0, dest).to(fp32).view({t, k, H}) * w.unsqueeze(2)).sum(1)).
// yp [p, H] bf16 or fp32 (rows dest does not name are padding: zero gradient); dest [t*k] int32 or int64,
// distinct rows in [0, p) (not checked on the device); weights [t, k] floating, differentiable. Backward
// (MoeCombineBackward): dyp in yp's dtype (bit-identical to the tensor ops'), dweights in weights' dtype
// from fixed-order fp32 sums.
at::Tensor MoeCombine(const at::Tensor& yp, const at::Tensor& dest, const at::Tensor& weights, int64_t t);

// Differentiable gather of the training MoE's expert buffer (cuda::MoeGatherSlots): xp [p, H] in u's dtype,
// xp[r, :] = u[src[r] / k, :] where src[r] < t·k, else 0 (padding rows, src[r] = t·k). u [t, H] bf16 or fp32;
// src [p] int32 or int64 in [0, t·k]; dest [t·k] int32 or int64, its inverse (src[dest[s]] = s; neither is
// checked on the device). Backward (cuda::MoeGatherSlotsBackward, one kernel, no atomics): du[i, :] = the
// fp32 sum over j = 0..k−1 in order of dxp[dest[i·k + j], :], rounded once to u's dtype; dxp's padding rows
// are never read. For k <= 2 bit-identical, forward and backward, to the tensor ops it replaces,
// at::cat({u.unsqueeze(1).expand({t, k, H}).reshape({t·k, H}), zeros [1, H]}).index_select(0, src); for
// k > 2 LibTorch's sum over k may associate the terms differently (fp32 roundings before the last).
at::Tensor MoeGatherSlots(const at::Tensor& u, const at::Tensor& src, const at::Tensor& dest, int64_t k);

// Causal softmax attention of one whole sequence through LibTorch's fused (flash) attention
// (contract in kernels/ops.h, ops::FusedCausalAttention).
at::Tensor CausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// Differentiable RMSNorm (contract in kernels/ops.h, ops::RmsNorm; kernels in kernels/cuda/rms_norm.h): x
// [..., H] and w [H] bf16 or fp32 on one CUDA device (x's rows are made contiguous), out_dtype bf16 or fp32.
// Returns x's shape in out_dtype; gradients come in x's and w's dtypes, dw summed in a fixed order.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& w, double eps, at::ScalarType out_dtype);

// Differentiable SwiGLU (contract in kernels/ops.h, ops::SwiGlu; kernels in kernels/cuda/swiglu.h): h [...,
// 2I] bf16 or fp32 on a CUDA device, I > 0 (h's rows are made contiguous). Returns silu(h[..., :I]) ⊙ h[...,
// I:]
// [..., I] in h's dtype, rounded as the tensor ops round it; the gradient dh comes in h's dtype from one
// fused backward kernel (saves h).
at::Tensor SwiGlu(const at::Tensor& h);

// x widened to fp32 by one kernel (contract in kernels/ops.h, ops::WidenToFloat; kernel in
// kernels/cuda/cast.h): x a contiguous bf16 CUDA tensor. Returns a new contiguous fp32 tensor of x's shape,
// bit-identical to x.to(at::kFloat). Not differentiable.
at::Tensor WidenBf16ToFloat(const at::Tensor& x);

// Differentiable fused residual + RMSNorm (+ sigmoid gate) (contract in kernels/ops.h,
// ops::ResidualRmsNormWithSum): a [T, C], b [T, C] or undefined (cast to a's dtype first), gate [T, C] in
// out_dtype or undefined, w [C]; bf16 or fp32 on one CUDA device. Returns {normed [T, C] out_dtype, sum [T,
// C] in a's dtype (a itself when b is undefined)}. Without grad the same forward kernel runs outside
// autograd.
std::pair<at::Tensor, at::Tensor> ResidualRmsNormWithSum(const at::Tensor& a, const at::Tensor& b,
                                                         double alpha, double beta, const at::Tensor& w,
                                                         double eps, const at::Tensor& gate,
                                                         at::ScalarType out_dtype);

// Fused residual + RMSNorm (+ sigmoid gate), not differentiable (contract in kernels/ops.h,
// ops::ResidualRmsNorm). a, b, gate, w: bf16 or fp32 CUDA tensors with contiguous rows; b, gate may be
// undefined. Returns [T, C] in out_dtype (bf16 or fp32).
at::Tensor ResidualRmsNorm(const at::Tensor& a, const at::Tensor& b, double alpha, double beta,
                           const at::Tensor& w, double eps, const at::Tensor& gate, at::ScalarType out_dtype);

// Slotted decode (contracts in kernels/ops.h).
void KvCacheAppend(const at::Tensor& k_new, const at::Tensor& v_new, at::Tensor& k_cache, at::Tensor& v_cache,
                   const at::Tensor& slots, const at::Tensor& positions);
at::Tensor DecodeAttention(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                           const at::Tensor& slots, const at::Tensor& positions, double scale);
// Launches the fused sampler on the current stream; `args` hold device pointers.
void SampleSlots(const cuda::SampleSlotsArgs& args);

std::unique_ptr<ops::DeviceGraph> CaptureGraph(at::Device device, const std::function<void()>& fn,
                                               std::string* why);

int64_t PeakDeviceBytes(at::Device device, bool reset);

// A timing-capable cudaEvent_t on the current stream of its device. Movable.
class TimedEvent {
 public:
  TimedEvent() = default;
  explicit TimedEvent(at::Device device);
  TimedEvent(TimedEvent&& other) noexcept;
  TimedEvent& operator=(TimedEvent&& other) noexcept;
  ~TimedEvent();
  void Record();
  void Wait();
  double ElapsedMsSince(const TimedEvent& start) const;
  void* event_handle() const { return event_; }  // cudaEvent_t

 private:
  void* event_ = nullptr;  // cudaEvent_t
  int device_index_ = 0;
};

}  // namespace m1rl::cuda_ops

#endif  // M1RL_KERNELS_CUDA_OPS_H_
