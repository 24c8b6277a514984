// Fused SwiGLU of the MoE / MLP feed-forward (MODEL.md §3), forward and backward. Raw pointers + stream (S3);
// kernels/ops.h has the tensor contract (ops::SwiGlu) and its tensor-op composite, whose roundings these
// kernels reproduce step by step.
//
// h [rows, 2·inter] holds the gate g = h[:, :inter] and the up projection u = h[:, inter:] of each row. With
// R the rounding to the io type (round to nearest even; the identity for fp32) and fp32 arithmetic:
//   silu(g) = g / (1 + exp(−g)),  s = 1 / (1 + exp(−g))
//   act     = R(R(silu(g)) · u)                                 (at::silu(g) * u: silu rounded, then the mul)
//   dg      = R(R(dact · u) · s · (1 + g · (1 − s)))             (mul's backward, then silu_backward)
//   du      = R(dact · R(silu(g)))                               (mul's backward against the rounded silu)
// i.e. two roundings per output, as LibTorch's composite rounds each op's result to the tensor's dtype (one
// rounding, the fp32 value rounded once, would be slightly more accurate but would no longer equal the
// composite). The forward is expected to be bit-identical to the composite (same fp32 expressions); the
// backward's fp32 expressions may be contracted (fma) differently from LibTorch's, within an fp32 ulp before
// rounding. Elementwise: no atomics, bit-reproducible run to run.
//
// Packs of 8 (bf16) or 4 (fp32) elements move as 16-byte accesses when inter and every pointer allow it (the
// widest pack dividing inter to which all operands are aligned); otherwise one element per access.
#ifndef M1RL_KERNELS_CUDA_SWIGLU_H_
#define M1RL_KERNELS_CUDA_SWIGLU_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/lightning_attention.h"  // IoType

namespace m1rl::cuda {

// REQUIRES: rows >= 0, inter > 0; every array contiguous, all of one io type. rows == 0 launches nothing
// (pointers may then be null). Returns cudaErrorInvalidValue on a bad size or null pointer, else the launch
// status.
struct SwiGluForwardArgs {
  int64_t rows = 0, inter = 0;
  const void* h = nullptr;  // [rows, 2·inter] type
  void* act = nullptr;      // [rows, inter] type
  IoType type = IoType::kF32;
};

cudaError_t SwiGluForward(const SwiGluForwardArgs& args, cudaStream_t stream);

struct SwiGluBackwardArgs {
  int64_t rows = 0, inter = 0;
  const void* h = nullptr;     // [rows, 2·inter] type (the forward's input)
  const void* dact = nullptr;  // [rows, inter] type
  void* dh = nullptr;          // [rows, 2·inter] type: dg in columns [0, inter), du in [inter, 2·inter)
  IoType type = IoType::kF32;
};

cudaError_t SwiGluBackward(const SwiGluBackwardArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_SWIGLU_H_
