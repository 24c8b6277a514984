// Fused residual + RMSNorm (+ gate) and the training RMSNorm forward/backward. See rms_norm.h.
#include <cuda_bf16.h>

#include <cstdint>
#include <type_traits>

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

// The residual sum R_h(R_h(x·alpha) + R_h(y·beta)) of x and y (y already in h_type), rounded as the tensor
// ops round it: each product and the sum rounded to h_type (the _rn intrinsics keep the compiler from
// contracting them into an fma, which the tensor ops do not do). Shared by the decode and training kernels.
__device__ __forceinline__ float ResidualSum(float x, float y, float alpha, float beta, IoType h_type) {
  return Round(__fadd_rn(Round(__fmul_rn(x, alpha), h_type), Round(__fmul_rn(y, beta), h_type)), h_type);
}

// sigmoid(g) as the decode step computes it.
__device__ __forceinline__ float Sigmoid(float g) { return 1.f / (1.f + expf(-g)); }

// The gated output R_o(R_o(sigmoid(g)) · n) of a normed value n already rounded to out_type.
__device__ __forceinline__ float Gated(float g, float n, IoType out_type) {
  return Round(Round(Sigmoid(g), out_type) * n, out_type);
}

// The residual sum h of element (row, c), rounded as the composite rounds it.
__device__ __forceinline__ float Residual(const ResidualRmsNormArgs& a, int64_t row, int64_t c) {
  const float x = Load(a.a, a.a_type, row * a.a_stride + c);
  if (a.b == nullptr) return x;
  const float y = Round(Load(a.b, a.b_type, row * a.b_stride + c), a.h_type);
  return ResidualSum(x, y, a.alpha, a.beta, a.h_type);
}

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

