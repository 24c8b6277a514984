// CPU references of lightning attention (MODEL.md §4). Two forms that agree in exact arithmetic:
//  - LightningAttentionChunked: the block form built from ATen ops (matmuls per block, all sequences of a
//    packed batch processed together), differentiable by autograd; what ops::LightningAttention runs on CPU.
//  - LightningAttentionRecurrent: the plain token recurrence in C++ with double accumulation; the oracle
//    that tests compare against (never used in training).
#ifndef M1RL_KERNELS_REFERENCE_LIGHTNING_ATTENTION_H_
#define M1RL_KERNELS_REFERENCE_LIGHTNING_ATTENTION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace m1rl::reference {

struct LightningResult {
  at::Tensor out;          // [T, N_h, d]
  at::Tensor final_state;  // [B, N_h, d, d]
};

// Block form. Computes in `state_dtype`-precision (q, k, v are cast to it); `out` has q's dtype and
// `final_state` the state dtype. Sequences are gathered into a right-padded [B, N_h, T_pad, d] layout;
// padded positions get zero k and v and per-sequence decay exponents, so the final state of every sequence
// is exact for its own length. Extra memory: O(B·N_h·T_pad·d + B·N_h·C²) for block C.
// REQUIRES as ops::LightningAttention.
LightningResult LightningAttentionChunked(const at::Tensor& q,      // [T, N_h, d]
                                          const at::Tensor& k,      // [T, N_h, d]
                                          const at::Tensor& v,      // [T, N_h, d]
                                          const at::Tensor& decay,  // [N_h]
                                          const std::vector<int64_t>& cu_seqlens,
                                          const at::Tensor& initial_state,  // [B, N_h, d, d] or undefined
                                          int64_t block_size, at::ScalarType state_dtype);

// Token recurrence, double accumulation; returns float64 tensors. Not differentiable.
LightningResult LightningAttentionRecurrent(const at::Tensor& q,      // [T, N_h, d]
                                            const at::Tensor& k,      // [T, N_h, d]
                                            const at::Tensor& v,      // [T, N_h, d]
                                            const at::Tensor& decay,  // [N_h]
                                            const std::vector<int64_t>& cu_seqlens,
                                            const at::Tensor& initial_state);  // [B, N_h, d, d] or undefined

// One recurrence step with ATen ops: state ← λ·state + kᵀv (in place), returns q·state in state dtype.
at::Tensor LightningDecodeStep(const at::Tensor& q,      // [B, N_h, d] state dtype
                               const at::Tensor& k,      // [B, N_h, d]
                               const at::Tensor& v,      // [B, N_h, d]
                               const at::Tensor& decay,  // [N_h]
                               at::Tensor& state);       // [B, N_h, d, d]

}  // namespace m1rl::reference

#endif  // M1RL_KERNELS_REFERENCE_LIGHTNING_ATTENTION_H_
