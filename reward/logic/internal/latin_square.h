// Latin-square helpers shared by the grid families (futoshiki, skyscrapers, kenken): a random
// n x n square, the given-digits grid field, the digit-grid answer grammar and the row / column check.
// Cells are row-major; digits are 1..n with n <= 9.
#ifndef M1RL_REWARD_LOGIC_INTERNAL_LATIN_SQUARE_H_
#define M1RL_REWARD_LOGIC_INTERNAL_LATIN_SQUARE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {

// Row-major index of 0-based (r, c) in an n x n grid.
inline size_t Cell(int r, int c, int n) {
  return static_cast<size_t>(r) * static_cast<size_t>(n) + static_cast<size_t>(c);
}

// A random Latin square over 1..n: the cyclic square with rows, columns and symbols permuted.
std::vector<int> RandomLatinSquare(int n, Rng& rng);

// instance.grid: n*n cells, each '.' (blank) or a digit 1..n (a given).
absl::StatusOr<std::string> GetGivenGrid(const nlohmann::json& instance, int n);

// The answer grammar: n*n digits row by row; whitespace and the separators , / | are ignored.
// False with *why set on a foreign character or a wrong digit count.
bool ParseDigitGrid(std::string_view answer, int n, std::string* cells, std::string* why);

// The first violated constraint of `cells` (n*n digit characters) as a Latin square over 1..n that
// keeps the givens of `grid` ('.' blank), or "" when none.
std::string LatinViolation(const std::string& cells, const std::string& grid, int n);

}  // namespace m1rl::reward::logic::internal

#endif  // M1RL_REWARD_LOGIC_INTERNAL_LATIN_SQUARE_H_
