// Slotted-KV decode attention. See decode_attention.h.
#include <cuda_bf16.h>

#include <cmath>

#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/internal/pack.cuh"

namespace m1rl::cuda {
namespace {

using internal::FromFloat;
using internal::ToFloat;

constexpr int kThreads = 128;
constexpr int kTile = 64;  // keys staged in shared memory at a time
constexpr int kMaxHeadDim = 256;
constexpr int kKeysPerSplit = 256;
constexpr int64_t kMaxSplits = 128;
constexpr size_t kMaxSharedBytes = 227 * 1024;  // sm_90 opt-in limit per block
constexpr unsigned kFull = 0xffffffffu;

// Row stride of the shared K tile in elements: an odd number of 32-bit words, so that lanes reading one
// column of consecutive rows hit distinct banks. REQUIRES d even for 2-byte T.
__host__ __device__ constexpr int KStride(int d, int elem_bytes) { return elem_bytes == 2 ? d + 2 : d + 1; }

// Rows [0, n) of the K and V tiles from global memory (rows `row` elements apart) in 32-bit words; rows
// [n, kTile) zero, so that masked keys never multiply garbage.
template <typename T>
__device__ void LoadTile(const T* k, const T* v, int64_t row, int n, int d, int ks, T* sk, T* sv) {
  const int words = d * static_cast<int>(sizeof(T)) / 4;
  for (int i = threadIdx.x; i < kTile * words; i += kThreads) {
    const int r = i / words, w = i % words;
    uint32_t kw = 0, vw = 0;
    if (r < n) {
      kw = reinterpret_cast<const uint32_t*>(k + r * row)[w];
      vw = reinterpret_cast<const uint32_t*>(v + r * row)[w];
    }
    reinterpret_cast<uint32_t*>(sk + r * ks)[w] = kw;
    reinterpret_cast<uint32_t*>(sv + r * d)[w] = vw;
  }
}

// p[g][r] = q_g · k_r for the n valid rows, -inf for the rest.
template <typename T>
__device__ void TileScores(const float* sq, const T* sk, int n, int d, int ks, int g_n, float* sp) {
  for (int i = threadIdx.x; i < g_n * kTile; i += kThreads) {
    const int g = i / kTile, r = i % kTile;
    float s = -INFINITY;
    if (r < n) {
      const float* qg = sq + g * d;
      const T* kr = sk + r * ks;
      s = 0.0f;
      for (int c = 0; c < d; ++c) s += qg[c] * ToFloat(kr[c]);
    }
    sp[i] = s;
  }
}

// Online softmax, one warp per head: m_g <- max(m_g, max_r p[g][r]), p[g][r] <- exp(p[g][r] - m_g),
// corr_g = exp(m_old - m_g), l_g <- l_g · corr_g + Σ_r p[g][r]. Every tile holds at least one valid key.
__device__ void TileSoftmax(float* sp, int g_n, float* sm, float* sl, float* scorr) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int g = warp; g < g_n; g += kThreads / 32) {
    float* pg = sp + g * kTile;
    float mx = -INFINITY;
    for (int r = lane; r < kTile; r += 32) mx = fmaxf(mx, pg[r]);
    for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(kFull, mx, off));
    const float m_old = sm[g];
    const float m_new = fmaxf(m_old, mx);
    float sum = 0.0f;
    for (int r = lane; r < kTile; r += 32) {
      const float p = expf(pg[r] - m_new);  // 0 for masked rows
      pg[r] = p;
      sum += p;
    }
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(kFull, sum, off);
    if (lane == 0) {
      const float corr = expf(m_old - m_new);  // 0 on the first tile (m_old = -inf)
      scorr[g] = corr;
      sl[g] = sl[g] * corr + sum;
      sm[g] = m_new;
    }
  }
}

// acc[g][c] <- acc[g][c] · corr_g + Σ_{r < n} p[g][r] · v[r][c]; each thread owns its (g, c) entries.
template <typename T>
__device__ void TileAccumulate(const float* sp, const T* sv, const float* scorr, int n, int d, int g_n,
                               float* sacc) {
  for (int i = threadIdx.x; i < g_n * d; i += kThreads) {
    const int g = i / d, c = i % d;
    const float* pg = sp + g * kTile;
    float o = sacc[i] * scorr[g];
    for (int r = 0; r < n; ++r) o += pg[r] * ToFloat(sv[r * d + c]);
    sacc[i] = o;
  }
}

