#include "reward/math/exact.h"

#include "gtest/gtest.h"
#include "reward/math/parser.h"

namespace m1rl::reward::math {
namespace {

RationalValue R(const char* s) {
  auto t = ParseAnswer(s);
  EXPECT_TRUE(t.ok()) << s;
  return EvalRational(**t);
}

TEST(ExactTest, NoRoundingOrChopping) {
  // Math-Verify #14: 1/2004! and 1/2006! differ by a factor 2005*2006.
  RationalValue a = R("\\frac{1}{2004!}");
  RationalValue b = R("\\frac{1}{2006!}");
  ASSERT_EQ(a.status, EvalStatus::kOk);
  ASSERT_EQ(b.status, EvalStatus::kOk);
  EXPECT_NE(a.value, b.value);
  EXPECT_EQ(a.value, b.value * 2005 * 2006);
}

TEST(ExactTest, DecimalsAreExact) {
  EXPECT_EQ(R("0.1").value, cln::cl_RA(1) / 10);
  EXPECT_EQ(R("0.1+0.2").value, cln::cl_RA(3) / 10);
  EXPECT_EQ(R("\\sqrt{\\frac{9}{4}}").value, cln::cl_RA(3) / 2);
  EXPECT_EQ(R("2^{-3}").value, cln::cl_RA(1) / 8);
  EXPECT_EQ(R("\\binom{10}{3}").value, 120);
  EXPECT_EQ(R("50\\%").value, cln::cl_RA(1) / 2);
}

TEST(ExactTest, StatusKinds) {
  EXPECT_EQ(R("\\sqrt{2}").status, EvalStatus::kNotRational);
  EXPECT_EQ(R("x+1").status, EvalStatus::kNotRational);
  EXPECT_EQ(R("\\frac{1}{0}").status, EvalStatus::kUndefined);
  EXPECT_EQ(R("2^{2^{20}}").status, EvalStatus::kTooComplex);  // 315,653 digits
  EXPECT_EQ(R("30000!").status, EvalStatus::kTooComplex);
  EXPECT_EQ(R("2^{300000}").status, EvalStatus::kOk);  // 90,309 digits: under 1e5
  // Each 25000! is ~99,094 digits (under the limit) but five of them exceed the work budget of four
  // full-size values, which bounds the time a span can spend in the request thread.
  EXPECT_EQ(R("25000! - 25000! + 25000! - 25000!").status, EvalStatus::kOk);
  EXPECT_EQ(R("25000! - 25000! + 25000! - 25000! + 25000!").status, EvalStatus::kTooComplex);
}

TEST(ExactTest, Tolerance) {
  // |1 - 1.0000009| = 9e-7 <= 1e-6 * 1.0000009.
  EXPECT_TRUE(WithinRelative(cln::cl_RA(1), cln::cl_RA(10000009) / 10000000, 1e-6));
  EXPECT_FALSE(WithinRelative(cln::cl_RA(1), cln::cl_RA(10000011) / 10000000, 1e-6));
  auto s2 = ParseAnswer("\\sqrt{2}");
  ASSERT_TRUE(s2.ok());
  auto v = EvalApprox(**s2);
  ASSERT_TRUE(v.has_value());
  // 1.414 vs sqrt(2): relative gap 1.5e-4 > 1e-6.
  EXPECT_FALSE(WithinRelative(*v, 1.414L, 1e-6));
  EXPECT_TRUE(WithinRelative(*v, 1.41421356L, 1e-6));
}

}  // namespace
}  // namespace m1rl::reward::math
