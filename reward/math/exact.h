// Exact big-rational evaluation (REWARDS.md §2 layer 3) and the decimal-tolerance check (layer 4).
//
// EvalRational() evaluates a scalar AST with CLN rationals: no rounding, no chopping (1/2004! is not
// 1/2006!). Decimal literals are read exactly (0.1 = 1/10). It handles + - * / integer powers, !, binom,
// |.|, floor/ceil and p% (= p/100); anything else (symbols, sqrt, pi, ...) is kNotRational and goes to
// the CAS layers. Values over kMaxDigits decimal digits are kTooComplex (checked before computing).
// EvalApprox() is the long-double fallback for symbol-free irrational values in layer 4.
// Thread-safety: each call uses only its own CLN objects (the request threads call it concurrently; no
// GiNaC here: GiNaC runs only in the CAS worker processes).
#ifndef M1RL_REWARD_MATH_EXACT_H_
#define M1RL_REWARD_MATH_EXACT_H_

#include <cln/rational.h>

#include <optional>
#include <string>
// CLN defines a Mutable(type, x) macro that breaks later Abseil headers; its own headers never use it.
#undef Mutable

#include "reward/math/ast.h"

namespace m1rl::reward::math {

inline constexpr int kMaxDigits = 100000;

enum class EvalStatus { kOk, kNotRational, kTooComplex, kUndefined };

struct RationalValue {
  EvalStatus status = EvalStatus::kNotRational;
  cln::cl_RA value = 0;
  std::string detail;  // why not kOk
};

RationalValue EvalRational(const Node& n);

// Real value in long double for symbol-free scalars, or nullopt (symbols, non-real, undefined).
std::optional<long double> EvalApprox(const Node& n);

// |a - b| <= rel * max(|a|, |b|) in exact arithmetic (rel converted exactly from the double).
bool WithinRelative(const cln::cl_RA& a, const cln::cl_RA& b, double rel);
bool WithinRelative(long double a, long double b, double rel);

// Both round to the same value at `places` decimal places (half away from zero); REQUIRES places >= 0.
// The long-double form is for symbol-free irrational values (std::round also rounds half away from zero).
bool EqualAtPlaces(const cln::cl_RA& a, const cln::cl_RA& b, int places);
bool EqualAtPlaces(long double a, long double b, int places);

std::string RationalToString(const cln::cl_RA& v);

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_EXACT_H_
