// Chunked FP32 LM head. See lm_head.h.
#include <cuda_bf16.h>

#include <cmath>

#include "kernels/cuda/lm_head.h"

namespace m1rl::cuda {
namespace {

constexpr int kThreads = 256;

struct Stats {
  float m, s, w;  // running max, sum exp(z - m), sum exp(z - m) * z
};

__device__ inline Stats Combine(Stats a, Stats b) {
  if (a.m == -INFINITY) return b;
  if (b.m == -INFINITY) return a;
  const float m = fmaxf(a.m, b.m);
  const float ea = expf(a.m - m), eb = expf(b.m - m);
  return {m, a.s * ea + b.s * eb, a.w * ea + b.w * eb};
}

__device__ Stats BlockReduce(Stats v) {
  __shared__ Stats warp_vals[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    Stats o{__shfl_down_sync(0xffffffffu, v.m, off), __shfl_down_sync(0xffffffffu, v.s, off),
            __shfl_down_sync(0xffffffffu, v.w, off)};
    v = Combine(v, o);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_vals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kThreads / 32 ? warp_vals[lane] : Stats{-INFINITY, 0.f, 0.f};
    for (int off = 16; off > 0; off >>= 1) {
      Stats o{__shfl_down_sync(0xffffffffu, v.m, off), __shfl_down_sync(0xffffffffu, v.s, off),
              __shfl_down_sync(0xffffffffu, v.w, off)};
      v = Combine(v, o);
    }
  }
  return v;  // valid in thread 0
}

// stats: [T, 4] = (m, s, w, z_target).
__global__ void InitStatsKernel(float* stats, int64_t T) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t < T) {
    stats[4 * t + 0] = -INFINITY;
    stats[4 * t + 1] = 0.f;
    stats[4 * t + 2] = 0.f;
    stats[4 * t + 3] = 0.f;
  }
}

// One block per token row of the [T, cols] logit tile.
__global__ void FoldChunkKernel(const float* tile, int64_t cols, int64_t col0, const int64_t* targets,
                                float inv_temp, float* stats) {
  const int64_t t = blockIdx.x;
  const float* row = tile + t * cols;
  Stats v{-INFINITY, 0.f, 0.f};
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float z = row[c] * inv_temp;
    v = Combine(v, Stats{z, 1.f, z});
  }
  v = BlockReduce(v);
  if (threadIdx.x == 0) {
    Stats run{stats[4 * t], stats[4 * t + 1], stats[4 * t + 2]};
    run = Combine(run, v);
    stats[4 * t] = run.m;
    stats[4 * t + 1] = run.s;
    stats[4 * t + 2] = run.w;
    const int64_t tgt = targets[t] - col0;
    if (tgt >= 0 && tgt < cols) stats[4 * t + 3] = row[tgt] * inv_temp;
  }
}

__global__ void FinalizeKernel(const float* stats, int64_t T, float* logprobs, float* entropy, float* lse) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (t >= T) return;
  const float m = stats[4 * t], s = stats[4 * t + 1], w = stats[4 * t + 2], zt = stats[4 * t + 3];
  const float l = m + logf(s);
  logprobs[t] = zt - l;
  if (entropy != nullptr) entropy[t] = l - w / s;
  if (lse != nullptr) lse[t] = l;
}

// dz[t, c] = grad_t * inv_temp * (1[c == target] - exp(z - lse_t)), in place over the logit tile.
__global__ void DLogitsKernel(float* tile, int64_t cols, int64_t col0, const int64_t* targets,
                              const float* grad, const float* lse, float inv_temp, __nv_bfloat16* tile_bf16) {
  const int64_t t = blockIdx.x;
  float* row = tile + t * cols;
  const float g = grad[t] * inv_temp, l = lse[t];
  const int64_t tgt = targets[t] - col0;
  for (int64_t c = threadIdx.x; c < cols; c += kThreads) {
    const float p = expf(row[c] * inv_temp - l);
    const float dz = g * ((c == tgt ? 1.f : 0.f) - p);
    row[c] = dz;
    if (tile_bf16 != nullptr) tile_bf16[t * cols + c] = __float2bfloat16(dz);
  }
}