__global__ void ResidualRmsNormKernel(ResidualRmsNormArgs a) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x;
  float sq = 0.f;
  for (int64_t c = threadIdx.x; c < a.cols; c += kThreads) {
    const float h = Residual(a, row, c);
    sq += h * h;
  }
  const float rstd = rsqrtf(BlockSumAll(sq, red) / static_cast<float>(a.cols) + a.eps);
  for (int64_t c = threadIdx.x; c < a.cols; c += kThreads) {
    const float y = Round(Residual(a, row, c) * rstd * Load(a.w, a.w_type, c), a.out_type);
    const float o =
        a.gate != nullptr ? Gated(Load(a.gate, a.out_type, row * a.gate_stride + c), y, a.out_type) : y;
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

// The IoType of a kernel element type.
template <typename T>
constexpr IoType kIoTypeOf = std::is_same_v<T, float> ? IoType::kF32 : IoType::kBF16;

template <typename TX, typename TW, typename TO>
struct NormForwardParams {
  const TX* x;
  const TX* b;  // or null
  float alpha, beta;
  TX* h;  // or null
  const TW* w;
  const TO* gate;  // or null
  TO* out;
  float* rstd;
  int64_t cols;
  float inv_cols, eps;
};

// Packs c .. c+V-1 of the norm's input u in row `row`: x, or the residual sum of x and b.
template <int V, typename TX, typename TW, typename TO>
__device__ __forceinline__ void LoadNormInput(const NormForwardParams<TX, TW, TO>& p, int64_t row, int64_t c,
                                              float (&u)[V]) {
  LoadPack<V>(p.x + row * p.cols, c, u);
  if (p.b == nullptr) return;
  float bv[V];
  LoadPack<V>(p.b + row * p.cols, c, bv);
#pragma unroll
  for (int j = 0; j < V; ++j) u[j] = ResidualSum(u[j], bv[j], p.alpha, p.beta, kIoTypeOf<TX>);
}

// One block per row; thread t owns the packs t, t + blockDim.x, ...
template <typename TX, typename TW, typename TO, int V>
__global__ void __launch_bounds__(kMaxNormThreads) RmsNormForwardKernel(NormForwardParams<TX, TW, TO> p) {
  __shared__ float red[32];
  const int64_t row = blockIdx.x;
  TO* orow = p.out + row * p.cols;
  const int64_t first = static_cast<int64_t>(threadIdx.x) * V, step = static_cast<int64_t>(blockDim.x) * V;
  float sq = 0.f;
  for (int64_t c = first; c < p.cols; c += step) {
    float xv[V];
    LoadNormInput(p, row, c, xv);
    if (p.h != nullptr) StorePack<V>(p.h + row * p.cols, c, xv);
#pragma unroll
    for (int j = 0; j < V; ++j) sq += xv[j] * xv[j];
  }
  // As the composite: mean = Σ · (1/cols), then + eps, each rounded (no fma), then rsqrt.
  const float r = rsqrtf(__fadd_rn(__fmul_rn(BlockSumAll(sq, red), p.inv_cols), p.eps));
  if (threadIdx.x == 0) p.rstd[row] = r;
  for (int64_t c = first; c < p.cols; c += step) {
    float xv[V], wv[V], ov[V];
    LoadNormInput(p, row, c, xv);
    LoadPack<V>(p.w, c, wv);
#pragma unroll
    for (int j = 0; j < V; ++j) ov[j] = __fmul_rn(__fmul_rn(xv[j], r), wv[j]);
    if (p.gate != nullptr) {
      float gv[V];
      LoadPack<V>(p.gate + row * p.cols, c, gv);
#pragma unroll
      for (int j = 0; j < V; ++j) ov[j] = Gated(gv[j], Round(ov[j], kIoTypeOf<TO>), kIoTypeOf<TO>);
    }
    StorePack<V>(orow, c, ov);
  }
}

template <typename TX, typename TW, typename TO>
struct NormBackwardParams {
  const TO* dy;
  const TX* x;  // the norm's input
  const TW* w;
  const float* rstd;
  const TO* gate;  // or null
  const TX* dh;    // or null
  TX* dx;
  float dx_scale;
  TX* db;  // or null
  float db_scale;
  TO* dgate;          // or null
  float* dw_partial;  // or null
  int64_t rows, cols;
  float inv_cols;
  bool smem_acc;
};

// The upstream gradient of the norm's output n at packs c .. c+V-1 of row `row`: e = dy · R_o(σ) with
// σ = sigmoid(gate) in fp32, also returned in `sig` (e = dy, sig untouched, without a gate).
template <int V, typename TX, typename TW, typename TO>
__device__ __forceinline__ void LoadNormGrad(const NormBackwardParams<TX, TW, TO>& p, int64_t row, int64_t c,
                                             float (&e)[V], float (&sig)[V]) {
  LoadPack<V>(p.dy + row * p.cols, c, e);
  if (p.gate == nullptr) return;
  LoadPack<V>(p.gate + row * p.cols, c, sig);
#pragma unroll
  for (int j = 0; j < V; ++j) {
    sig[j] = Sigmoid(sig[j]);
    e[j] *= Round(sig[j], kIoTypeOf<TO>);
  }
}

// Block b handles rows b, b + gridDim.x, ... and sums e · xhat of its rows into dw_partial[b, :] (in shared
// memory first when smem_acc; each column is owned by one thread throughout, so no synchronisation).
template <typename TX, typename TW, typename TO, int V>
__global__ void __launch_bounds__(kMaxNormThreads) RmsNormBackwardKernel(NormBackwardParams<TX, TW, TO> p) {
  extern __shared__ float acc_smem[];
  __shared__ float red[32];
  const int64_t cols = p.cols;
  float* acc = nullptr;
  if (p.dw_partial != nullptr)
    acc = p.smem_acc ? acc_smem : p.dw_partial + static_cast<int64_t>(blockIdx.x) * cols;
  const int64_t first = static_cast<int64_t>(threadIdx.x) * V, step = static_cast<int64_t>(blockDim.x) * V;
  if (acc != nullptr) {
    for (int64_t c = first; c < cols; c += step) {
#pragma unroll
      for (int j = 0; j < V; ++j) acc[c + j] = 0.f;
    }
  }
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const float r = p.rstd[row];
    const TX* xr = p.x + row * cols;
    float s = 0.f;
    for (int64_t c = first; c < cols; c += step) {
      float ev[V], sv[V], xv[V], wv[V];
      LoadNormGrad(p, row, c, ev, sv);
      LoadPack<V>(xr, c, xv);
      LoadPack<V>(p.w, c, wv);
#pragma unroll
      for (int j = 0; j < V; ++j) s += (ev[j] * wv[j]) * (xv[j] * r);
    }
    const float mean = BlockSumAll(s, red) * p.inv_cols;  // mean over the row of g · xhat
    for (int64_t c = first; c < cols; c += step) {
      float ev[V], sv[V], xv[V], wv[V], gx[V];
      LoadNormGrad(p, row, c, ev, sv);
      LoadPack<V>(xr, c, xv);
      LoadPack<V>(p.w, c, wv);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const float xhat = xv[j] * r;
        gx[j] = r * (ev[j] * wv[j] - xhat * mean);
        if (acc != nullptr) acc[c + j] += ev[j] * xhat;
      }
      if (p.dh != nullptr) {
        float hv[V];
        LoadPack<V>(p.dh + row * cols, c, hv);
#pragma unroll
        for (int j = 0; j < V; ++j) gx[j] = __fadd_rn(gx[j], hv[j]);
      }
      if (p.db != nullptr) {
        float bv[V];
#pragma unroll
        for (int j = 0; j < V; ++j) bv[j] = __fmul_rn(gx[j], p.db_scale);
        StorePack<V>(p.db + row * cols, c, bv);
      }
      if (p.dgate != nullptr) {
        // dgate = dy · n · σ(1 − σ), n = R_o(xhat · w) as the forward rounded it (dy reloaded: e = dy ·
        // R_o(σ)).
        float dv[V];
        LoadPack<V>(p.dy + row * cols, c, dv);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const float n = Round(__fmul_rn(__fmul_rn(xv[j], r), wv[j]), kIoTypeOf<TO>);
          dv[j] = dv[j] * n * (sv[j] * (1.f - sv[j]));
        }
        StorePack<V>(p.dgate + row * cols, c, dv);
      }
#pragma unroll
      for (int j = 0; j < V; ++j) gx[j] = __fmul_rn(gx[j], p.dx_scale);  // exact for the plain norm's 1
      StorePack<V>(p.dx + row * cols, c, gx);
    }
  }
  if (acc != nullptr && p.smem_acc) {
    float* dst = p.dw_partial + static_cast<int64_t>(blockIdx.x) * cols;
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
      PackWidth(a.cols, {Operand{a.x, a.x_type}, Operand{a.b, a.x_type}, Operand{a.h, a.x_type},
                         Operand{a.w, a.w_type}, Operand{a.gate, a.out_type}, Operand{a.out, a.out_type}});
  const int threads = NormThreads(a.cols, v);
  const float inv_cols = 1.f / static_cast<float>(a.cols);
  WithIoType(a.x_type, [&](auto tx) {
    WithIoType(a.w_type, [&](auto tw) {
      WithIoType(a.out_type, [&](auto to) {
        WithPackWidth(v, [&](auto vw) {
          using TX = typename decltype(tx)::type;
          using TW = typename decltype(tw)::type;
          using TO = typename decltype(to)::type;
          NormForwardParams<TX, TW, TO> p{};
          p.x = static_cast<const TX*>(a.x);
          p.b = static_cast<const TX*>(a.b);
          p.alpha = a.alpha;
          p.beta = a.beta;
          p.h = static_cast<TX*>(a.h);
          p.w = static_cast<const TW*>(a.w);
          p.gate = static_cast<const TO*>(a.gate);
          p.out = static_cast<TO*>(a.out);
          p.rstd = a.rstd;
          p.cols = a.cols;
          p.inv_cols = inv_cols;
          p.eps = a.eps;
          RmsNormForwardKernel<TX, TW, TO, decltype(vw)::value>
              <<<static_cast<unsigned>(a.rows), threads, 0, stream>>>(p);
        });
      });
    });
  });
  return cudaGetLastError();
}

