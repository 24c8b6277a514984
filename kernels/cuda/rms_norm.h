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

// The training RMSNorm (ops::RmsNorm on CUDA), forward and backward. All arrays contiguous [rows, cols]
// (rstd [rows], w / dw [cols]); fp32 math. Per row r, as the tensor composite rounds it (R_o: rounding to
// out_type):
//   rstd = rsqrt(Σ x² · (1/cols) + eps),  y = R_o((x · rstd) · w)
// Backward, with xhat = x · rstd and g = dy · w:
//   dx = R_x(rstd · (g − xhat · Σ(g · xhat) · (1/cols)))
//   dw = R_w(Σ_r dy · xhat): per-block partial sums over a fixed row partition, then a fixed-order sum over
//        the blocks (no atomics: bit-reproducible run to run).
// Loads are vectorised (8 or 4 elements) when cols and every pointer allow it, scalar otherwise.
struct RmsNormForwardArgs {
  int64_t rows = 0, cols = 0;
  const void* x = nullptr;  // [rows, cols] x_type
  IoType x_type = IoType::kF32;
  const void* w = nullptr;  // [cols] w_type
  IoType w_type = IoType::kF32;
  float eps = 1e-6f;
  void* out = nullptr;  // [rows, cols] out_type
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
  void* dx = nullptr;           // [rows, cols] x_type
  void* dw = nullptr;           // [cols] w_type, or null (no weight gradient)
  float* dw_partial = nullptr;  // [RmsNormBackwardBlocks(rows, cols), cols] fp32 scratch when dw is set
};

// Blocks of the backward's row partition (block b takes rows b, b + blocks, ...): min(rows, a cap set by
// cols), independent of the device, so dw's summation order depends on the shape alone.
int64_t RmsNormBackwardBlocks(int64_t rows, int64_t cols);

cudaError_t RmsNormBackward(const RmsNormBackwardArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_RMS_NORM_H_
