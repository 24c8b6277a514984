// LaTeX normalisation of an extracted answer span (REWARDS.md §2 "Normalise"), applied to both sides.
//
// NormalizeLatex() is a pure string rewrite: it drops \left \right \displaystyle and spacing commands,
// maps \dfrac/\tfrac to \frac, removes degree marks, "infinity" -> \infty, "and"/"or" -> ",", unwraps
// \mathrm/\mathbf/\textbf/\boldsymbol, strips markdown bold and backticks, dollar signs and a trailing
// period, maps common Unicode math characters to LaTeX, and "%" to "\%". It never repairs \sqrt(2).
// SplitUnit() then detects a trailing unit (\text{cm}, "5 meters", "\mbox{ kg}^2") and returns the value
// part plus the canonical unit ("" if none). Thread-safe, no state.
#ifndef M1RL_REWARD_MATH_NORMALIZE_H_
#define M1RL_REWARD_MATH_NORMALIZE_H_

#include <string>
#include <string_view>

namespace m1rl::reward::math {

std::string NormalizeLatex(std::string_view span);

struct ValueAndUnit {
  std::string value;  // the span without its unit
  std::string unit;   // canonical unit name ("centimeter", "dollar", ...), "" if none
};
ValueAndUnit SplitUnit(std::string_view normalized);

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_NORMALIZE_H_
