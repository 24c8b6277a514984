// Fused residual + RMSNorm (+ sigmoid gate) for the decode step (MODEL.md §3, §4.6). Raw pointers + stream
// (S3); kernels/reference/naive.h has the CPU twin (RmsNormReference) and kernels/ops.h the tensor contract
// (ops::ResidualRmsNorm), whose LibTorch composite this kernel reproduces rounding step by rounding step.
//
// Per row r of [rows, cols] (every intermediate rounded to `h_type`, R_h, as LibTorch rounds each op's result
// to the tensor's dtype; R_h is the identity for fp32):
//   h   = b ? R_h(R_h(a·alpha) + R_h(R_h(b)·beta)) : a
//   y   = (h · rsqrt(Σ h² / cols + eps)) · w                       (fp32)
//   out = gate ? R_o(R_o(sigmoid(gate)) · R_o(y)) : R_o(y)          (R_o: rounding to out_type)
// One block per row; the sum of squares is a block reduction in fp32.
#ifndef M1RL_KERNELS_CUDA_RMS_NORM_H_
#define M1RL_KERNELS_CUDA_RMS_NORM_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/lightning_attention.h"  // IoType

namespace m1rl::cuda {

struct ResidualRmsNormArgs {
  int64_t rows = 0, cols = 0;
  const void* a = nullptr;  // [rows, cols], row stride a_stride, type a_type
  int64_t a_stride = 0;
  IoType a_type = IoType::kF32;
  const void* b = nullptr;  // [rows, cols] or null (no residual sum)
  int64_t b_stride = 0;
  IoType b_type = IoType::kF32;
  float alpha = 1.f, beta = 1.f;
  IoType h_type = IoType::kF32;  // dtype of the residual sum (a's dtype in the composite)
  const void* w = nullptr;       // [cols]
  IoType w_type = IoType::kF32;
  float eps = 1e-6f;
  const void* gate = nullptr;  // [rows, cols] pre-sigmoid logits of type out_type, or null
  int64_t gate_stride = 0;
  void* out = nullptr;  // [rows, cols] contiguous
  IoType out_type = IoType::kF32;
};

cudaError_t ResidualRmsNorm(const ResidualRmsNormArgs& args, cudaStream_t stream);

// The training RMSNorm (ops::RmsNorm on CUDA) and the training residual + RMSNorm (+ gate)
// (ops::ResidualRmsNormWithSum on CUDA), forward and backward. All arrays contiguous [rows, cols] (rstd
// [rows], w / dw [cols]); fp32 math. Per row, as the tensor composite rounds it (R_x, R_o: rounding to
// x_type, out_type), the norm's input u is the residual sum (b in x_type; the decode kernel's arithmetic,
// stored to h when set) or x:
//   u    = b ? R_x(R_x(x·alpha) + R_x(b·beta)) : x
//   rstd = rsqrt(Σ u² · (1/cols) + eps),  n = R_o((u · rstd) · w)
//   out  = gate ? R_o(R_o(sigmoid(gate)) · n) : n          (the decode kernel's gate arithmetic)
// Backward, given u as `x` (the forward's h when it had b), with xhat = u · rstd, σ = sigmoid(gate) in fp32,
// e = dy · R_o(σ) (e = dy without a gate) and g = e · w:
//   t     = rstd · (g − xhat · Σ(g · xhat) · (1/cols)) + dh     (fp32; dh = 0 when null)
//   dx    = R_x(dx_scale · t),  db = R_x(db_scale · t)           (each rounded once)
//   dgate = R_o(dy · n · σ · (1 − σ))                            (σ unrounded: R_o(σ) near 1 loses 1 − σ)
//   dw    = R_w(Σ_rows e · xhat): per-block partial sums over a fixed row partition, then a fixed-order sum
//           over the blocks (no atomics: bit-reproducible run to run).
// Loads are vectorised (8 or 4 elements) when cols and every pointer allow it, scalar otherwise.
struct RmsNormForwardArgs {
  int64_t rows = 0, cols = 0;
  const void* x = nullptr;  // [rows, cols] x_type
  IoType x_type = IoType::kF32;
  const void* b = nullptr;  // [rows, cols] x_type, or null (no residual sum)
  float alpha = 1.f, beta = 1.f;
  void* h = nullptr;        // [rows, cols] x_type: the residual sum, or null (not stored)
  const void* w = nullptr;  // [cols] w_type
  IoType w_type = IoType::kF32;
  float eps = 1e-6f;
  const void* gate = nullptr;  // [rows, cols] out_type pre-sigmoid logits, or null
  void* out = nullptr;         // [rows, cols] out_type
  IoType out_type = IoType::kF32;
  float* rstd = nullptr;  // [rows] fp32
};

cudaError_t RmsNormForward(const RmsNormForwardArgs& args, cudaStream_t stream);

struct RmsNormBackwardArgs {
  int64_t rows = 0, cols = 0;
  const void* dy = nullptr;  // [rows, cols] out_type (the forward's output dtype)
  IoType out_type = IoType::kF32;
  const void* x = nullptr;  // [rows, cols] x_type
  IoType x_type = IoType::kF32;
  const void* w = nullptr;  // [cols] w_type
  IoType w_type = IoType::kF32;
  const float* rstd = nullptr;  // [rows] from RmsNormForward
  const void* gate = nullptr;   // [rows, cols] out_type, the forward's gate, or null
  const void* dh = nullptr;     // [rows, cols] x_type, gradient added to the norm's input gradient, or null
  void* dx = nullptr;           // [rows, cols] x_type
  float dx_scale = 1.f;
  void* db = nullptr;  // [rows, cols] x_type, or null
  float db_scale = 1.f;
  void* dgate = nullptr;        // [rows, cols] out_type, or null (REQUIRES gate when set)
  void* dw = nullptr;           // [cols] w_type, or null (no weight gradient)
  float* dw_partial = nullptr;  // [RmsNormBackwardBlocks(rows, cols), cols] fp32 scratch when dw is set
};

// Blocks of the backward's row partition (block b takes rows b, b + blocks, ...): min(rows, a cap set by
// cols), independent of the device, so dw's summation order depends on the shape alone.
int64_t RmsNormBackwardBlocks(int64_t rows, int64_t cols);

cudaError_t RmsNormBackward(const RmsNormBackwardArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_RMS_NORM_H_
