// The LibTorch CUDA binding against the CPU oracle (label cuda; skipped without a device): lightning
// attention forward and autograd backward vs kernels/ops on CPU in float64, the fused head vs float64
// log_softmax, MoE experts vs a float64 per-token loop, the training MoE combine and its backward vs float64
// autograd, the training MoE's slot gather and its backward vs the tensor ops it replaces.
#include "kernels/cuda_ops.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/full.h>
#include <ATen/ops/log_softmax.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/randperm.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/ops.h"
#include "kernels/reference/naive_norm.h"
#include "kernels/testing/swiglu_testing.h"

namespace m1rl::cuda_ops {
namespace {

#define SKIP_WITHOUT_DEVICE() \
  if (c10::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device"

double RelErr(const at::Tensor& got, const at::Tensor& ref) {
  at::Tensor g = got.to(at::kCPU).to(at::kDouble), r = ref.to(at::kCPU).to(at::kDouble);
  EXPECT_FALSE(g.isnan().any().item<bool>());
  const double scale = r.abs().max().item<double>();
  return (g - r).abs().max().item<double>() / (scale > 0 ? scale : 1.0);
}

// Lightning inputs as KERNELS.md's test rule draws them: q, k, v = SiLU(N(0,1)) (non-zero), from a CPU
// generator seeded per test so that a failure reproduces; every test names its seed in its failure messages.
at::Tensor SiluNormal(at::IntArrayRef size, at::Generator& gen) {
  return at::silu(at::randn(size, gen, at::TensorOptions().dtype(at::kDouble)));
}
at::Tensor Normal(at::IntArrayRef size, at::Generator& gen) {
  return at::randn(size, gen, at::TensorOptions().dtype(at::kDouble));
}
std::string SeedTrace(uint64_t seed) { return "input seed " + std::to_string(seed); }

// Errors of the fp32 binding's forward and autograd backward vs kernels/ops in float64: out, final state, dq,
// dk, dv, ds0.
std::vector<double> LightningFp32Errors(uint64_t seed) {
  const int64_t H = 3, D = 40;
  const std::vector<int64_t> cu = {0, 1, 38, 38, 101};
  const int64_t T = cu.back(), B = cu.size() - 1;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor q = SiluNormal({T, H, D}, gen), k = SiluNormal({T, H, D}, gen), v = SiluNormal({T, H, D}, gen);
  at::Tensor s0 = Normal({B, H, D, D}, gen) * 0.1, decay = Normal({H}, gen).abs() * 0.3 + 0.01;
  at::Tensor go = Normal({T, H, D}, gen), gs = Normal({B, H, D, D}, gen);

  std::vector<at::Tensor> cpu_in = {q.clone().requires_grad_(), k.clone().requires_grad_(),
                                    v.clone().requires_grad_(), s0.clone().requires_grad_()};
  auto ref = ops::LightningAttention(cpu_in[0], cpu_in[1], cpu_in[2], decay, cu, cpu_in[3], 16);
  auto ref_grads = torch::autograd::grad({ref.out, ref.final_state}, cpu_in, {go, gs});

  auto dev = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  std::vector<at::Tensor> gpu_in = {q.to(dev).requires_grad_(), k.to(dev).requires_grad_(),
                                    v.to(dev).requires_grad_(), s0.to(dev).requires_grad_()};
  auto [out, fin] = LightningAttention(gpu_in[0], gpu_in[1], gpu_in[2], decay.to(dev), cu, gpu_in[3]);
  auto grads = torch::autograd::grad({out, fin}, gpu_in, {go.to(dev), gs.to(dev)});
  std::vector<double> errs = {RelErr(out, ref.out), RelErr(fin, ref.final_state)};
  for (int i = 0; i < 4; ++i) errs.push_back(RelErr(grads[i], ref_grads[i]));
  return errs;
}

TEST(CudaOpsTest, LightningForwardBackwardMatchCpuReference) {
  SKIP_WITHOUT_DEVICE();
  constexpr uint64_t kSeed = 31;
  SCOPED_TRACE(SeedTrace(kSeed));
  const std::vector<double> errs = LightningFp32Errors(kSeed);
  // fp32 vs fp64 over sequences of <= 63 tokens and d = 40: bounded by 2e-5 relative to the max (H200, seeds
  // 1..100: at most 3.7e-7).
  const char* names[] = {"out", "final_state", "dq", "dk", "dv", "ds0"};
  for (int i = 0; i < 6; ++i) EXPECT_LE(errs[i], 2e-5) << names[i];
}

// Largest error of the fp32 decode steps vs the forward (first), and of the final state (second).
std::pair<double, double> LightningDecodeErrors(uint64_t seed) {
  const int64_t H = 2, D = 16, B = 3, steps = 4;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto dev = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  at::Tensor q = SiluNormal({B, steps, H, D}, gen).to(dev), k = SiluNormal({B, steps, H, D}, gen).to(dev),
             v = SiluNormal({B, steps, H, D}, gen).to(dev);
  at::Tensor decay = (Normal({H}, gen).abs() * 0.2).to(dev);
  std::vector<int64_t> cu;
  for (int64_t b = 0; b <= B; ++b) cu.push_back(b * steps);
  auto [ref, fin] = LightningAttention(q.reshape({B * steps, H, D}), k.reshape({B * steps, H, D}),
                                       v.reshape({B * steps, H, D}), decay, cu, at::Tensor());
  at::Tensor state = at::zeros({B, H, D, D}, dev);
  double worst = 0.0;
  for (int64_t s = 0; s < steps; ++s) {
    at::Tensor o =
        LightningDecode(q.select(1, s), k.select(1, s), v.select(1, s), decay, state, at::Tensor());
    worst = std::max(worst, RelErr(o, ref.reshape({B, steps, H, D}).select(1, s)));
  }
  return {worst, RelErr(state, fin)};
}

TEST(CudaOpsTest, DecodeMatchesForward) {
  SKIP_WITHOUT_DEVICE();
  constexpr uint64_t kSeed = 41;
  SCOPED_TRACE(SeedTrace(kSeed));
  auto [out_err, state_err] = LightningDecodeErrors(kSeed);  // H200, seeds 1..100: at most 3.9e-7
  EXPECT_LE(out_err, 1e-5);
  EXPECT_LE(state_err, 1e-5);
}

TEST(CudaOpsTest, HeadLogProbsMatchFloat64LogSoftmax) {
  SKIP_WITHOUT_DEVICE();
  const int64_t T = 37, H = 64, V = 1001;
  auto opts = at::TensorOptions().dtype(at::kDouble);
  // bf16-valued inputs so every mode computes exact products (MODEL.md §7).
  at::Tensor x = at::randn({T, H}, opts).to(at::kBFloat16).to(at::kDouble);
  at::Tensor w = (at::randn({V, H}, opts) * 0.125).to(at::kBFloat16).to(at::kDouble);
  at::Tensor tg = at::randint(0, V, {T}, at::TensorOptions().dtype(at::kLong));
  const double temp = 0.8;
  at::Tensor xr = x.clone().requires_grad_(), wr = w.clone().requires_grad_();
  at::Tensor lsm = at::log_softmax(xr.matmul(wr.t()) / temp, 1);
  at::Tensor ref = lsm.gather(1, tg.unsqueeze(1)).squeeze(1);
  at::Tensor g = at::randn({T}, opts);
  auto ref_grads = torch::autograd::grad({ref}, {xr, wr}, {g});
  at::Tensor ref_ent = -(lsm.exp() * lsm).sum(1);
  for (HeadMode mode : {HeadMode::kIeeeFp32, HeadMode::kTf32, HeadMode::kBf16Fp32Out}) {
    auto dev = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
    at::Tensor xg = x.to(dev).requires_grad_(), wg = w.to(dev).requires_grad_();
    auto [lp, ent] = HeadLogProbs(xg, wg, tg.to(at::kCUDA), temp, mode, 256, true);
    auto grads = torch::autograd::grad({lp}, {xg, wg}, {g.to(dev)});
    const double tol = mode == HeadMode::kIeeeFp32 ? 1e-5 : 2e-4;
    EXPECT_LE(RelErr(lp, ref), tol) << static_cast<int>(mode);
    EXPECT_LE(RelErr(ent, ref_ent), tol) << static_cast<int>(mode);
    // Backward GEMMs take dz rounded to the mode's operand precision: TF32 (2^-11 relative) or bf16 (2^-9).
    const double gtol = mode == HeadMode::kBf16Fp32Out ? 1e-2 : mode == HeadMode::kTf32 ? 1e-3 : 1e-4;
    EXPECT_LE(RelErr(grads[0], ref_grads[0]), gtol) << static_cast<int>(mode);
    EXPECT_LE(RelErr(grads[1], ref_grads[1]), gtol) << static_cast<int>(mode);
  }
}

class MoeDtypeTest : public ::testing::TestWithParam<at::ScalarType> {};

// fp32 weights take the per-expert loop; bf16 the grouped GEMM (LibTorch >= 2.8) with the fused SwiGLU.
// Inputs are bf16-valued in both cases; the reference is float64. Bounds: fp32 1e-5; bf16 1e-2 (KERNELS.md
// §5: the SwiGLU activation is rounded to bf16 before the down projection).
TEST_P(MoeDtypeTest, MoeExpertsMatchPerTokenLoop) {
  SKIP_WITHOUT_DEVICE();
  const at::ScalarType dtype = GetParam();
  const int64_t T = 53, H = 32, I = 48, E = 5, k = 2;
  auto opts = at::TensorOptions().dtype(at::kDouble);
  auto bf = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kDouble); };
  at::Tensor x = bf(at::randn({T, H}, opts)), logits = at::randn({T, E}, opts);
  at::Tensor w13 = bf(at::randn({E, 2 * I, H}, opts) * 0.2), w2 = bf(at::randn({E, H, I}, opts) * 0.2);
  // Expert 4 gets no tokens: its logits are very negative.
  logits.select(1, 4).fill_(-30.0);
  auto dev = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  MoeRouting r = MoeRoute(logits.to(dev), k);
  at::Tensor got = MoeExperts(x.to(dev).to(dtype), r, w13.to(dev).to(dtype), w2.to(dev).to(dtype));
  at::Tensor p = logits.softmax(1);
  at::Tensor ref = at::zeros({T, H}, opts);
  auto e_cpu = r.experts.to(at::kCPU);
  for (int64_t t = 0; t < T; ++t) {
    at::Tensor top = std::get<1>(p[t].topk(k));
    const double denom = p[t].index_select(0, top).sum().item<double>();
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = top[j].item<int64_t>();
      EXPECT_EQ(e_cpu[t][j].item<int32_t>(), e);
      at::Tensor h = w13[e].matmul(x[t]);
      at::Tensor a = h.slice(0, 0, I), u = h.slice(0, I, 2 * I);
      ref[t] += (p[t][e].item<double>() / denom) * w2[e].matmul(a * a.sigmoid() * u);
    }
  }
  EXPECT_LE(RelErr(got, ref), dtype == at::kFloat ? 1e-5 : 1e-2);
  EXPECT_EQ(r.offsets.to(at::kCPU)[5].item<int32_t>(), T * k);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, MoeDtypeTest, ::testing::Values(at::kFloat, at::kBFloat16));

