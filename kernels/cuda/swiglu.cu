// Fused SwiGLU forward and backward. See swiglu.h.
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/internal/pack.cuh"
#include "kernels/cuda/swiglu.h"

namespace m1rl::cuda {
namespace {

using internal::LoadPack;
using internal::Operand;
using internal::PackWidth;
using internal::RoundTo;
using internal::RowPackGeometry;
using internal::RowPackLaunch;
using internal::StorePack;
using internal::WithIoType;
using internal::WithPackWidth;

constexpr int kThreads = 256;
constexpr int64_t kMaxGridX = 0x7fffffff;

// Thread (x, y) of block (bx, by) owns the pack starting at column c = (bx·blockDim.x + x)·V of rows
// by·blockDim.y + y, then every gridDim.y·blockDim.y rows on. Invariant: V divides inter, so a pack that
// starts below inter ends within the row.
template <typename T, int V>
__global__ void __launch_bounds__(kThreads)
    SwiGluForwardKernel(const T* __restrict__ h, T* __restrict__ act, int64_t rows, int64_t inter) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (c >= inter) return;
  const int64_t row_step = static_cast<int64_t>(gridDim.y) * blockDim.y;
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows; r += row_step) {
    const T* hr = h + r * 2 * inter;
    float g[V], u[V], o[V];
    LoadPack<V>(hr, c, g);
    LoadPack<V>(hr + inter, c, u);
#pragma unroll
    for (int j = 0; j < V; ++j)
      o[j] = RoundTo<T>(g[j] / (1.f + expf(-g[j]))) * u[j];  // as at::silu, then mul
    StorePack<V>(act + r * inter, c, o);
  }
}

template <typename T, int V>
__global__ void __launch_bounds__(kThreads)
    SwiGluBackwardKernel(const T* __restrict__ h, const T* __restrict__ dact, T* __restrict__ dh,
                         int64_t rows, int64_t inter) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (c >= inter) return;
  const int64_t row_step = static_cast<int64_t>(gridDim.y) * blockDim.y;
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows; r += row_step) {
    const T* hr = h + r * 2 * inter;
    T* dhr = dh + r * 2 * inter;
    float g[V], u[V], d[V], dg[V], du[V];
    LoadPack<V>(hr, c, g);
    LoadPack<V>(hr + inter, c, u);
    LoadPack<V>(dact + r * inter, c, d);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float den = 1.f + expf(-g[j]);
      const float s = 1.f / den;
      const float dsilu = RoundTo<T>(d[j] * u[j]);   // mul's backward into silu(g)
      dg[j] = dsilu * s * (1.f + g[j] * (1.f - s));  // silu_backward
      du[j] = d[j] * RoundTo<T>(g[j] / den);         // mul's backward against the rounded silu
    }
    StorePack<V>(dhr, c, dg);
    StorePack<V>(dhr + inter, c, du);
  }
}

bool BadSizes(int64_t rows, int64_t inter) { return rows < 0 || inter <= 0 || inter > kMaxGridX; }

}  // namespace

cudaError_t SwiGluForward(const SwiGluForwardArgs& a, cudaStream_t stream) {
  if (BadSizes(a.rows, a.inter)) return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;  // (empty tensors may have null data)
  if (a.h == nullptr || a.act == nullptr) return cudaErrorInvalidValue;
  const int v = PackWidth(a.inter, {Operand{a.h, a.type}, Operand{a.act, a.type}});
  const RowPackLaunch l = RowPackGeometry(a.rows, a.inter, v, kThreads);
  WithIoType(a.type, [&](auto tt) {
    WithPackWidth(v, [&](auto vw) {
      using T = typename decltype(tt)::type;
      SwiGluForwardKernel<T, decltype(vw)::value><<<l.grid, l.block, 0, stream>>>(
          static_cast<const T*>(a.h), static_cast<T*>(a.act), a.rows, a.inter);
    });
  });
  return cudaGetLastError();
}

cudaError_t SwiGluBackward(const SwiGluBackwardArgs& a, cudaStream_t stream) {
  if (BadSizes(a.rows, a.inter)) return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  if (a.h == nullptr || a.dact == nullptr || a.dh == nullptr) return cudaErrorInvalidValue;
  const int v = PackWidth(a.inter, {Operand{a.h, a.type}, Operand{a.dact, a.type}, Operand{a.dh, a.type}});
  const RowPackLaunch l = RowPackGeometry(a.rows, a.inter, v, kThreads);
  WithIoType(a.type, [&](auto tt) {
    WithPackWidth(v, [&](auto vw) {
      using T = typename decltype(tt)::type;
      SwiGluBackwardKernel<T, decltype(vw)::value><<<l.grid, l.block, 0, stream>>>(
          static_cast<const T*>(a.h), static_cast<const T*>(a.dact), static_cast<T*>(a.dh), a.rows, a.inter);
    });
  });
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
