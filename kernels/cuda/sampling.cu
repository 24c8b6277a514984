// Fused slot sampler. See sampling.h for the contract.
//
// One block of kThreads per logits row. Passes over the row: (1) max and argmax of z/T with a NaN/+inf check,
// (2) Z = sum exp(z/T - max) in fp64, then only when filtering (3) top-k by radix select on order-preserving
// keys of z (4 passes of 8 bits) and (4) top-p by bisection over the key range (32 mass reductions), and
// finally (5) the inverse-CDF search over the candidates. Candidate sets are always of the form
// {key > theta} + {key == theta and index <= tie_last}, so no sort and no scratch memory are needed; ties are
// broken by index exactly as the host sampler's (weight desc, index asc) order does. Scans that depend on
// index order use contiguous per-thread chunks and deterministic block scans (no floating-point atomics), so
// a row's result does not depend on the other rows or on timing.
#include <cfloat>
#include <climits>
#include <cmath>

#include "kernels/cuda/philox.h"
#include "kernels/cuda/sampling.h"

namespace m1rl::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFull = 0xffffffffu;

struct Shared {
  double d[kWarps];
  int i[kWarps];
  unsigned hist[256];
  double scalar_d;
  int scalar_i[2];
};

// Order-preserving map of a non-NaN float to uint32 (larger float -> larger key; -inf -> 0x007FFFFF).
__device__ __forceinline__ unsigned Key(float z) {
  const unsigned u = __float_as_uint(z);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ double BlockSum(double x, Shared* sh) {
  for (int off = 16; off > 0; off >>= 1) x += __shfl_down_sync(kFull, x, off);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // earlier readers of sh->d are done
  if (lane == 0) sh->d[warp] = x;
  __syncthreads();
  if (warp == 0) {
    double y = lane < kWarps ? sh->d[lane] : 0.0;
    for (int off = 16; off > 0; off >>= 1) y += __shfl_down_sync(kFull, y, off);
    if (lane == 0) sh->scalar_d = y;
  }
  __syncthreads();
  return sh->scalar_d;
}

// Exclusive prefix of x over threads in threadIdx order; *total receives the block sum.
__device__ double BlockExclusiveScan(double x, Shared* sh, double* total) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  double incl = x;
  for (int off = 1; off < 32; off <<= 1) {
    const double y = __shfl_up_sync(kFull, incl, off);
    if (lane >= off) incl += y;
  }
  __syncthreads();
  if (lane == 31) sh->d[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    double w = lane < kWarps ? sh->d[lane] : 0.0;
    double wincl = w;
    for (int off = 1; off < 32; off <<= 1) {
      const double y = __shfl_up_sync(kFull, wincl, off);
      if (lane >= off) wincl += y;
    }
    if (lane < kWarps) sh->d[lane] = wincl - w;  // exclusive prefix of warp totals
    if (lane == kWarps - 1) sh->scalar_d = wincl;
  }
  __syncthreads();
  const double prefix = sh->d[warp] + (incl - x);
  *total = sh->scalar_d;
  __syncthreads();
  return prefix;
}

// The contiguous chunk [begin, end) of the vocabulary owned by this thread in index-order scans.
struct Chunk {
  int begin, end;
};
__device__ Chunk MyChunk(int vocab) {
  const int c = (vocab + kThreads - 1) / kThreads;
  const int begin = min(vocab, static_cast<int>(threadIdx.x) * c);
  return {begin, min(vocab, begin + c)};
}

struct Row {
  const float* z;
  int vocab;
  double inv_t;
  double max_s;
  __device__ double W(int i) const { return exp(static_cast<double>(z[i]) * inv_t - max_s); }
};

// Candidate set {key > theta} + {key == theta, index <= tie_last}.
struct Candidates {
  unsigned theta;
  int tie_last;
  __device__ bool Has(unsigned key, int i) const { return key > theta || (key == theta && i <= tie_last); }
};

// Index of the first i (index order) among elements with weight f(i) whose running sum reaches the target:
// sum_{j <= i} f(j) > target (strict) or >= target (inclusive). -1 when no prefix reaches it.
template <typename F>
__device__ int CdfSearch(F f, int vocab, double target, bool inclusive, Shared* sh) {
  const Chunk ch = MyChunk(vocab);
  double local = 0.0;
  for (int i = ch.begin; i < ch.end; ++i) local += f(i);
  double total;
  const double prefix = BlockExclusiveScan(local, sh, &total);
  if (threadIdx.x == 0) sh->scalar_i[0] = -1;
  __syncthreads();
  const double end_sum = prefix + local;
  // Intervals (prefix, end_sum] (inclusive) or [prefix, end_sum) (strict) of threads with local > 0 are
  // disjoint, so at most one thread claims the crossing.
  const bool mine = local > 0.0 && (inclusive ? (prefix < target && target <= end_sum)
                                              : (prefix <= target && target < end_sum));
  if (mine) {
    // Accumulate from 0 as `local` was, so the last comparison sees exactly end_sum.
    double cum = 0.0;
    int found = -1;
    for (int i = ch.begin; i < ch.end; ++i) {
      const double w = f(i);
      if (w <= 0.0) continue;
      cum += w;
      found = i;
      if (inclusive ? prefix + cum >= target : target < prefix + cum) break;
    }
    sh->scalar_i[0] = found;  // exactly one thread's interval holds the crossing
  }
  __syncthreads();
  const int r = sh->scalar_i[0];
  __syncthreads();
  return r;
}

