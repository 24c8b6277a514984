// Lightning attention kernels. See lightning_attention.h for the contract.
//
// Scan kernel design: one thread block per (sequence, head, d_v tile of 32 columns). The block keeps its
// [d, 32] slice of the fp32 state in shared memory and walks the sequence in chunks of 32 tokens using the
// block form of MODEL.md §4.5:
//   o_i = lambda^(i+1) q_i S_prev + sum_{j<=i} lambda^(i-j) (q_i . k_j) v_j        (i, j local, 0-based)
//   S   = lambda^m S_prev + sum_j lambda^(m-1-j) k_j^T v_j
// All arithmetic is fp32 SIMT (IEEE exp for the decays, no fast math).
#include <cuda_bf16.h>
#include <mma.h>

#include <array>
#include <atomic>

#include "kernels/cuda/lightning_attention.h"

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
      if (c0 + c < D)
        a.final_state[state_off + static_cast<int64_t>(d) * D + c0 + c] = scale * sS[d * ldv + c];
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

// Tensor-core scan for bf16 io and d % 16 == 0 (d <= 64 or d = 128): same block structure as the SIMT kernel
// with chunks of 64 tokens and d_v tiles of DV = min(64, d) columns, or 32 for d = 64, 128 when the grid is
// small (ScanColumnTile). Each output element's arithmetic does not depend on DV (the tile only picks which
// block and warp computes it). One launch may run up to three independent scans (ScanBatch, grid.z). A = Q
// K^T uses bf16 MMA (exact products of the bf16 inputs, fp32 accumulation); every product with an fp32
// operand uses TF32 MMA: A V, Q S (q read from the bf16 tile, exact in TF32; lambda^(i+1) scales the fp32
// result) and K'^T V (K' carries lambda^(m-1-j) in fp32, rounded to TF32). The decayed A stays fp32 and
// enters A V as two TF32 terms (hi + lo, 2^-22 relative): rounded once to TF32 it was the kernel's largest
// error, up to 2.4e-4 of max|o| on the bf16 test inputs. The state stays fp32 in shared memory and is only
// rounded (to TF32, 2^-11 relative) as an operand. The bf16 store of o adds up to 2^-8 of max|o| (half an ulp
// of the top binade) whatever the kernel does.
namespace tc {

namespace wmma = nvcuda::wmma;
constexpr int kC = 64;  // chunk tokens
constexpr int kWarps = 16;
constexpr int kThreads = 32 * kWarps;
// uint4 (8 bf16) per thread of a [kC, n] bf16 tile.
__host__ __device__ constexpr int VecsPerThread(int n) { return (kC * n / 8 + kThreads - 1) / kThreads; }

// The scans of one launch: blockIdx.z selects one. Passed as a __grid_constant__ kernel parameter (read in
// place, never copied to local memory), within the 4 KB classic kernel-parameter limit.
struct ScanBatch {
  LightningScanArgs scans[3];
};
static_assert(sizeof(ScanBatch) <= 4096, "kernel parameters are limited to 4 KB");

struct Layout {
  int D, DV, ldqb, ldkf, ldvf, lda, lds;
  size_t off_qb, off_kb, off_kf, off_vf, off_af, off_ob, off_s, off_s2, off_pow, total;
};

// DV: min(D, 64), or 32 (D = 64, 128).
__host__ __device__ inline Layout MakeLayout(int D, int DV) {
  Layout L;
  L.D = D;
  L.DV = DV;
  L.ldqb = D + 8;
  // Leading dimensions (4-byte words) for conflict-free fragment loads: row-major A operands (A; Q, K in
  // bf16, ld/2) want ld = 4 mod 32, row-major B operands (V, S) and the column-major A operand K' want ld = 8
  // mod 32 (D, DV in {16, 32, 48, 64, 128}: D + 8 and DV + 8 are 8 mod 16 words; 8 or 24 mod 32 are both
  // conflict-free as the 4 t-rows then land on distinct 8-bank groups).
  L.ldkf = D + 8;
  L.ldvf = L.DV + 8;
  L.lda = kC + 4;
  L.lds = L.DV + 8;
  size_t o = 0;
  auto take = [&o](size_t bytes) {
    const size_t at = o;
    o += (bytes + 127) / 128 * 128;
    return at;
  };
  L.off_qb = take(sizeof(__nv_bfloat16) * kC * L.ldqb);
  L.off_kb = take(sizeof(__nv_bfloat16) * kC * L.ldqb);
  L.off_kf = take(sizeof(float) * kC * L.ldkf);
  L.off_vf = take(sizeof(float) * kC * L.ldvf);
  L.off_af = take(sizeof(float) * kC * L.lda);  // masked, decayed A [kC, kC]
  L.off_ob = take(sizeof(float) * kC * L.lds);  // O tile [kC, DV]
  L.off_s = take(sizeof(float) * D * L.lds);    // state, double-buffered: chunk n reads one, writes the other
  L.off_s2 = take(sizeof(float) * D * L.lds);
  L.off_pow = take(sizeof(float) * (kC + 1));
  L.total = o;
  return L;
}

// Raw mma.sync on register fragments (PTX ISA layouts; g = lane / 4, t = lane % 4):
//   m16n8k8 tf32:  A a0 (g, t) a1 (g+8, t) a2 (g, t+4) a3 (g+8, t+4); B b0 (k t, n g) b1 (k t+4, n g)
//   m16n8k16 bf16: A a0 (g, 2t..2t+1) a1 (g+8, ..) a2 (g, 2t+8..) a3 (g+8, 2t+8..); B b0 (k 2t..2t+1, n g) b1
//   (k 2t+8..) C (both): c0 (g, 2t) c1 (g, 2t+1) c2 (g+8, 2t) c3 (g+8, 2t+1)
// Fragments are loaded with plain shared-memory loads (wmma's loads compile to generic 64-bit loads here).
__device__ __forceinline__ void MmaTf32(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void MmaBf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// Round to nearest TF32 (the value keeps fp32 storage with the low 13 mantissa bits zero).
__device__ __forceinline__ uint32_t Tf32Bits(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}
__device__ __forceinline__ float ToTf32(float x) { return __uint_as_float(Tf32Bits(x)); }
__device__ __forceinline__ uint32_t Bits(float x) { return __float_as_uint(x); }

template <int kD, int kDV>
__global__ void __launch_bounds__(kThreads) ScanKernel(const __grid_constant__ ScanBatch batch) {
  static_assert(kDV == (kD < 64 ? kD : 64) || (kDV == 32 && (kD == 64 || kD == 128)), "unsupported tile");
  const LightningScanArgs& a = batch.scans[blockIdx.z];
  extern __shared__ __align__(128) unsigned char smem[];
  const Layout L = MakeLayout(kD, kDV);
  const int D = L.D, DV = L.DV;
  auto* Qb = reinterpret_cast<__nv_bfloat16*>(smem + L.off_qb);
  auto* Kb = reinterpret_cast<__nv_bfloat16*>(smem + L.off_kb);
  auto* Kf = reinterpret_cast<float*>(smem + L.off_kf);
  auto* Vf = reinterpret_cast<float*>(smem + L.off_vf);
  auto* Af = reinterpret_cast<float*>(smem + L.off_af);
  auto* Ob = reinterpret_cast<float*>(smem + L.off_ob);
  float* S = reinterpret_cast<float*>(smem + L.off_s);
  float* Sn = reinterpret_cast<float*>(smem + L.off_s2);
  auto* pw = reinterpret_cast<float*>(smem + L.off_pow);
  const auto* qp = static_cast<const __nv_bfloat16*>(a.q.ptr);
  const auto* kp = static_cast<const __nv_bfloat16*>(a.k.ptr);
  const auto* vp = static_cast<const __nv_bfloat16*>(a.v.ptr);
  auto* op = static_cast<__nv_bfloat16*>(a.out);

  const int64_t b = blockIdx.x / a.num_heads;
  const int64_t h = blockIdx.x % a.num_heads;
  const int c0 = blockIdx.y * DV;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t4 = lane % 4;
  const int64_t start = a.cu_seqlens[b], end = a.cu_seqlens[b + 1], len = end - start;
  const float rate = a.decay_rate[h];
  if (tid <= kC) pw[tid] = expf(-rate * static_cast<float>(tid));
  const int64_t state_off = (b * a.num_heads + h) * static_cast<int64_t>(D) * D;
  const float init_scale = a.init_scale_inv_lambda ? expf(rate) : 1.0f;
  for (int idx = tid; idx < D * DV; idx += kThreads) {
    const int d = idx / DV, c = idx % DV;
    float s = 0.f;
    if (a.init_state != nullptr) {
      s = init_scale * (a.transpose_init ? a.init_state[state_off + static_cast<int64_t>(c0 + c) * D + d]
                                         : a.init_state[state_off + static_cast<int64_t>(d) * D + c0 + c]);
    }
    S[d * L.lds + c] = s;
  }
  __syncthreads();

  // Global loads go through registers, 16 bytes (8 bf16) at a time, and are issued one chunk ahead so their
  // latency overlaps the tensor-core work of the current chunk.
  const int q_vecs = kC * D / 8, v_vecs = kC * DV / 8;  // uint4 per tile
  constexpr int kVecQ = VecsPerThread(kD), kVecV = VecsPerThread(kDV);
  uint4 rq[kVecQ], rk[kVecQ], rv[kVecV];
  auto fetch = [&](int64_t p0) {
    const int mm = static_cast<int>(min(static_cast<int64_t>(kC), len - p0));
#pragma unroll
    for (int r = 0; r < kVecQ; ++r) {
      const int idx = tid + r * kThreads;
      rq[r] = rk[r] = make_uint4(0, 0, 0, 0);
      const int i = idx / (D / 8), c8 = idx % (D / 8);
      if (idx < q_vecs && i < mm) {
        const int64_t t = a.reverse ? end - 1 - (p0 + i) : start + p0 + i;
        rq[r] = *reinterpret_cast<const uint4*>(qp + t * a.q.tok_stride + h * a.q.head_stride + 8 * c8);
        rk[r] = *reinterpret_cast<const uint4*>(kp + t * a.k.tok_stride + h * a.k.head_stride + 8 * c8);
      }
    }
#pragma unroll
    for (int r = 0; r < kVecV; ++r) {
      const int idx = tid + r * kThreads;
      rv[r] = make_uint4(0, 0, 0, 0);
      const int i = idx / (DV / 8), c8 = idx % (DV / 8);
      if (idx < v_vecs && i < mm) {
        const int64_t t = a.reverse ? end - 1 - (p0 + i) : start + p0 + i;
        rv[r] = *reinterpret_cast<const uint4*>(vp + t * a.v.tok_stride + h * a.v.head_stride + c0 + 8 * c8);
      }
    }
  };
  if (len > 0) fetch(0);

  for (int64_t p0 = 0; p0 < len; p0 += kC) {
    const int m = static_cast<int>(min(static_cast<int64_t>(kC), len - p0));
#pragma unroll
    for (int r = 0; r < kVecQ; ++r) {
      const int idx = tid + r * kThreads;
      if (idx < q_vecs) {
        const int i = idx / (D / 8), c8 = idx % (D / 8);
        *reinterpret_cast<uint4*>(Qb + i * L.ldqb + 8 * c8) = rq[r];
        *reinterpret_cast<uint4*>(Kb + i * L.ldqb + 8 * c8) = rk[r];
        const auto* k8 = reinterpret_cast<const __nv_bfloat16*>(&rk[r]);
        const float sk = i < m ? pw[m - 1 - i] : 0.f;
        float* kf = Kf + i * L.ldkf + 8 * c8;
        float ys[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) ys[e] = ToTf32(sk * __bfloat162float(k8[e]));
        reinterpret_cast<float4*>(kf)[0] = make_float4(ys[0], ys[1], ys[2], ys[3]);
        reinterpret_cast<float4*>(kf)[1] = make_float4(ys[4], ys[5], ys[6], ys[7]);
      }
    }
#pragma unroll
    for (int r = 0; r < kVecV; ++r) {
      const int idx = tid + r * kThreads;
      if (idx < v_vecs) {
        const int i = idx / (DV / 8), c8 = idx % (DV / 8);
        const auto* v8 = reinterpret_cast<const __nv_bfloat16*>(&rv[r]);
        float* vf = Vf + i * L.ldvf + 8 * c8;
        float xs[8];
#pragma unroll
        for (int e = 0; e < 8; ++e) xs[e] = __bfloat162float(v8[e]);  // exact in TF32
        reinterpret_cast<float4*>(vf)[0] = make_float4(xs[0], xs[1], xs[2], xs[3]);
        reinterpret_cast<float4*>(vf)[1] = make_float4(xs[4], xs[5], xs[6], xs[7]);
      }
    }
    __syncthreads();
    if (p0 + kC < len) fetch(p0 + kC);

    // A = Q K^T (bf16 MMA, fp32 accumulate): 4x4 tiles of 16x16 (only j0 <= i0 are computed: the A V product
    // below never reads the others), one per warp; causal mask and decay applied in registers, A stored in
    // fp32.
    {
      const int i0 = (warp / 4) * 16, j0 = (warp % 4) * 16;
      if (j0 <= i0) {
        float acc[2][4] = {};
        const int ldw = L.ldqb / 2;  // row stride in 32-bit words
        const uint32_t* qa = reinterpret_cast<const uint32_t*>(Qb + (i0 + g) * L.ldqb) + t4;
        const uint32_t* kb = reinterpret_cast<const uint32_t*>(Kb + (j0 + g) * L.ldqb) + t4;
#pragma unroll 4
        for (int kw = 0; kw < D / 2; kw += 8) {
          const uint32_t fa[4] = {qa[kw], qa[8 * ldw + kw], qa[kw + 4], qa[8 * ldw + kw + 4]};
          MmaBf16(acc[0], fa, kb[kw], kb[kw + 4]);
          MmaBf16(acc[1], fa, kb[8 * ldw + kw], kb[8 * ldw + kw + 4]);
        }
#pragma unroll
        for (int nt = 0; nt < 2; ++nt) {
#pragma unroll
          for (int hf = 0; hf < 2; ++hf) {
            const int i = i0 + g + 8 * hf, j = j0 + 8 * nt + 2 * t4;
            const float x0 = (j <= i && i < m) ? acc[nt][2 * hf] * pw[i - j] : 0.f;
            const float x1 = (j + 1 <= i && i < m) ? acc[nt][2 * hf + 1] * pw[i - j - 1] : 0.f;
            *reinterpret_cast<float2*>(Af + i * L.lda + j) = make_float2(x0, x1);
          }
        }
      }
    }
    __syncthreads();

    // O = lambda^(i+1) Q S + A V, TF32 with fp32 accumulation, tiles of 16 x 16 over [kC, DV], one per warp
    // (two n8 halves each). Q S goes to acq and is scaled per row; A V is A_hi V + A_lo V with A_hi =
    // tf32(A), A_lo = tf32(A - A_hi), A_hi V into acc and A_lo V into acq (two independent accumulator
    // chains).
    const int nct = DV / 16;
    const int o_tiles = (kC / 16) * nct;
    for (int tile = warp; tile < o_tiles; tile += kWarps) {
      const int i0 = (tile / nct) * 16, cc = (tile % nct) * 16;
      float acc[2][4] = {}, acq[2][4] = {};
      // q as the TF32 A operand: a bf16 shifted into the high half of a 32-bit word is the same value in
      // TF32.
      const auto* qh = reinterpret_cast<const unsigned short*>(Qb + (i0 + g) * L.ldqb) + t4;
      const float* sr = S + t4 * L.lds + cc + g;
#pragma unroll 4
      for (int k0 = 0; k0 < D; k0 += 8) {
        const uint32_t fa[4] = {uint32_t{qh[k0]} << 16, uint32_t{qh[8 * L.ldqb + k0]} << 16,
                                uint32_t{qh[k0 + 4]} << 16, uint32_t{qh[8 * L.ldqb + k0 + 4]} << 16};
        const float* sb = sr + k0 * L.lds;
        MmaTf32(acq[0], fa, Tf32Bits(sb[0]), Tf32Bits(sb[4 * L.lds]));
        MmaTf32(acq[1], fa, Tf32Bits(sb[8]), Tf32Bits(sb[4 * L.lds + 8]));
      }
      const float decay_g = pw[i0 + g + 1], decay_g8 = pw[i0 + g + 9];
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        acq[nt][0] *= decay_g;
        acq[nt][1] *= decay_g;
        acq[nt][2] *= decay_g8;
        acq[nt][3] *= decay_g8;
      }
      const float* ar = Af + (i0 + g) * L.lda + t4;
      const float* vr = Vf + t4 * L.ldvf + cc + g;
#pragma unroll 4
      for (int j0 = 0; j0 < i0 + 16; j0 += 8) {
        const float x[4] = {ar[j0], ar[8 * L.lda + j0], ar[j0 + 4], ar[8 * L.lda + j0 + 4]};
        uint32_t hi[4], lo[4];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          hi[e] = Tf32Bits(x[e]);
          lo[e] = Tf32Bits(x[e] - __uint_as_float(hi[e]));
        }
        const float* vb = vr + j0 * L.ldvf;
        const uint32_t b00 = Bits(vb[0]), b01 = Bits(vb[4 * L.ldvf]), b10 = Bits(vb[8]),
                       b11 = Bits(vb[4 * L.ldvf + 8]);
        MmaTf32(acc[0], hi, b00, b01);
        MmaTf32(acc[1], hi, b10, b11);
        MmaTf32(acq[0], lo, b00, b01);
        MmaTf32(acq[1], lo, b10, b11);
      }
#pragma unroll
      for (int nt = 0; nt < 2; ++nt) {
        float* ob = Ob + (i0 + g) * L.lds + cc + 8 * nt + 2 * t4;
        *reinterpret_cast<float2*>(ob) = make_float2(acc[nt][0] + acq[nt][0], acc[nt][1] + acq[nt][1]);
        *reinterpret_cast<float2*>(ob + 8 * L.lds) =
            make_float2(acc[nt][2] + acq[nt][2], acc[nt][3] + acq[nt][3]);
      }
    }

    // Same phase: S' = lambda^m S + K'^T V (TF32) into the other state buffer, blocks of 16 x (8 kNT) per
    // warp (K' is the column-major A operand, its fragment shared by kNT n8 tiles). The first block goes to
    // the warp after the last O tile, so that warps without an O tile (o_tiles < kWarps) take S blocks first.
    constexpr int kNT = kDV % 32 == 0 ? 4 : 2;
    constexpr int kBlkC = kDV / (8 * kNT);
    const float decay_m = pw[m];
    for (int blk = (warp + kWarps - o_tiles % kWarps) % kWarps; blk < (kD / 16) * kBlkC; blk += kWarps) {
      const int d0 = (blk / kBlkC) * 16, cc = (blk % kBlkC) * (8 * kNT);
      float acc[kNT][4];
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
        const float* sp = S + (d0 + g) * L.lds + cc + 8 * nt + 2 * t4;
        const float2 lo = *reinterpret_cast<const float2*>(sp);
        const float2 hi = *reinterpret_cast<const float2*>(sp + 8 * L.lds);
        acc[nt][0] = decay_m * lo.x;
        acc[nt][1] = decay_m * lo.y;
        acc[nt][2] = decay_m * hi.x;
        acc[nt][3] = decay_m * hi.y;
      }
      const float* ka = Kf + t4 * L.ldkf + d0 + g;
      const float* vr = Vf + t4 * L.ldvf + cc + g;
#pragma unroll 4
      for (int j0 = 0; j0 < kC; j0 += 8) {
        const float* kk = ka + j0 * L.ldkf;
        const uint32_t fa[4] = {Bits(kk[0]), Bits(kk[8]), Bits(kk[4 * L.ldkf]), Bits(kk[4 * L.ldkf + 8])};
        const float* vb = vr + j0 * L.ldvf;
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt)
          MmaTf32(acc[nt], fa, Bits(vb[8 * nt]), Bits(vb[4 * L.ldvf + 8 * nt]));
      }
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt) {
        float* sp = Sn + (d0 + g) * L.lds + cc + 8 * nt + 2 * t4;
        *reinterpret_cast<float2*>(sp) = make_float2(acc[nt][0], acc[nt][1]);
        *reinterpret_cast<float2*>(sp + 8 * L.lds) = make_float2(acc[nt][2], acc[nt][3]);
      }
    }
    __syncthreads();

    // Write O (Ob is next written two barriers later); the new state becomes current.
    for (int idx = tid; idx < m * DV; idx += kThreads) {
      const int i = idx / DV, c = idx % DV;
      const int64_t t = a.reverse ? end - 1 - (p0 + i) : start + p0 + i;
      op[t * a.out_tok_stride + h * a.out_head_stride + c0 + c] = __float2bfloat16(Ob[i * L.lds + c]);
    }
    float* const tmp = S;
    S = Sn;
    Sn = tmp;
  }

  if (a.final_state != nullptr) {
    const float scale = a.final_scale_lambda ? pw[1] : 1.0f;
    for (int idx = tid; idx < D * DV; idx += kThreads) {
      const int d = idx / DV, c = idx % DV;
      a.final_state[state_off + static_cast<int64_t>(d) * D + c0 + c] = scale * S[d * L.lds + c];
    }
  }
}