template <typename T>
__global__ void KvCacheAppendKernel(KvCacheAppendArgs a) {
  const int64_t b = blockIdx.x;
  const int64_t row = a.num_kv_heads * a.head_dim;
  const int64_t dst = (static_cast<int64_t>(a.slots[b]) * a.max_tokens + a.positions[b]) * row;
  const T* kn = static_cast<const T*>(a.k_new) + b * row;
  const T* vn = static_cast<const T*>(a.v_new) + b * row;
  T* kc = static_cast<T*>(a.k_cache) + dst;
  T* vc = static_cast<T*>(a.v_cache) + dst;
  for (int64_t i = threadIdx.x; i < row; i += blockDim.x) {
    kc[i] = kn[i];
    vc[i] = vn[i];
  }
}

// grid (B * N_kv, num_splits), kThreads threads: one block reads each key and value row of its range once for
// all G = H / N_kv query heads of the group (GQA), a tile of kTile rows at a time staged in shared memory:
// scores [G, kTile], an online-softmax update per head, then acc[G, d] += p · V. Dynamic shared memory
// (floats first): q [G][d] (pre-scaled), acc [G][d], p [G][kTile], m, l, corr [G]; then the K tile
// [kTile][KStride] (padded rows: conflict-free column reads) and the V tile [kTile][d], in T.
template <typename T>
__global__ void __launch_bounds__(kThreads) DecodeAttentionSplitKernel(DecodeAttentionArgs a) {
  extern __shared__ float smem[];
  const int d = static_cast<int>(a.head_dim);
  const int g_n = static_cast<int>(a.num_heads / a.num_kv_heads);
  const int64_t b = blockIdx.x / a.num_kv_heads, kvh = blockIdx.x % a.num_kv_heads;
  const int ks = KStride(d, sizeof(T));
  float* sq = smem;
  float* sacc = sq + g_n * d;
  float* sp = sacc + g_n * d;
  float* sm = sp + g_n * kTile;
  float* sl = sm + g_n;
  float* scorr = sl + g_n;
  T* sk = reinterpret_cast<T*>(scorr + g_n);
  T* sv = sk + kTile * ks;

  const T* q = static_cast<const T*>(a.q) + (b * a.num_heads + kvh * g_n) * a.head_dim;
  for (int i = threadIdx.x; i < g_n * d; i += kThreads) {
    sq[i] = ToFloat(q[i]) * a.scale;
    sacc[i] = 0.0f;
  }
  for (int g = threadIdx.x; g < g_n; g += kThreads) {
    sm[g] = -INFINITY;
    sl[g] = 0.0f;
  }
  const int64_t n_keys = a.positions[b] + 1;
  const int64_t chunk = (a.max_tokens + a.num_splits - 1) / a.num_splits;
  const int64_t begin = blockIdx.y * chunk;
  const int64_t end = min(n_keys, begin + chunk);
  const int64_t row = a.num_kv_heads * a.head_dim;
  const int64_t slot_base = static_cast<int64_t>(a.slots[b]) * a.max_tokens * row + kvh * a.head_dim;
  const T* kbase = static_cast<const T*>(a.k_cache) + slot_base;
  const T* vbase = static_cast<const T*>(a.v_cache) + slot_base;
  __syncthreads();
  for (int64_t t0 = begin; t0 < end; t0 += kTile) {
    const int n = static_cast<int>(min(static_cast<int64_t>(kTile), end - t0));
    LoadTile<T>(kbase + t0 * row, vbase + t0 * row, row, n, d, ks, sk, sv);
    __syncthreads();
    TileScores<T>(sq, sk, n, d, ks, g_n, sp);
    __syncthreads();
    TileSoftmax(sp, g_n, sm, sl, scorr);
    __syncthreads();
    TileAccumulate<T>(sp, sv, scorr, n, d, g_n, sacc);
    __syncthreads();
  }
  const int64_t h0 = b * a.num_heads + kvh * g_n;
  for (int i = threadIdx.x; i < g_n * d; i += kThreads) {
    const int g = i / d, c = i % d;
    a.partial[((h0 + g) * a.num_splits + blockIdx.y) * (a.head_dim + 2) + 2 + c] = sacc[i];
  }
  for (int g = threadIdx.x; g < g_n; g += kThreads) {
    float* part = a.partial + ((h0 + g) * a.num_splits + blockIdx.y) * (a.head_dim + 2);
    part[0] = sm[g];
    part[1] = sl[g];
  }
}

