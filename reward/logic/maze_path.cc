// Family "maze_path": a grid maze ('#' wall, '.' open, 'S' start, 'G' goal; row-major string of
// rows x cols cells). The answer is a shortest path from S to G as a string of moves U, D, L, R
// (whitespace and commas ignored). Any path that stays on open cells, ends on G and is exactly as
// long as the BFS shortest path is accepted (mazes with loops have several).
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr int kDr[4] = {-1, 1, 0, 0};
constexpr int kDc[4] = {0, 0, -1, 1};
constexpr char kMove[4] = {'U', 'D', 'L', 'R'};

struct Maze {
  int rows = 0;
  int cols = 0;
  std::string grid;
  int start = 0;
  int goal = 0;
  bool Open(int r, int c) const { return r >= 0 && r < rows && c >= 0 && c < cols && grid[Idx(r, c)] != '#'; }
  size_t Idx(int r, int c) const {
    return static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
  }
};

// Shortest path from start to goal as moves (BFS, moves tried in U D L R order); nullopt if none.
std::optional<std::string> ShortestPath(const Maze& m) {
  std::vector<int> from(m.grid.size(), -2);  // -2 unseen; else the move index that entered the cell
  std::deque<int> queue = {m.start};
  from[static_cast<size_t>(m.start)] = -1;
  while (!queue.empty()) {
    const int cell = queue.front();
    queue.pop_front();
    if (cell == m.goal) break;
    for (int k = 0; k < 4; ++k) {
      const int r = cell / m.cols + kDr[k];
      const int c = cell % m.cols + kDc[k];
      if (!m.Open(r, c) || from[m.Idx(r, c)] != -2) continue;
      from[m.Idx(r, c)] = k;
      queue.push_back(r * m.cols + c);
    }
  }
  if (from[static_cast<size_t>(m.goal)] == -2) return std::nullopt;
  std::string path;
  for (int cell = m.goal; cell != m.start;) {
    const int k = from[static_cast<size_t>(cell)];
    path.insert(path.begin(), kMove[k]);
    cell = (cell / m.cols - kDr[k]) * m.cols + (cell % m.cols - kDc[k]);
  }
  return path;
}

// A perfect maze by randomised depth-first search over the odd cells of a (2k+1)^2 grid, then
// `extra` wall cells between two open cells knocked down to make loops.
std::string CarveMaze(int k, int extra, Rng& rng) {
  const int w = 2 * k + 1;
  std::string g(static_cast<size_t>(w) * static_cast<size_t>(w), '#');
  auto at = [&](int r, int c) -> char& {
    return g[static_cast<size_t>(r) * static_cast<size_t>(w) + static_cast<size_t>(c)];
  };
  std::vector<std::pair<int, int>> stack = {{1, 1}};
  at(1, 1) = '.';
  while (!stack.empty()) {
    const auto [r, c] = stack.back();
    std::vector<int> dirs = {0, 1, 2, 3};
    rng.Shuffle(dirs);
    bool moved = false;
    for (int d : dirs) {
      const int nr = r + 2 * kDr[d];
      const int nc = c + 2 * kDc[d];
      if (nr < 1 || nr >= w - 1 || nc < 1 || nc >= w - 1 || at(nr, nc) == '.') continue;
      at(r + kDr[d], c + kDc[d]) = '.';
      at(nr, nc) = '.';
      stack.emplace_back(nr, nc);
      moved = true;
      break;
    }
    if (!moved) stack.pop_back();
  }
  for (int i = 0; i < extra; ++i) {
    const int r = static_cast<int>(rng.Uniform(1, w - 2));
    const int c = static_cast<int>(rng.Uniform(1, w - 2));
    const bool horizontal = at(r, c - 1) == '.' && at(r, c + 1) == '.';
    const bool vertical = at(r - 1, c) == '.' && at(r + 1, c) == '.';
    if (at(r, c) == '#' && (horizontal || vertical)) at(r, c) = '.';
  }
  return g;
}