bool Aligned16(const TokenHeadView& v) {
  return reinterpret_cast<uintptr_t>(v.ptr) % 16 == 0 && v.tok_stride % 8 == 0 && v.head_stride % 8 == 0;
}

bool Applies(const LightningScanArgs& a) {
  const int64_t D = a.head_dim;
  return a.io_type == IoType::kBF16 && D % 16 == 0 && (D <= 64 || D == 128) && Aligned16(a.q) &&
         Aligned16(a.k) && Aligned16(a.v);
}

constexpr int kMaxDevices = 64;

// SMs of the current device, read once per device; 0 (not cached) if the query fails. A failed query only
// disables the narrow tile: its error is cleared so that the launch's own check does not report it.
int SmCount() {
  static std::array<std::atomic<int>, kMaxDevices> cache{};  // 0: not read yet
  int dev = 0, n = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) {
    (void)cudaGetLastError();
    return 0;
  }
  if ((n = cache[dev].load(std::memory_order_relaxed)) > 0) return n;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  cache[dev].store(n, std::memory_order_relaxed);
  return n;
}

template <int kD, int kDV>
cudaError_t SetSharedLimit() {
  return cudaFuncSetAttribute(ScanKernel<kD, kDV>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(MakeLayout(kD, kDV).total));
}

