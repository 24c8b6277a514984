// Tensor-level kernels API (S3, S7): checks shapes and dtypes, then dispatches to a CUDA kernel (when one
// is registered for the device) or to the CPU reference in kernels/reference/. Semantics: MODEL.md §4.
#ifndef M1RL_KERNELS_OPS_H_
#define M1RL_KERNELS_OPS_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace m1rl::ops {

struct LightningOutput {
  at::Tensor out;          // [T, N_h, d] dtype of q
  at::Tensor final_state;  // [B, N_h, d_k, d_v] state dtype (fp32; fp64 for fp64 inputs)
};

// Lightning attention over packed sequences (prefill and training; differentiable in q, k, v and
// initial_state). Per sequence b and head h, with λ = exp(−decay[h]) and S_0 = initial_state[b] (or 0):
//   S_t = λ·S_{t−1} + k_tᵀ v_t,  o_t = q_t·S_t   (MODEL.md §4.4; no scale, no normaliser).
// The state is carried in fp32 (fp64 for fp64 inputs) whatever the input dtype.
// REQUIRES: q, k, v [T, N_h, d] same dtype (float, bfloat16 or double) and device; decay [N_h] (s·f ≥ 0);
// cu_seqlens [B+1] non-decreasing from 0 to T; initial_state undefined or [B, N_h, d, d];
// block_size > 0 (numerics only). Throws c10::Error otherwise.
LightningOutput LightningAttention(const at::Tensor& q,      // [T, N_h, d]
                                   const at::Tensor& k,      // [T, N_h, d]
                                   const at::Tensor& v,      // [T, N_h, d]
                                   const at::Tensor& decay,  // [N_h] fp32/fp64, s_h·f_i
                                   const std::vector<int64_t>& cu_seqlens,
                                   const at::Tensor& initial_state,  // [B, N_h, d, d] or undefined
                                   int64_t block_size);

// One decode step for B sequences: state ← λ·state + kᵀv, returns o = q·state [B, N_h, d] (dtype of q).
// `state` [B, N_h, d, d] fp32 (fp64 for fp64 inputs) is updated in place. Not differentiable.
at::Tensor LightningDecode(const at::Tensor& q,      // [B, N_h, d]
                           const at::Tensor& k,      // [B, N_h, d]
                           const at::Tensor& v,      // [B, N_h, d]
                           const at::Tensor& decay,  // [N_h]
                           at::Tensor& state);       // [B, N_h, d, d], in place

// Packed variable-length sequences laid out as a zero-padded batch: token t of sequence b at position p
// is row b·max_len + p (the CPU lightning reference and the batched softmax attention share it).
struct PackedPadding {
  at::Tensor index;     // [T] int64 on the tensors' device: the padded row of each packed token
  int64_t batch = 0;    // B
  int64_t max_len = 0;  // L, the longest sequence
};
// REQUIRES: cu_seqlens [B+1] non-decreasing from 0.
PackedPadding MakePackedPadding(const std::vector<int64_t>& cu_seqlens, at::Device device);
// [T, N, d] -> [B, N, L, d] with zeros past each sequence's end (differentiable in x).
at::Tensor PadPacked(const at::Tensor& x, const PackedPadding& padding);
// [B, N, L, d] -> [T, N·d]: the packed rows back (differentiable in y).
at::Tensor UnpadPacked(const at::Tensor& y, const PackedPadding& padding);

// a·bᵀ, not differentiable. fp32 CPU tensors go through oneDNN (Debian's LibTorch links the reference
// netlib BLAS, ~2 GFLOP/s on one core; oneDNN ~100 GFLOP/s); anything else through at::matmul.
// REQUIRES: a [M, K], b [N, K], same dtype and device. Returns [M, N] (dense, contiguous).
at::Tensor MatmulNT(const at::Tensor& a,   // [M, K]
                    const at::Tensor& b);  // [N, K]

// y = x·wᵀ, differentiable in x and w (backward dx = dy·w, dw = dyᵀ·x, both through MatmulNT).
// REQUIRES: x [..., K], w [N, K]. Returns [..., N].
at::Tensor Linear(const at::Tensor& x,   // [..., K]
                  const at::Tensor& w);  // [N, K]

