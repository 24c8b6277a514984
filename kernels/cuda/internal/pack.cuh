// Vectorised element access shared by the elementwise / row kernels (rms_norm.cu, swiglu.cu, moe.cu): packs
// of V consecutive bf16 or fp32 elements moved as one 16-byte (or, for 8 fp32, two) memory access, converted
// to and from fp32, the host-side choice of the widest pack that every operand allows, and the launch
// geometry of a kernel over rows of packs. Device code only (nvcc); no torch (S3).
#ifndef M1RL_KERNELS_CUDA_INTERNAL_PACK_CUH_
#define M1RL_KERNELS_CUDA_INTERNAL_PACK_CUH_

#include <cuda_bf16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/lightning_attention.h"  // IoType

namespace m1rl::cuda::internal {

// V consecutive elements, aligned so that one pack is one (or, for 8 fp32, two) vector memory accesses.
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ float FromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// v rounded to T (round to nearest even) and back: what a LibTorch op of dtype T stores for an fp32 result.
template <typename T>
__device__ __forceinline__ float RoundTo(float v) {
  return ToFloat(FromFloat<T>(v));
}

// Elements i .. i+V-1 of p (i a multiple of V; p + i aligned to the pack).
template <int V, typename T>
__device__ __forceinline__ void LoadPack(const T* p, int64_t i, float (&out)[V]) {
  const Pack<T, V> pk = *reinterpret_cast<const Pack<T, V>*>(p + i);
#pragma unroll
  for (int j = 0; j < V; ++j) out[j] = ToFloat(pk.v[j]);
}

template <int V, typename T>
__device__ __forceinline__ void StorePack(T* p, int64_t i, const float (&in)[V]) {
  Pack<T, V> pk;
#pragma unroll
  for (int j = 0; j < V; ++j) pk.v[j] = FromFloat<T>(in[j]);
  *reinterpret_cast<Pack<T, V>*>(p + i) = pk;
}

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls f(TypeTag<__nv_bfloat16>) or f(TypeTag<float>) for t.
template <typename F>
void WithIoType(IoType t, F&& f) {
  if (t == IoType::kBF16) {
    f(TypeTag<__nv_bfloat16>{});
  } else {
    f(TypeTag<float>{});
  }
}

// Calls f(std::integral_constant<int, v>) for v in {8, 4}, else with 1.
template <typename F>
void WithPackWidth(int v, F&& f) {
  if (v == 8) {
    f(std::integral_constant<int, 8>{});
  } else if (v == 4) {
    f(std::integral_constant<int, 4>{});
  } else {
    f(std::integral_constant<int, 1>{});
  }
}

inline int ElementBytes(IoType t) { return t == IoType::kBF16 ? 2 : 4; }

struct Operand {
  const void* p;
  IoType type;
};

// The widest pack (8, 4, else 1 element) that divides cols and to which every operand is aligned.
template <int N>
int PackWidth(int64_t cols, const Operand (&operands)[N]) {
  for (int v : {8, 4}) {
    bool ok = cols % v == 0;
    for (const Operand& o : operands) {
      ok = ok && reinterpret_cast<uintptr_t>(o.p) % static_cast<uintptr_t>(v * ElementBytes(o.type)) == 0;
    }
    if (ok) return v;
  }
  return 1;
}

// The launch of a row kernel over packs of v elements of rows [rows, cols]: blocks of `threads` threads
// (a power of two), x spanning a row's cols / v packs (a power of two up to `threads`), y the rows (at most
// 65535 blocks: kernels loop over rows in steps of gridDim.y · blockDim.y).
struct RowPackLaunch {
  dim3 grid, block;
};

inline RowPackLaunch RowPackGeometry(int64_t rows, int64_t cols, int v, int threads) {
  constexpr int64_t kMaxGridY = 65535;
  const int64_t packs = cols / v;
  int64_t tx = 1;
  while (tx < packs && tx < threads) tx *= 2;
  const int64_t ty = threads / tx;
  const int64_t gx = (packs + tx - 1) / tx, gy = (rows + ty - 1) / ty;
  return {dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy < kMaxGridY ? gy : kMaxGridY)),
          dim3(static_cast<unsigned>(tx), static_cast<unsigned>(ty))};
}

}  // namespace m1rl::cuda::internal

#endif  // M1RL_KERNELS_CUDA_INTERNAL_PACK_CUH_
