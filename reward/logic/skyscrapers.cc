// Family "skyscrapers": fill an n x n grid with building heights 1..n so that every row and column
// holds each height once, the given heights stay, and every edge clue holds: a clue counts the
// buildings visible from that side looking along its row or column (a building hides every lower
// one behind it). "top" / "bottom" hold the column clues left to right, "left" / "right" the row
// clues top to bottom; 0 means no clue. The grid is a row-major string, '.' for a blank. The answer
// is the completed grid as n*n digits row by row (whitespace and , / | ignored). Any grid meeting
// every constraint is accepted.
#include <iterator>
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

// The four clue sides, in the order of LineCell's `s`: the instance field and what a position counts.
struct Side {
  const char* name;
  const char* what;  // "column" or "row"
};
constexpr Side kSides[4] = {{"top", "column"}, {"bottom", "column"}, {"left", "row"}, {"right", "row"}};

// The cell seen k-th (0-based) from side s at position i of an n x n grid.
size_t LineCell(int s, int i, int k, int n) {
  switch (s) {
    case 0:
      return Cell(k, i, n);
    case 1:
      return Cell(n - 1 - k, i, n);
    case 2:
      return Cell(i, k, n);
    default:
      return Cell(i, n - 1 - k, n);
  }
}

// Buildings visible from side s at position i of the n*n heights.
int Visible(const std::vector<int>& heights, int s, int i, int n) {
  int seen = 0, tallest = 0;
  for (int k = 0; k < n; ++k) {
    const int h = heights[LineCell(s, i, k, n)];
    if (h > tallest) {
      tallest = h;
      ++seen;
    }
  }
  return seen;
}

using Clues = std::vector<std::vector<int64_t>>;  // [side][position], 0 = no clue

absl::StatusOr<Clues> GetClues(const nlohmann::json& instance, int n) {
  Clues clues;
  clues.reserve(std::size(kSides));
  for (const Side& side : kSides) {
    absl::StatusOr<std::vector<int64_t>> v =
        GetIntArray(instance, side.name, static_cast<size_t>(n), static_cast<size_t>(n), 0, n);
    if (!v.ok()) return v.status();
    clues.push_back(*std::move(v));
  }
  return clues;
}

std::string CluesText(const std::vector<int64_t>& v) {
  std::vector<std::string> parts;
  parts.reserve(v.size());
  for (int64_t x : v) parts.push_back(x == 0 ? "-" : absl::StrCat(x));
  return absl::StrJoin(parts, " ");
}

class SkyscrapersFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "skyscrapers"; }
  std::string_view difficulty_help() const override {
    return "grid size 4 (1..2), 5 (3..4), 6 (5..6) or 7 (7..8); odd levels show 3/4 of the 4n edge "
           "clues and up to n/2 given heights, even levels half the clues and no givens";
  }
  int max_difficulty() const override { return 8; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int n = 4 + (difficulty - 1) / 2;
    const bool hard = (difficulty - 1) % 2 == 1;
    const std::vector<int> sq = RandomLatinSquare(n, rng);
    Clues clues(4, std::vector<int64_t>(static_cast<size_t>(n), 0));
    // Exactly 3n (or 2n) of the 4n clue slots, chosen at random.
    std::vector<int> slots(static_cast<size_t>(4 * n));
    for (int k = 0; k < 4 * n; ++k) slots[static_cast<size_t>(k)] = k;
    rng.Shuffle(slots);
    slots.resize(static_cast<size_t>(hard ? 2 * n : 3 * n));
    for (int k : slots)
      clues[static_cast<size_t>(k / n)][static_cast<size_t>(k % n)] = Visible(sq, k / n, k % n, n);
    std::string grid(static_cast<size_t>(n * n), '.');
    for (int k = 0; !hard && k < n / 2; ++k) {
      const size_t cell = static_cast<size_t>(rng.Uniform(0, n * n - 1));
      grid[cell] = static_cast<char>('0' + sq[cell]);
    }
    std::string witness;
    for (int v : sq) witness.push_back(static_cast<char>('0' + v));
    std::vector<std::string> rows_text;
    rows_text.reserve(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) rows_text.push_back(grid.substr(Cell(r, 0, n), static_cast<size_t>(n)));
    GeneratedInstance g;
    g.instance = {{"size", n},          {"grid", grid},     {"top", clues[0]},
                  {"bottom", clues[1]}, {"left", clues[2]}, {"right", clues[3]}};
    g.prompt = absl::StrCat(
        "Solve this ", n, "x", n, " skyscrapers puzzle: fill the grid with building heights 1-", n,
        " so that each height appears once in every row and column. A clue is the number of buildings "
        "visible from that side looking along the row or column (a building hides every lower one behind "
        "it); - means no clue. Top clues (columns left to right): ",
        CluesText(clues[0]), ". Bottom clues: ", CluesText(clues[1]),
        ". Left clues (rows top to bottom): ", CluesText(clues[2]), ". Right clues: ", CluesText(clues[3]),
        ". Given heights ('.' is blank; rows separated by /): ", absl::StrJoin(rows_text, "/"),
        ". Give the full grid as ", n * n, " digits row by row inside <answer></answer>.");
    g.witness = witness;
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> size = GetInt(instance, "size", 1, 9);
    if (!size.ok()) return size.status();
    const int n = static_cast<int>(*size);
    absl::StatusOr<std::string> grid = GetGivenGrid(instance, n);
    if (!grid.ok()) return grid.status();
    absl::StatusOr<Clues> clues = GetClues(instance, n);
    if (!clues.ok()) return clues.status();
    std::string cells, why;
    if (!ParseDigitGrid(answer, n, &cells, &why)) return Unparseable(why);
    const std::string latin = LatinViolation(cells, *grid, n);
    if (!latin.empty()) return Incorrect(latin, cells);
    std::vector<int> heights;
    heights.reserve(cells.size());
    for (char c : cells) heights.push_back(c - '0');
    for (int s = 0; s < 4; ++s) {
      for (int i = 0; i < n; ++i) {
        const int64_t clue = (*clues)[static_cast<size_t>(s)][static_cast<size_t>(i)];
        const int seen = Visible(heights, s, i, n);
        if (clue != 0 && clue != seen) {
          return Incorrect(absl::StrCat(kSides[s].name, " clue of ", kSides[s].what, " ", i + 1, " is ", clue,
                                        " but ", seen, " buildings are visible"),
                           cells);
        }
      }
    }
    return Correct(cells);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewSkyscrapersFamily() { return std::make_unique<SkyscrapersFamily>(); }

}  // namespace m1rl::reward::logic::internal
