// Family "kenken": fill an n x n grid with 1..n so that every row and column holds each digit once
// and every cage meets its target: the cage's cells combined by its operation give the target. "+"
// and "*" combine all cells; "-" (difference) and "/" (quotient) take exactly two cells in either
// order; "=" takes one cell, which holds the target. "cages" lists {"op", "target", "cells"} with
// cells as 1-based [row, column] pairs; the cages partition the grid. The answer is the completed
// grid as n*n digits row by row (whitespace and , / | ignored). Any grid meeting every constraint
// is accepted.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/internal/latin_square.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

struct Cage {
  std::string op;  // + - * / =
  int64_t target = 0;
  std::vector<size_t> cells;  // row-major indices
};

// The value of a cage under `values` (the cells' digits), or -1 when the op does not apply.
int64_t Combine(const std::string& op, const std::vector<int64_t>& values) {
  int64_t acc = op == "*" ? 1 : 0;
  if (op == "+" || op == "*") {
    for (int64_t v : values) acc = op == "+" ? acc + v : acc * v;
    return acc;
  }
  if (op == "=") return values.size() == 1 ? values[0] : -1;
  if (values.size() != 2) return -1;
  const int64_t hi = values[0] > values[1] ? values[0] : values[1];
  const int64_t lo = values[0] > values[1] ? values[1] : values[0];
  if (op == "-") return hi - lo;
  return hi % lo == 0 ? hi / lo : -1;  // "/"
}

// Random connected cages of 1..max_size cells grown from random seeds, covering the grid.
std::vector<std::vector<size_t>> RandomCages(int n, int max_size, Rng& rng) {
  std::vector<int> owner(static_cast<size_t>(n * n), -1);
  std::vector<size_t> order(owner.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  rng.Shuffle(order);
  std::vector<std::vector<size_t>> cages;
  for (size_t seed_cell : order) {
    if (owner[seed_cell] != -1) continue;
    const int id = static_cast<int>(cages.size());
    std::vector<size_t> cage = {seed_cell};
    owner[seed_cell] = id;
    const int64_t want = rng.Uniform(2, max_size);
    while (static_cast<int64_t>(cage.size()) < want) {
      std::vector<size_t> frontier;
      for (size_t cell : cage) {
        const int r = static_cast<int>(cell) / n, c = static_cast<int>(cell) % n;
        const std::pair<int, int> nbrs[4] = {{r - 1, c}, {r + 1, c}, {r, c - 1}, {r, c + 1}};
        for (const auto& [nr, nc] : nbrs) {
          if (nr >= 0 && nr < n && nc >= 0 && nc < n && owner[Cell(nr, nc, n)] == -1)
            frontier.push_back(Cell(nr, nc, n));
        }
      }
      if (frontier.empty()) break;
      const size_t next =
          frontier[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(frontier.size()) - 1))];
      owner[next] = id;
      cage.push_back(next);
    }
    cages.push_back(std::move(cage));
  }
  return cages;
}

// An operation for `cells` of the solution: "=" for one cell; for two any of + - * and / when it
// divides; for more + or *.
Cage MakeCage(std::vector<size_t> cells, const std::vector<int>& sq, Rng& rng) {
  std::sort(cells.begin(), cells.end());  // row-major order reads best in the prompt
  std::vector<int64_t> values;
  values.reserve(cells.size());
  for (size_t c : cells) values.push_back(sq[c]);
  std::vector<std::string> ops;
  if (cells.size() == 1) {
    ops = {"="};
  } else if (cells.size() == 2) {
    ops = {"+", "-", "*"};
    if (Combine("/", values) > 0) ops.emplace_back("/");
  } else {
    ops = {"+", "*"};
  }
  Cage cage;
  cage.op = ops[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(ops.size()) - 1))];
  cage.target = Combine(cage.op, values);
  cage.cells = std::move(cells);
  return cage;
}

