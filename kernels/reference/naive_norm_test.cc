// The naive RMSNorm references against hand-computed values and, for the training backward, against central
// differences of the training forward (label cpu): they are the yardsticks of the CUDA kernels' tests
// (kernels/cuda/cuda_kernels_test.cc, kernels/cuda_ops_test.cc), so they are checked on their own here.
#include "kernels/reference/naive_norm.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "gtest/gtest.h"

namespace m1rl::reference::naive {
namespace {

TEST(NaiveNormTest, RoundToBf16IsNearestWithTiesToEven) {
  EXPECT_EQ(RoundToBf16(1.0f), 1.0f);
  EXPECT_EQ(RoundToBf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);  // halfway, 1.0's last bit is even
  EXPECT_EQ(RoundToBf16(1.0f + 3 * std::ldexp(1.0f, -8)),
            1.0f + std::ldexp(1.0f, -6));  // halfway, up to even
  EXPECT_EQ(RoundToBf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -12)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_EQ(RoundToBf16(-2.5f), -2.5f);
  EXPECT_TRUE(std::isnan(RoundToBf16(NAN)));
}

// One row [3, 4]: mean square 12.5, so y = [3, 4] / sqrt(12.5) times w = [1, 2].
TEST(NaiveNormTest, NormOfOneRowByHand) {
  std::vector<float> out;
  ResidualRmsNorm({3.f, 4.f}, {}, 1.f, 1.f, {1.f, 2.f}, {}, 1, 2, 0.0, false, &out);
  const double s = std::sqrt(12.5);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NEAR(out[0], 3.0 / s, 1e-6);
  EXPECT_NEAR(out[1], 8.0 / s, 1e-6);
}

// Residual a * 0.5 + b * 2 = [1 + 2, 2 + 2] = [3, 4]; gate logits 0 halve the output (sigmoid(0) = 1/2).
TEST(NaiveNormTest, ResidualAndGateByHand) {
  std::vector<float> out;
  ResidualRmsNorm({2.f, 4.f}, {1.f, 1.f}, 0.5f, 2.f, {1.f, 1.f}, {0.f, 0.f}, 1, 2, 0.0, false, &out);
  const double s = std::sqrt(12.5);
  EXPECT_NEAR(out[0], 0.5 * 3.0 / s, 1e-6);
  EXPECT_NEAR(out[1], 0.5 * 4.0 / s, 1e-6);
}

// bf16: 3/sqrt(12.5) = 0.848528... rounds to 0.84765625 (nearest multiple of 2^-8 in [0.5, 1)).
TEST(NaiveNormTest, Bf16RoundsTheOutput) {
  std::vector<float> out;
  ResidualRmsNorm({3.f, 4.f}, {}, 1.f, 1.f, {1.f, 1.f}, {}, 1, 2, 0.0, true, &out);
  EXPECT_EQ(out[0], 0.84765625f);
}

// Training forward, one row: x · 0.5 + b · 2 = [3, 4] (h), mean square 12.5 (rstd = 1/sqrt(12.5)), w = [1,
// 2]; gate logits [0, 0] halve the output.
TEST(NaiveNormTest, TrainingForwardByHand) {
  RmsNormForwardInputs in;
  in.rows = 1;
  in.cols = 2;
  in.x = {2.f, 4.f};
  in.b = {1.f, 1.f};
  in.alpha = 0.5f;
  in.beta = 2.f;
  in.w = {1.f, 2.f};
  in.gate = {0.f, 0.f};
  in.eps = 0.0;
  const RmsNormForwardOutputs o = RmsNormForward(in);
  const double s = std::sqrt(12.5);
  EXPECT_EQ(o.h, (std::vector<float>{3.f, 4.f}));
  ASSERT_EQ(o.rstd.size(), 1u);
  EXPECT_NEAR(o.rstd[0], 1.0 / s, 1e-7);
  ASSERT_EQ(o.out.size(), 2u);
  EXPECT_NEAR(o.out[0], 0.5 * 3.0 / s, 1e-6);
  EXPECT_NEAR(o.out[1], 0.5 * 8.0 / s, 1e-6);
}

// bf16 out_type: 3/sqrt(12.5) = 0.848528... rounds to 0.84765625; rstd stays fp32.
TEST(NaiveNormTest, TrainingForwardRoundsOnlyTheOutputDtype) {
  RmsNormForwardInputs in;
  in.rows = 1;
  in.cols = 2;
  in.x = {3.f, 4.f};
  in.w = {1.f, 1.f};
  in.eps = 0.0;
  in.bf16.out = true;
  const RmsNormForwardOutputs o = RmsNormForward(in);
  EXPECT_EQ(o.out[0], 0.84765625f);
  EXPECT_EQ(o.rstd[0], static_cast<float>(1.0 / std::sqrt(12.5)));
}

// Small deterministic inputs in (-1.5, 1.5): a fixed irrational-step sequence (no RNG dependence).
std::vector<float> Wave(size_t n, double phase) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(1.5 * std::sin(phase + 2.39996 * static_cast<double>(i)));
  return v;
}

// ∂L/∂v[i] by central differences of L(v) = loss() (double), perturbing v in place.
std::vector<double> CentralDiff(std::vector<float>* v, const std::function<double()>& loss) {
  constexpr float kStep = 1e-2f;
  std::vector<double> g(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const float v0 = (*v)[i];
    (*v)[i] = v0 + kStep;
    const double up = loss();
    (*v)[i] = v0 - kStep;
    const double down = loss();
    (*v)[i] = v0;
    g[i] = (up - down) / (2.0 * static_cast<double>(kStep));
  }
  return g;
}

// The float forward evaluated at a 1e-2 step: rounding noise ~ 1e-7 / 1e-2 and truncation O(step²) on O(1)
// gradients, so 2e-3 · (1 + |g|) separates a correct gradient from any wrong term (O(0.1) or more here).
void ExpectGradNear(const std::vector<float>& got, const std::vector<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 2e-3 * (1.0 + std::abs(want[i]))) << what << " at " << i;
  }
}