absl::StatusOr<Maze> ParseMaze(const nlohmann::json& instance) {
  absl::StatusOr<int64_t> rows = GetInt(instance, "rows", 1, 100);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<int64_t> cols = GetInt(instance, "cols", 1, 100);
  if (!cols.ok()) return cols.status();
  absl::StatusOr<std::string> grid = GetString(instance, "grid", 10000);
  if (!grid.ok()) return grid.status();
  Maze m{static_cast<int>(*rows), static_cast<int>(*cols), *grid, -1, -1};
  if (static_cast<int64_t>(grid->size()) != *rows * *cols) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.grid: expected ", *rows * *cols, " cells, got ", grid->size()));
  }
  for (size_t i = 0; i < grid->size(); ++i) {
    const char ch = (*grid)[i];
    int* slot = ch == 'S' ? &m.start : (ch == 'G' ? &m.goal : nullptr);
    if (slot != nullptr && *slot != -1) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.grid: more than one '", std::string(1, ch), "'"));
    }
    if (slot != nullptr) *slot = static_cast<int>(i);
    if (slot == nullptr && ch != '#' && ch != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.grid: cell ", i, " is '", std::string(1, ch), "'"));
    }
  }
  if (m.start == -1 || m.goal == -1)
    return absl::InvalidArgumentError("instance.grid: needs one 'S' and one 'G'");
  return m;
}

class MazePathFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "maze_path"; }
  std::string_view difficulty_help() const override {
    return "maze of (2*difficulty+3)^2 cells (5x5..23x23) with difficulty extra openings making loops; "
           "start and goal at random open cells";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int k = difficulty + 1;
    const int w = 2 * k + 1;
    Maze m{w, w, CarveMaze(k, difficulty, rng), 0, 0};
    std::vector<int> open;
    open.reserve(m.grid.size());
    for (int i = 0; i < w * w; ++i) {
      if (m.grid[static_cast<size_t>(i)] == '.') open.push_back(i);
    }
    rng.Shuffle(open);
    m.start = open[0];
    m.goal = open[1];
    m.grid[static_cast<size_t>(m.start)] = 'S';
    m.grid[static_cast<size_t>(m.goal)] = 'G';
    std::optional<std::string> path = ShortestPath(m);
    if (!path) return absl::InternalError("maze_path: goal unreachable in a generated maze");
    std::string rows_text;
    for (int r = 0; r < w; ++r)
      absl::StrAppend(&rows_text, r ? "/" : "", m.grid.substr(m.Idx(r, 0), static_cast<size_t>(w)));
    GeneratedInstance g;
    g.instance = {{"rows", w}, {"cols", w}, {"grid", m.grid}};
    g.prompt = absl::StrCat(
        "Find a shortest path from S to G in this ", w, "x", w,
        " maze ('#' is a wall, '.' is open; rows top to bottom separated by /): ", rows_text,
        ". Move one cell at a time with U (up), D (down), L (left), R (right), never onto a wall. Give the "
        "moves as one string of U/D/L/R letters, e.g. RRDDL, inside <answer></answer>.");
    g.witness = *path;
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<Maze> m = ParseMaze(instance);
    if (!m.ok()) return m.status();
    std::optional<std::string> best = ShortestPath(*m);
    if (!best) return absl::InvalidArgumentError("instance.grid: G is unreachable from S");
    std::string moves;
    for (size_t i = 0; i < answer.size(); ++i) {
      const char ch = answer[i];
      if (ch == 'U' || ch == 'D' || ch == 'L' || ch == 'R') {
        moves.push_back(ch);
      } else if (ch != ' ' && ch != ',' && ch != '\t' && ch != '\n' && ch != '\r') {
        return Unparseable(
            absl::StrCat("answer: '", std::string(1, ch), "' at offset ", i, " is not U, D, L or R"));
      }
    }
    if (moves.empty()) return Unparseable("answer: no moves");
    int r = m->start / m->cols;
    int c = m->start % m->cols;
    for (size_t i = 0; i < moves.size(); ++i) {
      const int k = moves[i] == 'U' ? 0 : moves[i] == 'D' ? 1 : moves[i] == 'L' ? 2 : 3;
      r += kDr[k];
      c += kDc[k];
      if (!m->Open(r, c))
        return Incorrect(
            absl::StrCat("move ", i + 1, " (", std::string(1, moves[i]), ") hits a wall or leaves the grid"),
            moves);
    }
    if (r * m->cols + c != m->goal) return Incorrect("the path does not end on G", moves);
    if (moves.size() != best->size()) {
      return Incorrect(absl::StrCat("path has ", moves.size(), " moves; the shortest has ", best->size()),
                       moves);
    }
    return Correct(moves);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewMazePathFamily() { return std::make_unique<MazePathFamily>(); }

}  // namespace m1rl::reward::logic::internal
