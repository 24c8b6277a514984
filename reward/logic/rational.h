// Exact rational numbers for the logic verifiers (REWARDS.md L2: our own exact-rational evaluator,
// never eval()). Numerator and denominator are 128-bit integers kept in lowest terms with a positive
// denominator; every operation checks for overflow and reports it instead of wrapping, so a value
// is either exact or absent. The task families bound their literals (at most 8 numbers of at most
// 4 digits), which keeps every legitimate intermediate far below 2^127.
#ifndef M1RL_REWARD_LOGIC_RATIONAL_H_
#define M1RL_REWARD_LOGIC_RATIONAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace m1rl::reward::logic {

class Rational {
 public:
  using Int = __int128;

  Rational() = default;
  explicit Rational(int64_t v) : num_(v), den_(1) {}

  // num/den in lowest terms; nullopt if den == 0 or normalising overflows.
  static std::optional<Rational> Make(Int num, Int den);

  Int num() const { return num_; }
  Int den() const { return den_; }
  bool IsInteger() const { return den_ == 1; }
  bool IsZero() const { return num_ == 0; }

  // "7", "-3/4". Exact.
  std::string ToString() const;

  friend bool operator==(const Rational& a, const Rational& b) {
    return a.num_ == b.num_ && a.den_ == b.den_;
  }

 private:
  Int num_ = 0;
  Int den_ = 1;
};

// Arithmetic: nullopt on overflow (and, for Div, on division by zero).
std::optional<Rational> Add(const Rational& a, const Rational& b);
std::optional<Rational> Sub(const Rational& a, const Rational& b);
std::optional<Rational> Mul(const Rational& a, const Rational& b);
std::optional<Rational> Div(const Rational& a, const Rational& b);
std::optional<Rational> Neg(const Rational& a);

// Parses a rational literal, the whole string after trimming ASCII whitespace:
//   [+-]? digits | [+-]? digits '/' [+-]? digits | [+-]? digits? '.' digits
// At most 30 digits per part. nullopt if the text is not such a literal or the denominator is 0.
std::optional<Rational> ParseRationalLiteral(std::string_view text);

// Decimal representation of a 128-bit integer.
std::string Int128ToString(Rational::Int v);

}  // namespace m1rl::reward::logic

#endif  // M1RL_REWARD_LOGIC_RATIONAL_H_
