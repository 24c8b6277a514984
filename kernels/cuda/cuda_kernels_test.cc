// CUDA kernels against the plain C++ references of kernels/reference/naive*.h (label cuda; skipped without a
// device). Inputs: lightning q, k, v = SiLU(N(0,1)); outputs NaN-poisoned before each launch; shapes include
// 1, primes, non-multiples of the 32-token chunk and 32-column tiles, ragged batches with an empty sequence.
// Error metric (KERNELS.md): max|y - y_ref| / max|y_ref|; NaN always fails.
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/lightning_attention.h"
#include "kernels/cuda/lm_head.h"
#include "kernels/cuda/moe.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/swiglu.h"
#include "kernels/reference/naive.h"
#include "kernels/reference/naive_norm.h"
#include "kernels/reference/naive_swiglu.h"

namespace m1rl::cuda {
namespace {

bool HasDevice() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define SKIP_WITHOUT_DEVICE() \
  if (!HasDevice()) GTEST_SKIP() << "no CUDA device"

template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n_ > 0) {
      void* p = nullptr;
      EXPECT_EQ(cudaMalloc(&p, n_ * sizeof(T)), cudaSuccess);
      ptr_ = static_cast<T*>(p);
    }
    Poison();
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    if (n_ > 0) {
      EXPECT_EQ(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    }
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void Poison() {
    if (n_ > 0) {
      EXPECT_EQ(cudaMemset(ptr_, 0xFF, n_ * sizeof(T)), cudaSuccess);  // NaN for floats
    }
  }
  std::vector<T> ToHost() const {
    std::vector<T> h(n_);
    if (n_ > 0) {
      EXPECT_EQ(cudaMemcpy(h.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return h;
  }
  T* Get() { return ptr_; }

 private:
  size_t n_;
  T* ptr_ = nullptr;
};

std::vector<float> SiluNormal(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) {
    const float z = dist(rng);
    x = z / (1.f + std::exp(-z));
  }
  return v;
}

std::vector<float> Normal(size_t n, uint32_t seed, float std = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, std);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

template <typename A, typename B>
void ExpectClose(const std::vector<A>& got, const std::vector<B>& ref, double rel_tol, const char* what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double max_ref = 0.0, worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < ref.size(); ++i) max_ref = std::max(max_ref, std::abs(static_cast<double>(ref[i])));
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_FALSE(std::isnan(static_cast<double>(got[i]))) << what << ": NaN at " << i;
    const double err = std::abs(static_cast<double>(got[i]) - static_cast<double>(ref[i]));
    if (err > worst) {
      worst = err;
      worst_i = i;
    }
  }
  const double rel = max_ref > 0 ? worst / max_ref : worst;
  EXPECT_LE(rel, rel_tol) << what << ": worst index " << worst_i << " got "
                          << static_cast<double>(got[worst_i]) << " expected "
                          << static_cast<double>(ref[worst_i]) << " (max|ref| " << max_ref << ")";
}

struct LightningCase {
  std::vector<int32_t> cu_seqlens;
  int64_t heads, dim;
  bool with_state;
};

// The sizes of a lightning case: Rows() elements in a [T, H, d] tensor (q, k, v, out and their gradients),
// States() in a [B, H, d, d] state.
struct LightningDims {
  explicit LightningDims(const LightningCase& c)
      : n_tok(c.cu_seqlens.back()),
        n_head(c.heads),
        n_dim(c.dim),
        n_seq(static_cast<int64_t>(c.cu_seqlens.size()) - 1) {}
  size_t Rows() const { return static_cast<size_t>(n_tok * n_head * n_dim); }
  size_t States() const { return static_cast<size_t>(n_seq * n_head * n_dim * n_dim); }
  // A contiguous [T, H, d] device tensor.
  TokenHeadView View(const void* ptr) const { return {ptr, n_head * n_dim, n_dim}; }

  int64_t n_tok, n_head, n_dim, n_seq;
};

// Decay rates spanning fast and slow heads: s_h * f for f in (0, 1].
std::vector<float> DecayRates(int64_t H) {
  std::vector<float> r(H);
  for (int64_t h = 0; h < H; ++h) r[h] = std::pow(2.0f, -8.0f * (h + 1) / H) * (h % 2 == 0 ? 1.0f : 0.3f);
  return r;
}

std::vector<__nv_bfloat16> ToBf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = __float2bfloat16(v[i]);
  return b;
}
std::vector<float> FromBf16(const std::vector<__nv_bfloat16>& b) {
  std::vector<float> v;
  v.reserve(b.size());
  for (const auto& x : b) v.push_back(__bfloat162float(x));
  return v;
}
// v rounded to bf16 values: inputs every precision reads exactly.
std::vector<float> RoundBf16(std::vector<float> v) {
  for (auto& x : v) x = __bfloat162float(__float2bfloat16(x));
  return v;
}

// Host values as a kernel's io type Io (float or __nv_bfloat16, rounded to nearest), and that io type.
template <typename Io>
std::vector<Io> ToIo(const std::vector<float>& v) {
  if constexpr (std::is_same_v<Io, __nv_bfloat16>) {
    return ToBf16(v);
  } else {
    return v;
  }
}
template <typename Io>
constexpr IoType kIoType = std::is_same_v<Io, __nv_bfloat16> ? IoType::kBF16 : IoType::kF32;

// Host inputs of a lightning case: q, k, v, the decay rates and the initial states (empty: zeros).
struct LightningInputs {
  std::vector<float> q, k, v, rates, init;
};

// q, k, v = SiLU(N(0,1)) from seeds seed, seed + 1, seed + 2 (rounded to bf16 values where `bf16`) and the
// decay rates; no initial states.

LightningInputs QkvInputs(const LightningDims& d, uint32_t seed, bool bf16) {
  auto qkv = [&](uint32_t s) {
    std::vector<float> x = SiluNormal(d.Rows(), s);
    if (bf16) x = RoundBf16(std::move(x));
    return x;
  };
  return {qkv(seed), qkv(seed + 1), qkv(seed + 2), DecayRates(d.n_head), {}};
}

// N(0,1) per-sequence states (an initial state or a final-state gradient) where the case has them, else
// empty.
std::vector<float> OptionalStates(const LightningCase& c, const LightningDims& d, uint32_t seed) {
  return c.with_state ? Normal(d.States(), seed) : std::vector<float>{};
}

// A forward case: inputs (q, k, v from seeds seed .. seed + 2, initial states from seed + 3) and the
// reference's out and final states.
struct ForwardCase {
  LightningInputs in;
  std::vector<float> out, final_state;
};

ForwardCase MakeForwardCase(const LightningCase& c, uint32_t seed, bool bf16) {
  const LightningDims d(c);
  ForwardCase f{QkvInputs(d, seed, bf16), {}, {}};
  f.in.init = OptionalStates(c, d, seed + 3);
  reference::naive::LightningForward(f.in.q, f.in.k, f.in.v, c.cu_seqlens, d.n_head, d.n_dim, f.in.rates,
                                     f.in.init, &f.out, &f.final_state);
  return f;
}

// A backward case: inputs (q, k, v from seeds seed .. seed + 2, dout = N(0,1) from seed + 3, rounded to bf16
// values where `bf16`, initial states and final-state gradients from seed + 4, seed + 5) and the reference's
// gradients.
struct BackwardCase {
  LightningInputs in;
  std::vector<float> dout, d_final;
  std::vector<float> dq, dk, dv, d_init;  // the reference's
};

BackwardCase MakeBackwardCase(const LightningCase& c, uint32_t seed, bool bf16) {
  const LightningDims d(c);
  BackwardCase b{QkvInputs(d, seed, bf16), Normal(d.Rows(), seed + 3), {}, {}, {}, {}, {}};
  if (bf16) b.dout = RoundBf16(std::move(b.dout));
  b.in.init = OptionalStates(c, d, seed + 4);
  b.d_final = OptionalStates(c, d, seed + 5);
  reference::naive::LightningBackward(b.in.q, b.in.k, b.in.v, b.dout, c.cu_seqlens, d.n_head, d.n_dim,
                                      b.in.rates, b.in.init, b.d_final, &b.dq, &b.dk, &b.dv, &b.d_init);
  return b;
}

// The device copies of a case's inputs: q, k, v of io type Io, the decay rates, the initial states and
// cu_seqlens.
template <typename Io>
struct DeviceInputs {
  DeviceInputs(const LightningCase& c, const LightningInputs& in)
      : dims(c),
        with_state(c.with_state),
        q(ToIo<Io>(in.q)),
        k(ToIo<Io>(in.k)),
        v(ToIo<Io>(in.v)),
        rates(in.rates),
        init(in.init),
        cu(c.cu_seqlens) {}

  LightningDims dims;
  bool with_state;
  DeviceBuffer<Io> q, k, v;
  DeviceBuffer<float> rates, init;
  DeviceBuffer<int32_t> cu;
};

// Points the input fields that LightningScanArgs and LightningBackwardArgs share at b (contiguous [T, H, d]
// tensors); the column tile stays automatic.
template <typename Args, typename Io>
void SetInputs(DeviceInputs<Io>& b, Args* a) {
  const LightningDims& d = b.dims;
  a->q = d.View(b.q.Get());
  a->k = d.View(b.k.Get());
  a->v = d.View(b.v.Get());
  a->cu_seqlens = b.cu.Get();
  a->num_seqs = d.n_seq;
  a->num_heads = d.n_head;
  a->head_dim = d.n_dim;
  a->decay_rate = b.rates.Get();
  a->init_state = b.with_state ? b.init.Get() : nullptr;
  a->io_type = kIoType<Io>;
}

