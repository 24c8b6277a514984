// Rule checks for constrained instruction following (REWARDS.md §6: "Constrained IF: failed rule check -1,
// else pairwise"): an item's general.constraints are checked on the final answer before any judge call.
//
// Grammar, one constraint per string, "name" or "name:argument" (the argument is everything after the first
// ':', taken verbatim):
//   max_words:N, min_words:N   whitespace-separated words
//   max_chars:N, min_chars:N   bytes of the answer (whitespace-trimmed)
//   max_lines:N, min_lines:N   non-empty lines
//   contains:TEXT, not_contains:TEXT, starts_with:TEXT, ends_with:TEXT   case-sensitive, on the trimmed
//   answer lowercase, uppercase       no ASCII letter of the other case json                       the
//   trimmed answer parses as one JSON value
// Thread safety: pure functions.
#ifndef M1RL_REWARD_GENRM_CONSTRAINTS_H_
#define M1RL_REWARD_GENRM_CONSTRAINTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace m1rl::reward::genrm {

struct Constraint {
  std::string name;  // as written
  std::string text;  // the argument of contains / starts_with / ...
  int64_t n = 0;     // the argument of max_* / min_*
  std::string spec;  // the whole constraint, for messages
};

// kInvalidArgument naming `field`[i] for an unknown name, a missing or non-integer argument, or an argument
// where none is taken.
absl::StatusOr<std::vector<Constraint>> ParseConstraints(const std::vector<std::string>& specs,
                                                         const std::string& field);

// The first violated constraint, as "<spec> (<what was found>)", or nullopt when all hold.
std::optional<std::string> FirstViolation(const std::vector<Constraint>& constraints,
                                          std::string_view answer);

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_CONSTRAINTS_H_