// The backward against central differences of the forward in fp32: L = Σ dy · out + Σ dh · h, so dL/du =
// the norm's input gradient t (including dh), dx = alpha · t, db = beta · t (dx_scale = alpha, db_scale =
// beta), and dgate, dw; with and without a gate.
TEST(NaiveNormTest, TrainingBackwardMatchesCentralDifferences) {
  for (const bool gated : {false, true}) {
    SCOPED_TRACE(gated ? "gated" : "ungated");
    const int64_t rows = 2, cols = 5, n = rows * cols;
    RmsNormForwardInputs in;
    in.rows = rows;
    in.cols = cols;
    in.x = Wave(n, 0.1);
    in.b = Wave(n, 0.7);
    in.alpha = 0.75f;
    in.beta = 1.25f;
    in.w = Wave(cols, 1.3);
    if (gated) in.gate = Wave(n, 2.1);
    in.eps = 1e-3;
    const std::vector<float> dy = Wave(n, 3.3), dh = Wave(n, 4.4);
    auto loss = [&] {
      const RmsNormForwardOutputs o = RmsNormForward(in);
      double l = 0.0;
      for (int64_t i = 0; i < n; ++i)
        l += static_cast<double>(dy[i]) * o.out[i] + static_cast<double>(dh[i]) * o.h[i];
      return l;
    };
    const RmsNormForwardOutputs fwd = RmsNormForward(in);
    RmsNormBackwardInputs bw;
    bw.rows = rows;
    bw.cols = cols;
    bw.dy = dy;
    bw.x = fwd.h;
    bw.w = in.w;
    bw.rstd = fwd.rstd;
    bw.gate = in.gate;
    bw.dh = dh;
    bw.dx_scale = in.alpha;
    bw.db_scale = in.beta;
    const RmsNormBackwardOutputs g = RmsNormBackward(bw);
    ExpectGradNear(g.dx, CentralDiff(&in.x, loss), "dx");
    ExpectGradNear(g.db, CentralDiff(&in.b, loss), "db");
    ExpectGradNear(g.dw, CentralDiff(&in.w, loss), "dw");
    if (gated) {
      ExpectGradNear(g.dgate, CentralDiff(&in.gate, loss), "dgate");
    } else {
      EXPECT_TRUE(g.dgate.empty());
    }
  }
}

// With every dtype bf16, each output is a bf16 value within one bf16 rounding chain of the fp32 results
// (2^-7 of the row's scale per rounding on the path, at most 3 here, so 0.03 of the largest |value|),
// and rstd stays fp32 (not bf16-representable in general).
TEST(NaiveNormTest, TrainingBf16RoundsEveryResult) {
  const int64_t rows = 3, cols = 7, n = rows * cols;
  auto bf16 = [](std::vector<float> v) {
    for (auto& x : v) x = RoundToBf16(x);
    return v;
  };
  RmsNormForwardInputs in;
  in.rows = rows;
  in.cols = cols;
  in.x = bf16(Wave(n, 0.2));
  in.b = bf16(Wave(n, 0.9));
  in.w = bf16(Wave(cols, 1.7));
  in.gate = bf16(Wave(n, 2.5));
  RmsNormForwardInputs in16 = in;
  in16.bf16 = {true, true, true};
  const RmsNormForwardOutputs f32 = RmsNormForward(in), f16 = RmsNormForward(in16);
  RmsNormBackwardInputs bw;
  bw.rows = rows;
  bw.cols = cols;
  bw.dy = bf16(Wave(n, 3.1));
  bw.x = f16.h;
  bw.w = in.w;
  bw.rstd = f16.rstd;
  bw.gate = in.gate;
  bw.dh = bf16(Wave(n, 4.2));
  RmsNormBackwardInputs bw16 = bw;
  bw16.bf16 = {true, true, true};
  const RmsNormBackwardOutputs b32 = RmsNormBackward(bw), b16 = RmsNormBackward(bw16);
  auto expect_rounded = [](const std::vector<float>& got, const std::vector<float>& fp32, const char* what) {
    ASSERT_EQ(got.size(), fp32.size()) << what;
    double scale = 0.0;
    for (float v : fp32) scale = std::max(scale, static_cast<double>(std::abs(v)));
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], RoundToBf16(got[i])) << what << " at " << i << " is not a bf16 value";
      EXPECT_NEAR(got[i], fp32[i], 0.03 * scale) << what << " at " << i;
    }
  };
  expect_rounded(f16.h, f32.h, "h");
  expect_rounded(f16.out, f32.out, "out");
  expect_rounded(b16.dx, b32.dx, "dx");
  expect_rounded(b16.db, b32.db, "db");
  expect_rounded(b16.dgate, b32.dgate, "dgate");
  expect_rounded(b16.dw, b32.dw, "dw");
  EXPECT_TRUE(std::any_of(f16.rstd.begin(), f16.rstd.end(), [](float r) { return r != RoundToBf16(r); }));
}

}  // namespace
}  // namespace m1rl::reference::naive
