// Fused residual + RMSNorm (+ gate) and the training RMSNorm forward/backward. See rms_norm.h.
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/internal/pack.cuh"
#include "kernels/cuda/rms_norm.h"

namespace m1rl::cuda {
namespace {

using internal::FromFloat;
using internal::LoadPack;
using internal::Operand;
using internal::PackWidth;
using internal::StorePack;
using internal::WithIoType;
using internal::WithPackWidth;

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

// ---- Training RMSNorm ------------------------------------------------------------------------------------

constexpr int kMaxNormThreads = 512;
// The backward's row blocks: up to 2^21 / cols (the fp32 dw partials stay <= 8 MiB), within [256, 1024].
constexpr int64_t kBackwardPartialFloats = int64_t{1} << 21;
constexpr int64_t kMinBackwardBlocks = 256, kMaxBackwardBlocks = 1024;
constexpr int64_t kSmemDwCols = 8192;  // dw accumulates in shared memory (32 KiB) up to this width
constexpr int kReduceCols = 32, kReduceRows = 16;

// Σ v over the block (blockDim.x a multiple of 32, at most 1024; every thread calls it), the same value in
// every thread. `red`: 32 floats of shared memory, free for the next call on return.
__device__ float BlockSumAll(float v, float* red) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float s = 0.f;
  const int warps = static_cast<int>(blockDim.x >> 5);
  for (int i = 0; i < warps; ++i) s += red[i];  // same order in every thread
  __syncthreads();
  return s;
}

// One block per row; thread t owns the packs t, t + blockDim.x, ...
template <typename TX, typename TW, typename TO, int V>
__global__ void __launch_bounds__(kMaxNormThreads)
    RmsNormForwardKernel(const TX* __restrict__ x, const TW* __restrict__ w, TO* __restrict__ out,
                         float* __restrict__ rstd, int64_t cols, float inv_cols, float eps) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x;
  const TX* xr = x + row * cols;
  TO* orow = out + row * cols;
  const int64_t first = static_cast<int64_t>(threadIdx.x) * V, step = static_cast<int64_t>(blockDim.x) * V;
  float sq = 0.f;
  for (int64_t c = first; c < cols; c += step) {
    float xv[V];
    LoadPack<V>(xr, c, xv);
#pragma unroll
    for (int j = 0; j < V; ++j) sq += xv[j] * xv[j];
  }
  // As the composite: mean = Σ · (1/cols), then + eps, each rounded (no fma), then rsqrt.
  const float r = rsqrtf(__fadd_rn(__fmul_rn(BlockSumAll(sq, red), inv_cols), eps));
  if (threadIdx.x == 0) rstd[row] = r;
  for (int64_t c = first; c < cols; c += step) {
    float xv[V], wv[V], ov[V];
    LoadPack<V>(xr, c, xv);
    LoadPack<V>(w, c, wv);
#pragma unroll
    for (int j = 0; j < V; ++j) ov[j] = __fmul_rn(__fmul_rn(xv[j], r), wv[j]);
    StorePack<V>(orow, c, ov);
  }
}

