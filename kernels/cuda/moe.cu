// MoE routing and permutation kernels. See moe.h.
#include <cuda_bf16.h>

#include <algorithm>

#include "kernels/cuda/internal/pack.cuh"
#include "kernels/cuda/moe.h"

namespace m1rl::cuda {
namespace {

using internal::FromFloat;
using internal::LoadPack;
using internal::Operand;
using internal::Pack;
using internal::PackWidth;
using internal::RowPackGeometry;
using internal::RowPackLaunch;
using internal::StorePack;
using internal::ToFloat;
using internal::WithIoType;
using internal::WithPackWidth;

constexpr int kMaxTopK = 8;

// One warp per token.
__global__ void RouteKernel(const float* logits, int64_t T, int64_t E, int64_t k, int32_t* experts,
                            float* weights, float* probs) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.y) + threadIdx.y;
  if (t >= T) return;
  const int lane = threadIdx.x;
  const float* row = logits + t * E;
  float mx = -INFINITY;
  for (int64_t e = lane; e < E; e += 32) mx = fmaxf(mx, row[e]);
  for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
  float sum = 0.f;
  for (int64_t e = lane; e < E; e += 32) sum += expf(row[e] - mx);
  for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
  if (probs != nullptr)
    for (int64_t e = lane; e < E; e += 32) probs[t * E + e] = expf(row[e] - mx) / sum;
  // Top-k by repeated arg-max over logits (monotone in p); ties to the lower index.
  int chosen[kMaxTopK];
  float chosen_p[kMaxTopK];
  float total = 0.f;
  for (int j = 0; j < k; ++j) {
    float best = -INFINITY;
    int best_e = 0x7fffffff;
    for (int64_t e = lane; e < E; e += 32) {
      bool taken = false;
      for (int i = 0; i < j; ++i) taken |= (chosen[i] == e);
      const float v = row[e];
      if (!taken && (v > best || (v == best && e < best_e))) {
        best = v;
        best_e = static_cast<int>(e);
      }
    }
    for (int off = 16; off > 0; off >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, best, off);
      const int oe = __shfl_xor_sync(0xffffffffu, best_e, off);
      if (ov > best || (ov == best && oe < best_e)) {
        best = ov;
        best_e = oe;
      }
    }
    chosen[j] = best_e;
    chosen_p[j] = expf(best - mx) / sum;
    total += chosen_p[j];
  }
  if (lane == 0) {
    for (int j = 0; j < k; ++j) {
      experts[t * k + j] = chosen[j];
      weights[t * k + j] = chosen_p[j] / total;
    }
  }
}

// One block per expert: a stable block-wide compaction of the slots routed to it.
// Pass 1 (count_only): counts[e]. Pass 2: writes rows starting at offsets[e].
template <bool kCountOnly>
__global__ void GroupKernel(const int32_t* experts, int64_t S, int32_t* counts, const int32_t* offsets,
                            int32_t* row_to_slot, int32_t* slot_to_row) {
  const int e = blockIdx.x;
  __shared__ int32_t warp_sums[32];
  __shared__ int32_t base;
  if (threadIdx.x == 0) base = kCountOnly ? 0 : offsets[e];
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  for (int64_t s0 = 0; s0 < S; s0 += blockDim.x) {
    const int64_t s = s0 + threadIdx.x;
    const int flag = (s < S && experts[s] == e) ? 1 : 0;
    const unsigned ballot = __ballot_sync(0xffffffffu, flag);
    const int in_warp = __popc(ballot & ((1u << lane) - 1u));
    if (lane == 0) warp_sums[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, total = 0;
    for (int w = 0; w < nwarps; ++w) {
      before += (w < warp) ? warp_sums[w] : 0;
      total += warp_sums[w];
    }
    if (!kCountOnly && flag) {
      const int32_t row = base + before + in_warp;
      row_to_slot[row] = static_cast<int32_t>(s);
      slot_to_row[s] = row;
    }
    __syncthreads();
    if (threadIdx.x == 0) base += total;
    __syncthreads();
  }
  if (kCountOnly && threadIdx.x == 0) counts[e] = base;
}

__global__ void ExclusiveScanKernel(int32_t* counts_to_offsets, int64_t E) {
  if (threadIdx.x != 0) return;
  int32_t run = 0;
  for (int64_t e = 0; e < E; ++e) {
    const int32_t c = counts_to_offsets[e];
    counts_to_offsets[e] = run;
    run += c;
  }
  counts_to_offsets[E] = run;
}

template <typename T>
__global__ void GatherKernel(const T* x, const int32_t* row_to_slot, int64_t k, int64_t H, T* xp) {
  const int64_t r = blockIdx.x;
  const int64_t t = row_to_slot[r] / k;
  for (int64_t i = threadIdx.x; i < H; i += blockDim.x) xp[r * H + i] = x[t * H + i];
}

// Products and sums through __fmul_rn / __fadd_rn, which nvcc never contracts into an fma: the rounding of
// the tensor ops (product, then sum) that the training path replaces.
template <typename T>
__global__ void CombineKernel(const T* yp, const int32_t* slot_to_row, const float* weights, int64_t k,
                              int64_t H, float* out) {
  const int64_t t = blockIdx.x;
  for (int64_t i = threadIdx.x; i < H; i += blockDim.x) {
    float acc = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t row = slot_to_row[t * k + j];
      acc = __fadd_rn(acc, __fmul_rn(weights[t * k + j], ToFloat(yp[row * H + i])));
    }
    out[t * H + i] = acc;
  }
}