// The device buffers of a forward scan: its inputs, and out (io type Io) and the final states NaN-poisoned.
template <typename Io>
struct ScanBuffers {
  ScanBuffers(const LightningCase& c, const LightningInputs& in)
      : inputs(c, in), out(inputs.dims.Rows()), final_state(inputs.dims.States()) {}
  // NaN-poisons the outputs again (before another launch).
  void Poison() {
    out.Poison();
    final_state.Poison();
  }

  DeviceInputs<Io> inputs;
  DeviceBuffer<Io> out;
  DeviceBuffer<float> final_state;
};

// The args of a scan over b's buffers.
template <typename Io>
LightningScanArgs ScanArgs(ScanBuffers<Io>& b) {
  LightningScanArgs a;
  SetInputs(b.inputs, &a);
  a.final_state = b.final_state.Get();
  a.out = b.out.Get();
  a.out_tok_stride = b.inputs.dims.n_head * b.inputs.dims.n_dim;
  a.out_head_stride = b.inputs.dims.n_dim;
  return a;
}

// The device buffers of a backward: its inputs, dout (io type Io) and the final states' gradient, and the
// gradients dq, dk, dv (io type Io) and of the initial states NaN-poisoned.
template <typename Io>
struct BackwardBuffers {
  BackwardBuffers(const LightningCase& c, const BackwardCase& host)
      : inputs(c, host.in),
        dout(ToIo<Io>(host.dout)),
        dq(inputs.dims.Rows()),
        dk(inputs.dims.Rows()),
        dv(inputs.dims.Rows()),
        d_final(host.d_final),
        d_init(inputs.dims.States()) {}
  // NaN-poisons the gradients again (before another launch).
  void Poison() {
    dq.Poison();
    dk.Poison();
    dv.Poison();
    d_init.Poison();
  }

  DeviceInputs<Io> inputs;
  DeviceBuffer<Io> dout, dq, dk, dv;
  DeviceBuffer<float> d_final, d_init;
};

// The args of a backward over b's buffers.
template <typename Io>
LightningBackwardArgs BackwardArgs(BackwardBuffers<Io>& b) {
  LightningBackwardArgs a;
  SetInputs(b.inputs, &a);
  a.dout = b.inputs.dims.View(b.dout.Get());
  a.d_final_state = b.inputs.with_state ? b.d_final.Get() : nullptr;
  a.dq = b.dq.Get();
  a.dk = b.dk.Get();
  a.dv = b.dv.Get();
  a.d_init_state = b.d_init.Get();
  return a;
}

class LightningTest : public ::testing::TestWithParam<LightningCase> {};

// fp32 scan over up to ~100 tokens of d-length dot products: error ~ eps32 * sqrt(T*d) * max, bounded by
// 2e-5.
constexpr double kLightningTol = 2e-5;

TEST_P(LightningTest, ForwardMatchesRecurrence) {
  SKIP_WITHOUT_DEVICE();
  const auto& c = GetParam();
  const ForwardCase ref = MakeForwardCase(c, 1, /*bf16=*/false);
  ScanBuffers<float> buf(c, ref.in);
  ASSERT_EQ(LightningScan(ScanArgs(buf), nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ExpectClose(buf.out.ToHost(), ref.out, kLightningTol, "out");
  ExpectClose(buf.final_state.ToHost(), ref.final_state, kLightningTol, "final_state");
}

TEST_P(LightningTest, BackwardMatchesReverseScan) {
  SKIP_WITHOUT_DEVICE();
  const auto& c = GetParam();
  const BackwardCase ref = MakeBackwardCase(c, 11, /*bf16=*/false);
  BackwardBuffers<float> buf(c, ref);
  ASSERT_EQ(LightningBackward(BackwardArgs(buf), nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ExpectClose(buf.dq.ToHost(), ref.dq, kLightningTol, "dq");
  ExpectClose(buf.dk.ToHost(), ref.dk, kLightningTol, "dk");
  ExpectClose(buf.dv.ToHost(), ref.dv, kLightningTol, "dv");
  ExpectClose(buf.d_init.ToHost(), ref.d_init, kLightningTol, "d_init_state");
}

// Decoding token by token through a permuted slot pool equals the forward at every position.
TEST_P(LightningTest, DecodeMatchesForward) {
  SKIP_WITHOUT_DEVICE();
  const auto& c = GetParam();
  const int64_t n_head = c.heads, n_dim = c.dim, n_seq = c.cu_seqlens.size() - 1;
  const int64_t steps = 5;
  std::vector<int32_t> cu(n_seq + 1);
  for (int64_t b = 0; b <= n_seq; ++b) cu[b] = static_cast<int32_t>(b * steps);
  const int64_t n_tok = n_seq * steps;
  auto q = SiluNormal(n_tok * n_head * n_dim, 21), k = SiluNormal(n_tok * n_head * n_dim, 22),
       v = SiluNormal(n_tok * n_head * n_dim, 23);
  auto rates = DecayRates(n_head);
  std::vector<float> init = c.with_state ? Normal(n_seq * n_head * n_dim * n_dim, 24)
                                         : std::vector<float>(n_seq * n_head * n_dim * n_dim, 0.f);
  std::vector<float> ref_out, ref_final;
  reference::naive::LightningForward(q, k, v, cu, n_head, n_dim, rates, init, &ref_out, &ref_final);

  // Sequence b lives in slot (n_seq - 1 - b) of a pool with one spare slot.
  std::vector<float> pool((n_seq + 1) * n_head * n_dim * n_dim, 0.f);
  std::vector<int32_t> slots(n_seq);
  for (int64_t b = 0; b < n_seq; ++b) {
    slots[b] = static_cast<int32_t>(n_seq - 1 - b);
    std::copy(init.begin() + b * n_head * n_dim * n_dim, init.begin() + (b + 1) * n_head * n_dim * n_dim,
              pool.begin() + slots[b] * n_head * n_dim * n_dim);
  }
  DeviceBuffer<float> dpool(pool), drates(rates), dq(q), dk(k), dv(v), dout(n_seq * n_head * n_dim);
  DeviceBuffer<int32_t> dslots(slots);
  std::vector<float> got(n_tok * n_head * n_dim);
  for (int64_t s = 0; s < steps; ++s) {
    LightningDecodeArgs a;
    // Token s of sequence b is row b*steps + s: a strided view with tok_stride steps*n_head*n_dim.
    a.q = {dq.Get() + s * n_head * n_dim, steps * n_head * n_dim, n_dim};
    a.k = {dk.Get() + s * n_head * n_dim, steps * n_head * n_dim, n_dim};
    a.v = {dv.Get() + s * n_head * n_dim, steps * n_head * n_dim, n_dim};
    a.batch = n_seq;
    a.num_heads = n_head;
    a.head_dim = n_dim;
    a.decay_rate = drates.Get();
    a.state_pool = dpool.Get();
    a.slot_idx = dslots.Get();
    a.out = dout.Get();
    ASSERT_EQ(LightningDecode(a, nullptr), cudaSuccess);
    auto o = dout.ToHost();
    for (int64_t b = 0; b < n_seq; ++b)
      std::copy(o.begin() + b * n_head * n_dim, o.begin() + (b + 1) * n_head * n_dim,
                got.begin() + (b * steps + s) * n_head * n_dim);
  }
  ExpectClose(got, ref_out, kLightningTol, "decode out");
  auto final_pool = dpool.ToHost();
  std::vector<float> final_by_seq(n_seq * n_head * n_dim * n_dim);
  for (int64_t b = 0; b < n_seq; ++b)
    std::copy(final_pool.begin() + slots[b] * n_head * n_dim * n_dim,
              final_pool.begin() + (slots[b] + 1) * n_head * n_dim * n_dim,
              final_by_seq.begin() + b * n_head * n_dim * n_dim);
  ExpectClose(final_by_seq, ref_final, kLightningTol, "decode state");
}

// bf16 inputs and outputs (the KERNELS.md contract; tensor-core path for d % 16 == 0): references on the same
// bf16-rounded inputs in double. Bounds from KERNELS.md §1-2: o <= 3e-3, final state <= 1e-3, dq/dk/dv <=
// 5e-3, dS_0 <= 2e-3 (bf16 output rounding is 2^-9; TF32 operands of the state products 2^-11).
class LightningBf16Test : public ::testing::TestWithParam<LightningCase> {};

// The tensor-core scan's state-column tiles: the automatic choice first (for these small grids the 32-column
// tile where d = 64, 128), then each forced. Only which block computes an element changes, not its
// arithmetic, so all results must be bit-equal.
constexpr ScanColumnTile kColumnTiles[] = {ScanColumnTile::kAuto, ScanColumnTile::k32, ScanColumnTile::k64};
const char* TileName(ScanColumnTile t) {
  return t == ScanColumnTile::kAuto ? "auto column tile"
         : t == ScanColumnTile::k32 ? "32-column tile"
                                    : "64-column tile";
}
void ExpectBitEqual(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t differ = 0, first = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i]) && differ++ == 0) first = i;
  }
  EXPECT_EQ(differ, 0u) << what << ": first difference at " << first << ": " << got[first] << " vs "
                        << want[first];
}

