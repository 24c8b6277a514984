// Dtype widening of a flat array: bf16 -> fp32, as at::Tensor::to(at::kFloat) does it (mixed precision's
// gradient of a bf16 compute copy of an fp32 master weight, model/hybrid_model.cc). Raw pointers + stream
// (S3); kernels/ops.h has the tensor contract (ops::WidenToFloat).
//
// Every bf16 value is an fp32 value, so the result is exact: each element is converted as LibTorch's CUDA
// copy converts it (__bfloat162float), bit-identical to .to(at::kFloat). With both pointers 16-byte aligned,
// each thread moves packs of 8 elements (one 16-byte load, two 16-byte stores) and the last n % 8 elements
// one at a time; otherwise every element goes one at a time. Grid-stride; no atomics, bit-reproducible.
#ifndef M1RL_KERNELS_CUDA_CAST_H_
#define M1RL_KERNELS_CUDA_CAST_H_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace m1rl::cuda {

// out[i] = float(in[i]) for i in [0, n). in: n bf16, out: n fp32, both on the stream's device, not
// overlapping. REQUIRES: n >= 0. n == 0 launches nothing (pointers may then be null). Returns
// cudaErrorInvalidValue on a negative n or a null pointer, else the launch status.
cudaError_t WidenBf16ToF32(const void* in, float* out, int64_t n, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_CAST_H_
