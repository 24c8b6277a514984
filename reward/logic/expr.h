// A bounded arithmetic-expression parser and exact evaluator (REWARDS.md L2: model text is never
// eval()'d). Grammar, whitespace allowed between tokens:
//
//   expr   := term (('+' | '-') term)*
//   term   := factor (('*' | 'x' | 'X' | '×' | '/' | '÷') factor)*
//   factor := integer | '(' expr ')' | '-' factor        (unary minus only if allowed)
//   integer:= [0-9]{1,18}
//
// An optional trailing "= <anything>" is NOT accepted: the value is always recomputed and compared
// by the caller with the instance's own target (L1), so the parser never sees a claimed result.
// Limits: text length, nesting depth and literal count are bounded; exceeding one is a parse error.
#ifndef M1RL_REWARD_LOGIC_EXPR_H_
#define M1RL_REWARD_LOGIC_EXPR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "reward/logic/rational.h"

namespace m1rl::reward::logic {

struct ExprOptions {
  bool allow_unary_minus = true;
  size_t max_length = 512;  // bytes
  int max_depth = 32;       // parenthesis / unary nesting
  int max_literals = 64;
};

struct ParsedExpr {
  std::vector<int64_t> literals;  // integer literals in order of appearance
  std::optional<Rational> value;  // nullopt: division by zero or overflow somewhere
  std::string normalized;         // the expression with whitespace removed, ASCII operators
};

// Returns kInvalidArgument (message says what and where) when `text` is not in the grammar or
// exceeds a limit. A well-formed expression that divides by zero parses fine with value nullopt.
absl::StatusOr<ParsedExpr> ParseExpression(std::string_view text, const ExprOptions& options = {});

}  // namespace m1rl::reward::logic

#endif  // M1RL_REWARD_LOGIC_EXPR_H_
