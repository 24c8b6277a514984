// Tensor-level kernels API (S3, S7): checks shapes and dtypes, then dispatches to a CUDA kernel (when one
// is registered for the device) or to the CPU reference in kernels/reference/. Semantics: MODEL.md §4.
#ifndef M1RL_KERNELS_OPS_H_
#define M1RL_KERNELS_OPS_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
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

}  // namespace m1rl::ops

#endif  // M1RL_KERNELS_OPS_H_
