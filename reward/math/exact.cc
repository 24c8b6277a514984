#include "reward/math/exact.h"

#include <cln/dfloat.h>
#include <cln/float.h>
#include <cln/integer.h>
#include <cln/integer_io.h>
#include <cln/rational_io.h>
#include <cln/real.h>

#include <cmath>
#include <cstdint>
#include <sstream>

namespace m1rl::reward::math {
namespace {

// 1e5 decimal digits ~ 332,193 bits.
constexpr int64_t kMaxBits = 332193;

bool TooBig(const cln::cl_RA& v) {
  return cln::integer_length(cln::numerator(v)) + cln::integer_length(cln::denominator(v)) > kMaxBits;
}

RationalValue Ok(const cln::cl_RA& v) {
  RationalValue r;
  if (TooBig(v)) {
    r.status = EvalStatus::kTooComplex;
    r.detail = "value over 1e5 digits";
    return r;
  }
  r.status = EvalStatus::kOk;
  r.value = v;
  return r;
}

RationalValue Fail(EvalStatus s, std::string why) {
  RationalValue r;
  r.status = s;
  r.detail = std::move(why);
  return r;
}

cln::cl_RA ParseLiteral(const std::string& digits) {
  size_t dot = digits.find('.');
  if (dot == std::string::npos) return cln::cl_I(digits.c_str());
  std::string all = digits.substr(0, dot) + digits.substr(dot + 1);
  size_t frac = digits.size() - dot - 1;
  return cln::cl_I(all.c_str()) / cln::expt_pos(cln::cl_I(10), static_cast<int64_t>(frac));
}

bool IsInteger(const cln::cl_RA& v) { return cln::denominator(v) == 1; }

}  // namespace

namespace {

// Total bits the expensive operations (powers, factorials, binomials) may produce in one evaluation:
// four full-size values. Bounds the request-thread time of spans like "25000! + 25000! + ...".
constexpr int64_t kWorkBudgetBits = 4 * kMaxBits;

RationalValue EvalCharged(const Node& n, int64_t* work_bits);

RationalValue Charge(RationalValue v, int64_t* work_bits) {
  if (v.status != EvalStatus::kOk) return v;
  *work_bits +=
      cln::integer_length(cln::abs(cln::numerator(v.value))) + cln::integer_length(cln::denominator(v.value));
  if (*work_bits > kWorkBudgetBits) return Fail(EvalStatus::kTooComplex, "too much big-number work");
  return v;
}

RationalValue Eval(const Node& n, int64_t* work_bits) {
  std::vector<RationalValue> k;
  if (n.kind != NodeKind::kNumber) {
    for (const auto& kid : n.kids) {
      k.push_back(EvalCharged(*kid, work_bits));
      if (k.back().status != EvalStatus::kOk) return k.back();
    }
  }
  if (n.kind == NodeKind::kPow || n.kind == NodeKind::kFactorial ||
      (n.kind == NodeKind::kFunc && n.text == "binom")) {
    if (*work_bits > kWorkBudgetBits) return Fail(EvalStatus::kTooComplex, "too much big-number work");
  }
  switch (n.kind) {
    case NodeKind::kNumber:
      if (n.text.size() > static_cast<size_t>(kMaxDigits))
        return Fail(EvalStatus::kTooComplex, "literal too long");
      return Ok(ParseLiteral(n.text));
    case NodeKind::kAdd: {
      cln::cl_RA s = 0;
      for (auto& v : k) s = s + v.value;
      return Ok(s);
    }
    case NodeKind::kNeg:
      return Ok(-k[0].value);
    case NodeKind::kMul: {
      cln::cl_RA s = 1;
      for (auto& v : k) {
        s = s * v.value;
        if (TooBig(s)) return Fail(EvalStatus::kTooComplex, "product over 1e5 digits");
      }
      return Ok(s);
    }
    case NodeKind::kDiv:
      if (cln::zerop(k[1].value)) return Fail(EvalStatus::kUndefined, "division by zero");
      return Ok(k[0].value / k[1].value);
    case NodeKind::kPercent:
      return Ok(k[0].value / 100);
    case NodeKind::kAbs:
      return Ok(cln::abs(k[0].value));
    case NodeKind::kPow: {
      const cln::cl_RA& b = k[0].value;
      const cln::cl_RA& e = k[1].value;
      if (!IsInteger(e)) return Fail(EvalStatus::kNotRational, "non-integer exponent");
      cln::cl_I ei = cln::numerator(e);
      if (cln::zerop(b)) {
        if (cln::minusp(ei)) return Fail(EvalStatus::kUndefined, "0 to a negative power");
        if (cln::zerop(ei)) return Fail(EvalStatus::kUndefined, "0^0");
        return Ok(0);
      }
      if (cln::zerop(ei)) return Ok(1);
      if (b == 1) return Ok(1);
      if (b == -1) return Ok(cln::oddp(ei) ? -1 : 1);
      cln::cl_I ae = cln::abs(ei);
      // A lower bound of log2|num| + log2|den|, so a rejected power is surely over the limit; the
      // result is checked exactly afterwards.
      int64_t bits =
          cln::integer_length(cln::abs(cln::numerator(b))) - 1 + cln::integer_length(cln::denominator(b)) - 1;
      if (cln::integer_length(ae) > 40 || cln::cl_I(bits) * ae > kMaxBits)
        return Fail(EvalStatus::kTooComplex, "power over 1e5 digits");
      int64_t el = cln::cl_I_to_long(ae);
      cln::cl_RA p = cln::expt_pos(b, el);
      return Ok(cln::minusp(ei) ? 1 / p : p);
    }
    case NodeKind::kFactorial: {
      const cln::cl_RA& v = k[0].value;
      if (!IsInteger(v) || cln::minusp(v))
        return Fail(EvalStatus::kNotRational, "factorial of a non-natural");
      cln::cl_I vi = cln::numerator(v);
      // log10(25206!) ~ 1e5.
      if (vi > 25000) return Fail(EvalStatus::kTooComplex, "factorial over 1e5 digits");
      return Ok(cln::factorial(cln::cl_I_to_long(vi)));
    }
    case NodeKind::kFunc: {
      if (n.text == "binom") {
        const cln::cl_RA& a = k[0].value;
        const cln::cl_RA& b = k[1].value;
        if (!IsInteger(a) || !IsInteger(b) || cln::minusp(a))
          return Fail(EvalStatus::kNotRational, "binom args");
        if (cln::minusp(b) || b > a) return Ok(0);
        if (a > 1000000) return Fail(EvalStatus::kTooComplex, "binom over 1e6");
        int64_t nn = cln::cl_I_to_long(cln::numerator(a));
        int64_t kk = cln::cl_I_to_long(cln::numerator(b));
        // log10 C(n,k) <= n*log10(2).
        if (std::min(kk, nn - kk) * std::log10(static_cast<double>(nn) + 1) > kMaxDigits)
          return Fail(EvalStatus::kTooComplex, "binom over 1e5 digits");
        return Ok(cln::binomial(nn, kk));
      }
      if (n.text == "floor") return Ok(cln::floor1(k[0].value));
      if (n.text == "ceil") return Ok(cln::ceiling1(k[0].value));
      if (n.text == "sqrt" || n.text == "root") {
        // Exact perfect powers stay rational: \sqrt{16} = 4, \sqrt{9/4} = 3/2.
        int64_t deg = 2;
        if (n.text == "root") {
          if (!IsInteger(k[1].value) || k[1].value < 2 || k[1].value > 64)
            return Fail(EvalStatus::kNotRational, "root degree");
          deg = cln::cl_I_to_long(cln::numerator(k[1].value));
        }
        const cln::cl_RA& v = k[0].value;
        if (cln::minusp(v)) return Fail(EvalStatus::kNotRational, "root of a negative");
        cln::cl_RA r;
        if (cln::rootp(v, deg, &r)) return Ok(r);
        return Fail(EvalStatus::kNotRational, "irrational root");
      }
      return Fail(EvalStatus::kNotRational, "function " + n.text);
    }
    default:
      return Fail(EvalStatus::kNotRational, "not a rational expression");
  }
}

RationalValue EvalCharged(const Node& n, int64_t* work_bits) {
  RationalValue v = Eval(n, work_bits);
  if (n.kind == NodeKind::kPow || n.kind == NodeKind::kFactorial ||
      (n.kind == NodeKind::kFunc && n.text == "binom"))
    return Charge(std::move(v), work_bits);
  return v;
}

}  // namespace

RationalValue EvalRational(const Node& n) {
  int64_t work_bits = 0;
  return EvalCharged(n, &work_bits);
}

std::optional<long double> EvalApprox(const Node& n) {
  std::vector<long double> k;
  if (n.kind != NodeKind::kNumber) {
    for (const auto& kid : n.kids) {
      auto v = EvalApprox(*kid);
      if (!v) return std::nullopt;
      k.push_back(*v);
    }
  }
  auto finite = [](long double v) -> std::optional<long double> {
    if (std::isfinite(v)) return v;
    return std::nullopt;
  };
  switch (n.kind) {
    case NodeKind::kNumber:
      return finite(std::strtold(n.text.c_str(), nullptr));
    case NodeKind::kConst:
      if (n.text == "pi") return 3.14159265358979323846264338327950288L;
      if (n.text == "e") return 2.71828182845904523536028747135266250L;
      return std::nullopt;
    case NodeKind::kAdd: {
      long double s = 0;
      for (auto v : k) s += v;
      return finite(s);
    }
    case NodeKind::kNeg:
      return -k[0];
    case NodeKind::kMul: {
      long double s = 1;
      for (auto v : k) s *= v;
      return finite(s);
    }
    case NodeKind::kDiv:
      if (k[1] == 0) return std::nullopt;
      return finite(k[0] / k[1]);
    case NodeKind::kPercent:
      return k[0] / 100;
    case NodeKind::kAbs:
      return std::fabs(k[0]);
    case NodeKind::kPow:
      if (k[0] < 0 && k[1] != std::floor(k[1])) return std::nullopt;
      return finite(std::pow(k[0], k[1]));
    case NodeKind::kFactorial:
      if (k[0] < 0 || k[0] != std::floor(k[0]) || k[0] > 1000) return std::nullopt;
      return finite(std::tgamma(k[0] + 1));
    case NodeKind::kFunc: {
      const std::string& f = n.text;
      long double x = k[0];
      if (f == "sqrt") return x < 0 ? std::nullopt : std::optional<long double>(std::sqrt(x));
      if (f == "root") {
        if (x < 0) return std::nullopt;
        return finite(std::pow(x, 1 / k[1]));
      }
      if (f == "sin") return std::sin(x);
      if (f == "cos") return std::cos(x);
      if (f == "tan") return finite(std::tan(x));
      if (f == "cot") return finite(1 / std::tan(x));
      if (f == "sec") return finite(1 / std::cos(x));
      if (f == "csc") return finite(1 / std::sin(x));
      if (f == "arcsin") return std::fabs(x) > 1 ? std::nullopt : std::optional<long double>(std::asin(x));
      if (f == "arccos") return std::fabs(x) > 1 ? std::nullopt : std::optional<long double>(std::acos(x));
      if (f == "arctan") return std::atan(x);
      if (f == "sinh") return finite(std::sinh(x));
      if (f == "cosh") return finite(std::cosh(x));
      if (f == "tanh") return std::tanh(x);
      if (f == "ln" || f == "log") return x <= 0 ? std::nullopt : std::optional<long double>(std::log(x));
      if (f == "logb") {
        if (x <= 0 || k[1] <= 0 || k[1] == 1) return std::nullopt;
        return std::log(x) / std::log(k[1]);
      }
      if (f == "exp") return finite(std::exp(x));
      if (f == "floor") return std::floor(x);
      if (f == "ceil") return std::ceil(x);
      if (f == "binom") {
        if (x < 0 || k[1] < 0 || x != std::floor(x) || k[1] != std::floor(k[1]) || x > 1000)
          return std::nullopt;
        if (k[1] > x) return 0.0L;
        return finite(
            std::round(std::exp(std::lgamma(x + 1) - std::lgamma(k[1] + 1) - std::lgamma(x - k[1] + 1))));
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

bool WithinRelative(const cln::cl_RA& a, const cln::cl_RA& b, double rel) {
  cln::cl_RA tol = cln::rational(cln::cl_DF(rel));
  cln::cl_RA m = cln::max(cln::abs(a), cln::abs(b));
  return cln::abs(a - b) <= tol * m;
}

bool WithinRelative(long double a, long double b, double rel) {
  return std::fabs(a - b) <= static_cast<long double>(rel) * std::max(std::fabs(a), std::fabs(b));
}

namespace {

// round(x * 10^places), half away from zero.
cln::cl_I RoundAtPlaces(const cln::cl_RA& x, int places) {
  // cln::expt_pos needs a positive exponent (it never returns for 0).
  const cln::cl_RA scaled =
      places == 0 ? static_cast<cln::cl_RA>(cln::abs(x)) : cln::abs(x) * cln::expt_pos(cln::cl_I(10), places);
  const cln::cl_I r = cln::floor1(scaled + cln::cl_RA(1) / 2);
  return cln::minusp(x) ? static_cast<cln::cl_I>(-r) : r;
}

}  // namespace

bool EqualAtPlaces(const cln::cl_RA& a, const cln::cl_RA& b, int places) {
  return RoundAtPlaces(a, places) == RoundAtPlaces(b, places);
}

bool EqualAtPlaces(long double a, long double b, int places) {
  const long double scale = std::pow(10.0L, places);
  return std::round(a * scale) == std::round(b * scale);
}

std::string RationalToString(const cln::cl_RA& v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace m1rl::reward::math
