#include "reward/logic/rational.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::logic {
namespace {

Rational R(int64_t n, int64_t d) { return *Rational::Make(n, d); }

TEST(RationalTest, MakeNormalisesSignAndLowestTerms) {
  EXPECT_EQ(R(6, -4).ToString(), "-3/2");
  EXPECT_EQ(R(-6, -4).ToString(), "3/2");
  EXPECT_EQ(R(10, 5).ToString(), "2");
  EXPECT_EQ(R(0, -7).ToString(), "0");
  EXPECT_FALSE(Rational::Make(1, 0).has_value());
}

TEST(RationalTest, ArithmeticIsExact) {
  // 1/3 + 1/6 = 1/2; 1/3 - 1/2 = -1/6; (2/3)*(9/4) = 3/2; (3/4)/(3/8) = 2.
  EXPECT_EQ(*Add(R(1, 3), R(1, 6)), R(1, 2));
  EXPECT_EQ(*Sub(R(1, 3), R(1, 2)), R(-1, 6));
  EXPECT_EQ(*Mul(R(2, 3), R(9, 4)), R(3, 2));
  EXPECT_EQ(*Div(R(3, 4), R(3, 8)), Rational(2));
  EXPECT_FALSE(Div(R(1, 2), Rational(0)).has_value());
  // 8 / (3 - 8/3) = 8 / (1/3) = 24: the classic fractional 24-game solution.
  EXPECT_EQ(*Div(Rational(8), *Sub(Rational(3), R(8, 3))), Rational(24));
}

TEST(RationalTest, OverflowIsReportedNotWrapped) {
  // 10^18 squared = 10^36 < 2^127 ~ 1.7e38 fits; cubed = 10^54 does not.
  const Rational big(1000000000000000000LL);
  auto sq = Mul(big, big);
  ASSERT_TRUE(sq.has_value());
  EXPECT_EQ(sq->ToString(), "1" + std::string(36, '0'));
  EXPECT_FALSE(Mul(*sq, big).has_value());
  EXPECT_FALSE(Add(*Mul(*sq, Rational(100)), *Mul(*sq, Rational(100))).has_value());
}

TEST(RationalTest, ParseLiteralForms) {
  EXPECT_EQ(*ParseRationalLiteral("12"), Rational(12));
  EXPECT_EQ(*ParseRationalLiteral(" -7/2 "), R(-7, 2));
  EXPECT_EQ(*ParseRationalLiteral("7/-2"), R(-7, 2));
  EXPECT_EQ(*ParseRationalLiteral("3.50"), R(7, 2));
  EXPECT_EQ(*ParseRationalLiteral("+0.125"), R(1, 8));
  EXPECT_EQ(*ParseRationalLiteral("-.5"), R(-1, 2));
  EXPECT_EQ(*ParseRationalLiteral("014"), Rational(14));
  for (const char* bad : {"", " ", "1/0", "3.", "1.2.3", "1e5", "--1", "+-1", "1/2/3", "x", "12a", "1 2",
                          "1234567890123456789012345678901"}) {
    EXPECT_FALSE(ParseRationalLiteral(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace m1rl::reward::logic