// Blocks of ScanKernel<kD, 32> the current device runs at once: blocks per SM (queried once; the same for
// every sm_90 device) times its SMs; 0 if a query fails (not cached, error cleared as in SmCount).
template <int kD>
int64_t ResidentNarrowBlocks() {
  static std::atomic<int> per_sm_cache{-1};  // -1: not queried yet
  int per_sm = per_sm_cache.load(std::memory_order_relaxed);
  if (per_sm < 0) {
    if (SetSharedLimit<kD, 32>() != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, ScanKernel<kD, 32>, kThreads,
                                                      MakeLayout(kD, 32).total) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    per_sm_cache.store(per_sm, std::memory_order_relaxed);
  }
  return int64_t{per_sm} * SmCount();
}

// DV = 32 instead of 64 (d = 64, 128) for a launch of n scans: when the DV = 64 grid leaves SMs idle and the
// DV = 32 grid (twice the blocks, each with half the O and state work) still runs in one wave; a second wave
// would cost more than the narrower tile saves.
bool UseNarrowTile(const LightningScanArgs& a, int n) {
  if (a.head_dim != 64 && a.head_dim != 128) return false;
  if (a.column_tile != ScanColumnTile::kAuto) return a.column_tile == ScanColumnTile::k32;
  const int64_t blocks = a.num_seqs * a.num_heads * (a.head_dim / 64) * n;
  const int64_t resident = a.head_dim == 64 ? ResidentNarrowBlocks<64>() : ResidentNarrowBlocks<128>();
  return blocks < SmCount() && 2 * blocks <= resident;
}

