// Fused residual + RMSNorm (+ gate). See rms_norm.h.
#include <cuda_bf16.h>

#include "kernels/cuda/rms_norm.h"

namespace m1rl::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float Load(const void* p, IoType t, int64_t i) {
  return t == IoType::kBF16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i])
                            : static_cast<const float*>(p)[i];
}

__device__ __forceinline__ float Round(float x, IoType t) {
  return t == IoType::kBF16 ? __bfloat162float(__float2bfloat16_rn(x)) : x;
}

// The residual sum h of element (row, c), rounded as the composite rounds it.
__device__ __forceinline__ float Residual(const ResidualRmsNormArgs& a, int64_t row, int64_t c) {
  const float x = Load(a.a, a.a_type, row * a.a_stride + c);
  if (a.b == nullptr) return x;
  const float y = Round(Load(a.b, a.b_type, row * a.b_stride + c), a.h_type);
  return Round(Round(x * a.alpha, a.h_type) + Round(y * a.beta, a.h_type), a.h_type);
}

__device__ float BlockSum(float v) {
  __shared__ float partial[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float s = 0.f;
  for (int i = 0; i < kThreads / 32; ++i) s += partial[i];  // same order in every thread
  return s;
}

__global__ void ResidualRmsNormKernel(ResidualRmsNormArgs a) {
  const int64_t row = blockIdx.x;
  float sq = 0.f;
  for (int64_t c = threadIdx.x; c < a.cols; c += kThreads) {
    const float h = Residual(a, row, c);
    sq += h * h;
  }
  const float rstd = rsqrtf(BlockSum(sq) / static_cast<float>(a.cols) + a.eps);
  for (int64_t c = threadIdx.x; c < a.cols; c += kThreads) {
    const float y = Round(Residual(a, row, c) * rstd * Load(a.w, a.w_type, c), a.out_type);
    float o = y;
    if (a.gate != nullptr) {
      const float g = Load(a.gate, a.out_type, row * a.gate_stride + c);
      o = Round(Round(1.f / (1.f + expf(-g)), a.out_type) * y, a.out_type);
    }
    if (a.out_type == IoType::kBF16) {
      static_cast<__nv_bfloat16*>(a.out)[row * a.cols + c] = __float2bfloat16_rn(o);
    } else {
      static_cast<float*>(a.out)[row * a.cols + c] = o;
    }
  }
}

}  // namespace

cudaError_t ResidualRmsNorm(const ResidualRmsNormArgs& args, cudaStream_t stream) {
  if (args.rows < 0 || args.cols <= 0 || args.a == nullptr || args.w == nullptr || args.out == nullptr) {
    return cudaErrorInvalidValue;
  }
  if (args.rows == 0) return cudaSuccess;
  ResidualRmsNormKernel<<<static_cast<unsigned>(args.rows), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