// grid B * H, head_dim threads (<= 256).
template <typename T>
__global__ void DecodeAttentionCombineKernel(DecodeAttentionArgs a) {
  const int64_t bh = blockIdx.x;
  const float* part = a.partial + bh * a.num_splits * (a.head_dim + 2);
  float mm = -INFINITY;
  for (int64_t s = 0; s < a.num_splits; ++s)
    if (part[s * (a.head_dim + 2) + 1] > 0.0f) mm = fmaxf(mm, part[s * (a.head_dim + 2)]);
  const int i = threadIdx.x;
  if (i >= a.head_dim) return;
  float num = 0.0f, den = 0.0f;
  for (int64_t s = 0; s < a.num_splits; ++s) {
    const float* p = part + s * (a.head_dim + 2);
    if (p[1] <= 0.0f) continue;
    const float c = expf(p[0] - mm);
    num += p[2 + i] * c;
    den += p[1] * c;
  }
  static_cast<T*>(a.out)[bh * a.head_dim + i] = FromFloat<T>(num / den);
}

}  // namespace

cudaError_t KvCacheAppend(const KvCacheAppendArgs& a, cudaStream_t stream) {
  if (a.batch <= 0) return cudaSuccess;
  if (a.io_type == IoType::kBF16) {
    KvCacheAppendKernel<__nv_bfloat16><<<static_cast<unsigned>(a.batch), 256, 0, stream>>>(a);
  } else {
    KvCacheAppendKernel<float><<<static_cast<unsigned>(a.batch), 256, 0, stream>>>(a);
  }
  return cudaGetLastError();
}

int64_t DecodeAttentionSplits(int64_t max_tokens) {
  const int64_t s = (max_tokens + kKeysPerSplit - 1) / kKeysPerSplit;
  return s < 1 ? 1 : (s > kMaxSplits ? kMaxSplits : s);
}

namespace {

// Dynamic shared memory of DecodeAttentionSplitKernel<T> (layout above the kernel).
size_t SplitKernelSharedBytes(int64_t groups, int64_t d, int64_t elem_bytes) {
  const int64_t floats = 2 * groups * d + groups * kTile + 3 * groups;
  const int64_t ks = KStride(static_cast<int>(d), static_cast<int>(elem_bytes));
  return static_cast<size_t>(floats * 4 + kTile * (ks + d) * elem_bytes);
}

template <typename T>
cudaError_t LaunchDecodeAttention(const DecodeAttentionArgs& a, cudaStream_t stream) {
  const size_t smem = SplitKernelSharedBytes(a.num_heads / a.num_kv_heads, a.head_dim, sizeof(T));
  if (smem > kMaxSharedBytes) return cudaErrorInvalidValue;
  if (smem > 48 * 1024) {
    const cudaError_t e = cudaFuncSetAttribute(
        DecodeAttentionSplitKernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (e != cudaSuccess) return e;
  }
  const dim3 grid(static_cast<unsigned>(a.batch * a.num_kv_heads), static_cast<unsigned>(a.num_splits));
  DecodeAttentionSplitKernel<T><<<grid, kThreads, smem, stream>>>(a);
  const unsigned combine_threads = static_cast<unsigned>(((a.head_dim + 31) / 32) * 32);
  DecodeAttentionCombineKernel<T>
      <<<static_cast<unsigned>(a.batch * a.num_heads), combine_threads, 0, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t DecodeAttention(const DecodeAttentionArgs& a, cudaStream_t stream) {
  if (a.batch <= 0) return cudaSuccess;
  if (a.head_dim < 1 || a.head_dim > kMaxHeadDim || a.num_kv_heads < 1 || a.num_heads % a.num_kv_heads != 0 ||
      a.num_splits < 1 || (a.io_type == IoType::kBF16 && a.head_dim % 2 != 0)) {
    return cudaErrorInvalidValue;
  }
  return a.io_type == IoType::kBF16 ? LaunchDecodeAttention<__nv_bfloat16>(a, stream)
                                    : LaunchDecodeAttention<float>(a, stream);
}

}  // namespace m1rl::cuda