template <int kD, int kDV>
cudaError_t Launch(const ScanBatch& batch, int n, cudaStream_t stream) {
  const cudaError_t err = SetSharedLimit<kD, kDV>();
  if (err != cudaSuccess) return err;
  const LightningScanArgs& a = batch.scans[0];
  const dim3 grid(static_cast<unsigned>(a.num_seqs * a.num_heads), static_cast<unsigned>(kD / kDV),
                  static_cast<unsigned>(n));
  ScanKernel<kD, kDV><<<grid, kThreads, MakeLayout(kD, kDV).total, stream>>>(batch);
  return cudaGetLastError();
}

// Runs batch.scans[0, n) (each one Applies; all with the same num_seqs, num_heads and head_dim) in one
// launch.
cudaError_t Scan(const ScanBatch& batch, int n, cudaStream_t stream) {
  const bool narrow = UseNarrowTile(batch.scans[0], n);
  switch (batch.scans[0].head_dim) {
    case 16:
      return Launch<16, 16>(batch, n, stream);
    case 32:
      return Launch<32, 32>(batch, n, stream);
    case 48:
      return Launch<48, 48>(batch, n, stream);
    case 64:
      return narrow ? Launch<64, 32>(batch, n, stream) : Launch<64, 64>(batch, n, stream);
    default:
      return narrow ? Launch<128, 32>(batch, n, stream) : Launch<128, 64>(batch, n, stream);
  }
}

}  // namespace tc

