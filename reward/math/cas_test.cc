#include "reward/math/cas.h"

#include "gtest/gtest.h"

namespace m1rl::reward::math {
namespace {

using Kind = CasResult::Kind;

CasResult Eq(const char* g, const char* p) { return RunCasJob({CasJob::Op::kEqual, 42, g, p}); }

TEST(CasTest, NormalFormLayer) {
  CasResult r = Eq("(x + 1)^{2}", "x^{2} + 2 \\cdot x + 1");
  EXPECT_EQ(r.kind, Kind::kEqual);
  EXPECT_EQ(r.layer, "cas_normal");
  EXPECT_EQ(Eq("\\frac{x^{2} - 1}{x - 1}", "x + 1").kind, Kind::kEqual);
}

TEST(CasTest, IdentityTestLayer) {
  // Math-Verify #64: sqrt(1/n) = 1/sqrt(n) (negative n gives non-real points, skipped).
  CasResult r = Eq("\\sqrt{\\frac{1}{n}}", "\\frac{1}{\\sqrt{n}}");
  EXPECT_EQ(r.kind, Kind::kEqual) << r.layer << " " << r.detail;
  EXPECT_EQ(Eq("\\lvert x\\rvert", "x").kind, Kind::kUnequal);
  EXPECT_EQ(Eq("\\sin(x)^{2} + \\cos(x)^{2}", "1").kind, Kind::kEqual);
}

TEST(CasTest, SymbolFreeFiftyDigits) {
  CasResult r = Eq("\\sqrt{8}", "2 \\cdot \\sqrt{2}");
  EXPECT_EQ(r.kind, Kind::kEqual);
  CasResult u = Eq("1 - \\frac{1}{e}", "1 + \\frac{1}{e}");
  EXPECT_EQ(u.kind, Kind::kUnequal);
  EXPECT_EQ(u.layer, "cas_numeric50");
  // Differ at the 1e-20 level: far below double precision, far above 1e-30.
  EXPECT_EQ(Eq("\\pi", "\\pi + 10^{-20}").kind, Kind::kUnequal);
}

TEST(CasTest, Proportional) {
  EXPECT_EQ(RunCasJob({CasJob::Op::kProportional, 1, "y - (2 \\cdot x + 1)", "2 \\cdot x - y + 1"}).kind,
            Kind::kEqual);
  // Math-Verify #60: 3x - y + 13 = 0 vs 3x + 4y + 14 = 0 must not match.
  EXPECT_EQ(
      RunCasJob({CasJob::Op::kProportional, 1, "3 \\cdot x - y + 13", "3 \\cdot x + 4 \\cdot y + 14"}).kind,
      Kind::kUnequal);
}

TEST(CasTest, WireFormatRoundTrip) {
  CasJob j{CasJob::Op::kProportional, 0x123456789abcdefULL, "x + 1", "\\frac{1}{2}"};
  auto d = DecodeJob(EncodeJob(j));
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->seed, j.seed);
  EXPECT_EQ(d->gold, j.gold);
  EXPECT_EQ(d->pred, j.pred);
  EXPECT_EQ(d->op, j.op);
  EXPECT_FALSE(DecodeJob(EncodeJob(j).substr(3)).has_value());
  CasResult r{Kind::kUndecided, "identity_test", "few points"};
  auto rr = DecodeResult(EncodeResult(r));
  ASSERT_TRUE(rr.has_value());
  EXPECT_EQ(rr->kind, r.kind);
  EXPECT_EQ(rr->detail, r.detail);
}

}  // namespace
}  // namespace m1rl::reward::math