struct Bf16Errors {
  double out, final_state;
  double out_floor;  // the fp64 reference's own output rounded to bf16
};

Bf16Errors LightningBf16Errors(uint64_t seed) {
  const int64_t H = 2, D = 128;
  const std::vector<int64_t> cu = {0, 200, 333};
  const int64_t T = cu.back();
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto bf = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kDouble); };
  at::Tensor q = bf(SiluNormal({T, H, D}, gen)), k = bf(SiluNormal({T, H, D}, gen)),
             v = bf(SiluNormal({T, H, D}, gen));
  at::Tensor decay = Normal({H}, gen).abs() * 0.3 + 0.01;
  auto ref = ops::LightningAttention(q, k, v, decay, cu, at::Tensor(), 16);
  auto dev = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  auto [out, fin] = LightningAttention(q.to(dev), k.to(dev), v.to(dev), decay.to(at::kCUDA).to(at::kFloat),
                                       cu, at::Tensor());
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  return {RelErr(out, ref.out), RelErr(fin, ref.final_state), RelErr(ref.out.to(at::kBFloat16), ref.out)};
}

// ops::ResidualRmsNorm on CUDA without grad (the fused kernel) against the same tensor ops run with grad
// enabled (the composite path of the op): bf16 within one ulp and nearly always bit-equal; strided rows (a
// column slice) and an fp32 residual rounded to bf16 first, as in the decode step.
TEST(CudaOpsTest, FusedResidualRmsNormMatchesTensorOps) {
  SKIP_WITHOUT_DEVICE();
  at::Generator gen = at::detail::createCPUGenerator(5);
  auto cuda = [&gen](at::IntArrayRef size, double scale, at::ScalarType dt) {
    return (Normal(size, gen) * scale).to(at::kCUDA, dt);
  };
  const at::Tensor wide = cuda({48, 1536}, 2, at::kBFloat16);
  const at::Tensor a = wide.narrow(1, 512, 512);  // row stride 1536
  const at::Tensor b = cuda({48, 512}, 3, at::kFloat);
  const at::Tensor gate = cuda({48, 512}, 1, at::kBFloat16);
  const at::Tensor w = cuda({512}, 1, at::kBFloat16).requires_grad_(true);
  for (bool with_gate : {false, true}) {
    for (at::ScalarType out : {at::kBFloat16, at::kFloat}) {
      if (with_gate && out != at::kBFloat16) continue;
      const at::Tensor g = with_gate ? gate : at::Tensor();
      const at::Tensor ref = ops::ResidualRmsNorm(a, b, 0.5, 1.25, w, 1e-6, g, out).detach();  // w needs grad
      at::Tensor fused;
      {
        at::NoGradGuard no_grad;
        fused = ops::ResidualRmsNorm(a, b, 0.5, 1.25, w, 1e-6, g, out);
      }
      ASSERT_EQ(fused.scalar_type(), out);
      const at::Tensor r = ref.to(at::kFloat), f = fused.to(at::kFloat);
      const double ulp = out == at::kBFloat16 ? 1.0 / 128 : 1e-6;
      EXPECT_TRUE(((f - r).abs() <= r.abs() * ulp + 1e-30).all().item<bool>()) << "gate " << with_gate;
      if (out == at::kBFloat16) {
        EXPECT_GE((f == r).to(at::kFloat).mean().item<double>(), 0.98);
      }
    }
  }
}

std::vector<float> HostFloats(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

// The fused kernel (ops::ResidualRmsNorm without grad) against the naive reference (kernels/reference/
// naive_norm.h: double sum of squares, bf16 rounding emulated): fp32 within 2e-6 relative; bf16 within one
// ulp per element and nearly all bit-equal. Shapes: one row, odd widths, 6144 columns (> one block's
// threads).
TEST(CudaOpsTest, FusedResidualRmsNormMatchesNaiveReference) {
  SKIP_WITHOUT_DEVICE();
  struct Case {
    int64_t rows, cols;
    bool residual, gate, bf16;
  };
  for (const Case& c : {Case{1, 512, false, false, true}, Case{64, 512, true, false, true},
                        Case{7, 1000, true, false, false}, Case{33, 384, false, true, true},
                        Case{5, 6144, true, false, true}, Case{3, 77, false, true, false}}) {
    at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(c.rows * 7919 + c.cols));
    const auto dt = c.bf16 ? at::kBFloat16 : at::kFloat;
    auto cuda = [&gen](at::IntArrayRef size, double scale, at::ScalarType t) {
      return (Normal(size, gen) * scale).to(at::kCUDA, t);
    };
    const at::Tensor a = cuda({c.rows, c.cols}, 2, dt);
    const at::Tensor w = cuda({c.cols}, 1, dt);
    const at::Tensor b = c.residual ? cuda({c.rows, c.cols}, 3, at::kFloat) : at::Tensor();
    const at::Tensor g = c.gate ? cuda({c.rows, c.cols}, 2, dt) : at::Tensor();
    at::Tensor got;
    {
      at::NoGradGuard no_grad;
      got = ops::ResidualRmsNorm(a, b, 0.75, 1.5, w, 1e-5, g, dt);
    }
    std::vector<float> ref;
    reference::naive::ResidualRmsNorm(
        HostFloats(a), b.defined() ? HostFloats(b) : std::vector<float>(), 0.75f, 1.5f, HostFloats(w),
        g.defined() ? HostFloats(g) : std::vector<float>(), c.rows, c.cols, 1e-5, c.bf16, &ref);
    const std::vector<float> out = HostFloats(got);
    ASSERT_EQ(out.size(), ref.size());
    int64_t exact = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double r = ref[i];
      const double tol = c.bf16 ? std::ldexp(std::fabs(r), -7) : 2e-6 * std::fabs(r) + 1e-7;
      ASSERT_LE(std::fabs(out[i] - r), tol) << "rows " << c.rows << " cols " << c.cols << " element " << i;
      exact += out[i] == ref[i] ? 1 : 0;
    }
    if (c.bf16) {
      EXPECT_GE(static_cast<double>(exact) / static_cast<double>(out.size()), 0.98)
          << c.rows << "x" << c.cols;
    }
  }
}