constexpr int kCombineWarps = 8;  // slots per block of the backward (one warp each)

// Warp threadIdx.y of block b owns slot s = b * kCombineWarps + threadIdx.y: it reads dout's row s / k and
// yp's row slot_to_row[s] once, writes dyp's row and reduces dw[s] in a fixed order.
template <typename T>
__global__ void CombineBackwardKernel(const float* dout, const T* yp, const int32_t* slot_to_row,
                                      const float* weights, int64_t S, int64_t k, int64_t H, T* dyp,
                                      float* dw) {
  const int64_t s = blockIdx.x * static_cast<int64_t>(kCombineWarps) + threadIdx.y;
  if (s >= S) return;  // whole warps (threadIdx.y is uniform in a warp)
  const int lane = threadIdx.x;
  const int64_t row = slot_to_row[s];
  const float* d = dout + (s / k) * H;
  const float w = weights[s];
  float acc = 0.f;
  for (int64_t c = lane; c < H; c += 32) {
    const float dc = d[c];
    if (dyp != nullptr) dyp[row * H + c] = FromFloat<T>(__fmul_rn(w, dc));
    if (dw != nullptr) acc = fmaf(dc, ToFloat(yp[row * H + c]), acc);
  }
  if (dw == nullptr) return;
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (lane == 0) dw[s] = acc;
}

template <typename T>
cudaError_t LaunchCombineBackward(const float* dout, const void* yp, const int32_t* slot_to_row,
                                  const float* weights, int64_t S, int64_t k, int64_t H, void* dyp, float* dw,
                                  cudaStream_t stream) {
  const dim3 block(32, kCombineWarps);
  const unsigned blocks = static_cast<unsigned>((S + kCombineWarps - 1) / kCombineWarps);
  CombineBackwardKernel<<<blocks, block, 0, stream>>>(dout, static_cast<const T*>(yp), slot_to_row, weights,
                                                      S, k, H, static_cast<T*>(dyp), dw);
  return cudaGetLastError();
}

// Two bf16 per thread-iteration (bf16x2 loads/stores); I is even for every config we run (checked on launch).
__global__ void SwiGluKernel(const __nv_bfloat162* h, int64_t rows, int64_t half_inter, __nv_bfloat162* act) {
  const int64_t total = rows * half_inter;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = idx / half_inter, i = idx % half_inter;
    const float2 g = __bfloat1622float2(h[r * 2 * half_inter + i]);
    const float2 u = __bfloat1622float2(h[r * 2 * half_inter + half_inter + i]);
    const float ax = g.x / (1.f + expf(-g.x)) * u.x, ay = g.y / (1.f + expf(-g.y)) * u.y;
    act[idx] = __floats2bfloat162_rn(ax, ay);
  }
}

constexpr int kSlotThreads = 256;