// Batched a·b, differentiable in both. fp32 CPU: one oneDNN GEMM per batch entry (see MatmulNT) once
// M·N·K ≥ 2^18 (below that the per-call set-up costs more than at::matmul saves); otherwise at::matmul.
// REQUIRES: a [..., M, K], b [..., K, N] with identical batch dims. Returns [..., M, N].
at::Tensor BatchedMatmul(const at::Tensor& a,   // [..., M, K]
                         const at::Tensor& b);  // [..., K, N]

enum class HeadMode { kIeeeFp32, kTf32, kBf16Fp32Out };

// The fused CUDA LM head (KERNELS.md §4) when this build has it and x is a CUDA tensor: sets logprobs [T]
// and entropy [T] (undefined unless compute_entropy), differentiable in x and w, and returns true.
// Returns false (outputs untouched) otherwise; the caller then uses the CPU chunked head (model/head.h).
bool CudaHeadLogProbs(const at::Tensor& x,        // [T, H] fp32
                      const at::Tensor& w,        // [V, H]
                      const at::Tensor& targets,  // [T] int64
                      double temperature, HeadMode mode, int64_t chunk, bool compute_entropy,
                      at::Tensor* logprobs,  // [T] fp32
                      at::Tensor* entropy);  // [T] fp32

// w ⊙ x / sqrt(mean(x²) + eps) over the last dim, computed in fp32 (fp64 for fp64 x) and rounded once to
// out_dtype (MODEL.md §3). Differentiable in x and w. With bf16/fp32 CUDA x and w and a bf16/fp32 out_dtype
// it is one fused kernel each way (kernels/cuda/rms_norm.h: the forward's roundings as the tensor ops', the
// sums in another order; dw summed in a fixed order, bit-reproducible); otherwise the tensor ops.
at::Tensor RmsNorm(const at::Tensor& x,  // [..., C]
                   const at::Tensor& w,  // [C]
                   double eps, at::ScalarType out_dtype);

// SwiGLU of a fused gate/up projection: silu(g) ⊙ u with g = h[..., :I], u = h[..., I:], in h's dtype,
// differentiable in h. CPU and every other case: exactly the tensor ops at::silu(g) * u (bit-identical to
// them). bf16/fp32 CUDA h: one fused kernel each way (kernels/cuda/swiglu.h) that rounds as those tensor ops
// do (silu rounded to h's dtype, then the product; backward likewise), dh written whole, bit-reproducible.
// REQUIRES: h [..., 2I]. Returns [..., I].
at::Tensor SwiGlu(const at::Tensor& h);  // [..., 2I]

// x widened to fp32: exactly x.to(at::kFloat) (same values bit for bit, same aliasing: an fp32 x is returned
// itself; differentiable as .to is). Any dtype and device. A contiguous bf16 CUDA x outside autograd (grad
// mode off or x not requiring grad) takes one vectorised kernel (kernels/cuda/cast.h) instead of LibTorch's
// unvectorised casting copy; the widening is exact, so the result is the same. Used for the fp32 gradient of
// a bf16 compute copy of an fp32 master weight (model/hybrid_model.cc).
at::Tensor WidenToFloat(const at::Tensor& x);

// Fused residual + RMSNorm (+ sigmoid gate):
//   h   = b.defined() ? a·alpha + b.to(a.dtype)·beta : a          (each op in a's dtype, as tensor ops)
//   out = RmsNorm(h, w, eps, out_dtype), times gate.sigmoid() when gate is defined (gate dtype = out_dtype)
// With bf16/fp32 CUDA tensors: without a gradient required (the decode step) one kernel (kernels/cuda/
// rms_norm.h) that rounds every intermediate as the tensor ops do, the sum of squares in another order
// (outputs within one ulp of out_dtype); with one, ResidualRmsNormWithSum's fused differentiable kernels.
// Otherwise the tensor ops themselves (the norm through RmsNorm above).
at::Tensor ResidualRmsNorm(const at::Tensor& a,  // [T, C]
                           const at::Tensor& b,  // [T, C] or undefined
                           double alpha, double beta,
                           const at::Tensor& w,  // [C]
                           double eps,
                           const at::Tensor& gate,  // [T, C] pre-sigmoid, or undefined
                           at::ScalarType out_dtype);