TEST(CudaOpsTest, LightningBf16TensorCorePathMatchesFloat64) {
  SKIP_WITHOUT_DEVICE();
  // Storing o in bf16 alone costs between 2^-9 and 2^-8 of max|o| (half an ulp of its binade), so for some
  // input draws no bf16 output meets 3e-3. Sweep on the H200 over seeds 1..100 of these spec inputs: the fp64
  // reference rounded to bf16 exceeds 3e-3 for 14 seeds (floor 1.40e-3 .. 3.76e-3, median 2.44e-3); the
  // kernel exceeds it for exactly those 14 and is at most 4.4e-5 of max|o| above the floor. So the kernel
  // passes on 86% of spec draws, NOT >= 99%: the fixed seed makes the test reproducible, it does not make the
  // bound hold for every draw. Seed 1 was fixed before the sweep, not picked from it (floor and kernel
  // error 1.92e-3).
  constexpr uint64_t kSeed = 1;
  SCOPED_TRACE(SeedTrace(kSeed));
  const Bf16Errors e = LightningBf16Errors(kSeed);
  EXPECT_LE(e.out, 3e-3)  // KERNELS.md §1 bounds for bf16 io
      << "bf16 rounding of the fp64 reference alone: " << e.out_floor;
  EXPECT_LE(e.final_state, 1e-3);
}

// Half an ulp of the top bf16 binade of max|ref| (8 significant bits), relative to max|ref|: what storing a
// correct result in bf16 may cost, between 2^-9 and 2^-8.
double Bf16HalfUlp(const at::Tensor& ref) {
  const double m = ref.abs().max().item<double>();
  return m > 0 ? std::ldexp(1.0, std::ilogb(m) - 8) / m : 0.0;
}

struct Bf16GradCase {
  int64_t heads, dim;
  std::vector<int64_t> cu;
};

// The bf16 binding's forward and autograd backward (the tensor-core scans; the backward's three in one
// launch) vs kernels/ops on CPU in float64, with an initial state and d_final_state. Inputs are bf16 (q, k,
// v, dO) or fp32 (states, decay) valued, so both sides see the same numbers. Returns {error, bound} for out,
// final_state, dq, dk, dv, ds0. Bounds: bf16 outputs the half ulp above plus the kernel's own error (TF32
// state operands, 2^-11 relative: 5e-4 for o, 1e-3 for the gradients, as in cuda_kernels_test's 3e-3 / 5e-3
// totals); fp32 states 1e-3 (final state) and 2e-3 (dS_0), KERNELS.md §1-2.
std::vector<std::pair<double, double>> LightningBf16GradErrors(uint64_t seed, const Bf16GradCase& c) {
  const int64_t H = c.heads, D = c.dim, T = c.cu.back(), B = static_cast<int64_t>(c.cu.size()) - 1;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  auto bf = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kDouble); };
  auto f32 = [](const at::Tensor& t) { return t.to(at::kFloat).to(at::kDouble); };
  at::Tensor q = bf(SiluNormal({T, H, D}, gen)), k = bf(SiluNormal({T, H, D}, gen)),
             v = bf(SiluNormal({T, H, D}, gen));
  at::Tensor s0 = f32(Normal({B, H, D, D}, gen) * 0.1), decay = f32(Normal({H}, gen).abs() * 0.3 + 0.01);
  at::Tensor go = bf(Normal({T, H, D}, gen)), gs = f32(Normal({B, H, D, D}, gen));

  std::vector<at::Tensor> cpu_in = {q.clone().requires_grad_(), k.clone().requires_grad_(),
                                    v.clone().requires_grad_(), s0.clone().requires_grad_()};
  auto ref = ops::LightningAttention(cpu_in[0], cpu_in[1], cpu_in[2], decay, c.cu, cpu_in[3], 16);
  auto ref_grads = torch::autograd::grad({ref.out, ref.final_state}, cpu_in, {go, gs});

  auto bf_dev = at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16);
  auto f_dev = at::TensorOptions().device(at::kCUDA).dtype(at::kFloat);
  std::vector<at::Tensor> gpu_in = {q.to(bf_dev).requires_grad_(), k.to(bf_dev).requires_grad_(),
                                    v.to(bf_dev).requires_grad_(), s0.to(f_dev).requires_grad_()};
  auto [out, fin] = LightningAttention(gpu_in[0], gpu_in[1], gpu_in[2], decay.to(f_dev), c.cu, gpu_in[3]);
  auto grads = torch::autograd::grad({out, fin}, gpu_in, {go.to(bf_dev), gs.to(f_dev)});
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  EXPECT_EQ(grads[0].scalar_type(), at::kBFloat16);
  std::vector<std::pair<double, double>> errs = {{RelErr(out, ref.out), Bf16HalfUlp(ref.out) + 5e-4},
                                                 {RelErr(fin, ref.final_state), 1e-3}};
  for (int i = 0; i < 3; ++i) {
    errs.emplace_back(RelErr(grads[i], ref_grads[i]), Bf16HalfUlp(ref_grads[i]) + 1e-3);
  }
  errs.emplace_back(RelErr(grads[3], ref_grads[3]), 2e-3);
  return errs;
}

// Shapes for both column tiles of the tensor-core scan (chosen from the grid size): small grids (32 columns
// for d = 64 and 128: a few sequences and heads) and one with at least as many (sequence, head) blocks as the
// device has SMs (64 columns); uneven lengths, including 0, 1 and non-multiples of the 64-token chunk.
TEST(CudaOpsTest, LightningBf16ForwardBackwardMatchFloat64) {
  SKIP_WITHOUT_DEVICE();
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, c10::cuda::current_device()),
            cudaSuccess);
  const std::vector<Bf16GradCase> cases = {
      {2, 64, {0, 1, 1, 66, 193}}, {2, 128, {0, 1, 130, 250}}, {(sms + 1) / 2, 64, {0, 70, 200}}};
  constexpr uint64_t kSeed = 7;
  SCOPED_TRACE(SeedTrace(kSeed));
  const char* names[] = {"out", "final_state", "dq", "dk", "dv", "ds0"};
  for (const Bf16GradCase& c : cases) {
    const auto errs = LightningBf16GradErrors(kSeed, c);
    for (int i = 0; i < 6; ++i) {
      EXPECT_LE(errs[i].first, errs[i].second) << names[i] << " heads " << c.heads << " d " << c.dim;
    }
  }
}

// ---- RmsNorm (ops::RmsNorm on CUDA: the fused forward/backward through autograd)
// ---------------------------

struct NormResult {
  at::Tensor y, dx, dw;
};

// The tensor formula in float64 on the CPU, differentiated by autograd, with the upstream gradient gy; also
// the magnitudes the kernel's fp32 sums run over: max |rstd·dy·w| (the terms of dx) and, per column, Σ_rows
// |dy·xhat| (the terms of dw).
struct NormReference {
  NormResult r;
  double dx_scale = 0;
  at::Tensor dw_scale;
};

NormReference RmsNormFloat64(const at::Tensor& x, const at::Tensor& w, double eps, const at::Tensor& gy) {
  const at::Tensor xd = x.to(at::kCPU, at::kDouble).detach().requires_grad_();
  const at::Tensor wd = w.to(at::kCPU, at::kDouble).detach().requires_grad_();
  const at::Tensor gd = gy.to(at::kCPU, at::kDouble);
  const at::Tensor rstd = (xd * xd).mean({-1}, /*keepdim=*/true).add(eps).rsqrt();
  const at::Tensor y = xd * rstd * wd;
  auto g = torch::autograd::grad({y}, {xd, wd}, {gd});
  NormReference ref;
  ref.r = {y.detach(), g[0], g[1]};
  const at::Tensor rs = rstd.detach(), wv = wd.detach(), xv = xd.detach();
  ref.dx_scale = x.numel() == 0 ? 0.0 : (gd * wv * rs).abs().max().item<double>();
  ref.dw_scale = (gd * xv * rs).abs().reshape({x.numel() / x.size(-1), x.size(-1)}).sum(0);
  return ref;
}

NormResult RmsNormOnDevice(const at::Tensor& x, const at::Tensor& w, double eps, at::ScalarType out,
                           const at::Tensor& gy) {
  const at::Tensor xg = x.detach().requires_grad_(), wg = w.detach().requires_grad_();
  const at::Tensor y = ops::RmsNorm(xg, wg, eps, out);
  auto g = torch::autograd::grad({y}, {xg, wg}, {gy});
  return {y.detach(), g[0], g[1]};
}

// Relative bound of one rounding to `t` (one ulp of bf16; fp32 results, whose rounding is far below the
// fp32 sums' error, get 1e-5).
double RoundingBound(at::ScalarType t) { return t == at::kBFloat16 ? std::ldexp(1.0, -7) : 1e-5; }

// |got − ref| <= rel·|ref| + abs elementwise (abs broadcast against ref), got in dtype `t` and shaped as ref.
void ExpectWithin(const at::Tensor& got, const at::Tensor& ref, at::ScalarType t, const at::Tensor& abs,
                  const std::string& what) {
  EXPECT_EQ(got.scalar_type(), t) << what;
  ASSERT_EQ(got.sizes(), ref.sizes()) << what;
  if (ref.numel() == 0) return;
  const at::Tensor g = got.to(at::kCPU, at::kDouble);
  EXPECT_FALSE(g.isnan().any().item<bool>()) << what;
  const at::Tensor excess = (g - ref).abs() - (ref.abs() * RoundingBound(t) + abs);
  EXPECT_LE(excess.max().item<double>(), 0.0) << what;
}

