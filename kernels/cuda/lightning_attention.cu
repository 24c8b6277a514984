// Lightning attention kernels. See lightning_attention.h for the contract.
//
// Scan kernel design: one thread block per (sequence, head, d_v tile of 32 columns). The block keeps its
// [d, 32] slice of the fp32 state in shared memory and walks the sequence in chunks of 32 tokens using the
// block form of MODEL.md §4.5:
//   o_i = lambda^(i+1) q_i S_prev + sum_{j<=i} lambda^(i-j) (q_i . k_j) v_j        (i, j local, 0-based)
//   S   = lambda^m S_prev + sum_j lambda^(m-1-j) k_j^T v_j
// All arithmetic is fp32 SIMT (IEEE exp for the decays, no fast math).
#include "kernels/cuda/lightning_attention.h"

#include <cuda_bf16.h>

namespace m1rl::cuda {
namespace {

constexpr int kChunk = 32;
constexpr int kDvTile = 32;
constexpr int kThreads = 256;
constexpr int kMaxHeadDim = 128;

__device__ inline float Load(const float* p, int64_t i) { return p[i]; }
__device__ inline float Load(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
__device__ inline void Store(float* p, int64_t i, float v) { p[i] = v; }
__device__ inline void Store(__nv_bfloat16* p, int64_t i, float v) { p[i] = __float2bfloat16(v); }

size_t ScanSharedBytes(int64_t d) {
  const size_t ld = static_cast<size_t>(d) + 1;
  return sizeof(float) * (2 * kChunk * ld + kChunk * (kDvTile + 1) + d * (kDvTile + 1) +
                          kChunk * (kChunk + 1) + (kChunk + 1));
}

template <typename T>
__global__ void __launch_bounds__(kThreads) LightningScanKernel(LightningScanArgs a) {
  const T* qp = static_cast<const T*>(a.q.ptr);
  const T* kp = static_cast<const T*>(a.k.ptr);
  const T* vp = static_cast<const T*>(a.v.ptr);
  T* op = static_cast<T*>(a.out);
  extern __shared__ float smem[];
  const int D = static_cast<int>(a.head_dim);
  const int ld = D + 1;
  constexpr int ldv = kDvTile + 1;
  constexpr int lda = kChunk + 1;
  float* sQ = smem;                 // [kChunk][ld]
  float* sK = sQ + kChunk * ld;     // [kChunk][ld]
  float* sV = sK + kChunk * ld;     // [kChunk][ldv]
  float* sS = sV + kChunk * ldv;    // [D][ldv]
  float* sA = sS + D * ldv;         // [kChunk][lda]
  float* sPow = sA + kChunk * lda;  // [kChunk + 1]: lambda^n

  const int64_t b = blockIdx.x / a.num_heads;
  const int64_t h = blockIdx.x % a.num_heads;
  const int c0 = blockIdx.y * kDvTile;
  const int tid = threadIdx.x;
  const int64_t start = a.cu_seqlens[b];
  const int64_t end = a.cu_seqlens[b + 1];
  const int64_t len = end - start;
  const float rate = a.decay_rate[h];
  if (tid <= kChunk) sPow[tid] = expf(-rate * static_cast<float>(tid));

  const int64_t state_off = (b * a.num_heads + h) * static_cast<int64_t>(D) * D;
  const float init_scale = a.init_scale_inv_lambda ? expf(rate) : 1.0f;
  for (int idx = tid; idx < D * kDvTile; idx += kThreads) {
    const int d = idx / kDvTile, c = idx % kDvTile;
    float s = 0.0f;
    if (a.init_state != nullptr && c0 + c < D) {
      s = a.transpose_init ? a.init_state[state_off + static_cast<int64_t>(c0 + c) * D + d]
                           : a.init_state[state_off + static_cast<int64_t>(d) * D + c0 + c];
      s *= init_scale;
    }
    sS[d * ldv + c] = s;
  }
  __syncthreads();

  for (int64_t p0 = 0; p0 < len; p0 += kChunk) {
    const int m = static_cast<int>(min(static_cast<int64_t>(kChunk), len - p0));
    for (int idx = tid; idx < kChunk * D; idx += kThreads) {
      const int i = idx / D, d = idx % D;
      float qv = 0.0f, kv = 0.0f;
      if (i < m) {
        const int64_t t = a.reverse ? end - 1 - (p0 + i) : start + p0 + i;
        qv = Load(qp, t * a.q.tok_stride + h * a.q.head_stride + d);
        kv = Load(kp, t * a.k.tok_stride + h * a.k.head_stride + d);
      }
      sQ[i * ld + d] = qv;
      sK[i * ld + d] = kv;
    }
    for (int idx = tid; idx < kChunk * kDvTile; idx += kThreads) {
      const int i = idx / kDvTile, c = idx % kDvTile;
      float vv = 0.0f;
      if (i < m && c0 + c < D) {
        const int64_t t = a.reverse ? end - 1 - (p0 + i) : start + p0 + i;
        vv = Load(vp, t * a.v.tok_stride + h * a.v.head_stride + c0 + c);
      }
      sV[i * ldv + c] = vv;
    }
    __syncthreads();

    // Intra-chunk scores with decay, causal (j <= i).
    for (int idx = tid; idx < kChunk * kChunk; idx += kThreads) {
      const int i = idx / kChunk, j = idx % kChunk;
      float acc = 0.0f;
      if (j <= i && i < m) {
#pragma unroll 8
        for (int d = 0; d < D; ++d) acc = fmaf(sQ[i * ld + d], sK[j * ld + d], acc);
        acc *= sPow[i - j];
      }
      sA[i * lda + j] = acc;
    }
    __syncthreads();

    for (int idx = tid; idx < kChunk * kDvTile; idx += kThreads) {
      const int i = idx / kDvTile, c = idx % kDvTile;
      if (i < m && c0 + c < D) {
        float inter = 0.0f;
#pragma unroll 8
        for (int d = 0; d < D; ++d) inter = fmaf(sQ[i * ld + d], sS[d * ldv + c], inter);
        float intra = 0.0f;
        for (int j = 0; j <= i; ++j) intra = fmaf(sA[i * lda + j], sV[j * ldv + c], intra);
        const int64_t t = a.reverse ? end - 1 - (p0 + i) : start + p0 + i;
        Store(op, t * a.out_tok_stride + h * a.out_head_stride + c0 + c, fmaf(sPow[i + 1], inter, intra));
      }
    }
    __syncthreads();

    for (int idx = tid; idx < D * kDvTile; idx += kThreads) {
      const int d = idx / kDvTile, c = idx % kDvTile;
      float acc = 0.0f;
      for (int j = 0; j < m; ++j) acc = fmaf(sPow[m - 1 - j] * sK[j * ld + d], sV[j * ldv + c], acc);
      sS[d * ldv + c] = fmaf(sPow[m], sS[d * ldv + c], acc);
    }
    __syncthreads();
  }

  if (a.final_state != nullptr) {
    const float scale = a.final_scale_lambda ? sPow[1] : 1.0f;
    for (int idx = tid; idx < D * kDvTile; idx += kThreads) {
      const int d = idx / kDvTile, c = idx % kDvTile;
      if (c0 + c < D) a.final_state[state_off + static_cast<int64_t>(d) * D + c0 + c] = scale * sS[d * ldv + c];
    }
  }
}

// One block per (sequence, head); thread c owns column c of the state and streams its d rows.
template <typename T>
__global__ void LightningDecodeKernel(LightningDecodeArgs a) {
  extern __shared__ float sh[];
  const T* qp = static_cast<const T*>(a.q.ptr);
  const T* kp = static_cast<const T*>(a.k.ptr);
  const T* vp = static_cast<const T*>(a.v.ptr);
  const int D = static_cast<int>(a.head_dim);
  float* sq = sh;
  float* sk = sh + D;
  const int64_t b = blockIdx.x / a.num_heads;
  const int64_t h = blockIdx.x % a.num_heads;
  const int c = threadIdx.x;
  if (c < D) {
    sq[c] = Load(qp, b * a.q.tok_stride + h * a.q.head_stride + c);
    sk[c] = Load(kp, b * a.k.tok_stride + h * a.k.head_stride + c);
  }
  __syncthreads();
  const int64_t slot = a.slot_idx != nullptr ? a.slot_idx[b] : b;
  if (c >= D || slot < 0) return;
  const float vc = Load(vp, b * a.v.tok_stride + h * a.v.head_stride + c);
  float* S = a.state_pool + (slot * a.num_heads + h) * static_cast<int64_t>(D) * D;
  const float lambda = expf(-a.decay_rate[h]);
  float acc = 0.0f;
#pragma unroll 8
  for (int d = 0; d < D; ++d) {
    const float s = fmaf(lambda, S[static_cast<int64_t>(d) * D + c], sk[d] * vc);
    S[static_cast<int64_t>(d) * D + c] = s;
    acc = fmaf(sq[d], s, acc);
  }
  Store(static_cast<T*>(a.out), (b * a.num_heads + h) * D + c, acc);
}

}  // namespace

cudaError_t LightningScan(const LightningScanArgs& args, cudaStream_t stream) {
  if (args.num_seqs == 0 || args.num_heads == 0) return cudaSuccess;
  if (args.head_dim < 1 || args.head_dim > kMaxHeadDim) return cudaErrorInvalidValue;
  const size_t smem = ScanSharedBytes(args.head_dim);
  const dim3 grid(static_cast<unsigned>(args.num_seqs * args.num_heads),
                  static_cast<unsigned>((args.head_dim + kDvTile - 1) / kDvTile));
  auto launch = [&](auto kernel) {
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (err != cudaSuccess) return err;
    kernel<<<grid, kThreads, smem, stream>>>(args);
    return cudaGetLastError();
  };
  return args.io_type == IoType::kBF16 ? launch(LightningScanKernel<__nv_bfloat16>) : launch(LightningScanKernel<float>);
}

cudaError_t LightningBackward(const LightningBackwardArgs& a, cudaStream_t stream) {
  const int64_t D = a.head_dim;
  LightningScanArgs s;
  s.cu_seqlens = a.cu_seqlens;
  s.num_seqs = a.num_seqs;
  s.num_heads = a.num_heads;
  s.head_dim = D;
  s.decay_rate = a.decay_rate;
  s.out_tok_stride = a.num_heads * D;
  s.out_head_stride = D;
  s.io_type = a.io_type;

  // dq: forward scan of (dO, v, k) from S_0^T.
  s.q = a.dout;
  s.k = a.v;
  s.v = a.k;
  s.init_state = a.init_state;
  s.transpose_init = true;
  s.out = a.dq;
  cudaError_t err = LightningScan(s, stream);
  if (err != cudaSuccess) return err;

  // dv: reverse scan of (k, q, dO) from dS_T / lambda; its final state G_1 gives dS_0 = lambda G_1.
  s.q = a.k;
  s.k = a.q;
  s.v = a.dout;
  s.init_state = a.d_final_state;
  s.transpose_init = false;
  s.init_scale_inv_lambda = true;
  s.reverse = true;
  s.final_state = a.d_init_state;
  s.final_scale_lambda = true;
  s.out = a.dv;
  err = LightningScan(s, stream);
  if (err != cudaSuccess) return err;

  // dk: reverse scan of (v, dO, q) from dS_T^T / lambda.
  s.q = a.v;
  s.k = a.dout;
  s.v = a.q;
  s.transpose_init = true;
  s.final_state = nullptr;
  s.final_scale_lambda = false;
  s.out = a.dk;
  return LightningScan(s, stream);
}

cudaError_t LightningDecode(const LightningDecodeArgs& args, cudaStream_t stream) {
  if (args.batch == 0 || args.num_heads == 0) return cudaSuccess;
  if (args.head_dim < 1 || args.head_dim > 1024) return cudaErrorInvalidValue;
  const int threads = static_cast<int>((args.head_dim + 31) / 32 * 32);
  const size_t smem = 2 * sizeof(float) * args.head_dim;
  const unsigned blocks = static_cast<unsigned>(args.batch * args.num_heads);
  if (args.io_type == IoType::kBF16) {
    LightningDecodeKernel<__nv_bfloat16><<<blocks, threads, smem, stream>>>(args);
  } else {
    LightningDecodeKernel<float><<<blocks, threads, smem, stream>>>(args);
  }
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
