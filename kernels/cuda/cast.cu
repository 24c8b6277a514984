// Dtype widening bf16 -> fp32. See cast.h.
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/cast.h"
#include "kernels/cuda/internal/pack.cuh"

namespace m1rl::cuda {
namespace {

using internal::Pack;
using internal::ToFloat;

constexpr int kThreads = 256;
constexpr int kPack = 8;  // bf16 elements per 16-byte load
// A grid-stride cap: several waves of resident 256-thread blocks on any sm_90 device (132 SMs x 8).
constexpr int64_t kMaxBlocks = 4096;

// Thread t of the grid converts packs t, t + stride, ... of kPack elements (the first `packs` of them;
// in and out aligned to 16 bytes), then elements packs·kPack + t, + stride, ... up to n one at a time.
__global__ void __launch_bounds__(kThreads)
    WidenBf16Kernel(const __nv_bfloat16* __restrict__ in, float* __restrict__ out, int64_t packs, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const auto* in_packs = reinterpret_cast<const Pack<__nv_bfloat16, kPack>*>(in);
  auto* out_packs = reinterpret_cast<Pack<float, kPack / 2>*>(out);
  for (int64_t p = t; p < packs; p += stride) {
    const Pack<__nv_bfloat16, kPack> x = in_packs[p];
    Pack<float, kPack / 2> lo, hi;
#pragma unroll
    for (int j = 0; j < kPack / 2; ++j) {
      lo.v[j] = ToFloat(x.v[j]);
      hi.v[j] = ToFloat(x.v[j + kPack / 2]);
    }
    out_packs[2 * p] = lo;
    out_packs[2 * p + 1] = hi;
  }
  for (int64_t i = packs * kPack + t; i < n; i += stride) out[i] = ToFloat(in[i]);
}

bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

cudaError_t WidenBf16ToF32(const void* in, float* out, int64_t n, cudaStream_t stream) {
  if (n < 0) return cudaErrorInvalidValue;
  if (n == 0) return cudaSuccess;  // (empty tensors may have null data)
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  const int64_t packs = Aligned16(in) && Aligned16(out) ? n / kPack : 0;
  const int64_t units = packs + (n - packs * kPack);  // a pack or a tail element per thread
  const int64_t blocks = (units + kThreads - 1) / kThreads;
  WidenBf16Kernel<<<static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks), kThreads, 0, stream>>>(
      static_cast<const __nv_bfloat16*>(in), out, packs, n);
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
