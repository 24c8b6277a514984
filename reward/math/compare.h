// Equivalence of a gold and a predicted answer AST (REWARDS.md §2 "Layers", "Relations",
// "Anti-hacking asymmetries", "Also unequal"). The first decisive layer wins:
//   1 string     printed canonical forms are equal
//   2 structure  tuples ordered; sets and bare lists unordered (ordered if they hold \ldots); intervals by
//                endpoints and openness ((a, b) is also the open interval); matrices elementwise;
//                a \pm b is the set {a+b, a-b}
//   3 exact_rational    no decimal literal: exact CLN rationals
//   4 decimal_tolerance a decimal literal: |a-b| <= rel_tolerance * max(|a|,|b|) (1.414 != \sqrt2)
//   5/6 CAS (cas.h) in a worker process: GiNaC normal form, then the seeded random identity test
// Relations: flipped inequalities are equal; equations equal iff lhs-rhs are proportional (never cut to
// the rhs); assignments (symbol = constant) compare values and variables. Asymmetries: gold inequality vs
// predicted interval may match, gold interval vs predicted inequality fails; gold value vs predicted
// chain a = ... = v compares v; gold equation vs bare value fails unless the gold is an assignment;
// gold scalar vs a list containing it fails. Percent: a % on either side lets p% equal p or p/100.
// Issue 15: a chain with \approx is read as its exact part ("\frac{\sqrt3}{3} \approx 0.577"); a gold
// value vs a predicted equation compares the last value only when the left side names a quantity (a
// symbol, "f(2)", "AB", "P(A)") or the chain is a computation without symbols ("2 \cdot 3 = 6"), never
// "3k = 45" or "x + y = 45"; repeated assignments of one variable group ("x = 2, x = 3" is x = 2, 3);
// a list of assignments ("x_1 = 2, x_2 = 3") against a gold list or set compares the values; a \text{}
// answer equals the same word or choice letter written without it ("\text{(C)}" = C, "\text{odd}" = odd).
// Thread-safe if `cas` is.
#ifndef M1RL_REWARD_MATH_COMPARE_H_
#define M1RL_REWARD_MATH_COMPARE_H_

#include <string>

#include "reward/math/ast.h"
#include "reward/math/cas.h"
#include "reward/verifier.h"

namespace m1rl::reward::math {

inline constexpr int kMaxDecimalPlaces = 15;

struct CompareOptions {
  double rel_tolerance = 1e-6;
  int decimal_places = -1;     // >= 0: layer 4 compares values rounded to this many places instead
  bool ordered_lists = false;  // bare lists compare in order (sets never do)
};

struct Decision {
  enum class Kind { kEqual, kUnequal, kUndecided, kTooComplex, kTimeout, kCancelled, kError };
  Kind kind = Kind::kUndecided;
  std::string layer;
  std::string reason;
};

// Top-level answers: also groups "n = 2, 3, 4" into n = {2, 3, 4}. `cas` may be null (symbolic
// comparisons are then undecided). CAS jobs run under `cas_ctx`; the cheap layers check `ctx`.
Decision CompareAnswers(const NodeP& gold, const NodeP& pred, const CompareOptions& options, CasRunner* cas,
                        const CheckContext& cas_ctx);

// "x = 5"-style: one '=', a lone symbol on the left and a symbol-free right side.
bool IsAssignment(const Node& n);
// Applies the top-level grouping used by CompareAnswers ("n = 2, 3, 4" and "n = 2, n = 3, n = 4" ->
// n = (list 2, 3, 4)).
NodeP GroupAssignments(const NodeP& top);

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_COMPARE_H_