struct ResidualNormOutput {
  at::Tensor normed;  // [T, C] out_dtype: ResidualRmsNorm's result
  at::Tensor sum;     // [T, C] a's dtype: the residual sum h (a itself when b is undefined)
};

// ResidualRmsNorm that also returns the residual sum h, both differentiable in a, b, w and gate (the training
// step's residual sites). With bf16/fp32 CUDA a, b, w, gate (gate in out_dtype) and a bf16/fp32 out_dtype it
// is one fused kernel each way (kernels/cuda/rms_norm.h): forward h bit-equal to the tensor ops' and normed
// as RmsNorm(h) (gate as the decode kernel rounds it); backward, in fp32 with dh the gradient of `sum` (zero
// if none) and dn that of the norm's input through RmsNorm and the gate, da = alpha·(dh + dn) and db =
// beta·(dh + dn) each rounded once to a's dtype (db then cast to b's), dgate = dy·n·σ(1−σ) (σ the fp32
// sigmoid) rounded once, dw summed in a fixed order (bit-reproducible). Otherwise the tensor ops (CPU:
// exactly as ResidualRmsNorm).
ResidualNormOutput ResidualRmsNormWithSum(const at::Tensor& a,  // [T, C]
                                          const at::Tensor& b,  // [T, C] or undefined
                                          double alpha, double beta,
                                          const at::Tensor& w,  // [C]
                                          double eps,
                                          const at::Tensor& gate,  // [T, C] pre-sigmoid, or undefined
                                          at::ScalarType out_dtype);

// ---- Slotted decode (rollout; ARCHITECTURE.md "On the GPU") ----------------------------------------------
// Sequences live in fixed slots of preallocated pools; a decode step names its slots with a device tensor, so
// the step never touches the host. Every op below dispatches CUDA tensors to kernels/cuda and CPU tensors to
// a LibTorch reference with the same semantics.

// LightningDecode over a state pool: for each b, pool[slots[b]] <- λ·pool[slots[b]] + k_bᵀv_b and returns
// o_b = q_b·pool[slots[b]]. REQUIRES distinct slots (except that duplicated rows may race; callers pad with
// one scratch slot whose contents are never read). Not differentiable.
at::Tensor LightningDecodeSlots(const at::Tensor& q,       // [B, N_h, d]
                                const at::Tensor& k,       // [B, N_h, d]
                                const at::Tensor& v,       // [B, N_h, d]
                                const at::Tensor& decay,   // [N_h]
                                at::Tensor& pool,          // [S, N_h, d, d] state dtype, in place
                                const at::Tensor& slots);  // [B] int32

// Writes k_new[b], v_new[b] at row positions[b] of slot slots[b] of the caches.
void KvCacheAppend(const at::Tensor& k_new,       // [B, N_kv, d]
                   const at::Tensor& v_new,       // [B, N_kv, d]
                   at::Tensor& k_cache,           // [S, max_tokens, N_kv, d], in place
                   at::Tensor& v_cache,           // [S, max_tokens, N_kv, d], in place
                   const at::Tensor& slots,       // [B] int32
                   const at::Tensor& positions);  // [B] int64

// Softmax attention of one query token per sequence over its slot's keys 0..positions[b] (GQA: head h reads
// kv head h / (N_h / N_kv)), scores scaled by `scale`, fp32 softmax. Returns [B, N_h, d] in q's dtype.
at::Tensor DecodeAttention(const at::Tensor& q,          // [B, N_h, d]
                           const at::Tensor& k_cache,    // [S, max_tokens, N_kv, d]
                           const at::Tensor& v_cache,    // [S, max_tokens, N_kv, d]
                           const at::Tensor& slots,      // [B] int32
                           const at::Tensor& positions,  // [B] int64
                           double scale);

// The experts of a top-k MoE over a given routing as two grouped GEMMs, differentiable in u, weights,
// gate_up and down (the training path): out[t] = Σ_j weights[t, j] · down_e · (SiLU(w1_e u_t) ⊙ w3_e u_t),
// e = top_idx[t, j], summed in fp32. Runs on CUDA bf16 operands with LibTorch >= 2.8 (no host
// synchronisation; rows gathered through index_select into distinct rows and combined by a fused kernel,
// cuda_ops::MoeCombine, both with bit-reproducible backwards): sets *out [T, H] fp32 and returns true; false
// (out untouched) otherwise, and the caller loops over experts.
bool GroupedMoe(const at::Tensor& u,        // [T, H]
                const at::Tensor& top_idx,  // [T, k] int64
                const at::Tensor& weights,  // [T, k]
                const at::Tensor& gate_up,  // [E, 2I, H], w1 rows then w3 rows
                const at::Tensor& down,     // [E, H, I]
                at::Tensor* out);

