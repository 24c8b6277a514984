// Family "kakuro": a rows x cols "grid" (row-major, '#' black, '.' white). A run is a maximal
// horizontal (across) or vertical (down) segment of at least two white cells; "across" and "down"
// give the required sum of each run, runs ordered by their first cell row by row. Fill every white
// cell with a digit 1-9 so that each run has its sum and no digit twice. The answer is the white
// cells' digits row by row; whitespace and the separators / | , # are ignored (so the grid may be
// written out with '#' for black cells). Any filling meeting every run constraint is accepted.
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

constexpr int64_t kMaxSide = 12;

// Row-major index of 0-based (r, c) in a grid with `cols` columns.
size_t Idx(int r, int c, int cols) {
  return static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
}

struct Run {
  bool across = true;
  int row = 0;  // first cell, 0-based
  int col = 0;
  int length = 0;
  std::vector<size_t> cells;  // row-major indices
};

// The runs of `grid` (length >= 2), across runs then down runs, each in row-major order of the first
// cell.
std::vector<Run> Runs(const std::string& grid, int rows, int cols) {
  std::vector<Run> out;
  auto white = [&](int r, int c) { return grid[Idx(r, c, cols)] != '#'; };
  for (int across = 1; across >= 0; --across) {
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        const bool starts = white(r, c) && (across ? c == 0 || !white(r, c - 1) : r == 0 || !white(r - 1, c));
        if (!starts) continue;
        Run run{across == 1, r, c, 0, {}};
        for (int rr = r, cc = c; rr < rows && cc < cols && white(rr, cc); across ? ++cc : ++rr) {
          run.cells.push_back(Idx(rr, cc, cols));
        }
        run.length = static_cast<int>(run.cells.size());
        if (run.length >= 2) out.push_back(run);
      }
    }
  }
  return out;
}

std::string RunText(const Run& r) {
  return r.across ? absl::StrCat("row ", r.row + 1, " columns ", r.col + 1, "-", r.col + r.length)
                  : absl::StrCat("column ", r.col + 1, " rows ", r.row + 1, "-", r.row + r.length);
}

// Whether every white cell lies in an across and a down run of length >= 2.
bool EveryCellInTwoRuns(const std::string& grid, int rows, int cols) {
  std::vector<int> covered(grid.size(), 0);
  for (const Run& r : Runs(grid, rows, cols)) {
    for (size_t c : r.cells) covered[c] += 1;
  }
  for (size_t i = 0; i < grid.size(); ++i) {
    if (grid[i] != '#' && covered[i] != 2) return false;
  }
  return true;
}

// Fills the white cells (row-major) with digits distinct within every run, backtracking over random
// digit orders. Generated runs are at most 6 long, so a filling exists (a cyclic Latin square).
bool Fill(size_t at, const std::vector<std::vector<const Run*>>& runs_of, Rng& rng, std::string* digits) {
  while (at < digits->size() && (*digits)[at] == '#') ++at;
  if (at == digits->size()) return true;
  std::vector<char> order = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  rng.Shuffle(order);
  for (char d : order) {
    bool clash = false;
    for (const Run* r : runs_of[at]) {
      for (size_t c : r->cells) clash = clash || (c != at && (*digits)[c] == d);
    }
    if (clash) continue;
    (*digits)[at] = d;
    if (Fill(at + 1, runs_of, rng, digits)) return true;
    (*digits)[at] = '.';
  }
  return false;
}

std::string RenderGrid(const std::string& cells, int rows, int cols) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) out.push_back(cells.substr(Idx(r, 0, cols), static_cast<size_t>(cols)));
  return absl::StrJoin(out, "/");
}

struct Puzzle {
  int rows = 0;
  int cols = 0;
  std::string grid;
  std::vector<Run> runs;
  std::vector<int64_t> sums;  // per run, across then down
};

absl::StatusOr<Puzzle> GetPuzzle(const nlohmann::json& instance) {
  Puzzle p;
  absl::StatusOr<int64_t> rows = GetInt(instance, "rows", 1, kMaxSide);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<int64_t> cols = GetInt(instance, "cols", 1, kMaxSide);
  if (!cols.ok()) return cols.status();
  p.rows = static_cast<int>(*rows);
  p.cols = static_cast<int>(*cols);
  absl::StatusOr<std::string> grid = GetString(instance, "grid", static_cast<size_t>(kMaxSide * kMaxSide));
  if (!grid.ok()) return grid.status();
  if (static_cast<int>(grid->size()) != p.rows * p.cols ||
      grid->find_first_not_of("#.") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.grid: expected ", p.rows * p.cols, " cells of '#' (black) or '.' (white)"));
  }
  p.grid = *std::move(grid);
  p.runs = Runs(p.grid, p.rows, p.cols);
  size_t across = 0;
  for (const Run& r : p.runs) across += r.across ? 1 : 0;
  for (const char* field : {"across", "down"}) {
    const size_t want = field[0] == 'a' ? across : p.runs.size() - across;
    absl::StatusOr<std::vector<int64_t>> sums = GetIntArray(instance, field, want, want, 3, 45);
    if (!sums.ok()) return sums.status();
    p.sums.insert(p.sums.end(), sums->begin(), sums->end());
  }
  return p;
}

class KakuroFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "kakuro"; }
  std::string_view difficulty_help() const override {
    return "grid 3x3, 3x4, 4x4, 4x5, 5x5, 6x6 for difficulty 1..6, up to a fifth of the cells black; "
           "every white cell lies in an across and a down run";
  }
  int max_difficulty() const override { return 6; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    static const int kShape[6][2] = {{3, 3}, {3, 4}, {4, 4}, {4, 5}, {5, 5}, {6, 6}};
    Rng rng(name(), seed, difficulty);
    const int rows = kShape[difficulty - 1][0], cols = kShape[difficulty - 1][1];
    std::string grid(static_cast<size_t>(rows * cols), '.');
    // Blacken random cells, keeping every white cell in two runs, until a fifth of the cells are black.
    int black = 0;
    for (int tries = 0; tries < 3 * rows * cols && black < rows * cols / 5; ++tries) {
      const size_t cell = static_cast<size_t>(rng.Uniform(0, rows * cols - 1));
      if (grid[cell] == '#') continue;
      grid[cell] = '#';
      if (EveryCellInTwoRuns(grid, rows, cols)) {
        ++black;
      } else {
        grid[cell] = '.';
      }
    }
    const std::vector<Run> runs = Runs(grid, rows, cols);
    std::vector<std::vector<const Run*>> runs_of(grid.size());
    for (const Run& r : runs) {
      for (size_t c : r.cells) runs_of[c].push_back(&r);
    }
    std::string digits = grid;
    if (!Fill(0, runs_of, rng, &digits)) return absl::InternalError("kakuro: no filling found");
    nlohmann::json across = nlohmann::json::array(), down = nlohmann::json::array();
    std::vector<std::string> text;
    for (const Run& r : runs) {
      int sum = 0;
      for (size_t c : r.cells) sum += digits[c] - '0';
      (r.across ? across : down).push_back(sum);
      text.push_back(absl::StrCat(RunText(r), " sum ", sum));
    }
    GeneratedInstance g;
    g.instance = {{"rows", rows}, {"cols", cols}, {"grid", grid}, {"across", across}, {"down", down}};
    g.prompt = absl::StrCat(
        "Kakuro: fill every white cell ('.') of this ", rows, "x", cols,
        " grid (rows separated by /, '#' is black) with a digit 1-9: ", RenderGrid(grid, rows, cols),
        ". Each run of white cells below must add up to its sum and use no digit twice: ",
        absl::StrJoin(text, "; "),
        ". Give the grid row by row inside <answer></answer>, a digit for each white cell and # for each "
        "black cell, rows separated by /.");
    g.witness = RenderGrid(digits, rows, cols);
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<Puzzle> p = GetPuzzle(instance);
    if (!p.ok()) return p.status();
    std::string digits;
    for (size_t i = 0; i < answer.size(); ++i) {
      const char c = answer[i];
      if (c >= '0' && c <= '9') {
        digits.push_back(c);
      } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '|' && c != ',' && c != '/' &&
                 c != '#') {
        return Unparseable(
            absl::StrCat("answer: '", std::string(1, c), "' at offset ", i, " is not a digit"));
      }
    }
    const size_t white = static_cast<size_t>(std::count(p->grid.begin(), p->grid.end(), '.'));
    if (digits.size() != white) {
      return Unparseable(absl::StrCat("answer: expected ", white, " digits, got ", digits.size()));
    }
    std::string cells = p->grid;
    for (size_t i = 0, k = 0; i < cells.size(); ++i) {
      if (cells[i] == '.') cells[i] = digits[k++];
    }
    const std::string normalized = RenderGrid(cells, p->rows, p->cols);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (cells[i] == '0') {
        return Incorrect(absl::StrCat("row ", i / static_cast<size_t>(p->cols) + 1, " column ",
                                      i % static_cast<size_t>(p->cols) + 1, " holds 0"),
                         normalized);
      }
    }
    for (size_t i = 0; i < p->runs.size(); ++i) {
      const Run& r = p->runs[i];
      int64_t sum = 0;
      unsigned seen = 0;
      for (size_t c : r.cells) {
        const unsigned bit = 1u << (cells[c] - '0');
        if (seen & bit)
          return Incorrect(absl::StrCat(RunText(r), " repeats ", std::string(1, cells[c])), normalized);
        seen |= bit;
        sum += cells[c] - '0';
      }
      if (sum != p->sums[i]) {
        return Incorrect(absl::StrCat(RunText(r), " adds up to ", sum, ", not ", p->sums[i]), normalized);
      }
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewKakuroFamily() { return std::make_unique<KakuroFamily>(); }

}  // namespace m1rl::reward::logic::internal