// Block b handles rows b, b + gridDim.x, ... and sums dy · xhat of its rows into dw_partial[b, :] (in shared
// memory first when smem_acc; each column is owned by one thread throughout, so no synchronisation).
template <typename TX, typename TW, typename TO, int V>
__global__ void __launch_bounds__(kMaxNormThreads)
    RmsNormBackwardKernel(const TO* __restrict__ dy, const TX* __restrict__ x, const TW* __restrict__ w,
                          const float* __restrict__ rstd, TX* __restrict__ dx, float* __restrict__ dw_partial,
                          int64_t rows, int64_t cols, float inv_cols, bool smem_acc) {
  extern __shared__ float acc_smem[];
  __shared__ float red[32];
  float* acc = nullptr;
  if (dw_partial != nullptr) acc = smem_acc ? acc_smem : dw_partial + static_cast<int64_t>(blockIdx.x) * cols;
  const int64_t first = static_cast<int64_t>(threadIdx.x) * V, step = static_cast<int64_t>(blockDim.x) * V;
  if (acc != nullptr) {
    for (int64_t c = first; c < cols; c += step) {
#pragma unroll
      for (int j = 0; j < V; ++j) acc[c + j] = 0.f;
    }
  }
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float r = rstd[row];
    const TO* dyr = dy + row * cols;
    const TX* xr = x + row * cols;
    TX* dxr = dx + row * cols;
    float s = 0.f;
    for (int64_t c = first; c < cols; c += step) {
      float dv[V], xv[V], wv[V];
      LoadPack<V>(dyr, c, dv);
      LoadPack<V>(xr, c, xv);
      LoadPack<V>(w, c, wv);
#pragma unroll
      for (int j = 0; j < V; ++j) s += (dv[j] * wv[j]) * (xv[j] * r);
    }
    const float mean = BlockSumAll(s, red) * inv_cols;  // mean over the row of g · xhat
    for (int64_t c = first; c < cols; c += step) {
      float dv[V], xv[V], wv[V], gx[V];
      LoadPack<V>(dyr, c, dv);
      LoadPack<V>(xr, c, xv);
      LoadPack<V>(w, c, wv);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const float xhat = xv[j] * r;
        gx[j] = r * (dv[j] * wv[j] - xhat * mean);
        if (acc != nullptr) acc[c + j] += dv[j] * xhat;
      }
      StorePack<V>(dxr, c, gx);
    }
  }
  if (acc != nullptr && smem_acc) {
    float* dst = dw_partial + static_cast<int64_t>(blockIdx.x) * cols;
    for (int64_t c = first; c < cols; c += step) {
#pragma unroll
      for (int j = 0; j < V; ++j) dst[c + j] = acc_smem[c + j];
    }
  }
}

// dw[c] = Σ_b partial[b, c] in a fixed order: thread (x, y) of a [kReduceCols, kReduceRows] block sums blocks
// y, y + kReduceRows, ... of column c; thread y = 0 then adds the kReduceRows partial sums in order of y.
template <typename TW>
__global__ void RmsNormDwReduceKernel(const float* __restrict__ partial, int64_t blocks, int64_t cols,
                                      TW* __restrict__ dw) {
  __shared__ float part[kReduceRows][kReduceCols + 1];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kReduceCols + threadIdx.x;
  float s = 0.f;
  if (c < cols) {
    for (int64_t b = threadIdx.y; b < blocks; b += kReduceRows) s += partial[b * cols + c];
  }
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float t = 0.f;
    for (int i = 0; i < kReduceRows; ++i) t += part[i][threadIdx.x];
    dw[c] = FromFloat<TW>(t);
  }
}

// Threads per row block: one per pack, rounded up to whole warps, at most kMaxNormThreads.
int NormThreads(int64_t cols, int v) {
  const int64_t packs = cols / v, warps = (packs + 31) / 32;
  return static_cast<int>(warps * 32 < kMaxNormThreads ? warps * 32 : kMaxNormThreads);
}

constexpr int64_t kMaxGridX = 0x7fffffff;

}  // namespace

int64_t RmsNormBackwardBlocks(int64_t rows, int64_t cols) {
  int64_t cap = cols > 0 ? kBackwardPartialFloats / cols : kMaxBackwardBlocks;
  cap = cap < kMinBackwardBlocks ? kMinBackwardBlocks : (cap > kMaxBackwardBlocks ? kMaxBackwardBlocks : cap);
  return rows < cap ? rows : cap;
}