cudaError_t RmsNormBackward(const RmsNormBackwardArgs& a, cudaStream_t stream) {
  if (a.rows < 0 || a.cols <= 0 || a.w == nullptr) return cudaErrorInvalidValue;
  // With no rows the row arrays (and the [0, cols] scratch) may have null data; dw is then zero.
  if (a.rows > 0 &&
      (a.dy == nullptr || a.x == nullptr || a.rstd == nullptr || a.dx == nullptr ||
       (a.dw != nullptr && a.dw_partial == nullptr) || (a.dgate != nullptr && a.gate == nullptr))) {
    return cudaErrorInvalidValue;
  }
  const int64_t blocks = RmsNormBackwardBlocks(a.rows, a.cols);
  const int v =
      PackWidth(a.cols, {Operand{a.dy, a.out_type}, Operand{a.x, a.x_type}, Operand{a.w, a.w_type},
                         Operand{a.gate, a.out_type}, Operand{a.dh, a.x_type}, Operand{a.dx, a.x_type},
                         Operand{a.db, a.x_type}, Operand{a.dgate, a.out_type}});
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
            NormBackwardParams<TX, TW, TO> p{};
            p.dy = static_cast<const TO*>(a.dy);
            p.x = static_cast<const TX*>(a.x);
            p.w = static_cast<const TW*>(a.w);
            p.rstd = a.rstd;
            p.gate = static_cast<const TO*>(a.gate);
            p.dh = static_cast<const TX*>(a.dh);
            p.dx = static_cast<TX*>(a.dx);
            p.dx_scale = a.dx_scale;
            p.db = static_cast<TX*>(a.db);
            p.db_scale = a.db_scale;
            p.dgate = static_cast<TO*>(a.dgate);
            p.dw_partial = a.dw != nullptr ? a.dw_partial : nullptr;
            p.rows = a.rows;
            p.cols = a.cols;
            p.inv_cols = inv_cols;
            p.smem_acc = smem_acc;
            RmsNormBackwardKernel<TX, TW, TO, decltype(vw)::value>
                <<<static_cast<unsigned>(blocks), threads, smem, stream>>>(p);
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