// Largest index with f(i) > 0, or -1.
template <typename F>
__device__ int LastPositive(F f, int vocab, Shared* sh) {
  int last = -1;
  for (int i = threadIdx.x; i < vocab; i += kThreads)
    if (f(i) > 0.0) last = i;
  for (int off = 16; off > 0; off >>= 1) last = max(last, __shfl_down_sync(kFull, last, off));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) sh->i[warp] = last;
  __syncthreads();
  if (threadIdx.x == 0) {
    int m = -1;
    for (int w = 0; w < kWarps; ++w) m = max(m, sh->i[w]);
    sh->scalar_i[1] = m;
  }
  __syncthreads();
  const int r = sh->scalar_i[1];
  __syncthreads();
  return r;
}

// Top-k: the k-th largest key by radix select, then the tie cut-off by index.
__device__ Candidates TopK(const Row& row, int k, Shared* sh) {
  unsigned prefix = 0, mask = 0;
  int remaining = k;
  for (int pass = 3; pass >= 0; --pass) {
    const int shift = 8 * pass;
    for (int b = threadIdx.x; b < 256; b += kThreads) sh->hist[b] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < row.vocab; i += kThreads) {
      const unsigned key = Key(row.z[i]);
      if ((key & mask) == prefix) atomicAdd(&sh->hist[(key >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int cum = 0, digit = 0;
      for (int d = 255; d >= 0; --d) {
        const int h = static_cast<int>(sh->hist[d]);
        if (cum + h >= remaining) {
          digit = d;
          break;
        }
        cum += h;
      }
      sh->scalar_i[0] = digit;
      sh->scalar_i[1] = remaining - cum;
    }
    __syncthreads();
    prefix |= static_cast<unsigned>(sh->scalar_i[0]) << shift;
    mask |= 255u << shift;
    remaining = sh->scalar_i[1];
    __syncthreads();
  }
  // The `remaining`-th element with key == prefix in index order closes the set.
  const unsigned theta = prefix;
  auto tie = [&](int i) { return Key(row.z[i]) == theta ? 1.0 : 0.0; };
  const int last = CdfSearch(tie, row.vocab, static_cast<double>(remaining), /*inclusive=*/true, sh);
  return {theta, last};
}

template <typename F>
__device__ double Mass(F member_weight, int vocab, Shared* sh) {
  double s = 0.0;
  for (int i = threadIdx.x; i < vocab; i += kThreads) s += member_weight(i);
  return BlockSum(s, sh);
}

// Top-p within `k_set` (mass_k its mass): the smallest descending prefix with mass >= top_p * mass_k.
__device__ Candidates TopP(const Row& row, const Candidates& k_set, double mass_k, double top_p, Shared* sh) {
  const double target = top_p * mass_k;
  unsigned theta = 0;
  for (int b = 31; b >= 0; --b) {
    const unsigned cand = theta | (1u << b);
    const double f = Mass(
        [&](int i) {
          const unsigned key = Key(row.z[i]);
          return (key >= cand && k_set.Has(key, i)) ? row.W(i) : 0.0;
        },
        row.vocab, sh);
    if (f >= target) theta = cand;
  }
  const double above = Mass(
      [&](int i) {
        const unsigned key = Key(row.z[i]);
        return (key > theta && k_set.Has(key, i)) ? row.W(i) : 0.0;
      },
      row.vocab, sh);
  auto tie_w = [&](int i) {
    const unsigned key = Key(row.z[i]);
    return (key == theta && k_set.Has(key, i)) ? row.W(i) : 0.0;
  };
  int last = CdfSearch(tie_w, row.vocab, target - above, /*inclusive=*/true, sh);
  if (last < 0) last = LastPositive(tie_w, row.vocab, sh);  // rounding: keep every tie
  return {theta, last};
}

__global__ void __launch_bounds__(kThreads) SampleSlotsKernel(SampleSlotsArgs a) {
  __shared__ Shared sh;
  const int row_index = blockIdx.x;
  const int slot = a.slots[row_index];
  SlotSamplingState* st = a.state + slot;
  const int32_t stop_before = st->stop;
  if (stop_before != kStopNone) {
    if (threadIdx.x == 0) {
      a.out_token[row_index] = -1;
      a.out_logprob[row_index] = 0.0f;
      a.out_stop[row_index] = stop_before;
    }
    return;
  }
  const SlotSamplingParams p = a.params[slot];
  Row row{a.logits + row_index * a.logits_row_stride, static_cast<int>(a.vocab), p.inv_temperature, 0.0};

  // (1) max and argmax (lowest index on ties) of z/T; NaN or +inf is an error.
  double mx = -INFINITY;
  int arg = INT_MAX;
  int bad = 0;
  for (int i = threadIdx.x; i < row.vocab; i += kThreads) {
    const float zi = row.z[i];
    if (isnan(zi) || zi == INFINITY) bad = 1;
    const double s = static_cast<double>(zi) * row.inv_t;
    if (s > mx || (s == mx && i < arg)) {
      mx = s;
      arg = i;
    }
  }
  for (int off = 16; off > 0; off >>= 1) {
    const double om = __shfl_down_sync(kFull, mx, off);
    const int oa = __shfl_down_sync(kFull, arg, off);
    if (om > mx || (om == mx && oa < arg)) {
      mx = om;
      arg = oa;
    }
  }
  {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
      sh.d[warp] = mx;
      sh.i[warp] = arg;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      double m = sh.d[0];
      int ai = sh.i[0];
      for (int w = 1; w < kWarps; ++w) {
        if (sh.d[w] > m || (sh.d[w] == m && sh.i[w] < ai)) {
          m = sh.d[w];
          ai = sh.i[w];
        }
      }
      sh.scalar_d = m;
      sh.scalar_i[0] = ai;
    }
    __syncthreads();
    mx = sh.scalar_d;
    arg = sh.scalar_i[0];
    __syncthreads();
  }
  bad = __syncthreads_or(bad);
  if (bad || mx == -INFINITY) {
    if (threadIdx.x == 0) {
      st->stop = kStopError;
      a.out_token[row_index] = -1;
      a.out_logprob[row_index] = 0.0f;
      a.out_stop[row_index] = kStopError;
    }
    return;
  }
  row.max_s = mx;

  // (2) Z.
  const double total = Mass([&](int i) { return row.W(i); }, row.vocab, &sh);

  // (3)-(5) the token.
  int token = arg;
  if (!p.greedy) {
    const double u = PhiloxUniform(p.seed, p.stream, static_cast<uint64_t>(st->generated));
    const bool use_k = p.top_k > 0 && p.top_k < row.vocab;
    const bool use_p = p.top_p < 1.0;
    Candidates c{0u, -1};  // every token (all keys are > 0)
    double mass = total;
    if (use_k) {
      c = TopK(row, p.top_k, &sh);
      mass = Mass([&](int i) { return c.Has(Key(row.z[i]), i) ? row.W(i) : 0.0; }, row.vocab, &sh);
    }
    if (use_p) {
      c = TopP(row, c, mass, p.top_p, &sh);
      mass = Mass([&](int i) { return c.Has(Key(row.z[i]), i) ? row.W(i) : 0.0; }, row.vocab, &sh);
    }
    auto member_w = [&](int i) { return c.Has(Key(row.z[i]), i) ? row.W(i) : 0.0; };
    token = CdfSearch(member_w, row.vocab, u * mass, /*inclusive=*/false, &sh);
    if (token < 0) token = LastPositive(member_w, row.vocab, &sh);  // u * mass rounded onto the top
  }

  if (threadIdx.x == 0) {
    const double logprob = static_cast<double>(row.z[token]) * row.inv_t - (mx + log(total));
    const double prob = exp(logprob);
    const int32_t rep = prob > a.repetition_threshold ? st->rep_run + 1 : 0;
    const int32_t generated = st->generated + 1;
    int32_t stop = kStopNone;
    bool eos = false;
    for (int e = 0; e < a.num_eos; ++e) eos = eos || a.eos_ids[e] == token;
    if (eos) {
      stop = kStopEos;
    } else if (a.repetition_run_length > 0 && rep == a.repetition_run_length) {
      stop = kStopRepetition;
    } else if (generated >= p.max_new_tokens) {
      stop = kStopLength;
    } else if (generated >= p.max_generated) {
      stop = kStopContext;
    }
    st->generated = generated;
    st->rep_run = rep;
    st->stop = stop;
    a.next_token[slot] = token;
    a.length[slot] += a.advance_length;
    a.out_token[row_index] = token;
    a.out_logprob[row_index] = static_cast<float>(logprob);
    a.out_stop[row_index] = stop;
  }
}

}  // namespace

cudaError_t SampleSlots(const SampleSlotsArgs& args, cudaStream_t stream) {
  if (args.batch <= 0) return cudaSuccess;
  if (args.vocab <= 0 || args.vocab > INT_MAX / 2 || args.logits_row_stride < args.vocab) {
    return cudaErrorInvalidValue;
  }
  SampleSlotsKernel<<<static_cast<unsigned>(args.batch), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace m1rl::cuda