cudaError_t RmsNormForward(const RmsNormForwardArgs& a, cudaStream_t stream) {
  if (a.rows < 0 || a.rows > kMaxGridX || a.cols <= 0) return cudaErrorInvalidValue;
  if (a.rows == 0) return cudaSuccess;  // (empty tensors may have null data)
  if (a.x == nullptr || a.w == nullptr || a.out == nullptr || a.rstd == nullptr) return cudaErrorInvalidValue;
  const int v =
      PackWidth(a.cols, {Operand{a.x, a.x_type}, Operand{a.w, a.w_type}, Operand{a.out, a.out_type}});
  const int threads = NormThreads(a.cols, v);
  const float inv_cols = 1.f / static_cast<float>(a.cols);
  WithIoType(a.x_type, [&](auto tx) {
    WithIoType(a.w_type, [&](auto tw) {
      WithIoType(a.out_type, [&](auto to) {
        WithPackWidth(v, [&](auto vw) {
          using TX = typename decltype(tx)::type;
          using TW = typename decltype(tw)::type;
          using TO = typename decltype(to)::type;
          RmsNormForwardKernel<TX, TW, TO, decltype(vw)::value>
              <<<static_cast<unsigned>(a.rows), threads, 0, stream>>>(
                  static_cast<const TX*>(a.x), static_cast<const TW*>(a.w), static_cast<TO*>(a.out), a.rstd,
                  a.cols, inv_cols, a.eps);
        });
      });
    });
  });
  return cudaGetLastError();
}

cudaError_t RmsNormBackward(const RmsNormBackwardArgs& a, cudaStream_t stream) {
  if (a.rows < 0 || a.cols <= 0 || a.w == nullptr) return cudaErrorInvalidValue;
  // With no rows the row arrays (and the [0, cols] scratch) may have null data; dw is then zero.
  if (a.rows > 0 && (a.dy == nullptr || a.x == nullptr || a.rstd == nullptr || a.dx == nullptr ||
                     (a.dw != nullptr && a.dw_partial == nullptr))) {
    return cudaErrorInvalidValue;
  }
  const int64_t blocks = RmsNormBackwardBlocks(a.rows, a.cols);
  const int v = PackWidth(a.cols, {Operand{a.dy, a.out_type}, Operand{a.x, a.x_type}, Operand{a.w, a.w_type},
                                   Operand{a.dx, a.x_type}});
  const int threads = NormThreads(a.cols, v);
  const float inv_cols = 1.f / static_cast<float>(a.cols);
  const bool smem_acc = a.dw != nullptr && a.cols <= kSmemDwCols;
  const size_t smem = smem_acc ? static_cast<size_t>(a.cols) * sizeof(float) : 0;
  WithIoType(a.x_type, [&](auto tx) {
    WithIoType(a.w_type, [&](auto tw) {
      using TX = typename decltype(tx)::type;
      using TW = typename decltype(tw)::type;
      if (blocks > 0) {
        WithIoType(a.out_type, [&](auto to) {
          WithPackWidth(v, [&](auto vw) {
            using TO = typename decltype(to)::type;
            RmsNormBackwardKernel<TX, TW, TO, decltype(vw)::value>
                <<<static_cast<unsigned>(blocks), threads, smem, stream>>>(
                    static_cast<const TO*>(a.dy), static_cast<const TX*>(a.x), static_cast<const TW*>(a.w),
                    a.rstd, static_cast<TX*>(a.dx), a.dw_partial, a.rows, a.cols, inv_cols, smem_acc);
          });
        });
      }
      if (a.dw != nullptr) {
        const auto grid = static_cast<unsigned>((a.cols + kReduceCols - 1) / kReduceCols);
        RmsNormDwReduceKernel<TW><<<grid, dim3(kReduceCols, kReduceRows), 0, stream>>>(
            a.dw_partial, blocks, a.cols, static_cast<TW*>(a.dw));
      }
    });
  });
  return cudaGetLastError();
}

cudaError_t ResidualRmsNorm(const ResidualRmsNormArgs& args, cudaStream_t stream) {
  if (args.rows < 0 || args.cols <= 0 || args.a == nullptr || args.w == nullptr || args.out == nullptr) {
    return cudaErrorInvalidValue;
  }
  if (args.rows == 0) return cudaSuccess;
  ResidualRmsNormKernel<<<static_cast<unsigned>(args.rows), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
