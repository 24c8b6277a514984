#include "reward/logic/internal/latin_square.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "reward/logic/internal/family_util.h"

namespace m1rl::reward::logic::internal {

std::vector<int> RandomLatinSquare(int n, Rng& rng) {
  std::vector<int> rows(static_cast<size_t>(n)), cols(static_cast<size_t>(n)), syms(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = cols[static_cast<size_t>(i)] = i;
  for (int i = 0; i < n; ++i) syms[static_cast<size_t>(i)] = i + 1;
  rng.Shuffle(rows);
  rng.Shuffle(cols);
  rng.Shuffle(syms);
  std::vector<int> sq(static_cast<size_t>(n * n));
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) {
      const int k = (rows[static_cast<size_t>(r)] + cols[static_cast<size_t>(c)]) % n;
      sq[Cell(r, c, n)] = syms[static_cast<size_t>(k)];
    }
  }
  return sq;
}

absl::StatusOr<std::string> GetGivenGrid(const nlohmann::json& instance, int n) {
  absl::StatusOr<std::string> grid = GetString(instance, "grid", 81);
  if (!grid.ok()) return grid.status();
  if (static_cast<int>(grid->size()) != n * n) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.grid: expected ", n * n, " cells, got ", grid->size()));
  }
  for (size_t i = 0; i < grid->size(); ++i) {
    const char c = (*grid)[i];
    if (c != '.' && (c < '1' || c > '0' + n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.grid: cell ", i, " is '", std::string(1, c), "'"));
    }
  }
  return grid;
}

bool ParseDigitGrid(std::string_view answer, int n, std::string* cells, std::string* why) {
  for (size_t i = 0; i < answer.size(); ++i) {
    const char c = answer[i];
    if (c >= '0' && c <= '9') {
      cells->push_back(c);
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '|' && c != ',' && c != '/') {
      *why = absl::StrCat("answer: '", std::string(1, c), "' at offset ", i, " is not a digit");
      return false;
    }
  }
  if (static_cast<int>(cells->size()) != n * n) {
    *why = absl::StrCat("answer: expected ", n * n, " digits, got ", cells->size());
    return false;
  }
  return true;
}

std::string LatinViolation(const std::string& cells, const std::string& grid, int n) {
  for (int i = 0; i < n * n; ++i) {
    const char c = cells[static_cast<size_t>(i)];
    if (c < '1' || c > '0' + n)
      return absl::StrCat("row ", i / n + 1, " column ", i % n + 1, " holds ", std::string(1, c));
    const char given = grid[static_cast<size_t>(i)];
    if (given != '.' && given != c) {
      return absl::StrCat("row ", i / n + 1, " column ", i % n + 1, " changes the given ",
                          std::string(1, given));
    }
  }
  for (int u = 0; u < n; ++u) {
    unsigned row_seen = 0, col_seen = 0;
    for (int i = 0; i < n; ++i) {
      const unsigned rbit = 1u << (cells[Cell(u, i, n)] - '0');
      const unsigned cbit = 1u << (cells[Cell(i, u, n)] - '0');
      if (row_seen & rbit) return absl::StrCat("row ", u + 1, " repeats a digit");
      if (col_seen & cbit) return absl::StrCat("column ", u + 1, " repeats a digit");
      row_seen |= rbit;
      col_seen |= cbit;
    }
  }
  return "";
}

}  // namespace m1rl::reward::logic::internal
