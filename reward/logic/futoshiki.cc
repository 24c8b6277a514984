// Family "futoshiki": fill an n x n grid with 1..n so that every row and column holds each digit
// once, the given digits stay, and every inequality between two orthogonally adjacent cells holds.
// The grid is a row-major string, '.' for a blank; "less" lists [r1, c1, r2, c2] (1-based) meaning
// cell (r1,c1) < cell (r2,c2). The answer is the completed grid as n*n digits row by row; whitespace
// and the separators , / | are ignored. Any grid meeting every constraint is accepted.
#include <array>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/internal/latin_square.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

using Less = std::array<int64_t, 4>;  // r1, c1, r2, c2 (1-based): cell 1 < cell 2

// k random adjacent pairs of the solution, oriented so the smaller cell comes first.
std::vector<Less> RandomInequalities(int n, const std::vector<int>& sq, size_t k, Rng& rng) {
  std::vector<Less> all;
  all.reserve(2 * Cell(n, 0, n));
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) {
      if (c + 1 < n) all.push_back({r, c, r, c + 1});
      if (r + 1 < n) all.push_back({r, c, r + 1, c});
    }
  }
  rng.Shuffle(all);
  if (all.size() > k) all.resize(k);
  for (Less& l : all) {
    if (sq[static_cast<size_t>(l[0] * n + l[1])] > sq[static_cast<size_t>(l[2] * n + l[3])]) {
      std::swap(l[0], l[2]);
      std::swap(l[1], l[3]);
    }
    for (int64_t& x : l) ++x;
  }
  return all;
}

absl::StatusOr<std::vector<Less>> GetLess(const nlohmann::json& instance, int64_t n) {
  auto it = instance.find("less");
  if (it == instance.end()) return absl::InvalidArgumentError("instance.less: missing");
  if (!it->is_array() || it->size() > 1000) {
    return absl::InvalidArgumentError("instance.less: expected an array of at most 1000 inequalities");
  }
  std::vector<Less> out;
  out.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& e = (*it)[i];
    bool ok = e.is_array() && e.size() == 4;
    Less l{};
    for (size_t k = 0; ok && k < 4; ++k) {
      ok = e[k].is_number_integer() && e[k].get<int64_t>() >= 1 && e[k].get<int64_t>() <= n;
      if (ok) l[k] = e[k].get<int64_t>();
    }
    const int64_t dist =
        ok ? (l[0] > l[2] ? l[0] - l[2] : l[2] - l[0]) + (l[1] > l[3] ? l[1] - l[3] : l[3] - l[1]) : 0;
    if (!ok || dist != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.less[", i, "]: expected [r1, c1, r2, c2] of two adjacent cells in 1..", n));
    }
    out.push_back(l);
  }
  return out;
}

class FutoshikiFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "futoshiki"; }
  std::string_view difficulty_help() const override {
    return "grid size 4 (1..3), 5 (4..6) or 6 (7..9); within a size, higher means fewer givens "
           "(30/20/10% of cells) and fewer inequalities (2n/1.5n/n)";
  }
  int max_difficulty() const override { return 9; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int n = 4 + (difficulty - 1) / 3;
    const int tier = (difficulty - 1) % 3;
    const std::vector<int> sq = RandomLatinSquare(n, rng);
    const std::vector<Less> less = RandomInequalities(n, sq, static_cast<size_t>(n * (4 - tier) / 2), rng);
    std::vector<int> cells(static_cast<size_t>(n * n));
    for (int i = 0; i < n * n; ++i) cells[static_cast<size_t>(i)] = i;
    rng.Shuffle(cells);
    std::string grid(static_cast<size_t>(n * n), '.');
    for (int i = 0; i < n * n * (3 - tier) / 10; ++i) {
      const size_t cell = static_cast<size_t>(cells[static_cast<size_t>(i)]);
      grid[cell] = static_cast<char>('0' + sq[cell]);
    }
    std::string witness;
    for (int v : sq) witness.push_back(static_cast<char>('0' + v));
    std::vector<std::string> rows_text, less_text;
    for (int r = 0; r < n; ++r) rows_text.push_back(grid.substr(Cell(r, 0, n), static_cast<size_t>(n)));
    for (const Less& l : less)
      less_text.push_back(absl::StrCat("(", l[0], ",", l[1], ")<(", l[2], ",", l[3], ")"));
    GeneratedInstance g;
    g.instance = {{"size", n}, {"grid", grid}, {"less", less}};
    g.prompt = absl::StrCat(
        "Solve this ", n, "x", n, " futoshiki: fill the grid with digits 1-", n,
        " so that each digit appears once in every row and column, keeping the given digits ('.' is blank; "
        "rows separated by /): ",
        absl::StrJoin(rows_text, "/"),
        ". Inequalities between cells (row,column), 1-based: ", absl::StrJoin(less_text, ", "),
        ". Give the full grid as ", n * n, " digits row by row inside <answer></answer>.");
    g.witness = witness;
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> size = GetInt(instance, "size", 2, 9);
    if (!size.ok()) return size.status();
    const int n = static_cast<int>(*size);
    absl::StatusOr<std::string> grid = GetGivenGrid(instance, n);
    if (!grid.ok()) return grid.status();
    absl::StatusOr<std::vector<Less>> less = GetLess(instance, *size);
    if (!less.ok()) return less.status();
    std::string cells, why;
    if (!ParseDigitGrid(answer, n, &cells, &why)) return Unparseable(why);
    const std::string latin = LatinViolation(cells, *grid, n);
    if (!latin.empty()) return Incorrect(latin, cells);
    for (const Less& l : *less) {
      const char a = cells[static_cast<size_t>((l[0] - 1) * n + l[1] - 1)];
      const char b = cells[static_cast<size_t>((l[2] - 1) * n + l[3] - 1)];
      if (a >= b) {
        return Incorrect(absl::StrCat("(", l[0], ",", l[1], ")<(", l[2], ",", l[3],
                                      ") fails: ", std::string(1, a), " >= ", std::string(1, b)),
                         cells);
      }
    }
    return Correct(cells);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewFutoshikiFamily() { return std::make_unique<FutoshikiFamily>(); }

}  // namespace m1rl::reward::logic::internal
