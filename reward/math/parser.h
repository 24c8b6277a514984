// Recursive-descent parser of a normalised answer span into the exact AST (ast.h).
//
// The parser must consume the whole span: "4\sqrt(2)" is an error, never 4 (Math-Verify #41), and no
// number is ever taken from a span that failed (PR #82). Top-level commas/semicolons make a kList, a
// colon a kTuple ("12:00" is (12, 0)); (a, b) is a kTuple, [a, b] / [a, b) / (a, b] a kInterval,
// \{..\} a kSet, \pm/\mp a kPlusMinus, relation chains (=, <, \le, >, \ge, \ne, \in) a kRelation.
// \frac12 is read as \frac{1}{2}; a digit group "1,000" is one number only with allow_thousands
// (the caller sets it when the gold is a scalar: "gold type steers ambiguous parses").
//
// Errors: kInvalidArgument "parse error at byte N: ..." for text outside the grammar;
// kResourceExhausted "too_complex: ..." for spans over kMaxSpanBytes or trees over kMaxNodes.
// Thread-safe, no state.
#ifndef M1RL_REWARD_MATH_PARSER_H_
#define M1RL_REWARD_MATH_PARSER_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "reward/math/ast.h"

namespace m1rl::reward::math {

inline constexpr size_t kMaxSpanBytes = 2048;
inline constexpr int kMaxNodes = 2000;

struct ParseOptions {
  bool allow_thousands = false;  // "1,234,567" (exact 3-digit groups) is one number
};

// Parses an already normalised span (normalize.h). REQUIRES: nothing; any bytes are accepted.
absl::StatusOr<NodeP> ParseAnswer(std::string_view normalized, const ParseOptions& options = {});

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_PARSER_H_