// Causal softmax attention of one whole sequence (query i sees keys 0..i; GQA: head h reads kv head
// h / (N_h / N_kv); scale 1/√d) through LibTorch's fused flash attention on CUDA bf16/fp16: sets *out
// [n, N_h·d] and returns true; false otherwise (the caller computes the scores itself).
bool FusedCausalAttention(const at::Tensor& q,  // [n, N_h, d]
                          const at::Tensor& k,  // [n, N_kv, d]
                          const at::Tensor& v,  // [n, N_kv, d]
                          at::Tensor* out);

// The MoE block through the CUDA routing/grouped-GEMM kernels (no host synchronisation) when this build has
// them and u is a CUDA bf16/fp32 tensor: sets *out [T, H] fp32 and returns true; false (out untouched)
// otherwise. Routing as MODEL.md §6 (fp32 router, softmax, top-k ties to the lower index, renormalised).
bool CudaMoe(const at::Tensor& u,        // [T, H]
             const at::Tensor& router,   // [E, H] fp32
             const at::Tensor& gate_up,  // [E, 2I, H]
             const at::Tensor& down,     // [E, H, I]
             int64_t top_k, at::Tensor* out);

// The fused slot sampler (kernels/cuda/sampling.h has the contract; kernels/reference/sampling.h the CPU
// twin). params/state are byte tensors holding cuda::SlotSamplingParams / cuda::SlotSamplingState per slot;
// every tensor on the logits' device.
struct SampleSlotsTensors {
  at::Tensor logits;       // [B, V] fp32
  at::Tensor slots;        // [B] int32
  at::Tensor params;       // [S, sizeof(SlotSamplingParams)] uint8
  at::Tensor state;        // [S, sizeof(SlotSamplingState)] uint8, updated
  at::Tensor eos_ids;      // [n_eos] int32
  at::Tensor next_token;   // [S] int64, updated
  at::Tensor length;       // [S] int64, updated
  at::Tensor out_token;    // [B] int32
  at::Tensor out_logprob;  // [B] fp32
  at::Tensor out_stop;     // [B] int32
};
void SampleSlots(const SampleSlotsTensors& t, double repetition_threshold, int32_t repetition_run_length,
                 int32_t advance_length);

// A CUDA graph of device work, replayed on the current stream.
class DeviceGraph {
 public:
  virtual ~DeviceGraph() = default;
  virtual void Replay() = 0;
};
// Runs `fn` once eagerly (warm-up) and once under CUDA-graph capture on a side stream of `device`, sharing
// one memory pool among all graphs of the process (replays must not overlap; tensors created inside `fn`
// must not outlive it). Returns null with *why set when the build has no CUDA graphs, the device is not
// CUDA, or capture failed (an op synchronised with the host, say); the warm-up's effects remain in either
// case.
std::unique_ptr<DeviceGraph> CaptureDeviceGraph(at::Device device, const std::function<void()>& fn,
                                                std::string* why);

// Peak bytes allocated by LibTorch's caching allocator on a CUDA device since the last reset (0 for CPU);
// `reset` starts a new peak window afterwards.
int64_t PeakDeviceBytes(at::Device device, bool reset);

// A marker in the current stream of a device: Record() enqueues it, Wait() blocks the host until the work
// before it is done. No-ops for CPU devices.
class DeviceEvent {
 public:
  explicit DeviceEvent(at::Device device);
  ~DeviceEvent();
  DeviceEvent(const DeviceEvent&) = delete;
  DeviceEvent& operator=(const DeviceEvent&) = delete;
  void Record();
  void Wait();
  // Milliseconds between two recorded, completed events of the same device (0 on CPU). REQUIRES both created
  // with timing (the constructor's default).
  double ElapsedMsSince(const DeviceEvent& start) const;

 private:
  struct Impl;
  at::Device device_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace m1rl::ops

#endif  // M1RL_KERNELS_OPS_H_