// Vectorised decode for d % 4 == 0: one 256-thread block per (sequence, head); thread (g, c4) streams float4
// column group c4 over rows g, g + R, ... (R = 256 / (d/4) row groups), so each block keeps many independent
// 16-byte loads in flight; partial q.S sums are reduced across row groups in shared memory.
template <typename T>
__global__ void __launch_bounds__(256) LightningDecodeVec4Kernel(LightningDecodeArgs a) {
  extern __shared__ float sh[];
  const T* qp = static_cast<const T*>(a.q.ptr);
  const T* kp = static_cast<const T*>(a.k.ptr);
  const T* vp = static_cast<const T*>(a.v.ptr);
  const int D = static_cast<int>(a.head_dim);
  const int C4 = D / 4;
  const int R = 256 / C4;
  float* sq = sh;        // [D]
  float* sk = sq + D;    // [D]
  float* sv = sk + D;    // [D]
  float* part = sv + D;  // [R][D]
  const int64_t b = blockIdx.x / a.num_heads;
  const int64_t h = blockIdx.x % a.num_heads;
  const int64_t slot = a.slot_idx != nullptr ? a.slot_idx[b] : b;
  if (slot < 0) return;
  for (int i = threadIdx.x; i < D; i += blockDim.x) {
    sq[i] = Load(qp, b * a.q.tok_stride + h * a.q.head_stride + i);
    sk[i] = Load(kp, b * a.k.tok_stride + h * a.k.head_stride + i);
    sv[i] = Load(vp, b * a.v.tok_stride + h * a.v.head_stride + i);
  }
  __syncthreads();
  const int c4 = threadIdx.x % C4, g = threadIdx.x / C4;
  if (g < R) {
    float4* S =
        reinterpret_cast<float4*>(a.state_pool + (slot * a.num_heads + h) * static_cast<int64_t>(D) * D);
    const float lambda = expf(-a.decay_rate[h]);
    const float4 v4 = make_float4(sv[4 * c4], sv[4 * c4 + 1], sv[4 * c4 + 2], sv[4 * c4 + 3]);
    float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int r = g; r < D; r += R) {
      float4 s = S[static_cast<int64_t>(r) * C4 + c4];
      const float kr = sk[r], qr = sq[r];
      s.x = fmaf(lambda, s.x, kr * v4.x);
      s.y = fmaf(lambda, s.y, kr * v4.y);
      s.z = fmaf(lambda, s.z, kr * v4.z);
      s.w = fmaf(lambda, s.w, kr * v4.w);
      S[static_cast<int64_t>(r) * C4 + c4] = s;
      acc.x = fmaf(qr, s.x, acc.x);
      acc.y = fmaf(qr, s.y, acc.y);
      acc.z = fmaf(qr, s.z, acc.z);
      acc.w = fmaf(qr, s.w, acc.w);
    }
    part[g * D + 4 * c4] = acc.x;
    part[g * D + 4 * c4 + 1] = acc.y;
    part[g * D + 4 * c4 + 2] = acc.z;
    part[g * D + 4 * c4 + 3] = acc.w;
  }
  __syncthreads();
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    float o = 0.f;
    for (int gg = 0; gg < R; ++gg) o += part[gg * D + c];
    Store(static_cast<T*>(a.out), (b * a.num_heads + h) * D + c, o);
  }
}

}  // namespace

