// Slotted-KV decode attention. See decode_attention.h.
#include <cuda_bf16.h>

#include <cmath>

#include "kernels/cuda/decode_attention.h"

namespace m1rl::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kMaxPerLane = 8;  // head_dim <= 256
constexpr int kKeysPerSplit = 512;
constexpr int64_t kMaxSplits = 64;
constexpr unsigned kFull = 0xffffffffu;

template <typename T>
__device__ __forceinline__ float Load(const T* p);
template <>
__device__ __forceinline__ float Load<float>(const float* p) {
  return *p;
}
template <>
__device__ __forceinline__ float Load<__nv_bfloat16>(const __nv_bfloat16* p) {
  return __bfloat162float(*p);
}
template <typename T>
__device__ __forceinline__ T Store(float x);
template <>
__device__ __forceinline__ float Store<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 Store<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
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

// grid (B * H, num_splits), kWarps warps. Warp w of split s handles keys s*chunk + w, + kWarps, ...
template <typename T>
__global__ void __launch_bounds__(kWarps * 32) DecodeAttentionSplitKernel(DecodeAttentionArgs a) {
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / a.num_heads, h = bh % a.num_heads;
  const int64_t kvh = h / (a.num_heads / a.num_kv_heads);
  const int d = static_cast<int>(a.head_dim);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t n_keys = a.positions[b] + 1;
  const int64_t chunk = (a.max_tokens + a.num_splits - 1) / a.num_splits;
  const int64_t begin = blockIdx.y * chunk;
  const int64_t end = min(n_keys, begin + chunk);
  const int64_t row = a.num_kv_heads * a.head_dim;
  const T* kbase = static_cast<const T*>(a.k_cache) + static_cast<int64_t>(a.slots[b]) * a.max_tokens * row +
                   kvh * a.head_dim;
  const T* vbase = static_cast<const T*>(a.v_cache) + static_cast<int64_t>(a.slots[b]) * a.max_tokens * row +
                   kvh * a.head_dim;
  const T* q = static_cast<const T*>(a.q) + (b * a.num_heads + h) * a.head_dim;
  float qr[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) {
    const int i = lane + 32 * j;
    qr[j] = i < d ? Load<T>(q + i) * a.scale : 0.0f;
    acc[j] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t t = begin + warp; t < end; t += kWarps) {
    const T* kt = kbase + t * row;
    const T* vt = vbase + t * row;
    float kr[kMaxPerLane], vr[kMaxPerLane];
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) {
      const int i = lane + 32 * j;
      kr[j] = i < d ? Load<T>(kt + i) : 0.0f;
      vr[j] = i < d ? Load<T>(vt + i) : 0.0f;
    }
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) s += qr[j] * kr[j];
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(kFull, s, off);
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // 0 on the first key (m = -inf)
    const float p = expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int j = 0; j < kMaxPerLane; ++j) acc[j] = acc[j] * corr + p * vr[j];
    m = m_new;
  }
  // Merge the warps.
  __shared__ float sm[kWarps], sl[kWarps];
  __shared__ float sacc[kWarps][kMaxPerLane * 32];
  if (lane == 0) {
    sm[warp] = m;
    sl[warp] = l;
  }
#pragma unroll
  for (int j = 0; j < kMaxPerLane; ++j) sacc[warp][lane + 32 * j] = acc[j];
  __syncthreads();
  float* part = a.partial + ((b * a.num_heads + h) * a.num_splits + blockIdx.y) * (a.head_dim + 2);
  float mm = -INFINITY;
  for (int w = 0; w < kWarps; ++w) mm = fmaxf(mm, sm[w]);
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    float o = 0.0f;
    for (int w = 0; w < kWarps; ++w)
      if (sl[w] > 0.0f) o += sacc[w][i] * expf(sm[w] - mm);
    part[2 + i] = o;
  }
  if (threadIdx.x == 0) {
    float ll = 0.0f;
    for (int w = 0; w < kWarps; ++w)
      if (sl[w] > 0.0f) ll += sl[w] * expf(sm[w] - mm);
    part[0] = mm;
    part[1] = ll;
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
  static_cast<T*>(a.out)[bh * a.head_dim + i] = Store<T>(num / den);
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

cudaError_t DecodeAttention(const DecodeAttentionArgs& a, cudaStream_t stream) {
  if (a.batch <= 0) return cudaSuccess;
  if (a.head_dim < 1 || a.head_dim > 32 * kMaxPerLane || a.num_kv_heads < 1 ||
      a.num_heads % a.num_kv_heads != 0 || a.num_splits < 1) {
    return cudaErrorInvalidValue;
  }
  const dim3 grid(static_cast<unsigned>(a.batch * a.num_heads), static_cast<unsigned>(a.num_splits));
  const unsigned combine_threads = static_cast<unsigned>(((a.head_dim + 31) / 32) * 32);
  if (a.io_type == IoType::kBF16) {
    DecodeAttentionSplitKernel<__nv_bfloat16><<<grid, kWarps * 32, 0, stream>>>(a);
    DecodeAttentionCombineKernel<__nv_bfloat16>
        <<<static_cast<unsigned>(a.batch * a.num_heads), combine_threads, 0, stream>>>(a);
  } else {
    DecodeAttentionSplitKernel<float><<<grid, kWarps * 32, 0, stream>>>(a);
    DecodeAttentionCombineKernel<float>
        <<<static_cast<unsigned>(a.batch * a.num_heads), combine_threads, 0, stream>>>(a);
  }
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