TEST_P(LightningBf16Test, ForwardMatchesRecurrence) {
  SKIP_WITHOUT_DEVICE();
  const auto& c = GetParam();
  const ForwardCase ref = MakeForwardCase(c, 51, /*bf16=*/true);
  ScanBuffers<__nv_bfloat16> buf(c, ref.in);
  std::vector<float> first_out, first_final;
  for (ScanColumnTile tile : kColumnTiles) {
    SCOPED_TRACE(TileName(tile));
    buf.Poison();
    LightningScanArgs a = ScanArgs(buf);
    a.column_tile = tile;
    ASSERT_EQ(LightningScan(a, nullptr), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const std::vector<float> out = FromBf16(buf.out.ToHost()), final_state = buf.final_state.ToHost();
    ExpectClose(out, ref.out, 3e-3, "bf16 out");
    ExpectClose(final_state, ref.final_state, 1e-3, "bf16 final_state");
    if (first_out.empty()) {
      first_out = out;
      first_final = final_state;
    }
    ExpectBitEqual(out, first_out, "bf16 out vs the automatic tile");
    ExpectBitEqual(final_state, first_final, "bf16 final_state vs the automatic tile");
  }
}

TEST_P(LightningBf16Test, BackwardMatchesReverseScan) {
  SKIP_WITHOUT_DEVICE();
  const auto& c = GetParam();
  const BackwardCase ref = MakeBackwardCase(c, 61, /*bf16=*/true);
  BackwardBuffers<__nv_bfloat16> buf(c, ref);
  std::vector<std::vector<float>> first;
  for (ScanColumnTile tile : kColumnTiles) {
    SCOPED_TRACE(TileName(tile));
    buf.Poison();
    LightningBackwardArgs a = BackwardArgs(buf);
    a.column_tile = tile;
    ASSERT_EQ(LightningBackward(a, nullptr), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const std::vector<std::vector<float>> got = {FromBf16(buf.dq.ToHost()), FromBf16(buf.dk.ToHost()),
                                                 FromBf16(buf.dv.ToHost()), buf.d_init.ToHost()};
    ExpectClose(got[0], ref.dq, 5e-3, "bf16 dq");
    ExpectClose(got[1], ref.dk, 5e-3, "bf16 dk");
    ExpectClose(got[2], ref.dv, 5e-3, "bf16 dv");
    ExpectClose(got[3], ref.d_init, 2e-3, "bf16 d_init_state");
    if (first.empty()) first = got;
    const char* names[] = {"bf16 dq", "bf16 dk", "bf16 dv", "bf16 d_init_state"};
    for (int i = 0; i < 4; ++i) ExpectBitEqual(got[i], first[i], names[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, LightningBf16Test,
                         ::testing::Values(LightningCase{{0, 1}, 1, 16, false},
                                           LightningCase{{0, 45, 45, 110}, 2, 64, true},
                                           LightningCase{{0, 1, 1, 66, 193}, 3, 64, true},
                                           LightningCase{{0, 130, 197}, 2, 128, true},
                                           LightningCase{{0, 0, 1, 129, 250}, 2, 128, true},
                                           LightningCase{{0, 67}, 3, 48, false},
                                           LightningCase{{0, 64, 100}, 2, 40, true}));

INSTANTIATE_TEST_SUITE_P(Shapes, LightningTest,
                         ::testing::Values(LightningCase{{0, 1}, 1, 1, false},
                                           LightningCase{{0, 37}, 2, 17, true},
                                           LightningCase{{0, 1, 38, 38, 105}, 3, 32, true},
                                           LightningCase{{0, 64, 97}, 2, 64, false},
                                           LightningCase{{0, 33, 100}, 2, 128, true}));

struct HeadCase {
  int64_t tokens, hidden, vocab, chunk;
  HeadGemmPrecision precision;
  double tol;
};

class HeadTest : public ::testing::TestWithParam<HeadCase> {};

std::vector<uint16_t> ToBf16Bits(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const __nv_bfloat16 b = __float2bfloat16(v[i]);
    out[i] = *reinterpret_cast<const uint16_t*>(&b);
  }
  return out;
}

TEST_P(HeadTest, ForwardAndBackwardMatchReference) {
  SKIP_WITHOUT_DEVICE();
  const auto& c = GetParam();
  const int64_t n_tok = c.tokens, n_hid = c.hidden, n_vocab = c.vocab;
  // Inputs rounded to bf16 values so that every precision computes the same products exactly (MODEL.md §7).
  auto x = RoundBf16(Normal(n_tok * n_hid, 31));
  auto w = RoundBf16(Normal(n_vocab * n_hid, 32, 1.0f / std::sqrt(static_cast<float>(n_hid))));
  std::vector<int64_t> targets(n_tok);
  for (int64_t t = 0; t < n_tok; ++t) targets[t] = (t * 7919 + 13) % n_vocab;
  auto grad = Normal(n_tok, 33);
  const double temperature = 0.7;
  std::vector<double> ref_lp, ref_ent, ref_dx, ref_dw;
  reference::naive::HeadLogProbs(x, w, targets, n_tok, n_hid, n_vocab, temperature, &ref_lp, &ref_ent);
  reference::naive::HeadLogProbsBackward(x, w, targets, grad, n_tok, n_hid, n_vocab, temperature, &ref_dx,
                                         &ref_dw);

  const bool bf16 = c.precision == HeadGemmPrecision::kBf16Fp32Out;
  DeviceBuffer<float> dx32(x), dw32(w);
  DeviceBuffer<uint16_t> dx16(ToBf16Bits(x)), dw16(ToBf16Bits(w));
  const void* xp = bf16 ? static_cast<const void*>(dx16.Get()) : dx32.Get();
  const void* wp = bf16 ? static_cast<const void*>(dw16.Get()) : dw32.Get();
  DeviceBuffer<int64_t> dtg(targets);
  DeviceBuffer<float> dgrad(grad), lp(n_tok), ent(n_tok), lse(n_tok), gx(n_tok * n_hid), gw(n_vocab * n_hid);
  DeviceBuffer<float> ws(HeadWorkspaceFloats(n_tok, c.chunk) + n_tok * c.chunk);
  cublasHandle_t handle;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  HeadForwardArgs f;
  f.x = xp;
  f.w = wp;
  f.targets = dtg.Get();
  f.num_tokens = n_tok;
  f.hidden = n_hid;
  f.vocab = n_vocab;
  f.inv_temperature = static_cast<float>(1.0 / temperature);
  f.chunk = c.chunk;
  f.precision = c.precision;
  f.workspace = ws.Get();
  f.logprobs = lp.Get();
  f.entropy = ent.Get();
  f.lse = lse.Get();
  ASSERT_EQ(HeadLogProbsForward(handle, f, nullptr), cudaSuccess);
  HeadBackwardArgs bw;
  bw.x = xp;
  bw.w = wp;
  bw.targets = dtg.Get();
  bw.grad = dgrad.Get();
  bw.lse = lse.Get();
  bw.num_tokens = n_tok;
  bw.hidden = n_hid;
  bw.vocab = n_vocab;
  bw.inv_temperature = f.inv_temperature;
  bw.chunk = c.chunk;
  bw.precision = c.precision;
  bw.workspace = ws.Get();
  bw.dx = gx.Get();
  bw.dw = gw.Get();
  ASSERT_EQ(HeadLogProbsBackward(handle, bw, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  cublasDestroy(handle);
  ExpectClose(lp.ToHost(), ref_lp, c.tol, "logprobs");
  ExpectClose(ent.ToHost(), ref_ent, c.tol, "entropy");
  // Backward GEMMs of bf16_fp32_out take dz rounded to bf16 (2^-9 relative): a looser bound there.
  const double btol = bf16 ? 1e-2 : c.tol * 10;
  ExpectClose(gx.ToHost(), ref_dx, btol, "dx");
  ExpectClose(gw.ToHost(), ref_dw, btol, "dw");
}

// Tolerances: IEEE fp32 with H <= 96 terms: ~1e-5 relative; TF32 rounds operands to 10 mantissa bits but
// bf16-valued inputs (7 bits) are exact in TF32, so it matches IEEE to accumulation order (KERNELS.md: within
// 1.3e-4 of IEEE logits on M1 shapes); bf16_fp32_out on bf16-valued inputs is exact in the products.
INSTANTIATE_TEST_SUITE_P(Shapes, HeadTest,
                         ::testing::Values(HeadCase{1, 64, 101, 32, HeadGemmPrecision::kIeeeFp32, 1e-5},
                                           HeadCase{37, 96, 1009, 256, HeadGemmPrecision::kIeeeFp32, 1e-5},
                                           HeadCase{37, 96, 1009, 4096, HeadGemmPrecision::kIeeeFp32, 1e-5},
                                           HeadCase{29, 64, 517, 128, HeadGemmPrecision::kTf32, 2e-4},
                                           HeadCase{29, 64, 517, 128, HeadGemmPrecision::kBf16Fp32Out,
                                                    2e-4}));

TEST(MoeTest, RoutePermuteCombineMatchReference) {
  SKIP_WITHOUT_DEVICE();
  const int64_t n_tok = 131, n_exp = 7, k = 2, n_hid = 45;
  auto logits = Normal(n_tok * n_exp, 41);
  // Exact ties: token 0 has all-equal logits (must pick experts 0 and 1), token 1 ties experts 5 and 3.
  for (int64_t e = 0; e < n_exp; ++e) logits[e] = 0.5f;
  logits[n_exp + 5] = 3.f;
  logits[n_exp + 3] = 3.f;
  std::vector<int32_t> ref_e;
  std::vector<float> ref_w;
  reference::naive::MoeRoute(logits, n_tok, n_exp, k, &ref_e, &ref_w);
  DeviceBuffer<float> dl(logits), dw(n_tok * k), dp(n_tok * n_exp);
  DeviceBuffer<int32_t> de(n_tok * k);
  ASSERT_EQ(MoeRoute(dl.Get(), n_tok, n_exp, k, de.Get(), dw.Get(), dp.Get(), nullptr), cudaSuccess);
  auto got_e = de.ToHost();
  EXPECT_EQ(got_e, ref_e);
  EXPECT_EQ(got_e[0], 0);
  EXPECT_EQ(got_e[1], 1);
  EXPECT_EQ(got_e[2], 3);
  EXPECT_EQ(got_e[3], 5);
  ExpectClose(dw.ToHost(), ref_w, 1e-6, "weights");

  DeviceBuffer<int32_t> offsets(n_exp + 1), r2s(n_tok * k), s2r(n_tok * k);
  ASSERT_EQ(MoePermuteIndices(de.Get(), n_tok, k, n_exp, offsets.Get(), r2s.Get(), s2r.Get(), nullptr),
            cudaSuccess);
  auto off = offsets.ToHost();
  auto rows = r2s.ToHost();
  // Expected: slots grouped by expert, ascending slot order within an expert.
  std::vector<int32_t> exp_rows, exp_off(n_exp + 1, 0);
  for (int64_t e = 0; e < n_exp; ++e) {
    exp_off[e] = static_cast<int32_t>(exp_rows.size());
    for (int64_t s = 0; s < n_tok * k; ++s)
      if (ref_e[s] == e) exp_rows.push_back(static_cast<int32_t>(s));
  }
  exp_off[n_exp] = static_cast<int32_t>(exp_rows.size());
  EXPECT_EQ(off, exp_off);
  EXPECT_EQ(rows, exp_rows);

  // Gather, a per-row transform y = 2 x + expert, then the weighted combine.
  auto x = Normal(n_tok * n_hid, 42);
  DeviceBuffer<float> dx(x), xp(n_tok * k * n_hid), out(n_tok * n_hid);
  ASSERT_EQ(MoeGather(dx.Get(), r2s.Get(), n_tok, k, n_hid, 4, xp.Get(), nullptr), cudaSuccess);
  auto xph = xp.ToHost();
  for (int64_t r = 0; r < n_tok * k; ++r) {
    const int64_t t = exp_rows[r] / k;
    for (int64_t i = 0; i < n_hid; ++i) ASSERT_EQ(xph[r * n_hid + i], x[t * n_hid + i]);
    const int64_t e = ref_e[exp_rows[r]];
    for (int64_t i = 0; i < n_hid; ++i) xph[r * n_hid + i] = 2.f * xph[r * n_hid + i] + static_cast<float>(e);
  }
  DeviceBuffer<float> yp(xph);
  ASSERT_EQ(MoeScatterCombine(yp.Get(), s2r.Get(), dw.Get(), n_tok, k, n_hid, 4, out.Get(), nullptr),
            cudaSuccess);
  std::vector<double> ref_out(n_tok * n_hid, 0.0);
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < n_hid; ++i)
        ref_out[t * n_hid + i] +=
            static_cast<double>(ref_w[t * k + j]) * (2.0 * x[t * n_hid + i] + ref_e[t * k + j]);
  ExpectClose(out.ToHost(), ref_out, 1e-6, "combine");
}

// The training combine over fp32 yp with padding rows: the forward reads only the slots' rows; the
// backward's dyp is the fp32 product w·dout exactly (one rounding, as the host's float product) with padding
// rows zeroed (the buffer starts as NaN), dw the dot products vs float64 (fp32 sums of 70 terms: 1e-5 of the
// largest |dw|).
TEST(MoeTest, CombineBackwardWithPaddingRowsMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  const int64_t n_tok = 5, k = 3, n_hid = 70, n_slots = n_tok * k, n_rows = n_slots + 4;
  // Slot s reads row (7 s + 3) mod 19: a permutation of the 19 rows, of which 4 are never named.
  std::vector<int32_t> s2r(n_slots);
  std::vector<bool> used(n_rows, false);
  for (int64_t s = 0; s < n_slots; ++s) {
    s2r[s] = static_cast<int32_t>((7 * s + 3) % n_rows);
    used[s2r[s]] = true;
  }
  const auto yp = Normal(n_rows * n_hid, 51), w = Normal(n_slots, 52), dout = Normal(n_tok * n_hid, 53);
  DeviceBuffer<float> dyp_in(yp), dw_in(w), ddout(dout), out(n_tok * n_hid), dyp(n_rows * n_hid), dw(n_slots);
  DeviceBuffer<int32_t> ds2r(s2r);
  ASSERT_EQ(MoeScatterCombine(dyp_in.Get(), ds2r.Get(), dw_in.Get(), n_tok, k, n_hid, 4, out.Get(), nullptr),
            cudaSuccess);
  ASSERT_EQ(MoeCombineBackward(ddout.Get(), dyp_in.Get(), ds2r.Get(), dw_in.Get(), n_tok, k, n_hid, n_rows, 4,
                               dyp.Get(), dw.Get(), nullptr),
            cudaSuccess);
  std::vector<double> ref_out(n_tok * n_hid, 0.0), ref_dw(n_slots, 0.0);
  std::vector<float> ref_dyp(n_rows * n_hid, 0.f);
  for (int64_t s = 0; s < n_slots; ++s) {
    const int64_t t = s / k, r = s2r[s];
    for (int64_t c = 0; c < n_hid; ++c) {
      ref_out[t * n_hid + c] += static_cast<double>(w[s]) * yp[r * n_hid + c];
      ref_dyp[r * n_hid + c] = w[s] * dout[t * n_hid + c];
      ref_dw[s] += static_cast<double>(dout[t * n_hid + c]) * yp[r * n_hid + c];
    }
  }
  ExpectClose(out.ToHost(), ref_out, 1e-6, "combine");
  ExpectBitEqual(dyp.ToHost(), ref_dyp, "dyp");
  ExpectClose(dw.ToHost(), ref_dw, 1e-5, "dw");
  EXPECT_EQ(std::count(used.begin(), used.end(), false), 4);  // rows 1, 8, 13, 15 are padding
}

// ---- Training RMSNorm, SwiGLU and MoE combine backward against kernels/reference/naive_*.h ----------------
//
// Tolerances are per element, |got − ref| <= bound[i], each bound derived below from u = 2^-24 (the fp32 unit
// roundoff; CUDA's expf and rsqrtf are within 2 ulp = 4u) and, where a result is rounded to bf16, one bf16
// ulp (<= 2^-7 of the value) per rounding on its path: kernel and reference round values that differ by a few
// fp32 ulps, so each rounding may land one bf16 step apart. A sum of n terms in fp32 has error <=
// n·u·Σ|terms| (n the longest addition chain of the kernel's reduction).

constexpr double kU = 1.0 / (1 << 24);        // fp32 unit roundoff
constexpr double kBf16Step = 1.0 / (1 << 7);  // one bf16 ulp, relative to the value
constexpr double kMargin = 1.05;              // slack on the first-order bounds (their second-order terms)

// A device array of io type `type` (bf16 or fp32), NaN-poisoned, filled from and read back as floats; empty
// (a null pointer) for an absent operand.
class IoBuffer {
 public:
  IoBuffer(IoType type, size_t n) : type_(type), n_(n), bytes_(n * Width(type)) {}
  IoBuffer(IoType type, const std::vector<float>& host)
      : type_(type), n_(host.size()), bytes_(ToBytes(type, host)) {}
  void* Get() { return bytes_.Get(); }
  std::vector<float> ToHost() const {
    const std::vector<uint8_t> bytes = bytes_.ToHost();
    std::vector<float> out(n_);
    for (size_t i = 0; i < n_; ++i) {
      if (type_ == IoType::kBF16) {
        __nv_bfloat16 b;
        std::memcpy(&b, bytes.data() + 2 * i, 2);
        out[i] = __bfloat162float(b);
      } else {
        std::memcpy(&out[i], bytes.data() + 4 * i, 4);
      }
    }
    return out;
  }

 private:
  static size_t Width(IoType type) { return type == IoType::kBF16 ? 2 : 4; }
  static std::vector<uint8_t> ToBytes(IoType type, const std::vector<float>& host) {
    std::vector<uint8_t> bytes(host.size() * Width(type));
    for (size_t i = 0; i < host.size(); ++i) {
      if (type == IoType::kBF16) {
        const __nv_bfloat16 b = __float2bfloat16(host[i]);
        std::memcpy(bytes.data() + 2 * i, &b, 2);
      } else {
        std::memcpy(bytes.data() + 4 * i, &host[i], 4);
      }
    }
    return bytes;
  }
  IoType type_;
  size_t n_;
  DeviceBuffer<uint8_t> bytes_;
};

// v with each element rounded to `type` (the values a kernel of that io type reads).
std::vector<float> RoundTo(IoType type, std::vector<float> v) {
  if (type == IoType::kBF16) {
    for (auto& x : v) x = reference::naive::RoundToBf16(x);
  }
  return v;
}

// Fails where |got − ref| > bound (or got is NaN); reports the element with the largest |got − ref| / bound.
void ExpectWithinBounds(const std::vector<float>& got, const std::vector<float>& ref,
                        const std::vector<double>& bound, const char* what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  ASSERT_EQ(bound.size(), ref.size()) << what;
  size_t worst_i = 0, failures = 0;
  double worst = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    ASSERT_FALSE(std::isnan(got[i])) << what << ": NaN at " << i;
    const double err = std::abs(static_cast<double>(got[i]) - ref[i]);
    if (err > bound[i]) ++failures;
    const double ratio = bound[i] > 0 ? err / bound[i] : (err > 0 ? INFINITY : 0.0);
    if (ratio > worst) {
      worst = ratio;
      worst_i = i;
    }
  }
  EXPECT_EQ(failures, 0u) << what << ": worst index " << worst_i << " got " << got[worst_i] << " expected "
                          << ref[worst_i] << " bound " << bound[worst_i] << " (" << failures << " of "
                          << ref.size() << " out of bounds)";
}

// The final rounding of a result of io type `type` whose pre-rounding values differ by `delta`: fp32 rounds
// both to nearest (u of the value each); bf16 may land one bf16 step apart.
double FinalRounding(IoType type, double ref, double delta) {
  return type == IoType::kBF16 ? kMargin * (delta + kBf16Step * std::abs(ref))
                               : kMargin * delta + 2 * kU * std::abs(ref);
}

// Whether a value v known within ±delta may round to either of two bf16 values (a rounding boundary lies
// within the interval): elsewhere kernel and reference round it to the same bf16 value, so a bf16 result
// whose inputs are equal and whose every rounding is away from a boundary must be bit-equal. Sharper than a
// bf16 step everywhere: a rounding in the wrong place (e.g. one rounding where the contract has two) changes
// results away from boundaries too.
bool NearBf16Boundary(double v, double delta) {
  return reference::naive::RoundToBf16(static_cast<float>(v - delta)) !=
         reference::naive::RoundToBf16(static_cast<float>(v + delta));
}

// The bound of a result of io type `type` whose fp32 value before the final rounding is pre ± delta:
// FinalRounding, or 0 (bit-equal) in bf16 away from a rounding boundary.
double RoundedBound(IoType type, double ref, double pre, double delta) {
  if (type == IoType::kBF16 && !NearBf16Boundary(pre, kMargin * delta)) return 0.0;
  return FinalRounding(type, ref, delta);
}

struct NormCase {
  int64_t rows, cols;
  IoType x_type, w_type, out_type;
  bool residual;  // b, alpha/beta, h, gate, dh, db, dgate all present
};

std::string NormCaseName(const ::testing::TestParamInfo<NormCase>& info) {
  const NormCase& c = info.param;
  auto t = [](IoType type) { return type == IoType::kBF16 ? "bf16" : "f32"; };
  return std::to_string(c.rows) + "x" + std::to_string(c.cols) + "_" + t(c.x_type) + "_" + t(c.w_type) + "_" +
         t(c.out_type) + (c.residual ? "_residual" : "_plain");
}

class RmsNormTrainTest : public ::testing::TestWithParam<NormCase> {};

// Longest fp32 addition chain of the norm's row reduction: a thread sums its packs (<= cols/32 + 8 terms:
// at least 32 threads, packs of up to 8), then 5 shuffle levels and <= 16 warp partials in sequence.
double NormChain(int64_t cols) { return static_cast<double>(cols) / 32.0 + 8 + 5 + 16; }

// fp32 relative error of rstd: the sum of squares (positive terms) NormChain·u, · (1/cols) and + eps 3u,
// halved by the square root, plus rsqrtf's 4u.
double RstdRelError(int64_t cols) { return (NormChain(cols) + 3) / 2 * kU + 4 * kU; }

// Relative error of sigmoid in fp32: expf 4u, 1 + e^-g <= 5u, the division u: 7u (<= 6u + u for its use).
constexpr double kSigmoidRel = 7 * kU;

reference::naive::NormBf16 NormRounding(const NormCase& c) {
  return {c.x_type == IoType::kBF16, c.w_type == IoType::kBF16, c.out_type == IoType::kBF16};
}

reference::naive::RmsNormForwardInputs NormForwardInputs(const NormCase& c) {
  reference::naive::RmsNormForwardInputs in;
  in.rows = c.rows;
  in.cols = c.cols;
  const auto n = static_cast<size_t>(c.rows * c.cols);
  in.x = RoundTo(c.x_type, Normal(n, 71));
  if (c.residual) {
    in.b = RoundTo(c.x_type, Normal(n, 72));
    in.alpha = 0.75f;
    in.beta = 1.25f;
    in.gate = RoundTo(c.out_type, Normal(n, 73, 2.f));
  }
  in.w = RoundTo(c.w_type, Normal(static_cast<size_t>(c.cols), 74));
  in.eps = static_cast<double>(1e-6f);  // the kernel's eps exactly
  in.bf16 = NormRounding(c);
  return in;
}

TEST_P(RmsNormTrainTest, ForwardMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  const NormCase& c = GetParam();
  const reference::naive::RmsNormForwardInputs in = NormForwardInputs(c);
  const reference::naive::RmsNormForwardOutputs ref = reference::naive::RmsNormForward(in);
  const auto n = static_cast<size_t>(c.rows * c.cols);
  IoBuffer x(c.x_type, in.x), b(c.x_type, in.b), h(c.x_type, c.residual ? n : 0), w(c.w_type, in.w),
      gate(c.out_type, in.gate), out(c.out_type, n);
  DeviceBuffer<float> rstd(static_cast<size_t>(c.rows));
  RmsNormForwardArgs a;
  a.rows = c.rows;
  a.cols = c.cols;
  a.x = x.Get();
  a.x_type = c.x_type;
  a.b = b.Get();
  a.alpha = in.alpha;
  a.beta = in.beta;
  a.h = h.Get();
  a.w = w.Get();
  a.w_type = c.w_type;
  a.eps = static_cast<float>(in.eps);
  a.gate = gate.Get();
  a.out = out.Get();
  a.out_type = c.out_type;
  a.rstd = rstd.Get();
  ASSERT_EQ(RmsNormForward(a, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // h: the same fp32 operations, each rounded to x_type, in both: bit-equal.
  if (c.residual) {
    ExpectBitEqual(h.ToHost(), ref.h, "h");
  }
  const double rstd_rel = RstdRelError(c.cols);
  std::vector<double> rstd_bound(ref.rstd.size()), out_bound(n);
  for (size_t r = 0; r < ref.rstd.size(); ++r) rstd_bound[r] = kMargin * rstd_rel * ref.rstd[r];
  // n = R_o((u · rstd) · w): rstd's error and two fp32 products; a gate adds sigmoid (7u), its rounding to
  // out_type and the product (u) and its rounding: one bf16 step per rounding of the gated value's inputs.
  // In bf16, where neither n's nor R_o(σ)'s fp32 value is near a rounding boundary (the pre-rounding values
  // from the reference's h and rstd, within their error plus rstd's fp32 rounding u), both round them alike
  // and the remaining fp32 product and its rounding are the same operations: bit-equal.
  const bool bf16_out = c.out_type == IoType::kBF16;
  for (size_t i = 0; i < n; ++i) {
    const double ref_i = std::abs(static_cast<double>(ref.out[i]));
    double rel = rstd_rel + 3 * kU;
    if (c.residual) rel += bf16_out ? 2 * kBf16Step : kSigmoidRel + 2 * kU;
    out_bound[i] = FinalRounding(c.out_type, ref_i, rel * ref_i);
    if (bf16_out) {
      const int64_t row = static_cast<int64_t>(i) / c.cols, col = static_cast<int64_t>(i) % c.cols;
      const double pre_n = static_cast<double>(ref.h[i]) * ref.rstd[row] * in.w[col];
      bool near = NearBf16Boundary(pre_n, kMargin * (rstd_rel + 4 * kU) * std::abs(pre_n));
      if (c.residual) {
        const double sig = 1.0 / (1.0 + std::exp(-static_cast<double>(in.gate[i])));
        near = near || NearBf16Boundary(sig, kMargin * kSigmoidRel * sig);
      }
      if (!near) out_bound[i] = 0.0;
    }
  }
  ExpectWithinBounds(rstd.ToHost(), ref.rstd, rstd_bound, "rstd");
  ExpectWithinBounds(out.ToHost(), ref.out, out_bound, "out");
}

// Per-element bounds of the backward's outputs, from the magnitudes of the terms each sums (double, from the
// inputs; not expected values).
struct NormBackwardBounds {
  std::vector<double> dx, db, dgate, dw;
};

NormBackwardBounds BackwardBounds(const NormCase& c, const reference::naive::RmsNormBackwardInputs& in,
                                  const reference::naive::RmsNormBackwardOutputs& ref) {
  const int64_t rows = c.rows, cols = c.cols;
  const bool gated = !in.gate.empty(), bf16_out = c.out_type == IoType::kBF16;
  const double chain = NormChain(cols);
  const int64_t blocks = RmsNormBackwardBlocks(rows, cols);
  // dw: per block a chain over its rows, then per column <= blocks/16 partials per thread and 16 in sequence.
  const int64_t dw_terms = (rows + blocks - 1) / blocks + (blocks + 15) / 16 + 16;
  const auto dw_chain = static_cast<double>(dw_terms);
  NormBackwardBounds b;
  const auto n = static_cast<size_t>(rows * cols);
  b.dx.resize(n);
  b.db.resize(n);
  b.dgate.resize(gated ? n : 0);
  std::vector<double> dw_err(static_cast<size_t>(cols), 0.0), dw_pre(static_cast<size_t>(cols), 0.0),
      e(static_cast<size_t>(cols)), e_rel(static_cast<size_t>(cols)), xhat(static_cast<size_t>(cols)),
      sig(static_cast<size_t>(cols));
  for (int64_t row = 0; row < rows; ++row) {
    const double r = in.rstd[row];
    double dot = 0.0, dot_err = 0.0;  // Σ g · xhat and its fp32 error
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t i = row * cols + col;
      sig[col] = gated ? 1.0 / (1.0 + std::exp(-static_cast<double>(in.gate[i]))) : 1.0;
      // e as the reference rounds it (R_o(σ)): the signed values below are the pre-rounding results.
      e[col] = in.dy[i] * (bf16_out ? reference::naive::RoundToBf16(static_cast<float>(sig[col])) : sig[col]);
      // e = dy · R_o(σ): σ's fp32 error (7u) and the product's u; in bf16 a step where σ is near a rounding
      // boundary (elsewhere R_o(σ) is the same in both).
      e_rel[col] = !gated ? 0.0
                   : bf16_out && !NearBf16Boundary(sig[col], kMargin * kSigmoidRel * sig[col])
                       ? kU
                       : (bf16_out ? kBf16Step : kSigmoidRel) + kU;
      xhat[col] = in.x[i] * r;
      dot += e[col] * in.w[col] * xhat[col];
      // Each term's e error and 3u (two products, xhat), and the chain of the row sum.
      dot_err += std::abs(e[col] * in.w[col] * xhat[col]) * (e_rel[col] + (chain + 3) * kU);
      dw_err[col] += std::abs(e[col] * xhat[col]) * (e_rel[col] + (dw_chain + 2) * kU);
      dw_pre[col] += e[col] * xhat[col];
    }
    const double mean = dot / static_cast<double>(cols);
    // The mean: the sum's error and the scaling by 1/cols (2u).
    const double mean_err = dot_err / static_cast<double>(cols) + 2 * kU * std::abs(mean);
    for (int64_t col = 0; col < cols; ++col) {
      const int64_t i = row * cols + col;
      const double g = std::abs(e[col] * in.w[col]), xm = std::abs(xhat[col] * mean);
      const double dh_i = in.dh.empty() ? 0.0 : static_cast<double>(in.dh[i]), dh = std::abs(dh_i);
      const double t = r * (e[col] * in.w[col] - xhat[col] * mean) + dh_i;
      // t = r · (g − xhat · mean) + dh: g's error, xhat · mean's (its own 2u and the mean's), the difference
      // and the product by r (2u of both terms), the dh sum (u).
      const double dt = r * (g * (e_rel[col] + 3 * kU) + std::abs(xhat[col]) * mean_err + xm * 4 * kU) +
                        kU * (r * (g + xm) + dh);
      b.dx[i] = RoundedBound(c.x_type, ref.dx[i], in.dx_scale * t, std::abs(in.dx_scale) * dt);
      b.db[i] = RoundedBound(c.x_type, ref.db[i], in.db_scale * t, std::abs(in.db_scale) * dt);
      if (gated) {
        // dy · n · σ(1 − σ): n = R_o(xhat · w) (2u or a bf16 step), σ 7u, 1 − σ 7u·σ/(1 − σ) + u, 3 products.
        const double rel = (bf16_out ? kBf16Step : 2 * kU) + kSigmoidRel +
                           kSigmoidRel * sig[col] / (1.0 - sig[col]) + 4 * kU;
        b.dgate[i] =
            FinalRounding(c.out_type, ref.dgate[i], rel * std::abs(static_cast<double>(ref.dgate[i])));
        // In bf16, bit-equal where n's and then dgate's fp32 values are away from a rounding boundary.
        const double pre_n = xhat[col] * in.w[col];
        if (bf16_out && !NearBf16Boundary(pre_n, kMargin * 2 * kU * std::abs(pre_n))) {
          const double pre = in.dy[i] *
                             static_cast<double>(reference::naive::RoundToBf16(static_cast<float>(pre_n))) *
                             sig[col] * (1.0 - sig[col]);
          const double fp32_rel = kSigmoidRel + kSigmoidRel * sig[col] / (1.0 - sig[col]) + 4 * kU;
          b.dgate[i] = RoundedBound(c.out_type, ref.dgate[i], pre, fp32_rel * std::abs(pre));
        }
      }
    }
  }
  b.dw.resize(static_cast<size_t>(cols));
  for (int64_t col = 0; col < cols; ++col) {
    b.dw[col] = RoundedBound(c.w_type, ref.dw[col], dw_pre[col], dw_err[col]);
  }
  return b;
}

// The backward with the reference's rstd (fp32) as input to both, so that only the backward is compared.
TEST_P(RmsNormTrainTest, BackwardMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  const NormCase& c = GetParam();
  const reference::naive::RmsNormForwardInputs fwd_in = NormForwardInputs(c);
  const reference::naive::RmsNormForwardOutputs fwd = reference::naive::RmsNormForward(fwd_in);
  const auto n = static_cast<size_t>(c.rows * c.cols);
  reference::naive::RmsNormBackwardInputs in;
  in.rows = c.rows;
  in.cols = c.cols;
  in.dy = RoundTo(c.out_type, Normal(n, 75));
  in.x = fwd.h;
  in.w = fwd_in.w;
  in.rstd = fwd.rstd;
  in.gate = fwd_in.gate;
  if (c.residual) in.dh = RoundTo(c.x_type, Normal(n, 76, 0.5f));
  in.dx_scale = fwd_in.alpha;
  in.db_scale = fwd_in.beta;
  in.bf16 = NormRounding(c);
  const reference::naive::RmsNormBackwardOutputs ref = reference::naive::RmsNormBackward(in);

  IoBuffer dy(c.out_type, in.dy), x(c.x_type, in.x), w(c.w_type, in.w), gate(c.out_type, in.gate),
      dh(c.x_type, in.dh), dx(c.x_type, n), db(c.x_type, c.residual ? n : 0),
      dgate(c.out_type, c.residual ? n : 0), dw(c.w_type, static_cast<size_t>(c.cols));
  DeviceBuffer<float> rstd(in.rstd),
      dw_partial(static_cast<size_t>(RmsNormBackwardBlocks(c.rows, c.cols) * c.cols));
  RmsNormBackwardArgs a;
  a.rows = c.rows;
  a.cols = c.cols;
  a.dy = dy.Get();
  a.out_type = c.out_type;
  a.x = x.Get();
  a.x_type = c.x_type;
  a.w = w.Get();
  a.w_type = c.w_type;
  a.rstd = rstd.Get();
  a.gate = gate.Get();
  a.dh = dh.Get();
  a.dx = dx.Get();
  a.dx_scale = in.dx_scale;
  a.db = db.Get();
  a.db_scale = in.db_scale;
  a.dgate = dgate.Get();
  a.dw = dw.Get();
  a.dw_partial = dw_partial.Get();
  ASSERT_EQ(RmsNormBackward(a, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const NormBackwardBounds bound = BackwardBounds(c, in, ref);
  ExpectWithinBounds(dx.ToHost(), ref.dx, bound.dx, "dx");
  ExpectWithinBounds(dw.ToHost(), ref.dw, bound.dw, "dw");
  if (c.residual) {
    ExpectWithinBounds(db.ToHost(), ref.db, bound.db, "db");
    ExpectWithinBounds(dgate.ToHost(), ref.dgate, bound.dgate, "dgate");
  }
}

// Shapes: one row (and one column), primes, widths of packs of 4 only (12) and 8 (1024), the largest
// practical (513 rows: several rows per backward block), and 8200 columns (dw partials in global memory
// rather than shared); dtypes all fp32, all bf16, and bf16 activations with fp32 weights.
std::vector<NormCase> NormCases() {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1},     {1, 97},     {37, 97},  {37, 12},
                                                {37, 1024}, {513, 4099}, {37, 8200}};
  const IoType types[][3] = {{IoType::kF32, IoType::kF32, IoType::kF32},
                             {IoType::kBF16, IoType::kBF16, IoType::kBF16},
                             {IoType::kBF16, IoType::kF32, IoType::kBF16}};
  std::vector<NormCase> cases;
  for (const auto& [rows, cols] : shapes) {
    for (const auto& t : types) {
      for (const bool residual : {false, true}) cases.push_back({rows, cols, t[0], t[1], t[2], residual});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, RmsNormTrainTest, ::testing::ValuesIn(NormCases()), NormCaseName);

struct SwiGluCase {
  int64_t rows, inter;
  IoType type;
};

class SwiGluTest : public ::testing::TestWithParam<SwiGluCase> {};

std::string SwiGluCaseName(const ::testing::TestParamInfo<SwiGluCase>& info) {
  const SwiGluCase& c = info.param;
  return std::to_string(c.rows) + "x" + std::to_string(c.inter) +
         (c.type == IoType::kBF16 ? "_bf16" : "_f32");
}

// silu(g) = g / (1 + expf(−g)) in fp32: expf 4u, the sum 5u, the division u: 6u (the same for s).
constexpr double kSiluRel = 6 * kU;

TEST_P(SwiGluTest, ForwardMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  const SwiGluCase& c = GetParam();
  const bool bf16 = c.type == IoType::kBF16;
  const std::vector<float> h_host =
      RoundTo(c.type, Normal(static_cast<size_t>(c.rows * 2 * c.inter), 81, 2.f));
  std::vector<float> ref;
  reference::naive::SwiGluForward(h_host, c.rows, c.inter, bf16, &ref);
  IoBuffer h(c.type, h_host), act(c.type, ref.size());
  SwiGluForwardArgs a;
  a.rows = c.rows;
  a.inter = c.inter;
  a.h = h.Get();
  a.act = act.Get();
  a.type = c.type;
  ASSERT_EQ(SwiGluForward(a, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // act = R(R(silu) · u): silu's 6u (or one bf16 step of its rounding) and the product's u. In bf16, where
  // silu is not near a rounding boundary, R(silu) and then the same fp32 product and rounding agree:
  // bit-equal.
  std::vector<double> bound(ref.size());
  for (int64_t row = 0; row < c.rows; ++row) {
    for (int64_t col = 0; col < c.inter; ++col) {
      const auto i = static_cast<size_t>(row * c.inter + col);
      const double r = std::abs(static_cast<double>(ref[i]));
      bound[i] = FinalRounding(c.type, r, ((bf16 ? kBf16Step : kSiluRel) + kU) * r);
      const double g = h_host[row * 2 * c.inter + col], silu = g / (1.0 + std::exp(-g));
      if (bf16 && !NearBf16Boundary(silu, kMargin * kSiluRel * std::abs(silu))) bound[i] = 0.0;
    }
  }
  ExpectWithinBounds(act.ToHost(), ref, bound, "act");
}

TEST_P(SwiGluTest, BackwardMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  const SwiGluCase& c = GetParam();
  const bool bf16 = c.type == IoType::kBF16;
  const int64_t inter = c.inter;
  const std::vector<float> h_host = RoundTo(c.type, Normal(static_cast<size_t>(c.rows * 2 * inter), 82, 2.f));
  const std::vector<float> dact_host = RoundTo(c.type, Normal(static_cast<size_t>(c.rows * inter), 83));
  std::vector<float> ref;
  reference::naive::SwiGluBackward(h_host, dact_host, c.rows, inter, bf16, &ref);
  IoBuffer h(c.type, h_host), dact(c.type, dact_host), dh(c.type, ref.size());
  SwiGluBackwardArgs a;
  a.rows = c.rows;
  a.inter = inter;
  a.h = h.Get();
  a.dact = dact.Get();
  a.dh = dh.Get();
  a.type = c.type;
  ASSERT_EQ(SwiGluBackward(a, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<double> bound(ref.size());
  for (int64_t row = 0; row < c.rows; ++row) {
    for (int64_t col = 0; col < inter; ++col) {
      const int64_t gi = row * 2 * inter + col, ui = gi + inter;
      const double g = h_host[gi], s = 1.0 / (1.0 + std::exp(-g));
      // dg = R((dsilu · s) · B), B = 1 + g · (1 − s), dsilu = R(dact · u) equal in both (one fp32 product):
      // s 6u; 1 − s <= 7u; g · (1 − s) <= 8u·|g|; the sum: B within 9u·(1 + |g|); dsilu · s 7u and the last
      // product u of |dsilu · s · B| <= |dsilu| · s · (1 + |g|): in all <= 17u · |dsilu| · s · (1 + |g|).
      // In bf16, bit-equal where dg's fp32 value (from the reference's dsilu) is not near a boundary.
      const float dsilu = reference::naive::RoundToBf16(
          static_cast<float>(static_cast<double>(dact_host[row * inter + col]) * h_host[ui]));
      const double dg_err = std::abs(static_cast<double>(dsilu)) * 17 * kU * s * (1.0 + std::abs(g));
      bound[gi] = FinalRounding(c.type, ref[gi], dg_err);
      if (bf16 && !NearBf16Boundary(dsilu * s * (1.0 + g * (1.0 - s)), kMargin * dg_err)) bound[gi] = 0.0;
      // du = R(dact · R(silu)): silu's 6u (or a bf16 step) and the product's u; in bf16 bit-equal where silu
      // is not near a boundary.
      const double du = std::abs(static_cast<double>(ref[ui]));
      bound[ui] = FinalRounding(c.type, du, ((bf16 ? kBf16Step : kSiluRel) + kU) * du);
      if (bf16 && !NearBf16Boundary(g * s, kMargin * kSiluRel * std::abs(g * s))) bound[ui] = 0.0;
    }
  }
  ExpectWithinBounds(dh.ToHost(), ref, bound, "dh");
}

// One row and one column, primes (odd widths: scalar accesses), 12 (packs of 4 only), 1024 (packs of 8), and
// the largest practical shape; each in fp32 and bf16.
std::vector<SwiGluCase> SwiGluCases() {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {1, 97}, {37, 97}, {37, 12}, {37, 1024}, {513, 4099}};
  std::vector<SwiGluCase> cases;
  for (const auto& [rows, inter] : shapes) {
    for (const IoType t : {IoType::kF32, IoType::kBF16}) cases.push_back({rows, inter, t});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, SwiGluTest, ::testing::ValuesIn(SwiGluCases()), SwiGluCaseName);

struct CombineCase {
  int64_t tokens, top_k, hidden, padding_rows;
  int elem_bytes;
};

class MoeCombineBackwardTest : public ::testing::TestWithParam<CombineCase> {};

std::string CombineCaseName(const ::testing::TestParamInfo<CombineCase>& info) {
  const CombineCase& c = info.param;
  return std::to_string(c.tokens) + "x" + std::to_string(c.top_k) + "x" + std::to_string(c.hidden) + "_pad" +
         std::to_string(c.padding_rows) + (c.elem_bytes == 2 ? "_bf16" : "_f32");
}

// dyp: the fp32 product w · dout rounded once to yp's type, as the reference's: bit-equal, padding rows 0.
// dw: per lane an fmaf chain of ceil(H/32) terms, then 5 shuffle levels: (ceil(H/32) + 5)·u of Σ|dout · yp|.
TEST_P(MoeCombineBackwardTest, MatchesReference) {
  SKIP_WITHOUT_DEVICE();
  const CombineCase& c = GetParam();
  const int64_t n_slots = c.tokens * c.top_k, n_rows = n_slots + c.padding_rows, n_hid = c.hidden;
  const IoType type = c.elem_bytes == 2 ? IoType::kBF16 : IoType::kF32;
  // Slots read a random permutation's first n_slots rows; the rest are padding.
  std::vector<int32_t> perm(static_cast<size_t>(n_rows));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(91));
  const std::vector<int32_t> s2r(perm.begin(), perm.begin() + n_slots);
  const std::vector<float> yp_host = RoundTo(type, Normal(static_cast<size_t>(n_rows * n_hid), 92));
  const std::vector<float> w_host = Normal(static_cast<size_t>(n_slots), 93);
  const std::vector<float> dout_host = Normal(static_cast<size_t>(c.tokens * n_hid), 94);
  std::vector<float> ref_dyp, ref_dw;
  reference::naive::MoeCombineBackward(dout_host, yp_host, s2r, w_host, c.tokens, c.top_k, n_hid, n_rows,
                                       type == IoType::kBF16, &ref_dyp, &ref_dw);
  IoBuffer yp(type, yp_host), dyp(type, ref_dyp.size());
  DeviceBuffer<float> w(w_host), dout(dout_host), dw(static_cast<size_t>(n_slots));
  DeviceBuffer<int32_t> ds2r(s2r);
  ASSERT_EQ(MoeCombineBackward(dout.Get(), yp.Get(), ds2r.Get(), w.Get(), c.tokens, c.top_k, n_hid, n_rows,
                               c.elem_bytes, dyp.Get(), dw.Get(), nullptr),
            cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ExpectBitEqual(dyp.ToHost(), ref_dyp, "dyp");
  const int64_t chain_terms = (n_hid + 31) / 32 + 5;
  const auto chain = static_cast<double>(chain_terms);
  std::vector<double> bound(static_cast<size_t>(n_slots));
  for (int64_t s = 0; s < n_slots; ++s) {
    double mag = 0.0;
    for (int64_t col = 0; col < n_hid; ++col) {
      mag += std::abs(static_cast<double>(dout_host[(s / c.top_k) * n_hid + col]) *
                      yp_host[s2r[s] * n_hid + col]);
    }
    bound[s] = FinalRounding(IoType::kF32, ref_dw[s], chain * kU * mag);
  }
  ExpectWithinBounds(dw.ToHost(), ref_dw, bound, "dw");
}

// One token and slot of one column; primes with top-2 and padding; top-4 and the largest practical width.
INSTANTIATE_TEST_SUITE_P(Shapes, MoeCombineBackwardTest,
                         ::testing::Values(CombineCase{1, 1, 1, 0, 4}, CombineCase{1, 1, 1, 0, 2},
                                           CombineCase{37, 2, 97, 5, 4}, CombineCase{37, 2, 97, 5, 2},
                                           CombineCase{131, 4, 4099, 3, 4}, CombineCase{131, 4, 4099, 3, 2},
                                           CombineCase{513, 2, 1031, 0, 2}),
                         CombineCaseName);

struct GatherSlotsCase {
  int64_t tokens, top_k, hidden, padding_rows;
  IoType type;
};

class MoeGatherSlotsTest : public ::testing::TestWithParam<GatherSlotsCase> {};

std::string GatherSlotsCaseName(const ::testing::TestParamInfo<GatherSlotsCase>& info) {
  const GatherSlotsCase& c = info.param;
  return std::to_string(c.tokens) + "x" + std::to_string(c.top_k) + "x" + std::to_string(c.hidden) + "_pad" +
         std::to_string(c.padding_rows) + (c.type == IoType::kBF16 ? "_bf16" : "_f32");
}

// The slots' rows: dest the first n entries of a random permutation of the n + padding rows, src its
// inverse with n (zero row) at the padding rows.
struct SlotMaps {
  std::vector<int32_t> dest, src;
};

SlotMaps RandomSlotMaps(int64_t n_slots, int64_t n_rows, uint32_t seed) {
  std::vector<int32_t> perm(static_cast<size_t>(n_rows));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
  SlotMaps m{std::vector<int32_t>(perm.begin(), perm.begin() + n_slots),
             std::vector<int32_t>(static_cast<size_t>(n_rows), static_cast<int32_t>(n_slots))};
  for (int64_t s = 0; s < n_slots; ++s) m.src[m.dest[s]] = static_cast<int32_t>(s);
  return m;
}

// Forward: a copy, bit-equal to the reference (padding rows +0). Backward: the same fp32 additions in the
// same order and one rounding, bit-equal; dxp's padding rows hold NaN, so reading one would show.
TEST_P(MoeGatherSlotsTest, ForwardAndBackwardMatchReference) {
  SKIP_WITHOUT_DEVICE();
  const GatherSlotsCase& c = GetParam();
  const int64_t n_slots = c.tokens * c.top_k, n_rows = n_slots + c.padding_rows, n_hid = c.hidden;
  const SlotMaps maps = RandomSlotMaps(n_slots, n_rows, 101);
  const std::vector<float> u_host = RoundTo(c.type, Normal(static_cast<size_t>(c.tokens * n_hid), 102));
  std::vector<float> dxp_host = RoundTo(c.type, Normal(static_cast<size_t>(n_rows * n_hid), 103));
  for (int64_t r = 0; r < n_rows; ++r) {
    if (maps.src[r] == n_slots) std::fill_n(dxp_host.begin() + r * n_hid, n_hid, NAN);
  }
  std::vector<float> ref_xp, ref_du;
  reference::naive::MoeGatherSlots(u_host, maps.src, c.tokens, c.top_k, n_hid, &ref_xp);
  reference::naive::MoeGatherSlotsBackward(dxp_host, maps.dest, c.tokens, c.top_k, n_hid,
                                           c.type == IoType::kBF16, &ref_du);
  IoBuffer u(c.type, u_host), xp(c.type, ref_xp.size()), dxp(c.type, dxp_host), du(c.type, ref_du.size());
  DeviceBuffer<int32_t> src(maps.src), dest(maps.dest);
  MoeGatherSlotsArgs f;
  f.tokens = c.tokens;
  f.top_k = c.top_k;
  f.hidden = n_hid;
  f.rows = n_rows;
  f.u = u.Get();
  f.src = src.Get();
  f.xp = xp.Get();
  f.type = c.type;
  ASSERT_EQ(MoeGatherSlots(f, nullptr), cudaSuccess);
  MoeGatherSlotsBackwardArgs b;
  b.tokens = c.tokens;
  b.top_k = c.top_k;
  b.hidden = n_hid;
  b.rows = n_rows;
  b.dxp = dxp.Get();
  b.dest = dest.Get();
  b.du = du.Get();
  b.type = c.type;
  ASSERT_EQ(MoeGatherSlotsBackward(b, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ExpectBitEqual(xp.ToHost(), ref_xp, "xp");
  ExpectBitEqual(du.ToHost(), ref_du, "du");
}

// One token and slot of one column; odd widths (scalar accesses), 12 (packs of 4 only), 1024 (packs of 8);
// top-1, top-2 (the trainer's) and top-4; the padding of a grouped buffer; each in fp32 and bf16.
std::vector<GatherSlotsCase> GatherSlotsCases() {
  const GatherSlotsCase shapes[] = {{1, 1, 1, 0, IoType::kF32},
                                    {37, 2, 97, 5, IoType::kF32},
                                    {37, 1, 12, 9, IoType::kF32},
                                    {513, 2, 1024, 240, IoType::kF32},
                                    {131, 4, 4099, 3, IoType::kF32}};
  std::vector<GatherSlotsCase> cases;
  for (GatherSlotsCase c : shapes) {
    for (const IoType t : {IoType::kF32, IoType::kBF16}) {
      c.type = t;
      cases.push_back(c);
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, MoeGatherSlotsTest, ::testing::ValuesIn(GatherSlotsCases()),
                         GatherSlotsCaseName);

// ---- bf16 -> fp32 widening -------------------------------------------------------------------------------

struct WidenCase {
  int64_t n;
  int64_t in_offset, out_offset;  // elements past a cudaMalloc (256-byte aligned) base
};

class WidenTest : public ::testing::TestWithParam<WidenCase> {};

std::string WidenCaseName(const ::testing::TestParamInfo<WidenCase>& info) {
  const WidenCase& c = info.param;
  return "n" + std::to_string(c.n) + "_in" + std::to_string(c.in_offset) + "_out" +
         std::to_string(c.out_offset);
}

// Random bf16 bit patterns, NaNs (exponent all ones, mantissa non-zero) replaced by finite values: every
// sign, exponent (subnormals, zeros, infinities) and mantissa. NaNs have their own test below.
std::vector<uint16_t> NonNanBf16Bits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> v(n);
  for (auto& b : v) {
    b = static_cast<uint16_t>(rng() & 0xffffu);
    if ((b & 0x7f80u) == 0x7f80u && (b & 0x7fu) != 0) b = static_cast<uint16_t>(b & 0xff7fu);
  }
  return v;
}

// Widens bits at in_offset / out_offset elements into poisoned output (8 guard floats after the n) and
// returns the n outputs; the guards must stay poisoned (0xffffffff).
std::vector<float> Widen(const std::vector<uint16_t>& bits, int64_t in_offset, int64_t out_offset) {
  const auto n = static_cast<int64_t>(bits.size());
  std::vector<uint16_t> padded(static_cast<size_t>(in_offset), 0);
  padded.insert(padded.end(), bits.begin(), bits.end());
  DeviceBuffer<uint16_t> in(padded);
  DeviceBuffer<float> out(static_cast<size_t>(out_offset + n + 8));
  EXPECT_EQ(WidenBf16ToF32(in.Get() + in_offset, out.Get() + out_offset, n, nullptr), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> all = out.ToHost();
  for (int64_t i = 0; i < static_cast<int64_t>(all.size()); ++i) {
    if (i < out_offset || i >= out_offset + n) {
      EXPECT_EQ(std::bit_cast<uint32_t>(all[i]), 0xffffffffu) << "written outside the output at " << i;
    }
  }
  return {all.begin() + out_offset, all.begin() + out_offset + n};
}

// Exact: bit-equal to the reference's shift for every non-NaN pattern, through the packed path (both aligned;
// n = 8 is one pack, 9 a pack and a tail element, 7 a tail only) and the scalar path (either pointer one
// element off 16-byte alignment).
TEST_P(WidenTest, MatchesReferenceBitForBit) {
  SKIP_WITHOUT_DEVICE();
  const WidenCase& c = GetParam();
  const std::vector<uint16_t> bits = NonNanBf16Bits(static_cast<size_t>(c.n), 101);
  std::vector<float> want;
  reference::naive::WidenBf16ToF32(bits, &want);
  ExpectBitEqual(Widen(bits, c.in_offset, c.out_offset), want, "widened");
}

INSTANTIATE_TEST_SUITE_P(Sizes, WidenTest,
                         ::testing::Values(WidenCase{0, 0, 0}, WidenCase{1, 0, 0}, WidenCase{7, 0, 0},
                                           WidenCase{8, 0, 0}, WidenCase{9, 0, 0}, WidenCase{4099, 0, 0},
                                           WidenCase{(1 << 20) + 3, 0, 0}, WidenCase{4099, 1, 0},
                                           WidenCase{(1 << 20) + 3, 1, 0}, WidenCase{4099, 0, 1}),
                         WidenCaseName);

// NaNs keep sign and payload (quiet and signalling) through both paths, as the reference and LibTorch's
// .to(at::kFloat) keep them: the whole NaN range of each sign.
TEST(WidenNanTest, KeepsPayloadsBitForBit) {
  SKIP_WITHOUT_DEVICE();
  std::vector<uint16_t> bits;
  for (uint32_t sign : {0x0000u, 0x8000u}) {
    for (uint32_t m = 1; m < 0x80u; ++m) bits.push_back(static_cast<uint16_t>(sign | 0x7f80u | m));
  }
  std::vector<float> want;
  reference::naive::WidenBf16ToF32(bits, &want);
  ExpectBitEqual(Widen(bits, 0, 0), want, "NaNs, packed");
  ExpectBitEqual(Widen(bits, 1, 0), want, "NaNs, scalar");
}

TEST(WidenArgsTest, RejectsBadArgumentsAndLaunchesNothingForEmpty) {
  SKIP_WITHOUT_DEVICE();
  DeviceBuffer<uint16_t> in(8);
  DeviceBuffer<float> out(8);
  EXPECT_EQ(WidenBf16ToF32(nullptr, nullptr, 0, nullptr), cudaSuccess);
  EXPECT_EQ(WidenBf16ToF32(in.Get(), out.Get(), -1, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(WidenBf16ToF32(nullptr, out.Get(), 8, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(WidenBf16ToF32(in.Get(), nullptr, 8, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace m1rl::cuda