cudaError_t LightningScan(const LightningScanArgs& args, cudaStream_t stream) {
  if (args.num_seqs == 0 || args.num_heads == 0) return cudaSuccess;
  if (args.head_dim < 1 || args.head_dim > kMaxHeadDim) return cudaErrorInvalidValue;
  if (tc::Applies(args)) {
    tc::ScanBatch batch;
    batch.scans[0] = args;
    return tc::Scan(batch, 1, stream);
  }
  const size_t smem = ScanSharedBytes(args.head_dim);
  const dim3 grid(static_cast<unsigned>(args.num_seqs * args.num_heads),
                  static_cast<unsigned>((args.head_dim + kDvTile - 1) / kDvTile));
  auto launch = [&](auto kernel) {
    cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (err != cudaSuccess) return err;
    kernel<<<grid, kThreads, smem, stream>>>(args);
    return cudaGetLastError();
  };
  return args.io_type == IoType::kBF16 ? launch(LightningScanKernel<__nv_bfloat16>)
                                       : launch(LightningScanKernel<float>);
}

namespace {

// The backward's three scans (lightning_attention.h): dq, dv (and dS_0), dk.
std::array<LightningScanArgs, 3> BackwardScans(const LightningBackwardArgs& a) {
  LightningScanArgs s;
  s.cu_seqlens = a.cu_seqlens;
  s.num_seqs = a.num_seqs;
  s.num_heads = a.num_heads;
  s.head_dim = a.head_dim;
  s.decay_rate = a.decay_rate;
  s.out_tok_stride = a.num_heads * a.head_dim;
  s.out_head_stride = a.head_dim;
  s.io_type = a.io_type;
  s.column_tile = a.column_tile;
  std::array<LightningScanArgs, 3> scans = {s, s, s};

  // dq: forward scan of (dO, v, k) from S_0^T.
  LightningScanArgs& dq = scans[0];
  dq.q = a.dout;
  dq.k = a.v;
  dq.v = a.k;
  dq.init_state = a.init_state;
  dq.transpose_init = true;
  dq.out = a.dq;

  // dv: reverse scan of (k, q, dO) from dS_T / lambda; its final state G_1 gives dS_0 = lambda G_1.
  LightningScanArgs& dv = scans[1];
  dv.q = a.k;
  dv.k = a.q;
  dv.v = a.dout;
  dv.init_state = a.d_final_state;
  dv.init_scale_inv_lambda = true;
  dv.reverse = true;
  dv.final_state = a.d_init_state;
  dv.final_scale_lambda = true;
  dv.out = a.dv;

  // dk: reverse scan of (v, dO, q) from dS_T^T / lambda.
  LightningScanArgs& dk = scans[2];
  dk.q = a.v;
  dk.k = a.dout;
  dk.v = a.q;
  dk.init_state = a.d_final_state;
  dk.transpose_init = true;
  dk.init_scale_inv_lambda = true;
  dk.reverse = true;
  dk.out = a.dk;
  return scans;
}

}  // namespace