// instance.cages: the cages, validated, covering every cell of the n x n grid exactly once.
absl::StatusOr<std::vector<Cage>> GetCages(const nlohmann::json& instance, int n) {
  auto it = instance.find("cages");
  if (it == instance.end()) return absl::InvalidArgumentError("instance.cages: missing");
  if (!it->is_array() || it->empty() || it->size() > 81) {
    return absl::InvalidArgumentError("instance.cages: expected an array of 1..81 cages");
  }
  std::vector<Cage> out;
  out.reserve(it->size());
  std::vector<int> covered(static_cast<size_t>(n * n), 0);
  for (size_t i = 0; i < it->size(); ++i) {
    const std::string parent = absl::StrCat("cages[", i, "]");
    const nlohmann::json& e = (*it)[i];
    if (!e.is_object())
      return absl::InvalidArgumentError(absl::StrCat("instance.", parent, ": expected an object"));
    absl::StatusOr<std::string> op = GetString(e, "op", 1);
    if (!op.ok()) return NestField(op.status(), parent);
    absl::StatusOr<int64_t> target = GetInt(e, "target", 0, 1000000000);
    if (!target.ok()) return NestField(target.status(), parent);
    absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> cells = GetPairArray(e, "cells", 81, 1, n);
    if (!cells.ok()) return NestField(cells.status(), parent);
    const size_t want = *op == "=" ? 1 : (*op == "-" || *op == "/") ? 2 : 0;
    if ((*op != "+" && *op != "*" && want == 0) || cells->empty() || (want != 0 && cells->size() != want)) {
      return absl::InvalidArgumentError(absl::StrCat("instance.", parent, ": op '", *op, "' with ",
                                                     cells->size(), " cells (ops: + * any, - / two, = one)"));
    }
    Cage cage{*op, *target, {}};
    cage.cells.reserve(cells->size());
    for (const auto& [r, c] : *cells) {
      cage.cells.push_back(Cell(static_cast<int>(r - 1), static_cast<int>(c - 1), n));
      if (++covered[cage.cells.back()] > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("instance.", parent, ": cell [", r, ", ", c, "] is in two cages"));
      }
    }
    out.push_back(std::move(cage));
  }
  for (size_t i = 0; i < covered.size(); ++i) {
    if (covered[i] == 0) {
      return absl::InvalidArgumentError(absl::StrCat("instance.cages: cell [", i / static_cast<size_t>(n) + 1,
                                                     ", ", i % static_cast<size_t>(n) + 1,
                                                     "] is in no cage"));
    }
  }
  return out;
}

class KenKenFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "kenken"; }
  std::string_view difficulty_help() const override {
    return "grid size 3 (1..2), 4 (3..4), 5 (5..6), 6 (7..8) or 7 (9..10); odd levels use cages of up to 2 "
           "cells, even levels up to 3";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int n = 3 + (difficulty - 1) / 2;
    const int max_size = 2 + (difficulty - 1) % 2;
    const std::vector<int> sq = RandomLatinSquare(n, rng);
    std::vector<std::vector<size_t>> partition = RandomCages(n, max_size, rng);
    nlohmann::json cages_json = nlohmann::json::array();
    std::vector<std::string> cages_text;
    cages_text.reserve(partition.size());
    for (std::vector<size_t>& cells : partition) {
      Cage cage = MakeCage(std::move(cells), sq, rng);
      nlohmann::json pairs = nlohmann::json::array();
      std::vector<std::string> names;
      names.reserve(cage.cells.size());
      for (size_t c : cage.cells) {
        pairs.push_back({c / static_cast<size_t>(n) + 1, c % static_cast<size_t>(n) + 1});
        names.push_back(
            absl::StrCat("(", c / static_cast<size_t>(n) + 1, ",", c % static_cast<size_t>(n) + 1, ")"));
      }
      cages_json.push_back({{"op", cage.op}, {"target", cage.target}, {"cells", pairs}});
      cages_text.push_back(
          absl::StrCat(cage.target, cage.op == "=" ? "" : cage.op, " ", absl::StrJoin(names, "")));
    }
    std::string witness;
    for (int v : sq) witness.push_back(static_cast<char>('0' + v));
    GeneratedInstance g;
    g.instance = {{"size", n}, {"cages", cages_json}};
    g.prompt = absl::StrCat(
        "Solve this ", n, "x", n, " KenKen: fill the grid with digits 1-", n,
        " so that each digit appears once in every row and column and every cage meets its target. A cage "
        "'T+' sums its cells to T, 'T*' multiplies to T, 'T-' is the difference of its two cells, 'T/' their "
        "quotient (larger by smaller), and a bare 'T' is a single cell holding T. Cells are (row,column), "
        "1-based. Cages: ",
        absl::StrJoin(cages_text, "; "), ". Give the full grid as ", n * n,
        " digits row by row inside <answer></answer>.");
    g.witness = witness;
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> size = GetInt(instance, "size", 1, 9);
    if (!size.ok()) return size.status();
    const int n = static_cast<int>(*size);
    absl::StatusOr<std::vector<Cage>> cages = GetCages(instance, n);
    if (!cages.ok()) return cages.status();
    std::string cells, why;
    if (!ParseDigitGrid(answer, n, &cells, &why)) return Unparseable(why);
    const std::string latin = LatinViolation(cells, std::string(cells.size(), '.'), n);
    if (!latin.empty()) return Incorrect(latin, cells);
    for (size_t i = 0; i < cages->size(); ++i) {
      const Cage& cage = (*cages)[i];
      std::vector<int64_t> values;
      values.reserve(cage.cells.size());
      for (size_t c : cage.cells) values.push_back(cells[c] - '0');
      const int64_t got = Combine(cage.op, values);
      if (got != cage.target) {
        return Incorrect(absl::StrCat("cage ", i + 1, " (", cage.target, cage.op, ") gives ",
                                      got < 0 ? std::string("no whole quotient") : absl::StrCat(got)),
                         cells);
      }
    }
    return Correct(cells);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewKenKenFamily() { return std::make_unique<KenKenFamily>(); }

}  // namespace m1rl::reward::logic::internal
