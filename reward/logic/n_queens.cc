// Family "n_queens": place n queens on an n x n board, one per row, none attacking another, keeping
// the queens the instance fixes. Rows and columns are 1-based; the answer lists the column of the
// queen in rows 1..n. Any valid placement is accepted.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

// Randomised backtracking; cols[r] is the 1-based column of row r+1.
bool Place(int64_t n, size_t row, std::vector<int64_t>& cols, Rng& rng) {
  if (static_cast<int64_t>(row) == n) return true;
  std::vector<int64_t> order;
  for (int64_t c = 1; c <= n; ++c) order.push_back(c);
  rng.Shuffle(order);
  for (int64_t c : order) {
    bool ok = true;
    for (size_t r = 0; r < row && ok; ++r) {
      const int64_t dr = static_cast<int64_t>(row - r);
      ok = cols[r] != c && cols[r] - c != dr && c - cols[r] != dr;
    }
    if (!ok) continue;
    cols[row] = c;
    if (Place(n, row + 1, cols, rng)) return true;
  }
  return false;
}

class NQueensFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "n_queens"; }
  std::string_view difficulty_help() const override {
    return "board size difficulty+3 (4..12); n/4 queens given";
  }
  int max_difficulty() const override { return 9; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t n = difficulty + 3;
    std::vector<int64_t> cols(static_cast<size_t>(n), 0);
    if (!Place(n, 0, cols, rng)) return absl::InternalError("n_queens: no placement found");
    std::vector<int64_t> rows;
    for (int64_t r = 1; r <= n; ++r) rows.push_back(r);
    rng.Shuffle(rows);
    rows.resize(static_cast<size_t>(n / 4));
    std::sort(rows.begin(), rows.end());
    std::vector<std::vector<int64_t>> fixed;
    std::vector<std::string> fixed_text;
    for (int64_t r : rows) {
      fixed.push_back({r, cols[static_cast<size_t>(r - 1)]});
      fixed_text.push_back(absl::StrCat("row ", r, " column ", cols[static_cast<size_t>(r - 1)]));
    }
    GeneratedInstance g;
    g.instance = {{"n", n}, {"fixed", fixed}};
    g.prompt = absl::StrCat("Place ", n, " queens on a ", n, "x", n, " board (rows and columns 1..", n,
                            ") so that no two attack each other");
    if (!fixed.empty())
      absl::StrAppend(&g.prompt, ", keeping the queens at ", absl::StrJoin(fixed_text, ", "));
    absl::StrAppend(&g.prompt, ". Give the column of the queen in rows 1..", n,
                    " in order, space-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(cols, " ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> n = GetInt(instance, "n", 1, 100);
    if (!n.ok()) return n.status();
    auto fixed = GetPairArray(instance, "fixed", 100, 1, *n);
    if (!fixed.ok()) return fixed.status();
    std::string why;
    auto cols = ParseIntList(answer, 100, &why);
    if (!cols) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*cols, " ");
    if (static_cast<int64_t>(cols->size()) != *n) {
      return Incorrect(absl::StrCat("expected ", *n, " columns, got ", cols->size()), normalized);
    }
    for (size_t r = 0; r < cols->size(); ++r) {
      if ((*cols)[r] < 1 || (*cols)[r] > *n) {
        return Incorrect(absl::StrCat("row ", r + 1, " column ", (*cols)[r], " is off the board"),
                         normalized);
      }
    }
    for (const auto& [r, c] : *fixed) {
      if ((*cols)[static_cast<size_t>(r - 1)] != c) {
        return Incorrect(absl::StrCat("the queen given at row ", r, " column ", c, " was moved"), normalized);
      }
    }
    for (size_t a = 0; a < cols->size(); ++a) {
      for (size_t b = a + 1; b < cols->size(); ++b) {
        const int64_t dc = (*cols)[a] > (*cols)[b] ? (*cols)[a] - (*cols)[b] : (*cols)[b] - (*cols)[a];
        if (dc == 0 || dc == static_cast<int64_t>(b - a)) {
          return Incorrect(absl::StrCat("queens in rows ", a + 1, " and ", b + 1, " attack each other"),
                           normalized);
        }
      }
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewNQueensFamily() { return std::make_unique<NQueensFamily>(); }

}  // namespace m1rl::reward::logic::internal
