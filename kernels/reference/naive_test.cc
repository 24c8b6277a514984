// The naive MoE combine and slot-gather references (label cpu): backwards against central differences or the
// adjoint identity of the forward, and hand values; the bf16 -> fp32 widening against hand-decoded bit
// patterns. They are the yardsticks of the CUDA kernels' test (kernels/cuda/cuda_kernels_test.cc).
#include "kernels/reference/naive.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace m1rl::reference::naive {
namespace {

// Two tokens, k = 2, hidden 3, five yp rows of which rows 1 and 3 are padding: out by hand.
TEST(NaiveMoeTest, CombineByHand) {
  const std::vector<int32_t> s2r = {4, 0, 2, 4};
  const std::vector<float> w = {0.5f, 0.25f, 2.f, -1.f};
  std::vector<float> yp(15);                                             // [5, 3]
  for (size_t i = 0; i < yp.size(); ++i) yp[i] = static_cast<float>(i);  // row r = [3r, 3r + 1, 3r + 2]
  std::vector<double> out;
  MoeScatterCombine(yp, s2r, w, 2, 2, 3, &out);
  // Token 0: 0.5 · [12, 13, 14] + 0.25 · [0, 1, 2]; token 1: 2 · [6, 7, 8] − [12, 13, 14].
  EXPECT_EQ(out, (std::vector<double>{6.0, 6.75, 7.5, 0.0, 1.0, 2.0}));
}

// L = Σ dout · out: dyp and dw against central differences of the combine (linear, so the differences are
// exact up to the double rounding of L: 1e-9), padding rows of dyp zero.
TEST(NaiveMoeTest, CombineBackwardMatchesCentralDifferences) {
  const int64_t n_tok = 3, k = 2, n_hid = 4, n_rows = 8;
  const std::vector<int32_t> s2r = {5, 0, 2, 7, 3, 6};  // rows 1 and 4 are padding
  std::vector<float> yp(n_rows * n_hid), w(n_tok * k), dout(n_tok * n_hid);
  for (size_t i = 0; i < yp.size(); ++i) yp[i] = static_cast<float>(std::sin(0.4 + 2.39996 * i));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(std::cos(0.9 + 1.3 * i));
  for (size_t i = 0; i < dout.size(); ++i) dout[i] = static_cast<float>(std::sin(2.2 + 0.7 * i));
  auto loss = [&] {
    std::vector<double> out;
    MoeScatterCombine(yp, s2r, w, n_tok, k, n_hid, &out);
    double l = 0.0;
    for (size_t i = 0; i < out.size(); ++i) l += dout[i] * out[i];
    return l;
  };
  auto central = [&](std::vector<float>* v, size_t i) {
    const float v0 = (*v)[i];
    (*v)[i] = v0 + 0.25f;
    const double up = loss();
    (*v)[i] = v0 - 0.25f;
    const double down = loss();
    (*v)[i] = v0;
    return (up - down) / 0.5;
  };
  std::vector<float> dyp, dw;
  MoeCombineBackward(dout, yp, s2r, w, n_tok, k, n_hid, n_rows, false, &dyp, &dw);
  ASSERT_EQ(dyp.size(), yp.size());
  ASSERT_EQ(dw.size(), w.size());
  for (size_t i = 0; i < yp.size(); ++i) EXPECT_NEAR(dyp[i], central(&yp, i), 1e-6) << "dyp at " << i;
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(dw[i], central(&w, i), 1e-6) << "dw at " << i;
  for (int64_t c = 0; c < n_hid; ++c) {
    EXPECT_EQ(dyp[1 * n_hid + c], 0.f);
    EXPECT_EQ(dyp[4 * n_hid + c], 0.f);
  }
}

// bf16 yp: dyp = R(fp32(w · dout)): 1/3 as a float (0.333333343) rounds (spacing 2^-9 in [0.25, 0.5)) to
// 0.333984375 (171 / 512); dw stays unrounded: 1 · 0.1f + 0 = 0.1f.
TEST(NaiveMoeTest, CombineBackwardRoundsDypToBf16) {
  std::vector<float> dyp, dw;
  MoeCombineBackward({1.f}, {0.1f, 7.f}, {0}, {1.f / 3.f}, 1, 1, 1, 2, true, &dyp, &dw);
  EXPECT_EQ(dyp, (std::vector<float>{0.333984375f, 0.f}));
  EXPECT_EQ(dw, (std::vector<float>{0.1f}));
}

// T = 2, k = 2 (slots 0..3), H = 2, u = [[1, 2], [3, 4]]: src = [3, 4, 0, 2, 1, 9, -1] reads tokens 1, -, 0,
// 1, 0, -, - (4, 9 and -1 are outside [0, 4): zero rows).
TEST(NaiveMoeTest, GatherSlotsByHand) {
  std::vector<float> xp;
  MoeGatherSlots({1.f, 2.f, 3.f, 4.f}, {3, 4, 0, 2, 1, 9, -1}, 2, 2, 2, &xp);
  EXPECT_EQ(xp, (std::vector<float>{3.f, 4.f, 0.f, 0.f, 1.f, 2.f, 3.f, 4.f, 1.f, 2.f, 0.f, 0.f, 0.f, 0.f}));
}

// k = 3, one column, dest = [2, 0, 1]: the fp32 sum in slot order 0 + 1 + 2^-24 + 2^-24 stays 1 (each
// 2^-24 a tie to even below 1's spacing 2^-23); summed last-first or in double it would be 1 + 2^-23. Row 3
// (padding, NaN) is never read.
TEST(NaiveMoeTest, GatherSlotsBackwardSumsInSlotOrderInFp32) {
  const float e = std::ldexp(1.f, -24);
  std::vector<float> du;
  MoeGatherSlotsBackward({e, e, 1.f, std::numeric_limits<float>::quiet_NaN()}, {2, 0, 1}, 1, 3, 1, false,
                         &du);
  EXPECT_EQ(du, (std::vector<float>{1.f}));
}

// bf16, k = 3: 1 + 2^-8 + 2^-8 = 1 + 2^-7 exactly in fp32, a bf16 value (spacing 2^-7 in [1, 2)). Rounding
// the partial sum 1 + 2^-8 (a tie, to even: 1) to bf16 first would give 1.
TEST(NaiveMoeTest, GatherSlotsBackwardRoundsOnceToBf16) {
  const float e = std::ldexp(1.f, -8);
  std::vector<float> du;
  MoeGatherSlotsBackward({1.f, e, e}, {0, 1, 2}, 1, 3, 1, true, &du);
  EXPECT_EQ(du, (std::vector<float>{1.0078125f}));
}

// The backward is the forward's adjoint: <dxp, Gather(u)> = <du, u>. Small integers keep every fp32 sum
// exact, so the identity holds exactly; T = 3, k = 2, H = 2, 8 rows of which 2 padding (src 6), a permuted
// dest with src[dest[s]] = s.
TEST(NaiveMoeTest, GatherSlotsBackwardIsTheAdjoint) {
  const int64_t n_tok = 3, k = 2, n_hid = 2;
  const std::vector<int32_t> dest = {5, 0, 7, 2, 3, 1};
  std::vector<int32_t> src(8, 6);
  for (int32_t s = 0; s < 6; ++s) src[dest[s]] = s;
  std::vector<float> u(n_tok * n_hid), dxp(8 * n_hid);
  for (size_t i = 0; i < u.size(); ++i) u[i] = static_cast<float>((7 * i) % 11) - 5.f;
  for (size_t i = 0; i < dxp.size(); ++i) dxp[i] = static_cast<float>((5 * i) % 13) - 6.f;
  std::vector<float> xp, du;
  MoeGatherSlots(u, src, n_tok, k, n_hid, &xp);
  MoeGatherSlotsBackward(dxp, dest, n_tok, k, n_hid, false, &du);
  double lhs = 0.0, rhs = 0.0;
  for (size_t i = 0; i < xp.size(); ++i) lhs += static_cast<double>(dxp[i]) * xp[i];
  for (size_t i = 0; i < u.size(); ++i) rhs += static_cast<double>(du[i]) * u[i];
  EXPECT_EQ(lhs, rhs);
  // Token 0's slots read rows 5 and 0: du[0, 0] = dxp[5, 0] + dxp[0, 0] = (50 % 13 − 6) + (0 − 6) = 5 − 6.
  EXPECT_EQ(du[0], -1.f);
}

// bf16 bit patterns decoded by hand (sign, 8 exponent bits with bias 127, 7 mantissa bits):
//   0x3f80 = 1; 0xc000 = -2; 0x3eab = (1 + 43/128) · 2^-2 = 171/512;
//   0x7f7f = (2 - 2^-7) · 2^127 = 255 · 2^120 (the largest finite bf16);
//   0x0001 = 2^-126 · 2^-7 = 2^-133 (the smallest subnormal);
//   0x807f = -127 · 2^-133 (the largest-magnitude negative subnormal);
//   0x8000 = -0; 0x7f80 / 0xff80 = +-inf.
TEST(NaiveWidenTest, DecodesHandValues) {
  std::vector<float> out;
  WidenBf16ToF32({0x3f80, 0xc000, 0x3eab, 0x7f7f, 0x0001, 0x807f, 0x8000, 0x7f80, 0xff80}, &out);
  ASSERT_EQ(out.size(), 9u);
  EXPECT_EQ(out[0], 1.f);
  EXPECT_EQ(out[1], -2.f);
  EXPECT_EQ(out[2], 0.333984375f);
  EXPECT_EQ(out[3], std::ldexp(255.f, 120));
  EXPECT_EQ(out[4], std::ldexp(1.f, -133));
  EXPECT_EQ(out[5], -std::ldexp(127.f, -133));
  EXPECT_EQ(out[6], 0.f);
  EXPECT_TRUE(std::signbit(out[6]));
  EXPECT_EQ(out[7], INFINITY);
  EXPECT_EQ(out[8], -INFINITY);
}

// NaNs keep sign and payload, the signalling ones too (not quieted), as LibTorch's CPU .to(at::kFloat) does
// (checked against LibTorch: 0x7fc1 -> 0x7fc10000, 0x7f81 -> 0x7f810000, 0xffc3 -> 0xffc30000, 0xff81 ->
// 0xff810000).
TEST(NaiveWidenTest, KeepsNanPayloads) {
  const std::vector<uint16_t> in = {0x7fc0, 0x7fc1, 0x7f81, 0xffc3, 0xff81, 0x7fff};
  const std::vector<uint32_t> want = {0x7fc00000, 0x7fc10000, 0x7f810000, 0xffc30000, 0xff810000, 0x7fff0000};
  std::vector<float> out;
  WidenBf16ToF32(in, &out);
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_TRUE(std::isnan(out[i])) << i;
    EXPECT_EQ(std::bit_cast<uint32_t>(out[i]), want[i]) << std::hex << in[i];
  }
}

TEST(NaiveWidenTest, EmptyInputGivesEmptyOutput) {
  std::vector<float> out = {1.f};
  WidenBf16ToF32({}, &out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace m1rl::reference::naive
