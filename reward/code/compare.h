// Output comparators of the code domain (REWARDS.md §4 "Compare").
//  TOKENS: the outputs split on whitespace runs are equal sequences.
//  FLOAT:  equal token counts; a token pair where both are strict decimals ([+-]digits[.digits][e[+-]digits])
//          matches when |got - expected| <= abs_tol or <= rel_tol * |expected|; any other pair (nan, inf,
//          words) must be equal strings, so nan/inf pass only where expected.
//  EXACT:  bytes equal.
// Pure functions, thread-safe.
#ifndef M1RL_REWARD_CODE_COMPARE_H_
#define M1RL_REWARD_CODE_COMPARE_H_

#include <string>
#include <string_view>
#include <vector>

#include "proto/rl.pb.h"

namespace m1rl::reward::code {

struct CompareResult {
  bool match = false;
  std::string reason;  // the first difference, e.g. "token 3: expected '7', got '8'"
};

struct CompareOptions {
  rl::CodePayload::Checker checker = rl::CodePayload::TOKENS;
  double abs_tol = 1e-6;
  double rel_tol = 1e-6;
};

CompareResult CompareOutput(std::string_view expected, std::string_view got, const CompareOptions& options);

// Whitespace-separated tokens of `text`.
std::vector<std::string_view> Tokens(std::string_view text);

// Whether `token` is a strict decimal literal; its value in `*value` when it is.
bool ParseDecimal(std::string_view token, double* value);

}  // namespace m1rl::reward::code

#endif  // M1RL_REWARD_CODE_COMPARE_H_
