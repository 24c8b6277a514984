#include "reward/code/compare.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::code {
namespace {

CompareOptions Opts(rl::CodePayload::Checker checker, double abs_tol = 1e-6, double rel_tol = 1e-6) {
  CompareOptions o;
  o.checker = checker;
  o.abs_tol = abs_tol;
  o.rel_tol = rel_tol;
  return o;
}

TEST(CompareTest, TokensIgnoreWhitespaceRunsOnly) {
  EXPECT_TRUE(CompareOutput("1 2\n3\n", "1   2 3", Opts(rl::CodePayload::TOKENS)).match);
  EXPECT_TRUE(CompareOutput("a\tb\r\n", "a b", Opts(rl::CodePayload::TOKENS)).match);
  CompareResult r = CompareOutput("1 2 3", "1 2 4", Opts(rl::CodePayload::TOKENS));
  EXPECT_FALSE(r.match);
  EXPECT_EQ(r.reason, "token 3: expected '3', got '4'");
  r = CompareOutput("1 2", "1 2 3", Opts(rl::CodePayload::TOKENS));
  EXPECT_FALSE(r.match);
  EXPECT_EQ(r.reason, "expected 2 tokens, got 3");
  EXPECT_FALSE(CompareOutput("12", "1 2", Opts(rl::CodePayload::TOKENS)).match);
  // TOKENS is not numeric: 1.0 is not 1.
  EXPECT_FALSE(CompareOutput("1", "1.0", Opts(rl::CodePayload::TOKENS)).match);
}

TEST(CompareTest, FloatToleranceAbsoluteOrRelative) {
  // |0.3333333 - 1/3| = 3.3e-8 <= 1e-6.
  EXPECT_TRUE(CompareOutput("0.333333333", "0.3333333", Opts(rl::CodePayload::FLOAT)).match);
  // 1e9 vs 1e9 + 500: abs 500 > 1e-6, rel 500 / 1e9 = 5e-7 <= 1e-6.
  EXPECT_TRUE(CompareOutput("1000000000", "1000000500", Opts(rl::CodePayload::FLOAT)).match);
  // 1e9 vs 1e9 + 1500: rel 1.5e-6 > 1e-6.
  EXPECT_FALSE(CompareOutput("1000000000", "1000001500", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_TRUE(CompareOutput("1.5", "1.6", Opts(rl::CodePayload::FLOAT, 0.1 + 1e-12, 0)).match);
  EXPECT_FALSE(CompareOutput("1.5", "1.7", Opts(rl::CodePayload::FLOAT, 0.1, 0)).match);
  EXPECT_TRUE(CompareOutput("2.5e3", "2500", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_TRUE(CompareOutput("YES 1.0", "YES 1", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_FALSE(CompareOutput("YES 1.0", "NO 1", Opts(rl::CodePayload::FLOAT)).match);
}

TEST(CompareTest, FloatNanInfOnlyWhereExpectedAndStrictDecimals) {
  EXPECT_FALSE(CompareOutput("1.0", "nan", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_FALSE(CompareOutput("1.0", "inf", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_TRUE(CompareOutput("nan", "nan", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_FALSE(CompareOutput("1.0", "0x1p0", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_FALSE(CompareOutput("1.0", "1.", Opts(rl::CodePayload::FLOAT)).match);
  EXPECT_FALSE(CompareOutput("1.0 2.0", "1.0", Opts(rl::CodePayload::FLOAT)).match);
  double v = 0;
  EXPECT_TRUE(ParseDecimal("-12.5e-1", &v));
  EXPECT_EQ(v, -1.25);
  EXPECT_FALSE(ParseDecimal("1e400", &v));  // not finite
  EXPECT_FALSE(ParseDecimal(".5", &v));
}

TEST(CompareTest, ExactComparesBytes) {
  EXPECT_TRUE(CompareOutput("a b\n", "a b\n", Opts(rl::CodePayload::EXACT)).match);
  CompareResult r = CompareOutput("a b\n", "a b", Opts(rl::CodePayload::EXACT));
  EXPECT_FALSE(r.match);
  EXPECT_EQ(r.reason, "bytes differ at offset 3 (expected 4 bytes, got 3)");
}

}  // namespace
}  // namespace m1rl::reward::code
