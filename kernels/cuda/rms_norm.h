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

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_RMS_NORM_H_