std::string ShapeName(at::IntArrayRef shape, at::ScalarType x, at::ScalarType w, at::ScalarType out) {
  std::string s = "shape";
  for (int64_t d : shape) s += " " + std::to_string(d);
  return s + " x " + c10::toString(x) + " w " + c10::toString(w) + " out " + c10::toString(out);
}

// Forward and gradients vs the float64 formula: y and dx within one rounding to their dtype plus 1e-6 (y)
// or 1e-5 (dx) of the largest term; dw within one rounding plus 1e-5 of its column's Σ|dy·xhat| (fp32 sums
// over up to ~12k terms are accurate to a few 1e-7 of that). Shapes cover packs of 8 (1024, 96, 8192), of 4
// (4100), the scalar path (4099), several rows per backward block (1500 x 1024 and 2000 x 128: the backward
// has at most 1024 blocks), dw accumulated in global memory (12300 > 8192 columns), one row and leading dims
// [2, 3, 64]; the model's dtype mixes.
TEST(CudaOpsTest, FusedRmsNormForwardBackwardMatchFloat64) {
  SKIP_WITHOUT_DEVICE();
  struct Case {
    std::vector<int64_t> shape;
    at::ScalarType x, w, out;
  };
  const auto bf = at::kBFloat16, f32 = at::kFloat;
  const std::vector<Case> cases = {
      {{1, 1024}, bf, f32, bf},    {{37, 96}, f32, f32, f32},   {{513, 1024}, bf, f32, bf},
      {{513, 1024}, f32, f32, bf}, {{64, 4100}, bf, bf, f32},   {{33, 4099}, f32, f32, bf},
      {{33, 4099}, bf, bf, bf},    {{2, 3, 64}, bf, f32, bf},   {{8, 8192}, bf, f32, bf},
      {{4, 12300}, f32, f32, f32}, {{2000, 128}, f32, bf, f32}, {{1500, 1024}, bf, f32, bf}};
  constexpr double kEps = 1e-6;
  for (const Case& c : cases) {
    const std::string name = ShapeName(c.shape, c.x, c.w, c.out);
    SCOPED_TRACE(name);
    const int64_t cols = c.shape.back();
    at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(cols * 131 + c.shape[0]));
    const at::Tensor x = (Normal(c.shape, gen) * 2).to(at::kCUDA, c.x);
    const at::Tensor w = (Normal({cols}, gen) * 0.5 + 1).to(at::kCUDA, c.w);
    const at::Tensor gy = Normal(c.shape, gen).to(at::kCUDA, c.out);
    const NormReference ref = RmsNormFloat64(x, w, kEps, gy);
    const NormResult got = RmsNormOnDevice(x, w, kEps, c.out, gy);
    const double y_scale = ref.r.y.abs().max().item<double>();
    ExpectWithin(got.y, ref.r.y, c.out, at::scalar_tensor(1e-6 * y_scale, at::kDouble), name + " y");
    ExpectWithin(got.dx, ref.r.dx, c.x, at::scalar_tensor(1e-5 * ref.dx_scale, at::kDouble), name + " dx");
    ExpectWithin(got.dw, ref.r.dw, c.w, ref.dw_scale * 1e-5, name + " dw");
    // Without grad the same forward kernel runs outside autograd: bit-equal.
    at::NoGradGuard no_grad;
    EXPECT_TRUE(at::equal(ops::RmsNorm(x, w, kEps, c.out), got.y));
  }
}

