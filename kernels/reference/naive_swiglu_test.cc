// The naive SwiGLU reference (label cpu) by hand and, for the backward, against central differences of the
// forward: it is the yardstick of the CUDA kernels' test (kernels/cuda/cuda_kernels_test.cc).
#include "kernels/reference/naive_swiglu.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/reference/naive_norm.h"  // RoundToBf16

namespace m1rl::reference::naive {
namespace {

// One row, inter 2: g = [0, 1], u = [5, 3]. silu(0) = 0; silu(1) = 1 / (1 + e^-1) = 0.7310585786...
TEST(NaiveSwiGluTest, ForwardByHand) {
  std::vector<float> act;
  SwiGluForward({0.f, 1.f, 5.f, 3.f}, 1, 2, false, &act);
  ASSERT_EQ(act.size(), 2u);
  EXPECT_EQ(act[0], 0.f);
  EXPECT_NEAR(act[1], 3.0 * 0.7310585786300049, 1e-6);
}

// bf16: R(silu(1)) = 0.73046875 (187 / 256); times u = 2.5: 1.826171875, which rounds (spacing 2^-7 in
// [1, 2)) to 1.828125 (234 / 128). Rounding the fp32 product once would give R(1.8276464) = 1.828125 too, so
// the double rounding is checked on du below.
TEST(NaiveSwiGluTest, Bf16ForwardRoundsSiluThenProduct) {
  std::vector<float> act;
  SwiGluForward({1.f, 2.5f}, 1, 1, true, &act);
  EXPECT_EQ(act[0], 1.828125f);
}

// du = R(dact · R(silu(g))) with dact = 1.125 (a bf16 value), g = 1: R(silu) = 0.73046875, the product
// 0.82177734375 rounds (spacing 2^-8 in [0.5, 1)) to 0.8203125 (210 / 256), where the unrounded silu's
// product 0.82244... would give 0.82421875. u = 1: dsilu = R(1.125 · 1) = 1.125; dg = R(1.125 · s · (1 + (1 −
// s))).
TEST(NaiveSwiGluTest, Bf16BackwardByHand) {
  std::vector<float> dh;
  SwiGluBackward({1.f, 1.f}, {1.125f}, 1, 1, true, &dh);
  ASSERT_EQ(dh.size(), 2u);
  const double s = 1.0 / (1.0 + std::exp(-1.0));
  const double dg = 1.125 * s * (1.0 + (1.0 - s));
  EXPECT_EQ(dh[0], RoundToBf16(static_cast<float>(dg)));
  EXPECT_NEAR(dh[0], dg, dg * std::ldexp(1.0, -8));
  EXPECT_EQ(dh[1], 0.8203125f);
}

// L = Σ dact · act over [2, 2·3]: dh against central differences of the fp32 forward (step 1e-2: float
// rounding noise ~1e-7 / 1e-2, truncation O(step²) on O(1) gradients, so 2e-3 · (1 + |g|)).
TEST(NaiveSwiGluTest, BackwardMatchesCentralDifferences) {
  const int64_t rows = 2, inter = 3;
  std::vector<float> h(rows * 2 * inter), dact(rows * inter);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>(2.0 * std::sin(0.3 + 2.39996 * i));
  for (size_t i = 0; i < dact.size(); ++i) dact[i] = static_cast<float>(std::cos(1.1 + 1.7 * i));
  auto loss = [&] {
    std::vector<float> act;
    SwiGluForward(h, rows, inter, false, &act);
    double l = 0.0;
    for (size_t i = 0; i < act.size(); ++i) l += static_cast<double>(dact[i]) * act[i];
    return l;
  };
  std::vector<float> dh;
  SwiGluBackward(h, dact, rows, inter, false, &dh);
  ASSERT_EQ(dh.size(), h.size());
  constexpr float kStep = 1e-2f;
  for (size_t i = 0; i < h.size(); ++i) {
    const float h0 = h[i];
    h[i] = h0 + kStep;
    const double up = loss();
    h[i] = h0 - kStep;
    const double down = loss();
    h[i] = h0;
    const double want = (up - down) / (2.0 * static_cast<double>(kStep));
    EXPECT_NEAR(dh[i], want, 2e-3 * (1.0 + std::abs(want))) << "dh at " << i;
  }
}

}  // namespace
}  // namespace m1rl::reference::naive
