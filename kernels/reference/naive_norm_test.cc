// The naive residual + RMSNorm reference against hand-computed values (label cpu): it is the yardstick of the
// fused CUDA kernel's test (kernels/cuda_ops_test.cc), so it is checked on its own here.
#include "kernels/reference/naive_norm.h"

#include <cmath>
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

}  // namespace
}  // namespace m1rl::reference::naive