// Thread (x, y) of block (bx, by) owns the pack starting at column c = (bx·blockDim.x + x)·V of rows
// by·blockDim.y + y, then every gridDim.y·blockDim.y rows on (V divides H: a pack starting below H ends
// within the row). The forward moves packs as raw bits (no conversion).
template <typename T, int V>
__global__ void __launch_bounds__(kSlotThreads)
    GatherSlotsKernel(const T* __restrict__ u, const int32_t* __restrict__ src, int64_t n, int64_t k,
                      int64_t H, int64_t rows, T* __restrict__ xp) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (c >= H) return;
  const int64_t row_step = static_cast<int64_t>(gridDim.y) * blockDim.y;
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; r < rows; r += row_step) {
    const int64_t s = src[r];
    Pack<T, V> pk;
    if (s >= 0 && s < n) {
      pk = *reinterpret_cast<const Pack<T, V>*>(u + (s / k) * H + c);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) pk.v[j] = FromFloat<T>(0.f);
    }
    *reinterpret_cast<Pack<T, V>*>(xp + r * H + c) = pk;
  }
}

// The same geometry over token rows: the k slot rows summed in order j from +0 through __fadd_rn (as
// LibTorch's index_add into zeros, then its sum over k).
template <typename T, int V>
__global__ void __launch_bounds__(kSlotThreads)
    GatherSlotsBackwardKernel(const T* __restrict__ dxp, const int32_t* __restrict__ dest, int64_t tokens,
                              int64_t k, int64_t H, T* __restrict__ du) {
  const int64_t c = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (c >= H) return;
  const int64_t row_step = static_cast<int64_t>(gridDim.y) * blockDim.y;
  for (int64_t t = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y; t < tokens; t += row_step) {
    float acc[V];
#pragma unroll
    for (int i = 0; i < V; ++i) acc[i] = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      float d[V];
      LoadPack<V>(dxp + static_cast<int64_t>(dest[t * k + j]) * H, c, d);
#pragma unroll
      for (int i = 0; i < V; ++i) acc[i] = __fadd_rn(acc[i], d[i]);
    }
    StorePack<V>(du + t * H, c, acc);
  }
}

bool BadSlotSizes(int64_t tokens, int64_t k, int64_t H, int64_t rows) {
  return tokens < 0 || k < 0 || rows < 0 || H <= 0 || H > 0x7fffffff;
}

}  // namespace

cudaError_t MoeSwiGlu(const void* h, int64_t rows, int64_t inter, void* act, cudaStream_t stream) {
  if (inter % 2 != 0) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  const int64_t total = rows * inter / 2;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 132 * 16));
  SwiGluKernel<<<blocks, 256, 0, stream>>>(static_cast<const __nv_bfloat162*>(h), rows, inter / 2,
                                           static_cast<__nv_bfloat162*>(act));
  return cudaGetLastError();
}

cudaError_t MoeRoute(const float* router_logits, int64_t T, int64_t E, int64_t k, int32_t* experts,
                     float* weights, float* probs, cudaStream_t stream) {
  if (k < 1 || k > kMaxTopK || k > E || E > 1024) return cudaErrorInvalidValue;
  if (T == 0) return cudaSuccess;
  const dim3 block(32, 8);
  RouteKernel<<<static_cast<unsigned>((T + 7) / 8), block, 0, stream>>>(router_logits, T, E, k, experts,
                                                                        weights, probs);
  return cudaGetLastError();
}

cudaError_t MoePermuteIndices(const int32_t* experts, int64_t T, int64_t k, int64_t E, int32_t* offsets,
                              int32_t* row_to_slot, int32_t* slot_to_row, cudaStream_t stream) {
  const int64_t S = T * k;
  GroupKernel<true>
      <<<static_cast<unsigned>(E), 1024, 0, stream>>>(experts, S, offsets, nullptr, nullptr, nullptr);
  ExclusiveScanKernel<<<1, 32, 0, stream>>>(offsets, E);
  GroupKernel<false>
      <<<static_cast<unsigned>(E), 1024, 0, stream>>>(experts, S, nullptr, offsets, row_to_slot, slot_to_row);
  return cudaGetLastError();
}