// C[rows_c, cols_c] (row-major, fp32) = A · B^T  or the variants below, via cuBLAS column-major calls.
cublasStatus_t Gemm(cublasHandle_t h, HeadGemmPrecision prec, cublasOperation_t ta, cublasOperation_t tb,
                    int64_t m, int64_t n, int64_t k, const void* a, int64_t lda, const void* b, int64_t ldb,
                    float beta, float* c, int64_t ldc) {
  const float alpha = 1.f;
  switch (prec) {
    case HeadGemmPrecision::kIeeeFp32:
      return cublasGemmEx(h, ta, tb, m, n, k, &alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta, c,
                          CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT);
    case HeadGemmPrecision::kTf32:
      return cublasGemmEx(h, ta, tb, m, n, k, &alpha, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &beta, c,
                          CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT);
    case HeadGemmPrecision::kBf16Fp32Out:
      return cublasGemmEx(h, ta, tb, m, n, k, &alpha, a, CUDA_R_16BF, lda, b, CUDA_R_16BF, ldb, &beta, c,
                          CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

size_t ElemBytes(HeadGemmPrecision p) { return p == HeadGemmPrecision::kBf16Fp32Out ? 2 : 4; }

cudaError_t FromCublas(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
}

}  // namespace

cudaError_t HeadLogProbsForward(cublasHandle_t handle, const HeadForwardArgs& a, cudaStream_t stream) {
  const int64_t T = a.num_tokens, H = a.hidden, V = a.vocab;
  if (T == 0) return cudaSuccess;
  if (H <= 0 || V <= 0 || a.chunk <= 0) return cudaErrorInvalidValue;
  const int64_t chunk = a.chunk < V ? a.chunk : V;
  float* tile = a.workspace;
  float* stats = a.workspace + T * chunk;
  InitStatsKernel<<<static_cast<unsigned>((T + 255) / 256), 256, 0, stream>>>(stats, T);
  const char* w = static_cast<const char*>(a.w);
  for (int64_t c0 = 0; c0 < V; c0 += chunk) {
    const int64_t cols = V - c0 < chunk ? V - c0 : chunk;
    // tile[T, cols] row-major = x[T,H] · w[c0:c0+cols, H]^T  <=>  column-major tile^T[cols, T] = W_c^T... :
    // w rows are column-major [H, cols] -> op T gives [cols, H]; x is column-major [H, T].
    cublasStatus_t st = Gemm(handle, a.precision, CUBLAS_OP_T, CUBLAS_OP_N, cols, T, H,
                             w + c0 * H * ElemBytes(a.precision), H, a.x, H, 0.f, tile, cols);
    if (st != CUBLAS_STATUS_SUCCESS) return FromCublas(st);
    FoldChunkKernel<<<static_cast<unsigned>(T), kThreads, 0, stream>>>(tile, cols, c0, a.targets,
                                                                       a.inv_temperature, stats);
  }
  FinalizeKernel<<<static_cast<unsigned>((T + 255) / 256), 256, 0, stream>>>(stats, T, a.logprobs, a.entropy,
                                                                             a.lse);
  return cudaGetLastError();
}

cudaError_t HeadLogProbsBackward(cublasHandle_t handle, const HeadBackwardArgs& a, cudaStream_t stream) {
  const int64_t T = a.num_tokens, H = a.hidden, V = a.vocab;
  if (T == 0) {
    return V * H > 0 ? cudaMemsetAsync(a.dw, 0, sizeof(float) * V * H, stream) : cudaSuccess;
  }
  const int64_t chunk = a.chunk < V ? a.chunk : V;
  const bool bf16 = a.precision == HeadGemmPrecision::kBf16Fp32Out;
  float* tile = a.workspace;
  __nv_bfloat16* tile_bf16 = bf16 ? reinterpret_cast<__nv_bfloat16*>(a.workspace + T * chunk) : nullptr;
  const void* dz = bf16 ? static_cast<const void*>(tile_bf16) : static_cast<const void*>(tile);
  const char* w = static_cast<const char*>(a.w);
  for (int64_t c0 = 0; c0 < V; c0 += chunk) {
    const int64_t cols = V - c0 < chunk ? V - c0 : chunk;
    const void* wc = w + c0 * H * ElemBytes(a.precision);
    cublasStatus_t st =
        Gemm(handle, a.precision, CUBLAS_OP_T, CUBLAS_OP_N, cols, T, H, wc, H, a.x, H, 0.f, tile, cols);
    if (st != CUBLAS_STATUS_SUCCESS) return FromCublas(st);
    DLogitsKernel<<<static_cast<unsigned>(T), kThreads, 0, stream>>>(tile, cols, c0, a.targets, a.grad, a.lse,
                                                                     a.inv_temperature, tile_bf16);
    // dx[T,H] (+)= dz[T,cols] · w_c[cols,H]:  column-major dx^T[H,T] = w_c^T[H,cols] · dz^T[cols,T].
    st = Gemm(handle, a.precision, CUBLAS_OP_N, CUBLAS_OP_N, H, T, cols, wc, H, dz, cols, c0 == 0 ? 0.f : 1.f,
              a.dx, H);
    if (st != CUBLAS_STATUS_SUCCESS) return FromCublas(st);
    // dw_c[cols,H] = dz^T[cols,T] · x[T,H]:  column-major dw_c^T[H,cols] = x^T[H,T] · dz[T,cols].
    st = Gemm(handle, a.precision, CUBLAS_OP_N, CUBLAS_OP_T, H, cols, T, a.x, H, dz, cols, 0.f, a.dw + c0 * H,
              H);
    if (st != CUBLAS_STATUS_SUCCESS) return FromCublas(st);
  }
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