cudaError_t LightningBackward(const LightningBackwardArgs& a, cudaStream_t stream) {
  const std::array<LightningScanArgs, 3> scans = BackwardScans(a);
  if (a.num_seqs == 0 || a.num_heads == 0) return cudaSuccess;
  if (a.head_dim < 1 || a.head_dim > kMaxHeadDim) return cudaErrorInvalidValue;
  // The scans read only forward inputs and dO and write disjoint outputs: one launch when all three take the
  // tensor-core kernel, else one LightningScan each.
  if (tc::Applies(scans[0]) && tc::Applies(scans[1]) && tc::Applies(scans[2])) {
    tc::ScanBatch batch;
    for (int i = 0; i < 3; ++i) batch.scans[i] = scans[i];
    return tc::Scan(batch, 3, stream);
  }
  for (const LightningScanArgs& s : scans) {
    const cudaError_t err = LightningScan(s, stream);
    if (err != cudaSuccess) return err;
  }
  return cudaSuccess;
}

cudaError_t LightningDecode(const LightningDecodeArgs& args, cudaStream_t stream) {
  if (args.batch == 0 || args.num_heads == 0) return cudaSuccess;
  if (args.head_dim < 1 || args.head_dim > 1024) return cudaErrorInvalidValue;
  const unsigned blocks = static_cast<unsigned>(args.batch * args.num_heads);
  if (args.head_dim % 4 == 0 && args.head_dim <= 1024) {
    const int64_t rows = 256 / (args.head_dim / 4);
    const size_t smem = sizeof(float) * args.head_dim * (3 + rows);
    if (args.io_type == IoType::kBF16) {
      LightningDecodeVec4Kernel<__nv_bfloat16><<<blocks, 256, smem, stream>>>(args);
    } else {
      LightningDecodeVec4Kernel<float><<<blocks, 256, smem, stream>>>(args);
    }
    return cudaGetLastError();
  }
  const int threads = static_cast<int>((args.head_dim + 31) / 32 * 32);
  const size_t smem = 2 * sizeof(float) * args.head_dim;
  if (args.io_type == IoType::kBF16) {
    LightningDecodeKernel<__nv_bfloat16><<<blocks, threads, smem, stream>>>(args);
  } else {
    LightningDecodeKernel<float><<<blocks, threads, smem, stream>>>(args);
  }
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