cudaError_t MoeGather(const void* x, const int32_t* row_to_slot, int64_t T, int64_t k, int64_t H,
                      int elem_bytes, void* xp, cudaStream_t stream) {
  if (T * k == 0) return cudaSuccess;
  const unsigned rows = static_cast<unsigned>(T * k);
  if (elem_bytes == 4) {
    GatherKernel<<<rows, 256, 0, stream>>>(static_cast<const float*>(x), row_to_slot, k, H,
                                           static_cast<float*>(xp));
  } else if (elem_bytes == 2) {
    GatherKernel<<<rows, 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(x), row_to_slot, k, H,
                                           static_cast<__nv_bfloat16*>(xp));
  } else {
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t MoeScatterCombine(const void* yp, const int32_t* slot_to_row, const float* weights, int64_t T,
                              int64_t k, int64_t H, int elem_bytes, float* out, cudaStream_t stream) {
  if (T == 0) return cudaSuccess;
  if (elem_bytes == 4) {
    CombineKernel<<<static_cast<unsigned>(T), 256, 0, stream>>>(static_cast<const float*>(yp), slot_to_row,
                                                                weights, k, H, out);
  } else if (elem_bytes == 2) {
    CombineKernel<<<static_cast<unsigned>(T), 256, 0, stream>>>(static_cast<const __nv_bfloat16*>(yp),
                                                                slot_to_row, weights, k, H, out);
  } else {
    return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t MoeCombineBackward(const float* dout, const void* yp, const int32_t* slot_to_row,
                               const float* weights, int64_t T, int64_t k, int64_t H, int64_t yp_rows,
                               int elem_bytes, void* dyp, float* dw, cudaStream_t stream) {
  if (elem_bytes != 4 && elem_bytes != 2) return cudaErrorInvalidValue;
  if (dyp != nullptr) {
    // Padding rows (and, before the kernel overwrites them, the slots' rows): one memset, as index_select's
    // backward zero-fills its gradient.
    const cudaError_t err = cudaMemsetAsync(dyp, 0, static_cast<size_t>(yp_rows * H * elem_bytes), stream);
    if (err != cudaSuccess) return err;
  }
  const int64_t S = T * k;
  if (S == 0 || (dyp == nullptr && dw == nullptr)) return cudaSuccess;
  if (elem_bytes == 4)
    return LaunchCombineBackward<float>(dout, yp, slot_to_row, weights, S, k, H, dyp, dw, stream);
  return LaunchCombineBackward<__nv_bfloat16>(dout, yp, slot_to_row, weights, S, k, H, dyp, dw, stream);
}

cudaError_t MoeGatherSlots(const MoeGatherSlotsArgs& a, cudaStream_t stream) {
  if (BadSlotSizes(a.tokens, a.top_k, a.hidden, a.rows)) return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;
  if (a.src == nullptr || a.xp == nullptr || (a.u == nullptr && a.tokens > 0)) return cudaErrorInvalidValue;
  const int v = PackWidth(a.hidden, {Operand{a.u, a.type}, Operand{a.xp, a.type}});
  const RowPackLaunch l = RowPackGeometry(a.rows, a.hidden, v, kSlotThreads);
  WithIoType(a.type, [&](auto tt) {
    WithPackWidth(v, [&](auto vw) {
      using T = typename decltype(tt)::type;
      GatherSlotsKernel<T, decltype(vw)::value>
          <<<l.grid, l.block, 0, stream>>>(static_cast<const T*>(a.u), a.src, a.tokens * a.top_k, a.top_k,
                                           a.hidden, a.rows, static_cast<T*>(a.xp));
    });
  });
  return cudaGetLastError();
}

cudaError_t MoeGatherSlotsBackward(const MoeGatherSlotsBackwardArgs& a, cudaStream_t stream) {
  if (BadSlotSizes(a.tokens, a.top_k, a.hidden, a.rows)) return cudaErrorInvalidValue;
  if (a.tokens == 0) return cudaSuccess;
  if (a.du == nullptr || (a.top_k > 0 && (a.dxp == nullptr || a.dest == nullptr)))
    return cudaErrorInvalidValue;
  const int v = PackWidth(a.hidden, {Operand{a.dxp, a.type}, Operand{a.du, a.type}});
  const RowPackLaunch l = RowPackGeometry(a.tokens, a.hidden, v, kSlotThreads);
  WithIoType(a.type, [&](auto tt) {
    WithPackWidth(v, [&](auto vw) {
      using T = typename decltype(tt)::type;
      GatherSlotsBackwardKernel<T, decltype(vw)::value><<<l.grid, l.block, 0, stream>>>(
          static_cast<const T*>(a.dxp), a.dest, a.tokens, a.top_k, a.hidden, static_cast<T*>(a.du));
    });
  });
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
