#include "reward/math/parser.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/math/normalize.h"

namespace m1rl::reward::math {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

std::string P(const std::string& s, bool thousands = false) {
  ParseOptions o;
  o.allow_thousands = thousands;
  auto t = ParseAnswer(NormalizeLatex(s), o);
  if (!t.ok()) return "ERR:" + std::string(t.status().message());
  return Print(**t);
}

TEST(ParserTest, CanonicalForms) {
  EXPECT_EQ(P("\\frac12"), "\\frac{1}{2}");
  EXPECT_EQ(P("\\dfrac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(P("2x+1"), "2 \\cdot x + 1");
  EXPECT_EQ(P("016"), "16");
  EXPECT_EQ(P("x^2-3x"), "x^{2} - 3 \\cdot x");
  EXPECT_EQ(P("\\sqrt{2}/2"), "\\frac{\\sqrt{2}}{2}");
  EXPECT_EQ(P("3\\frac{1}{2}"), "3 + \\frac{1}{2}");  // mixed number
  EXPECT_EQ(P("\\left( 1, 2 \\right)"), "(1, 2)");
  EXPECT_EQ(P("[1, 2)"), "[1, 2)");
  EXPECT_EQ(P("\\{1,2\\}"), "\\{1, 2\\}");
  EXPECT_EQ(P("12:00"), "(12, 0)");
  EXPECT_EQ(P("\\pm 3"), "\\pm 3");
  EXPECT_EQ(P("1 \\pm \\sqrt{2}"), "1 \\pm \\sqrt{2}");
  EXPECT_EQ(P("x \\geq 3"), "x \\ge 3");
  EXPECT_EQ(P("50\\%"), "50\\%");
  EXPECT_EQ(P("50%"), "50\\%");
  EXPECT_EQ(P("\\text{13}"), "13");
  EXPECT_EQ(P("**73**"), "73");
  EXPECT_EQ(P("`13`"), "13");
  EXPECT_EQ(P("30^\\circ"), "30");
  EXPECT_EQ(P("\\sin^2 x"), "\\sin(x)^{2}");
  EXPECT_EQ(P("\\log_2 8"), "\\log_{2}(8)");
  EXPECT_EQ(P("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}"),
            "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}");
  EXPECT_EQ(P("(-\\infty, 3]"), "(-\\infty, 3]");
  EXPECT_EQ(P("x_1 + x_{12}"), "x_{1} + x_{12}");
  EXPECT_EQ(P("1, 2, and 3"), "1, 2, 3");
}

// Regression (MathFuzzTest on the GPU host): an environment token inside a subscript printed as
// "\end:pmatrix", which does not re-parse. The canonical form must parse back to itself.
TEST(ParserTest, SubscriptWithEnvironmentTokenRoundTrips) {
  absl::StatusOr<NodeP> t = ParseAnswer("x_{n5\\end{pmatrix}0+1} \\le \\alpha_1");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string printed = Print(**t);
  EXPECT_EQ(printed.find("end:"), std::string::npos) << printed;
  absl::StatusOr<NodeP> again = ParseAnswer(printed);
  ASSERT_TRUE(again.ok()) << printed << ": " << again.status();
  EXPECT_EQ(Print(**again), printed);
}

TEST(ParserTest, ThousandsOnlyWhenAllowed) {
  EXPECT_EQ(P("1,000", /*thousands=*/true), "1000");
  EXPECT_EQ(P("1,000", /*thousands=*/false), "1, 0");
  EXPECT_EQ(P("1,00", /*thousands=*/true), "1, 0");  // not a 3-digit group
  EXPECT_EQ(P("12,3456", /*thousands=*/true), "12, 3456");
}

TEST(ParserTest, MustConsumeWholeSpan) {
  // Math-Verify #41: 4\sqrt(2) must not become 4.
  EXPECT_THAT(ParseAnswer("4\\sqrt(2)"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parse error")));
  EXPECT_THAT(ParseAnswer("\\forall x>0, f(x)=0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported command \\forall")));
  EXPECT_THAT(ParseAnswer("2 3"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parse error")));
  EXPECT_THAT(ParseAnswer("(1, 2"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected")));
  EXPECT_THAT(ParseAnswer(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

TEST(ParserTest, Limits) {
  std::string big(2049, '1');
  EXPECT_THAT(ParseAnswer(big), StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("2048")));
  std::string many;
  for (int i = 0; i < 700; ++i) many += "x+";
  many += "1";  // 1401 bytes but > 2000 nodes once Neg/Add/Symbol are counted
  std::string nodes;
  for (int i = 0; i < 1000; ++i) nodes += "-x";
  EXPECT_THAT(ParseAnswer(nodes), StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("too_complex")));
  std::string deep(300, '(');
  deep += "1" + std::string(300, ')');
  EXPECT_THAT(ParseAnswer(deep), StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("nesting")));
}

TEST(NormalizeTest, Units) {
  EXPECT_EQ(SplitUnit("5\\text{ cm}").unit, "centimeter");
  EXPECT_EQ(SplitUnit("5\\text{ cm}").value, "5");
  EXPECT_EQ(SplitUnit("12 meters").unit, "meter");
  EXPECT_EQ(SplitUnit("3 cm^2").unit, "centimeter^2");
  EXPECT_EQ(SplitUnit("2m").unit, "");  // a product, not 2 meters
  EXPECT_EQ(SplitUnit("x+1").unit, "");
  EXPECT_EQ(SplitUnit("10\\text{ dollars}").unit, "dollar");
}

}  // namespace
}  // namespace m1rl::reward::math