// Two backward runs give bit-identical dx and dw (dw: per-block partials and a fixed-order sum, no atomics;
// 4097 rows: four or five rows per block).
TEST(CudaOpsTest, FusedRmsNormBackwardIsDeterministic) {
  SKIP_WITHOUT_DEVICE();
  at::Generator gen = at::detail::createCPUGenerator(7);
  const at::Tensor x = Normal({4097, 1024}, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor w = Normal({1024}, gen).to(at::kCUDA, at::kFloat);
  const at::Tensor gy = Normal({4097, 1024}, gen).to(at::kCUDA, at::kBFloat16);
  const NormResult a = RmsNormOnDevice(x, w, 1e-6, at::kBFloat16, gy);
  const NormResult b = RmsNormOnDevice(x, w, 1e-6, at::kBFloat16, gy);
  EXPECT_TRUE(at::equal(a.y, b.y));
  EXPECT_TRUE(at::equal(a.dx, b.dx));
  EXPECT_TRUE(at::equal(a.dw, b.dw));
}

// N(0,1) · scale values as a contiguous [rows, cols] bf16 device tensor whose data starts one element (2
// bytes) past an aligned address.
at::Tensor UnalignedBf16Normal(int64_t rows, int64_t cols, at::Generator& gen, double scale = 1.0) {
  const at::Tensor flat = (Normal({rows * cols + 1}, gen) * scale).to(at::kCUDA, at::kBFloat16);
  return flat.narrow(0, 1, rows * cols).view({rows, cols});
}

// Rows that start 2 bytes past an aligned address take the scalar path: same bounds as above.
TEST(CudaOpsTest, FusedRmsNormUnalignedRowsMatchFloat64) {
  SKIP_WITHOUT_DEVICE();
  at::Generator gen = at::detail::createCPUGenerator(11);
  const int64_t rows = 17, cols = 1024;
  const at::Tensor x = UnalignedBf16Normal(rows, cols, gen);
  ASSERT_TRUE(x.is_contiguous());
  ASSERT_NE(reinterpret_cast<uintptr_t>(x.data_ptr()) % 4, 0u);
  const at::Tensor w = (Normal({cols}, gen) + 1).to(at::kCUDA, at::kFloat);
  const at::Tensor gy = Normal({rows, cols}, gen).to(at::kCUDA, at::kBFloat16);
  const NormReference ref = RmsNormFloat64(x, w, 1e-6, gy);
  const NormResult got = RmsNormOnDevice(x, w, 1e-6, at::kBFloat16, gy);
  ExpectWithin(got.y, ref.r.y, at::kBFloat16,
               at::scalar_tensor(1e-6 * ref.r.y.abs().max().item<double>(), at::kDouble), "y");
  ExpectWithin(got.dx, ref.r.dx, at::kBFloat16, at::scalar_tensor(1e-5 * ref.dx_scale, at::kDouble), "dx");
  ExpectWithin(got.dw, ref.r.dw, at::kFloat, ref.dw_scale * 1e-5, "dw");
}

// No rows: an empty output, an empty dx and an all-zero dw (a sum over no rows).
TEST(CudaOpsTest, FusedRmsNormEmptyInput) {
  SKIP_WITHOUT_DEVICE();
  const at::Tensor x = at::zeros({0, 64}, at::TensorOptions().device(at::kCUDA).dtype(at::kBFloat16));
  const at::Tensor w = at::ones({64}, at::TensorOptions().device(at::kCUDA).dtype(at::kFloat));
  const NormResult got = RmsNormOnDevice(x, w, 1e-6, at::kBFloat16, x);
  EXPECT_EQ(got.y.sizes(), x.sizes());
  EXPECT_EQ(got.dx.sizes(), x.sizes());
  ASSERT_EQ(got.dw.sizes(), w.sizes());
  EXPECT_TRUE(at::equal(got.dw, at::zeros_like(w)));
}

// ---- SwiGlu (ops::SwiGlu on CUDA: the fused forward/backward through autograd) ----------------------------

struct SwiGluResult {
  at::Tensor act, dh;
};

// act = ops::SwiGlu(h) and dh by autograd under dact (h may be a view; the gradient is taken w.r.t. it).
SwiGluResult SwiGluOnDevice(const at::Tensor& h, const at::Tensor& dact) {
  const at::Tensor hg = h.detach().requires_grad_();
  const at::Tensor act = ops::SwiGlu(hg);
  return {act.detach(), torch::autograd::grad({act}, {hg}, {dact})[0]};
}

// act and dh within the bounds of kernels/testing/swiglu_testing.h (the composite's two roundings to the
// dtype plus its fp32 evaluation; dg's absolute slack where it cancels) of the float64 formula on the same
// inputs.
void ExpectSwiGluMatchesFloat64(const at::Tensor& h, const at::Tensor& dact, const SwiGluResult& got,
                                const std::string& name) {
  const at::ScalarType t = h.scalar_type();
  const ops::testing_swiglu::Reference ref = ops::testing_swiglu::SwiGluFloat64(h, dact, t);
  const double rel = ops::testing_swiglu::SwiGluBounds(t).rel;
  EXPECT_EQ(got.act.scalar_type(), t) << name;
  EXPECT_EQ(got.dh.scalar_type(), t) << name;
  ops::testing_swiglu::ExpectWithin(got.act, ref.act, rel, at::zeros_like(ref.act), name + " act");
  ops::testing_swiglu::ExpectWithin(got.dh, ref.dh, rel, ref.dh_abs, name + " dh");
}

// Inputs h ~ N(0, 3²) (silu's tails and its minimum near g = −1.28, where dg cancels), dact ~ N(0, 1), from
// a CPU generator seeded by the shape.
std::pair<at::Tensor, at::Tensor> SwiGluInputs(at::IntArrayRef h_shape, at::ScalarType t) {
  at::Generator gen =
      at::detail::createCPUGenerator(static_cast<uint64_t>(h_shape.back() * 131 + h_shape[0]));
  std::vector<int64_t> act_shape = h_shape.vec();
  act_shape.back() /= 2;
  return {(Normal(h_shape, gen) * 3).to(at::kCUDA, t), Normal(act_shape, gen).to(at::kCUDA, t)};
}

// Forward and dh vs float64 for bf16 and fp32 over: one row (I = 8), a prime row count with I = 96, the
// MoE's I = 2048 over 513 rows (16-byte packs), I = 4099 (odd: the scalar path), no rows, leading dims
// [2, 3]. The forward equals the tensor composite at::silu(g) * u bit for bit (the same fp32 expressions and
// roundings, kernels/cuda/swiglu.h), and without grad the same forward kernel runs outside autograd.
TEST(CudaOpsTest, FusedSwiGluForwardBackwardMatchFloat64) {
  SKIP_WITHOUT_DEVICE();
  const std::vector<std::vector<int64_t>> shapes = {{1, 16}, {37, 2 * 96},   {513, 2 * 2048}, {33, 2 * 4099},
                                                    {0, 64}, {2, 3, 2 * 40}, {19, 2 * 36}};  // 36: packs of 4
  for (const at::ScalarType t : {at::kBFloat16, at::kFloat}) {
    for (const std::vector<int64_t>& shape : shapes) {
      std::string name = std::string("swiglu ") + c10::toString(t) + " h";
      for (int64_t d : shape) name += " " + std::to_string(d);
      SCOPED_TRACE(name);
      const auto [h, dact] = SwiGluInputs(shape, t);
      const SwiGluResult got = SwiGluOnDevice(h, dact);
      ExpectSwiGluMatchesFloat64(h, dact, got, name);
      const int64_t inter = shape.back() / 2;
      at::NoGradGuard no_grad;
      EXPECT_TRUE(at::equal(got.act, at::silu(h.narrow(-1, 0, inter)) * h.narrow(-1, inter, inter)));
      EXPECT_TRUE(at::equal(ops::SwiGlu(h), got.act));
    }
  }
}

// Two backward runs give bit-identical dh (elementwise, no atomics).
TEST(CudaOpsTest, FusedSwiGluBackwardIsDeterministic) {
  SKIP_WITHOUT_DEVICE();
  const auto [h, dact] = SwiGluInputs({1031, 2 * 2048}, at::kBFloat16);
  const SwiGluResult a = SwiGluOnDevice(h, dact), b = SwiGluOnDevice(h, dact);
  EXPECT_TRUE(at::equal(a.act, b.act));
  EXPECT_TRUE(at::equal(a.dh, b.dh));
}

// h and dact starting 2 bytes past an aligned address take the scalar path although I % 8 == 0; a strided
// view (rows 2I + 8 apart) is made contiguous first. Same bounds as above.
TEST(CudaOpsTest, FusedSwiGluUnalignedAndStridedInputsMatchFloat64) {
  SKIP_WITHOUT_DEVICE();
  at::Generator gen = at::detail::createCPUGenerator(13);
  const int64_t rows = 17, inter = 1024;
  const at::Tensor h = UnalignedBf16Normal(rows, 2 * inter, gen, 3);
  const at::Tensor dact = UnalignedBf16Normal(rows, inter, gen);
  ASSERT_NE(reinterpret_cast<uintptr_t>(h.data_ptr()) % 16, 0u);
  ASSERT_NE(reinterpret_cast<uintptr_t>(dact.data_ptr()) % 16, 0u);
  ExpectSwiGluMatchesFloat64(h, dact, SwiGluOnDevice(h, dact), "unaligned");

  const at::Tensor wide = (Normal({rows, 2 * inter + 8}, gen) * 3).to(at::kCUDA, at::kFloat);
  const at::Tensor strided = wide.narrow(1, 0, 2 * inter);
  ASSERT_FALSE(strided.is_contiguous());
  const at::Tensor dact32 = dact.to(at::kFloat);
  ExpectSwiGluMatchesFloat64(strided, dact32, SwiGluOnDevice(strided, dact32), "strided");
}

// ---- ops::ResidualRmsNormWithSum on CUDA ------------------------------------------------------------------

// Value `v` with the derivative of `x` (straight-through): the float64 reference takes the values the kernel
// rounds to (h, R_o(σ), n = R_o(xhat·w)) but the exact formula's derivatives.
at::Tensor Through(const at::Tensor& x, const at::Tensor& v) { return x + (v - x).detach(); }

at::Tensor RoundedTo(const at::Tensor& x, at::ScalarType t) { return x.detach().to(t).to(at::kDouble); }

struct ResidualNormGrads {
  at::Tensor y, h, da, db, dw, dgate;
};

// The float64 formula differentiated by autograd on the CPU: h = a·alpha + b·beta (value: `h_value`, the
// device's h), n = h·rstd·w, y = sigmoid(gate)·n (σ and n with their out_dtype roundings as values), given
// the upstream gradients dy of y and dh of h (undefined: none).
ResidualNormGrads ResidualNormFloat64(const at::Tensor& a, const at::Tensor& b, double alpha, double beta,
                                      const at::Tensor& w, double eps, const at::Tensor& gate,
                                      at::ScalarType out, const at::Tensor& h_value, const at::Tensor& dy,
                                      const at::Tensor& dh) {
  auto leaf = [](const at::Tensor& t) { return t.to(at::kCPU, at::kDouble).detach().requires_grad_(); };
  const at::Tensor ad = leaf(a), bd = leaf(b), wd = leaf(w);
  const at::Tensor gd = gate.defined() ? leaf(gate) : at::Tensor();
  const at::Tensor h = Through(ad * alpha + bd * beta, h_value.to(at::kCPU, at::kDouble));
  const at::Tensor rstd = (h * h).mean({-1}, /*keepdim=*/true).add(eps).rsqrt();
  const at::Tensor n = h * rstd * wd;
  at::Tensor y = n;
  if (gd.defined()) {
    const at::Tensor s = gd.sigmoid();
    y = Through(s, RoundedTo(s, out)) * Through(n, RoundedTo(n, out));
  }
  std::vector<at::Tensor> inputs = {ad, bd, wd};
  if (gd.defined()) inputs.push_back(gd);
  std::vector<at::Tensor> outs = {y}, grads = {dy.to(at::kCPU, at::kDouble)};
  if (dh.defined()) {
    outs.push_back(h);
    grads.push_back(dh.to(at::kCPU, at::kDouble));
  }
  auto g = torch::autograd::grad(outs, inputs, grads);
  return {y.detach(), h.detach(), g[0], g[1], g[2], gd.defined() ? g[3] : at::Tensor()};
}

// The device op (ops::ResidualRmsNormWithSum, every input requiring grad) and its autograd gradients.
ResidualNormGrads ResidualNormOnDevice(const at::Tensor& a, const at::Tensor& b, double alpha, double beta,
                                       const at::Tensor& w, double eps, const at::Tensor& gate,
                                       at::ScalarType out, const at::Tensor& dy, const at::Tensor& dh) {
  const at::Tensor ag = a.detach().requires_grad_(), bg = b.detach().requires_grad_(),
                   wg = w.detach().requires_grad_();
  const at::Tensor gg = gate.defined() ? gate.detach().requires_grad_() : at::Tensor();
  const ops::ResidualNormOutput r = ops::ResidualRmsNormWithSum(ag, bg, alpha, beta, wg, eps, gg, out);
  std::vector<at::Tensor> inputs = {ag, bg, wg};
  if (gg.defined()) inputs.push_back(gg);
  std::vector<at::Tensor> outs = {r.normed}, grads = {dy};
  if (dh.defined()) {
    outs.push_back(r.sum);
    grads.push_back(dh);
  }
  auto g = torch::autograd::grad(outs, inputs, grads);
  return {r.normed.detach(), r.sum.detach(), g[0], g[1], g[2], gg.defined() ? g[3] : at::Tensor()};
}

// Forward and gradients vs the float64 formula, bf16 (w fp32) and fp32, with and without gate and dh:
//  - h bit-equal to the tensor ops a·alpha + b·beta on the device, and (no gate) y bit-equal to ops::RmsNorm
//    of that h without grad (the same norm kernel);
//  - y within one rounding to out_dtype (two with a gate: n and σ are rounded before the product) plus 1e-6
//    of max |y|;
//  - da, db within one rounding plus 1e-5 · |alpha|, |beta| · max |rstd·e·w| (the fp32 terms of dn);
//  - dw within one rounding plus 1e-5 of its column's Σ|e·xhat|; dgate within two roundings (σ(1 − σ) and
//    the product in fp32, n rounded as the forward's) plus 1e-5 of max |dy·n·σ(1 − σ)|.
// Shapes: one row, packs of 8 (96 columns; packs of 4 are covered by the RmsNorm tests' 12300 columns),
// several rows per backward block (513 x 1024), the scalar path (4099).
TEST(CudaOpsTest, FusedResidualRmsNormWithSumMatchesFloat64) {
  SKIP_WITHOUT_DEVICE();
  const std::vector<std::vector<int64_t>> shapes = {{1, 1024}, {37, 96}, {513, 1024}, {33, 4099}};
  constexpr double kEps = 1e-6, kAlpha = 0.75, kBeta = 1.5;
  for (const auto& shape : shapes) {
    for (const at::ScalarType dt : {at::kBFloat16, at::kFloat}) {
      for (const bool with_gate : {false, true}) {
        for (const bool with_dh : {false, true}) {
          const std::string name =
              ShapeName(shape, dt, at::kFloat, dt) + (with_gate ? " gate" : "") + (with_dh ? " dh" : "");
          SCOPED_TRACE(name);
          const int64_t rows = shape[0], cols = shape[1];
          at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(cols * 131 + rows));
          const at::Tensor a = (Normal(shape, gen) * 2).to(at::kCUDA, dt);
          const at::Tensor b = (Normal(shape, gen) * 3).to(at::kCUDA, dt);
          const at::Tensor w = (Normal({cols}, gen) * 0.5 + 1).to(at::kCUDA, at::kFloat);
          const at::Tensor gate = with_gate ? (Normal(shape, gen) * 2).to(at::kCUDA, dt) : at::Tensor();
          const at::Tensor dy = Normal(shape, gen).to(at::kCUDA, dt);
          const at::Tensor dh = with_dh ? Normal(shape, gen).to(at::kCUDA, dt) : at::Tensor();
          const ResidualNormGrads got = ResidualNormOnDevice(a, b, kAlpha, kBeta, w, kEps, gate, dt, dy, dh);
          {
            at::NoGradGuard no_grad;
            const at::Tensor h_ops = a * kAlpha + b * kBeta;
            EXPECT_TRUE(at::equal(got.h, h_ops));
            if (!with_gate) {
              EXPECT_TRUE(at::equal(got.y, ops::RmsNorm(h_ops, w, kEps, dt)));
            }
          }
          const ResidualNormGrads ref =
              ResidualNormFloat64(a, b, kAlpha, kBeta, w, kEps, gate, dt, got.h, dy, dh);
          const double ulp = RoundingBound(dt);
          const double y_scale = ref.y.abs().max().item<double>();
          const at::Tensor y_abs = (with_gate ? ref.y.abs() * ulp : at::zeros_like(ref.y)) + 1e-6 * y_scale;
          ExpectWithin(got.y, ref.y, dt, y_abs, name + " y");
          // The terms of dn: rstd · e · w, e = dy · R_o(σ).
          const at::Tensor hd = got.h.to(at::kCPU, at::kDouble), wd = w.to(at::kCPU, at::kDouble);
          const at::Tensor rstd = (hd * hd).mean({-1}, true).add(kEps).rsqrt();
          at::Tensor e = dy.to(at::kCPU, at::kDouble);
          if (with_gate) e = e * RoundedTo(gate.to(at::kCPU, at::kDouble).sigmoid(), dt);
          const double dn_scale = (rstd * e * wd).abs().max().item<double>();
          ExpectWithin(got.da, ref.da, dt, at::scalar_tensor(1e-5 * kAlpha * dn_scale, at::kDouble),
                       name + " da");
          ExpectWithin(got.db, ref.db, dt, at::scalar_tensor(1e-5 * kBeta * dn_scale, at::kDouble),
                       name + " db");
          ExpectWithin(got.dw, ref.dw, at::kFloat, (e * hd * rstd).abs().sum(0) * 1e-5, name + " dw");
          if (with_gate) {
            const at::Tensor s = gate.to(at::kCPU, at::kDouble).sigmoid();
            const at::Tensor n = RoundedTo(hd * rstd * wd, dt);
            const double g_scale =
                (dy.to(at::kCPU, at::kDouble) * n * s * (1 - s)).abs().max().item<double>();
            ExpectWithin(got.dgate, ref.dgate, dt, ref.dgate.abs() * ulp + 1e-5 * g_scale, name + " dgate");
          }
        }
      }
    }
  }
}

