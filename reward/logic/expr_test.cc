#include "reward/logic/expr.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ExprTest, PrecedenceAndParentheses) {
  // Values by hand: 3*4+2 = 14; 3*(4+2) = 18; 10-4-3 = 3 (left-assoc); 8/4/2 = 1; 2+3*4-6/3 = 12.
  const std::pair<const char*, int64_t> cases[] = {{"3*4+2", 14},
                                                   {"3*(4+2)", 18},
                                                   {"10-4-3", 3},
                                                   {"8/4/2", 1},
                                                   {"2+3*4-6/3", 12},
                                                   {" ( ( 7 ) ) ", 7},
                                                   {"6 x 4", 24},
                                                   {"6\xC3\x97"
                                                    "4",
                                                    24},
                                                   {"48\xC3\xB7"
                                                    "2",
                                                    24},
                                                   {"-3+5", 2},
                                                   {"--3", 3}};
  for (const auto& [text, want] : cases) {
    absl::StatusOr<ParsedExpr> p = ParseExpression(text);
    ASSERT_TRUE(p.ok()) << text << ": " << p.status();
    ASSERT_TRUE(p->value.has_value()) << text;
    EXPECT_EQ(*p->value, Rational(want)) << text;
  }
}

TEST(ExprTest, ExactFractionsAndLiterals) {
  absl::StatusOr<ParsedExpr> p = ParseExpression("8/(3-8/3)");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p->value, Rational(24));
  EXPECT_THAT(p->literals, ElementsAre(8, 3, 8, 3));
  EXPECT_EQ(p->normalized, "8/(3-8/3)");
  absl::StatusOr<ParsedExpr> q = ParseExpression("1/3");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->value->ToString(), "1/3");
}

TEST(ExprTest, DivisionByZeroParsesWithoutValue) {
  absl::StatusOr<ParsedExpr> p = ParseExpression("5/(2-2)+1");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->value.has_value());
}

TEST(ExprTest, RejectsTextOutsideTheGrammar) {
  for (const char* bad : {"", "2+", "(2+3", "2+3)", "2**3", "2^3", "abs(3)", "2 3", "1e3", "3.5*2", "eval(1)",
                          "24 = 24", "__import__('os')"}) {
    EXPECT_THAT(ParseExpression(bad), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_)) << bad;
  }
  ExprOptions no_unary;
  no_unary.allow_unary_minus = false;
  EXPECT_THAT(ParseExpression("-3+27", no_unary),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unary minus")));
}

TEST(ExprTest, LimitsAreEnforced) {
  EXPECT_THAT(ParseExpression(std::string(40, '(') + "1" + std::string(40, ')')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nesting")));
  EXPECT_THAT(ParseExpression(std::string(600, '1')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("longer than")));
  EXPECT_THAT(ParseExpression("1234567890123456789"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("18 digits")));
  std::string many = "1";
  for (int i = 0; i < 70; ++i) many += "+1";
  EXPECT_THAT(ParseExpression(many), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 64")));
}

}  // namespace
}  // namespace m1rl::reward::logic
