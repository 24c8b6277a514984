// MoE routing and token permutation kernels (MODEL.md §6). Raw pointers + sizes + stream (S3).
//
// Routing: p = softmax(router_logits) in fp32; top-k with ties to the lower expert index; weights
// renormalised over the chosen k. Permutation groups the T*k (token, slot) pairs by expert, stably (ascending
// token, then slot), so the result is deterministic; experts then run as one grouped GEMM over contiguous row
// ranges.
#ifndef M1RL_KERNELS_CUDA_MOE_H_
#define M1RL_KERNELS_CUDA_MOE_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/lightning_attention.h"  // IoType

namespace m1rl::cuda {

// router_logits [T, E] fp32 -> experts [T, k] int32, weights [T, k] fp32, probs [T, E] fp32 (or null).
// REQUIRES 1 <= k <= 8, k <= E <= 1024.
cudaError_t MoeRoute(const float* router_logits, int64_t num_tokens, int64_t num_experts, int64_t top_k,
                     int32_t* experts, float* weights, float* probs, cudaStream_t stream);

// Stable grouping of the T*k slots by expert.
//   experts [T*k] int32 (slot s = t*k + j) -> offsets [E+1] (rows of expert e are [offsets[e],
//   offsets[e+1])), row_to_slot [T*k] (permuted row -> slot), slot_to_row [T*k] (slot -> permuted row).
cudaError_t MoePermuteIndices(const int32_t* experts, int64_t num_tokens, int64_t top_k, int64_t num_experts,
                              int32_t* offsets, int32_t* row_to_slot, int32_t* slot_to_row,
                              cudaStream_t stream);

// xp[r, :] = x[row_to_slot[r] / k, :] for r < T*k; x [T, H], xp [T*k, H]; elem_bytes 2 (bf16) or 4 (fp32).
cudaError_t MoeGather(const void* x, const int32_t* row_to_slot, int64_t num_tokens, int64_t top_k,
                      int64_t hidden, int elem_bytes, void* xp, cudaStream_t stream);

// out[t, :] = sum_j weights[t, j] * yp[slot_to_row[t*k + j], :] in fp32: each product rounded to fp32, then
// added in slot order j = 0..k-1 to an accumulator starting at 0 (no fused multiply-add; for k <= 2 this is
// bit-identical to LibTorch's (y * w.unsqueeze(2)).sum(1) over fp32 y). yp [rows, H] fp32 or bf16
// (elem_bytes 4 / 2), rows any count covering the slot_to_row entries (rows no slot names are never read);
// weights [T*k] fp32; out [T, H] fp32.
cudaError_t MoeScatterCombine(const void* yp, const int32_t* slot_to_row, const float* weights,
                              int64_t num_tokens, int64_t top_k, int64_t hidden, int elem_bytes, float* out,
                              cudaStream_t stream);

// Backward of MoeScatterCombine under dout [T, H] fp32, for training (yp [yp_rows, H]; slot_to_row injective
// into [0, yp_rows); rows no slot names are padding):
//   dyp[slot_to_row[s], :] = weights[s] * dout[s / k, :], the fp32 product rounded once to yp's type
//   (elem_bytes 4 / 2), and dyp's padding rows = 0;
//   dw[s] = sum_c dout[s / k, c] * yp[slot_to_row[s], c] in fp32 (one warp per slot: per-lane strided fmaf
//   sums, then a fixed shuffle tree; no atomics, so run-to-run bit-identical).
// dyp [yp_rows, H] or null (not computed); dw [T*k] fp32 or null.
cudaError_t MoeCombineBackward(const float* dout, const void* yp, const int32_t* slot_to_row,
                               const float* weights, int64_t num_tokens, int64_t top_k, int64_t hidden,
                               int64_t yp_rows, int elem_bytes, void* dyp, float* dw, cudaStream_t stream);

// Fused SwiGLU on the gate/up GEMM output: act[r, i] = silu(h[r, i]) * h[r, I + i], computed in fp32 and
// rounded once to bf16. h [rows, 2I] bf16, act [rows, I] bf16 (one pass instead of three elementwise
// kernels).
cudaError_t MoeSwiGlu(const void* h, int64_t rows, int64_t inter, void* act, cudaStream_t stream);

// The training MoE's expert buffer (kernels/cuda_ops.cc MoeExpertsGrouped) and its gradient, each one kernel
// (no atomics: bit-reproducible run to run). With n = tokens · top_k slots (slot s = token s / k, choice
// s % k):
//   forward   xp[r, :] = u[src[r] / k, :] where 0 <= src[r] < n, else 0 (a padding row);
//   backward  du[t, :] = R(0 + dxp[dest[t·k], :] + ... + dxp[dest[t·k + k − 1], :]), summed in fp32 in the
//             order j = 0..k−1 from +0 and rounded once (R) to the io type.
// dest is the slot -> buffer row map (injective into [0, rows); src[dest[s]] = s); dxp's rows no slot names
// (padding) are never read. The forward is a copy (bit-identical to any gather); the backward equals the
// composite it replaces, index_select's index_add into distinct zero rows then expand's fp32 sum over k,
// except possibly for k > 2, where LibTorch's reduction may associate the k terms differently.
// Packs of 8 (bf16) or 4 (fp32) elements move as 16-byte accesses when hidden and every pointer allow it.
// REQUIRES tokens, top_k, rows >= 0, hidden > 0; arrays contiguous, u / xp / dxp / du of one io type. Empty
// outputs launch nothing (pointers may then be null). Returns cudaErrorInvalidValue on a bad size or null
// pointer, else the launch status.
struct MoeGatherSlotsArgs {
  int64_t tokens = 0, top_k = 0, hidden = 0, rows = 0;
  const void* u = nullptr;       // [tokens, hidden] type
  const int32_t* src = nullptr;  // [rows]: the slot row r copies; any value outside [0, n): zeros
  void* xp = nullptr;            // [rows, hidden] type
  IoType type = IoType::kF32;
};

cudaError_t MoeGatherSlots(const MoeGatherSlotsArgs& args, cudaStream_t stream);

struct MoeGatherSlotsBackwardArgs {
  int64_t tokens = 0, top_k = 0, hidden = 0, rows = 0;
  const void* dxp = nullptr;      // [rows, hidden] type
  const int32_t* dest = nullptr;  // [tokens · top_k]: the buffer row of each slot, distinct, in [0, rows)
  void* du = nullptr;             // [tokens, hidden] type
  IoType type = IoType::kF32;
};

cudaError_t MoeGatherSlotsBackward(const MoeGatherSlotsBackwardArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_MOE_H_
