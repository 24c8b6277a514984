#include "reward/logic/rational.h"

#include <algorithm>

namespace m1rl::reward::logic {
namespace {

using Int = Rational::Int;

Int Abs(Int v) { return v < 0 ? -v : v; }

Int Gcd(Int a, Int b) {
  a = Abs(a);
  b = Abs(b);
  while (b != 0) {
    Int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// The smallest representable value is excluded everywhere so that negation never overflows.
constexpr Int kMax = static_cast<Int>((~static_cast<unsigned __int128>(0)) >> 1);
constexpr Int kMin = -kMax;

bool InRange(Int v) { return v >= kMin && v <= kMax; }

bool MulOk(Int a, Int b, Int* out) { return !__builtin_mul_overflow(a, b, out) && InRange(*out); }
bool AddOk(Int a, Int b, Int* out) { return !__builtin_add_overflow(a, b, out) && InRange(*out); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Parses [+-]?digits (1..30 digits) into *out.
bool ParseSignedDigits(std::string_view s, Int* out) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 30) return false;
  Int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');  // 30 digits < 10^30 < 2^100: no overflow
  }
  *out = negative ? -v : v;
  return true;
}

}  // namespace

std::optional<Rational> Rational::Make(Int num, Int den) {
  if (den == 0 || !InRange(num) || !InRange(den)) return std::nullopt;
  const Int g = Gcd(num, den);
  num /= g;
  den /= g;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Rational r;
  r.num_ = num;
  r.den_ = den;
  return r;
}

std::string Int128ToString(Int v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  unsigned __int128 u =
      negative ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  std::string s;
  while (u > 0) {
    s.push_back(static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  if (negative) s.push_back('-');
  std::reverse(s.begin(), s.end());
  return s;
}

std::string Rational::ToString() const {
  if (den_ == 1) return Int128ToString(num_);
  return Int128ToString(num_) + "/" + Int128ToString(den_);
}

std::optional<Rational> Add(const Rational& a, const Rational& b) {
  // a/b + c/d = (a*(L/b) + c*(L/d)) / L with L = lcm(b, d): keeps intermediates small.
  const Int g = Gcd(a.den(), b.den());
  Int lcm, x, y, num;
  if (!MulOk(a.den() / g, b.den(), &lcm)) return std::nullopt;
  if (!MulOk(a.num(), lcm / a.den(), &x) || !MulOk(b.num(), lcm / b.den(), &y)) return std::nullopt;
  if (!AddOk(x, y, &num)) return std::nullopt;
  return Rational::Make(num, lcm);
}

std::optional<Rational> Neg(const Rational& a) { return Rational::Make(-a.num(), a.den()); }

std::optional<Rational> Sub(const Rational& a, const Rational& b) {
  auto nb = Neg(b);
  if (!nb) return std::nullopt;
  return Add(a, *nb);
}

std::optional<Rational> Mul(const Rational& a, const Rational& b) {
  // Cross-cancel first: (a/b)*(c/d) = ((a/g1)*(c/g2)) / ((b/g2)*(d/g1)).
  const Int g1 = a.num() == 0 ? 1 : Gcd(a.num(), b.den());
  const Int g2 = b.num() == 0 ? 1 : Gcd(b.num(), a.den());
  Int num, den;
  if (!MulOk(a.num() / g1, b.num() / g2, &num)) return std::nullopt;
  if (!MulOk(a.den() / g2, b.den() / g1, &den)) return std::nullopt;
  return Rational::Make(num, den);
}

std::optional<Rational> Div(const Rational& a, const Rational& b) {
  if (b.IsZero()) return std::nullopt;
  auto inv = Rational::Make(b.den(), b.num());
  if (!inv) return std::nullopt;
  return Mul(a, *inv);
}

std::optional<Rational> ParseRationalLiteral(std::string_view text) {
  std::string_view s = Trim(text);
  if (s.empty()) return std::nullopt;
  const size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    Int num, den;
    if (!ParseSignedDigits(Trim(s.substr(0, slash)), &num)) return std::nullopt;
    if (!ParseSignedDigits(Trim(s.substr(slash + 1)), &den)) return std::nullopt;
    return Rational::Make(num, den);
  }
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos) {
    Int v;
    if (!ParseSignedDigits(s, &v)) return std::nullopt;
    return Rational::Make(v, 1);
  }
  std::string_view int_part = s.substr(0, dot);
  std::string_view frac_part = s.substr(dot + 1);
  if (frac_part.empty() || frac_part.size() > 30) return std::nullopt;
  bool negative = false;
  if (!int_part.empty() && (int_part[0] == '+' || int_part[0] == '-')) {
    negative = int_part[0] == '-';
    int_part.remove_prefix(1);
  }
  Int ip = 0;
  if (!int_part.empty() && !ParseSignedDigits(int_part, &ip)) return std::nullopt;
  if (!int_part.empty() && (int_part[0] == '+' || int_part[0] == '-')) return std::nullopt;
  Int fp;
  if (frac_part[0] == '+' || frac_part[0] == '-' || !ParseSignedDigits(frac_part, &fp)) return std::nullopt;
  Int scale = 1;
  for (size_t i = 0; i < frac_part.size(); ++i) scale *= 10;  // <= 10^30
  Int num;
  if (!MulOk(ip, scale, &num) || !AddOk(num, fp, &num)) return std::nullopt;
  return Rational::Make(negative ? -num : num, scale);
}

}  // namespace m1rl::reward::logic
