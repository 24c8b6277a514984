// Family "sudoku": size x size grids (4x4 with 2x2 boxes, 9x9 with 3x3; the checker takes any
// box_rows x box_cols = size <= 9). The grid is a row-major string, '.' or '0' for a blank. The
// answer is the completed grid as size*size digits; whitespace and the drawing characters | , - +
// are ignored. Any grid that keeps the givens and has each digit once per row, column and box is
// accepted, so puzzles with many blanks have many valid answers.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

class SudokuFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "sudoku"; }
  std::string_view difficulty_help() const override {
    return "number of blanks; 1..12 gives a 4x4 grid, 13..64 a 9x9 grid";
  }
  int max_difficulty() const override { return 64; }
  int default_difficulty() const override { return 8; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int b = difficulty <= 12 ? 2 : 3;  // square boxes b x b
    const int n = b * b;
    // Base solution: (b*(r%b) + r/b + c) % n is valid; then relabel digits and permute rows within
    // bands, bands, columns within stacks and stacks (each preserves validity).
    std::vector<int> digits(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) digits[static_cast<size_t>(i)] = i + 1;
    rng.Shuffle(digits);
    auto perm = [&]() {
      std::vector<int> bands(static_cast<size_t>(b));
      for (int i = 0; i < b; ++i) bands[static_cast<size_t>(i)] = i;
      rng.Shuffle(bands);
      std::vector<int> out;
      for (int band : bands) {
        std::vector<int> inner(static_cast<size_t>(b));
        for (int i = 0; i < b; ++i) inner[static_cast<size_t>(i)] = i;
        rng.Shuffle(inner);
        for (int i : inner) out.push_back(band * b + i);
      }
      return out;
    };
    const std::vector<int> rows = perm();
    const std::vector<int> cols = perm();
    std::string solution;
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c) {
        const int rr = rows[static_cast<size_t>(r)];
        const int cc = cols[static_cast<size_t>(c)];
        solution.push_back(
            static_cast<char>('0' + digits[static_cast<size_t>((b * (rr % b) + rr / b + cc) % n)]));
      }
    }
    std::vector<int> cells(static_cast<size_t>(n * n));
    for (int i = 0; i < n * n; ++i) cells[static_cast<size_t>(i)] = i;
    rng.Shuffle(cells);
    std::string grid = solution;
    for (int i = 0; i < difficulty; ++i) grid[static_cast<size_t>(cells[static_cast<size_t>(i)])] = '.';
    std::string rows_text;
    for (int r = 0; r < n; ++r)
      absl::StrAppend(&rows_text, r ? "/" : "",
                      grid.substr(static_cast<size_t>(r * n), static_cast<size_t>(n)));
    GeneratedInstance g;
    g.instance = {{"size", n}, {"box_rows", b}, {"box_cols", b}, {"grid", grid}};
    g.prompt = absl::StrCat("Solve this ", n, "x", n, " sudoku (", b, "x", b, " boxes, digits 1-", n,
                            ", '.' is blank; rows separated by /): ", rows_text, ". Give the full grid as ",
                            n * n, " digits row by row inside <answer></answer>.");
    g.witness = solution;
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> size = GetInt(instance, "size", 1, 9);
    if (!size.ok()) return size.status();
    absl::StatusOr<int64_t> box_rows = GetInt(instance, "box_rows", 1, 9);
    if (!box_rows.ok()) return box_rows.status();
    absl::StatusOr<int64_t> box_cols = GetInt(instance, "box_cols", 1, 9);
    if (!box_cols.ok()) return box_cols.status();
    if (*box_rows * *box_cols != *size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "instance.box_rows: box_rows*box_cols = ", *box_rows * *box_cols, " must equal size ", *size));
    }
    const int n = static_cast<int>(*size);
    absl::StatusOr<std::string> grid = GetString(instance, "grid", 81);
    if (!grid.ok()) return grid.status();
    if (static_cast<int>(grid->size()) != n * n) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.grid: expected ", n * n, " cells, got ", grid->size()));
    }
    for (size_t i = 0; i < grid->size(); ++i) {
      const char c = (*grid)[i];
      if (c != '.' && c != '0' && (c < '1' || c > '0' + n)) {
        return absl::InvalidArgumentError(
            absl::StrCat("instance.grid: cell ", i, " is '", std::string(1, c), "'"));
      }
    }
    std::string cells;
    for (size_t i = 0; i < answer.size(); ++i) {
      const char c = answer[i];
      if (c >= '0' && c <= '9') {
        cells.push_back(c);
      } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '|' && c != ',' && c != '-' &&
                 c != '+') {
        return Unparseable(
            absl::StrCat("answer: '", std::string(1, c), "' at offset ", i, " is not a digit"));
      }
    }
    if (static_cast<int>(cells.size()) != n * n) {
      return Unparseable(absl::StrCat("answer: expected ", n * n, " digits, got ", cells.size()));
    }
    for (int i = 0; i < n * n; ++i) {
      const char c = cells[static_cast<size_t>(i)];
      if (c < '1' || c > '0' + n) {
        return Incorrect(absl::StrCat("row ", i / n + 1, " column ", i % n + 1, " holds ", std::string(1, c)),
                         cells);
      }
      const char given = (*grid)[static_cast<size_t>(i)];
      if (given != '.' && given != '0' && given != c) {
        return Incorrect(absl::StrCat("row ", i / n + 1, " column ", i % n + 1, " changes the given ",
                                      std::string(1, given)),
                         cells);
      }
    }
    auto at = [&](int r, int c) { return cells[static_cast<size_t>(r * n + c)]; };
    for (int unit = 0; unit < n; ++unit) {
      unsigned row_seen = 0, col_seen = 0, box_seen = 0;
      const int br = static_cast<int>((unit / (n / *box_cols)) * *box_rows);
      const int bc = static_cast<int>((unit % (n / *box_cols)) * *box_cols);
      for (int i = 0; i < n; ++i) {
        const unsigned rbit = 1u << (at(unit, i) - '0');
        const unsigned cbit = 1u << (at(i, unit) - '0');
        const unsigned bbit =
            1u << (at(br + i / static_cast<int>(*box_cols), bc + i % static_cast<int>(*box_cols)) - '0');
        if (row_seen & rbit)
          return Incorrect(absl::StrCat("row ", unit + 1, " repeats ", std::string(1, at(unit, i))), cells);
        if (col_seen & cbit)
          return Incorrect(absl::StrCat("column ", unit + 1, " repeats ", std::string(1, at(i, unit))),
                           cells);
        if (box_seen & bbit) return Incorrect(absl::StrCat("box ", unit + 1, " repeats a digit"), cells);
        row_seen |= rbit;
        col_seen |= cbit;
        box_seen |= bbit;
      }
    }
    return Correct(cells);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewSudokuFamily() { return std::make_unique<SudokuFamily>(); }

}  // namespace m1rl::reward::logic::internal