// Two backward runs (gate, dh, 4097 rows: four or five per backward block) give bit-identical gradients.
TEST(CudaOpsTest, FusedResidualRmsNormWithSumBackwardIsDeterministic) {
  SKIP_WITHOUT_DEVICE();
  at::Generator gen = at::detail::createCPUGenerator(13);
  const std::vector<int64_t> shape = {4097, 1024};
  const at::Tensor a = Normal(shape, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor b = Normal(shape, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor w = Normal({1024}, gen).to(at::kCUDA, at::kFloat);
  const at::Tensor gate = Normal(shape, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor dy = Normal(shape, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor dh = Normal(shape, gen).to(at::kCUDA, at::kBFloat16);
  const ResidualNormGrads x = ResidualNormOnDevice(a, b, 0.5, 2.0, w, 1e-6, gate, at::kBFloat16, dy, dh);
  const ResidualNormGrads y = ResidualNormOnDevice(a, b, 0.5, 2.0, w, 1e-6, gate, at::kBFloat16, dy, dh);
  for (const auto& [p, q] : {std::pair{x.y, y.y}, std::pair{x.h, y.h}, std::pair{x.da, y.da},
                             std::pair{x.db, y.db}, std::pair{x.dw, y.dw}, std::pair{x.dgate, y.dgate}}) {
    EXPECT_TRUE(at::equal(p, q));
  }
}

// Dispatch: without grad ops::ResidualRmsNorm is the decode kernel (cuda_ops::ResidualRmsNorm), bit for bit,
// strided rows and an fp32 residual included; with grad it is ResidualRmsNormWithSum's normed output. Without
// b the sum is a itself and the norm is ops::RmsNorm's, gradients included (the same kernels).
TEST(CudaOpsTest, ResidualRmsNormDispatch) {
  SKIP_WITHOUT_DEVICE();
  at::Generator gen = at::detail::createCPUGenerator(17);
  const at::Tensor wide = Normal({48, 1536}, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor a = wide.narrow(1, 512, 512);  // row stride 1536
  const at::Tensor b = (Normal({48, 512}, gen) * 3).to(at::kCUDA, at::kFloat);
  const at::Tensor gate = Normal({48, 512}, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor w = (Normal({512}, gen) + 1).to(at::kCUDA, at::kFloat);
  for (const bool with_gate : {false, true}) {
    const at::Tensor g = with_gate ? gate : at::Tensor();
    at::NoGradGuard no_grad;
    EXPECT_TRUE(at::equal(ops::ResidualRmsNorm(a, b, 0.5, 1.25, w, 1e-6, g, at::kBFloat16),
                          ResidualRmsNorm(a, b, 0.5, 1.25, w, 1e-6, g, at::kBFloat16)))
        << "gate " << with_gate;
  }
  const at::Tensor wg = w.detach().requires_grad_();
  const at::Tensor with_grad = ops::ResidualRmsNorm(a, b, 0.5, 1.25, wg, 1e-6, gate, at::kBFloat16);
  EXPECT_TRUE(with_grad.requires_grad());
  EXPECT_TRUE(at::equal(with_grad.detach(),
                        ops::ResidualRmsNormWithSum(a, b, 0.5, 1.25, w, 1e-6, gate, at::kBFloat16).normed));

  const at::Tensor x = Normal({37, 96}, gen).to(at::kCUDA, at::kBFloat16).requires_grad_();
  const at::Tensor dy = Normal({37, 96}, gen).to(at::kCUDA, at::kBFloat16);
  const at::Tensor wx = (Normal({96}, gen) + 1).to(at::kCUDA, at::kFloat).requires_grad_();
  const ops::ResidualNormOutput r =
      ops::ResidualRmsNormWithSum(x, at::Tensor(), 2.0, 3.0, wx, 1e-6, at::Tensor(), at::kBFloat16);
  EXPECT_TRUE(r.sum.is_same(x));
  const at::Tensor plain = ops::RmsNorm(x, wx, 1e-6, at::kBFloat16);
  EXPECT_TRUE(at::equal(r.normed, plain));
  auto g1 = torch::autograd::grad({r.normed}, {x, wx}, {dy});
  auto g2 = torch::autograd::grad({plain}, {x, wx}, {dy});
  EXPECT_TRUE(at::equal(g1[0], g2[0]));
  EXPECT_TRUE(at::equal(g1[1], g2[1]));
}

// ---- MoeCombine (the training MoE's combine: MoeScatterCombine forward, MoeCombineBackward) ---------------

struct CombineCase {
  int64_t t, hidden, k;
  at::ScalarType yp, w, dest;
};

struct CombineInputs {
  at::Tensor yp, dest, w, dout;  // on the device
};

// yp [p, H] with p = t·k + 3 + t·k/3 rows (the padding rows hold N(0, 1) values too: they must be neither
// read nor given a gradient), dest the first t·k entries of a random permutation of [0, p), weights and dout
// N(0, 1); a CPU generator seeded by the shape.
CombineInputs CombineInputsFor(const CombineCase& c) {
  at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(c.hidden * 131 + c.t * 7 + c.k));
  const int64_t n = c.t * c.k, p = n + 3 + n / 3;
  CombineInputs in;
  in.yp = Normal({p, c.hidden}, gen).to(at::kCUDA, c.yp);
  in.dest = at::randperm(p, gen, at::TensorOptions().dtype(at::kLong)).narrow(0, 0, n).to(at::kCUDA, c.dest);
  in.w = Normal({c.t, c.k}, gen).to(at::kCUDA, c.w);
  in.dout = Normal({c.t, c.hidden}, gen).to(at::kCUDA, at::kFloat);
  return in;
}

struct CombineResult {
  at::Tensor out, dyp, dw;
};

// out = MoeCombine(yp, dest, weights, t) and dyp, dw by autograd under dout.
CombineResult CombineOnDevice(const CombineInputs& in) {
  const at::Tensor yp = in.yp.detach().requires_grad_(), w = in.w.detach().requires_grad_();
  const at::Tensor out = MoeCombine(yp, in.dest, w, in.w.size(0));
  auto g = torch::autograd::grad({out}, {yp, w}, {in.dout});
  return {out.detach(), g[0], g[1]};
}

// The tensor ops MoeExpertsGrouped ran before MoeCombine, differentiated by autograd on the device.
CombineResult CombineTensorOps(const CombineInputs& in) {
  const int64_t t = in.w.size(0), k = in.w.size(1), hidden = in.yp.size(1);
  const at::Tensor yp = in.yp.detach().requires_grad_(), w = in.w.detach().requires_grad_();
  const at::Tensor y = yp.index_select(0, in.dest.to(at::kLong)).to(at::kFloat).view({t, k, hidden});
  const at::Tensor out = (y * w.to(at::kFloat).unsqueeze(2)).sum(1);
  auto g = torch::autograd::grad({out}, {yp, w}, {in.dout});
  return {out.detach(), g[0], g[1]};
}

// The formula in float64 on the CPU (autograd) and the scales of the bounds: out_abs = Σ_j |w·y| [t, H],
// dw_abs = Σ_c |dout·y| [t, k].
struct CombineReference {
  CombineResult r;
  at::Tensor out_abs, dw_abs;
};

CombineReference CombineFloat64(const CombineInputs& in) {
  const int64_t t = in.w.size(0), k = in.w.size(1), hidden = in.yp.size(1);
  const at::Tensor yp = in.yp.to(at::kCPU, at::kDouble).detach().requires_grad_();
  const at::Tensor w = in.w.to(at::kCPU, at::kDouble).detach().requires_grad_();
  const at::Tensor dout = in.dout.to(at::kCPU, at::kDouble);
  const at::Tensor y = yp.index_select(0, in.dest.to(at::kCPU, at::kLong)).view({t, k, hidden});
  const at::Tensor out = (y * w.unsqueeze(2)).sum(1);
  auto g = torch::autograd::grad({out}, {yp, w}, {dout});
  const at::Tensor ya = y.detach().abs();
  return {{out.detach(), g[0], g[1]},
          (ya * w.detach().abs().unsqueeze(2)).sum(1),
          (ya * dout.abs().unsqueeze(1)).sum(2)};
}

// |got − ref| <= bound elementwise; got on the device in dtype t.
void ExpectWithinBound(const at::Tensor& got, const at::Tensor& ref, at::ScalarType t,
                       const at::Tensor& bound, const std::string& what) {
  EXPECT_EQ(got.scalar_type(), t) << what;
  ASSERT_EQ(got.sizes(), ref.sizes()) << what;
  const at::Tensor g = got.to(at::kCPU, at::kDouble);
  EXPECT_FALSE(g.isnan().any().item<bool>()) << what;
  EXPECT_LE(((g - ref).abs() - bound).max().item<double>(), 0.0) << what;
}

// Relative error of one round-to-nearest into t (its unit roundoff): 2^-24 fp32, 2^-8 bf16.
double UnitRoundoff(at::ScalarType t) { return std::ldexp(1.0, t == at::kBFloat16 ? -8 : -24); }

// Forward, dyp and dw vs the float64 formula over t in {1, 37, 513}, H in {96, 1024, 4100}, k in {1, 2, 4},
// bf16 and fp32 yp (bf16 yp with bf16 weights at H = 1024, else fp32 weights; int32 dest at t = 37, else the
// caller's int64), padding rows and a permuted dest. Bounds, u = 2^-24 (fp32) and u_t the unit roundoff of
// the gradient's dtype:
//   out: (k + 1)·u·Σ_j|w·y| (k products rounded, k − 1 sums; the bf16 → fp32 conversion is exact);
//   dyp: (u_yp + 2u)·|ref| (the fp32 product rounded, then once more to yp's dtype), padding rows exactly 0;
//   dw: the kernel's summation depth, (⌈H/32⌉ + 6)·u·Σ_c|dout·y| (fmaf over a lane's ⌈H/32⌉ columns, a
//       5-level shuffle tree), then one rounding to weights' dtype: (1 + u_w)·that + u_w·|ref| (u_w = 0
//       fp32).
// Bit-identities with the tensor ops MoeCombine replaces (their CUDA roundings): out for k <= 2 (one or two
// rounded products summed from 0, in any order the same), dyp for every k; without grad the same forward.
TEST(CudaOpsTest, MoeCombineForwardBackwardMatchFloat64) {
  SKIP_WITHOUT_DEVICE();
  const double u = std::ldexp(1.0, -24);
  for (const at::ScalarType yt : {at::kBFloat16, at::kFloat}) {
    for (const int64_t t : {1, 37, 513}) {
      for (const int64_t hidden : {96, 1024, 4100}) {
        for (const int64_t k : {1, 2, 4}) {
          const at::ScalarType wt = yt == at::kBFloat16 && hidden == 1024 ? at::kBFloat16 : at::kFloat;
          const CombineCase c{t, hidden, k, yt, wt, t == 37 ? at::kInt : at::kLong};
          const std::string name = "combine t " + std::to_string(t) + " H " + std::to_string(hidden) + " k " +
                                   std::to_string(k) + " yp " + c10::toString(yt) + " w " + c10::toString(wt);
          SCOPED_TRACE(name);
          const CombineInputs in = CombineInputsFor(c);
          const CombineResult got = CombineOnDevice(in);
          const CombineReference ref = CombineFloat64(in);
          ExpectWithinBound(got.out, ref.r.out, at::kFloat, ref.out_abs * (static_cast<double>(k + 1) * u),
                            name + " out");
          ExpectWithinBound(got.dyp, ref.r.dyp, yt, ref.r.dyp.abs() * (UnitRoundoff(yt) + 2 * u),
                            name + " dyp");
          const double uw = wt == at::kFloat ? 0.0 : UnitRoundoff(wt);
          const at::Tensor sum_err = ref.dw_abs * (static_cast<double>((hidden + 31) / 32 + 6) * u);
          ExpectWithinBound(got.dw, ref.r.dw, wt, sum_err * (1 + uw) + ref.r.dw.abs() * uw, name + " dw");
          const CombineResult ops = CombineTensorOps(in);
          if (k <= 2) {
            EXPECT_TRUE(at::equal(got.out, ops.out)) << name;
          }
          EXPECT_TRUE(at::equal(got.dyp, ops.dyp)) << name;
          at::NoGradGuard no_grad;
          EXPECT_TRUE(at::equal(MoeCombine(in.yp, in.dest, in.w, t), got.out)) << name;
        }
      }
    }
  }
}

// Two runs give bit-identical out, dyp and dw (one warp per slot, a fixed-order reduction, no atomics) on
// 2053 tokens of H = 1024, k = 2 (the trainer's H and k; 4106 slots over 514 blocks).
TEST(CudaOpsTest, MoeCombineBackwardIsDeterministic) {
  SKIP_WITHOUT_DEVICE();
  const CombineInputs in = CombineInputsFor({2053, 1024, 2, at::kBFloat16, at::kFloat, at::kLong});
  const CombineResult a = CombineOnDevice(in), b = CombineOnDevice(in);
  EXPECT_TRUE(at::equal(a.out, b.out));
  EXPECT_TRUE(at::equal(a.dyp, b.dyp));
  EXPECT_TRUE(at::equal(a.dw, b.dw));
}

// ---- MoeGatherSlots (the training MoE's expert-buffer gather: MoeGatherSlots, MoeGatherSlotsBackward) -----

struct GatherInputs {
  at::Tensor u, src, dest, dxp;  // on the device; src, dest int64
  int64_t k;
};

// u [t, H] and dxp [p, H] N(0, 1) in `type` (dxp's padding rows too: they must not reach du), p = t·k + 5 +
// t·k/3 rows; dest the first t·k entries of a random permutation of [0, p), src its inverse with t·k (the
// zero row) at the padding rows; a CPU generator seeded by the shape.
GatherInputs GatherInputsFor(int64_t t, int64_t hidden, int64_t k, at::ScalarType type) {
  at::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(hidden * 173 + t * 11 + k));
  const int64_t n = t * k, p = n + 5 + n / 3;
  const auto lopt = at::TensorOptions().dtype(at::kLong);
  GatherInputs in;
  in.k = k;
  in.u = Normal({t, hidden}, gen).to(at::kCUDA, type);
  in.dxp = Normal({p, hidden}, gen).to(at::kCUDA, type);
  const at::Tensor dest = at::randperm(p, gen, lopt).narrow(0, 0, n);
  in.src = at::full({p}, n, lopt).scatter_(0, dest, at::arange(n, lopt)).to(at::kCUDA);
  in.dest = dest.to(at::kCUDA);
  return in;
}

struct GatherResult {
  at::Tensor xp, du;
};

// xp = MoeGatherSlots(u, src, dest, k) (src, dest in the given index types) and du by autograd under dxp.
GatherResult GatherOnDevice(const GatherInputs& in, at::ScalarType index_type) {
  const at::Tensor u = in.u.detach().requires_grad_();
  const at::Tensor xp = MoeGatherSlots(u, in.src.to(index_type), in.dest.to(index_type), in.k);
  return {xp.detach(), torch::autograd::grad({xp}, {u}, {in.dxp})[0]};
}

// The tensor ops MoeExpertsGrouped ran before MoeGatherSlots, differentiated by autograd on the device.
GatherResult GatherTensorOps(const GatherInputs& in) {
  const int64_t t = in.u.size(0), hidden = in.u.size(1), n = t * in.k;
  const at::Tensor u = in.u.detach().requires_grad_();
  const at::Tensor slots = u.unsqueeze(1).expand({t, in.k, hidden}).reshape({n, hidden});
  const at::Tensor xp = at::cat({slots, at::zeros({1, hidden}, u.options())}).index_select(0, in.src);
  return {xp.detach(), torch::autograd::grad({xp}, {u}, {in.dxp})[0]};
}

// Bit-equal (forward and backward) to the expand / cat / index_select composite for k in {1, 2}, bf16 and
// fp32, t in {1, 37, 513}, H in {96, 1024, 4100} (packs of 8; 4100: packs of 4), int64 and int32 indices,
// with padding rows; the forward without grad equals the one with.
TEST(CudaOpsTest, MoeGatherSlotsForwardBackwardMatchTensorOps) {
  SKIP_WITHOUT_DEVICE();
  for (const at::ScalarType type : {at::kBFloat16, at::kFloat}) {
    for (const int64_t t : {1, 37, 513}) {
      for (const int64_t hidden : {96, 1024, 4100}) {
        for (const int64_t k : {1, 2}) {
          const at::ScalarType index_type = t == 37 ? at::kInt : at::kLong;
          const std::string name = "gather t " + std::to_string(t) + " H " + std::to_string(hidden) + " k " +
                                   std::to_string(k) + " " + c10::toString(type) + " index " +
                                   c10::toString(index_type);
          SCOPED_TRACE(name);
          const GatherInputs in = GatherInputsFor(t, hidden, k, type);
          const GatherResult got = GatherOnDevice(in, index_type);
          const GatherResult ops = GatherTensorOps(in);
          EXPECT_EQ(got.xp.scalar_type(), type) << name;
          EXPECT_EQ(got.du.scalar_type(), type) << name;
          EXPECT_TRUE(at::equal(got.xp, ops.xp)) << name << " xp";
          EXPECT_TRUE(at::equal(got.du, ops.du)) << name << " du";
          at::NoGradGuard no_grad;
          EXPECT_TRUE(at::equal(MoeGatherSlots(in.u, in.src, in.dest, k), got.xp)) << name;
        }
      }
    }
  }
}

// Two runs give bit-identical xp and du (no atomics) on 2053 tokens of H = 1024, k = 2 (the trainer's H and
// k), bf16.
TEST(CudaOpsTest, MoeGatherSlotsBackwardIsDeterministic) {
  SKIP_WITHOUT_DEVICE();
  const GatherInputs in = GatherInputsFor(2053, 1024, 2, at::kBFloat16);
  const GatherResult a = GatherOnDevice(in, at::kLong), b = GatherOnDevice(in, at::kLong);
  EXPECT_TRUE(at::equal(a.xp, b.xp));
  EXPECT_TRUE(at::equal(a.du, b.du));
}

// ops::WidenToFloat on the device is bit-equal to LibTorch's own x.to(at::kFloat) there: every bf16 bit
// pattern (signed zeros, subnormals, infinities, NaN payloads), 2^20 + 3 random patterns (packs and a tail),
// the same starting one element (2 bytes) past alignment (the scalar path), an empty and a 3-d tensor;
// strided views (a transpose, every other element) take .to itself. The contiguous ones also through the
// kernel binding directly (cuda_ops::WidenBf16ToFloat).
TEST(CudaOpsTest, WidenToFloatIsBitEqualToToOnDevice) {
  SKIP_WITHOUT_DEVICE();
  const auto cuda_int = at::TensorOptions().dtype(at::kInt).device(at::kCUDA);
  // s in the int16 range, reinterpreted as bf16 bit patterns.
  auto as_bf16 = [](const at::Tensor& s) { return s.to(at::kShort).view(at::kBFloat16); };
  const at::Tensor all = as_bf16(at::arange(-(1 << 15), 1 << 15, cuda_int));
  at::Generator gen = at::detail::createCPUGenerator(17);
  const at::Tensor big =
      as_bf16(at::randint(-(1 << 15), 1 << 15, {(1 << 20) + 3}, gen, at::TensorOptions().dtype(at::kInt)))
          .to(at::kCUDA);
  const at::Tensor misaligned = big.narrow(0, 1, big.size(0) - 1);
  const at::Tensor empty = at::empty({0, 5}, all.options());
  const at::Tensor cube = big.narrow(0, 0, 3 * 7 * 11).view({3, 7, 11});
  const at::Tensor transposed = all.view({256, 256}).t(), every_other = big.slice(0, 0, big.size(0), 2);
  ASSERT_TRUE(misaligned.is_contiguous());
  ASSERT_NE(reinterpret_cast<uintptr_t>(misaligned.data_ptr()) % 16, 0u);
  ASSERT_FALSE(transposed.is_contiguous() || every_other.is_contiguous());
  auto bit_equal_to_to = [](const at::Tensor& y, const at::Tensor& x) {
    return y.scalar_type() == at::kFloat && y.device() == x.device() && y.sizes() == x.sizes() &&
           at::equal(y.view(at::kInt), x.to(at::kFloat).view(at::kInt));
  };
  const std::vector<std::pair<const char*, at::Tensor>> contiguous = {
      {"all patterns", all}, {"random", big}, {"misaligned", misaligned}, {"empty", empty}, {"3-d", cube}};
  for (const auto& [name, x] : contiguous) {
    EXPECT_TRUE(bit_equal_to_to(ops::WidenToFloat(x), x)) << name;
    EXPECT_TRUE(bit_equal_to_to(WidenBf16ToFloat(x), x)) << name << " (binding)";
  }
  EXPECT_TRUE(bit_equal_to_to(ops::WidenToFloat(transposed), transposed)) << "transposed";
  EXPECT_TRUE(bit_equal_to_to(ops::WidenToFloat(every_other), every_other)) << "every other";
}

// A bf16 CUDA x requiring grad takes .to (differentiable): d/dx Σ r·float(x) = r rounded to bf16. fp32 comes
// back as x itself.
TEST(CudaOpsTest, WidenToFloatKeepsAutogradAndFp32Identity) {
  SKIP_WITHOUT_DEVICE();
  const auto dev = at::TensorOptions().device(at::kCUDA);
  const at::Tensor x = at::randn({4099}, dev).to(at::kBFloat16).requires_grad_();
  const at::Tensor r = at::randn({4099}, dev);
  const at::Tensor y = ops::WidenToFloat(x);
  ASSERT_TRUE(y.requires_grad());
  const at::Tensor dx = torch::autograd::grad({(y * r).sum()}, {x})[0];
  EXPECT_TRUE(at::equal(dx, r.to(at::kBFloat16)));
  const at::Tensor f = at::randn({3, 5}, dev);
  EXPECT_TRUE(ops::WidenToFloat(f).is_same(f));
}

}  // namespace
}  // namespace m1rl::cuda_ops
