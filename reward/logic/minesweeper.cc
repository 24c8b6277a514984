// Family "minesweeper": a rows x cols board, row-major string, where '.' is a covered cell and a digit
// 0-8 is an uncovered (mine-free) cell showing how many of its up to 8 neighbours hold a mine; "mines"
// is the total number of mines. The answer marks every cell, row by row: '*' for a mine, '.' for no
// mine (an uncovered cell may also be written as its own digit); whitespace and the separators / | ,
// are ignored. Any mine set that puts no mine on an uncovered cell, matches every shown digit and has
// exactly "mines" mines is accepted.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr int64_t kMaxSide = 30;

// Row-major index of 0-based (r, c) in a board with `cols` columns.
size_t Idx(int r, int c, int cols) {
  return static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
}

struct Board {
  int rows = 0;
  int cols = 0;
  std::string cells;  // row-major: '.' covered, '0'..'8' uncovered
};

// The number of '*' among the neighbours of (r, c) in a row-major `marks` string.
int MinesAround(const std::string& marks, int rows, int cols, int r, int c) {
  int n = 0;
  for (int dr = -1; dr <= 1; ++dr) {
    for (int dc = -1; dc <= 1; ++dc) {
      const int rr = r + dr, cc = c + dc;
      if ((dr != 0 || dc != 0) && rr >= 0 && rr < rows && cc >= 0 && cc < cols) {
        n += marks[Idx(rr, cc, cols)] == '*' ? 1 : 0;
      }
    }
  }
  return n;
}

std::string Rows(const std::string& cells, int rows, int cols) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) out.push_back(cells.substr(Idx(r, 0, cols), static_cast<size_t>(cols)));
  return absl::StrJoin(out, "/");
}

absl::StatusOr<Board> GetBoard(const nlohmann::json& instance) {
  Board b;
  absl::StatusOr<int64_t> rows = GetInt(instance, "rows", 1, kMaxSide);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<int64_t> cols = GetInt(instance, "cols", 1, kMaxSide);
  if (!cols.ok()) return cols.status();
  b.rows = static_cast<int>(*rows);
  b.cols = static_cast<int>(*cols);
  absl::StatusOr<std::string> cells = GetString(instance, "board", static_cast<size_t>(kMaxSide * kMaxSide));
  if (!cells.ok()) return cells.status();
  if (static_cast<int>(cells->size()) != b.rows * b.cols) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.board: expected ", b.rows * b.cols, " cells, got ", cells->size()));
  }
  for (size_t i = 0; i < cells->size(); ++i) {
    const char c = (*cells)[i];
    if (c != '.' && (c < '0' || c > '8')) {
      return absl::InvalidArgumentError(absl::StrCat("instance.board: cell ", i, " is '", std::string(1, c),
                                                     "' (expected '.' or a digit 0-8)"));
    }
  }
  b.cells = *std::move(cells);
  return b;
}

// The answer's marks ('*' mine, '.' none; a digit stays a digit), separators dropped. False with
// *why set on a foreign character or a wrong cell count.
bool ParseMarks(std::string_view answer, size_t want, std::string* marks, std::string* why) {
  for (size_t i = 0; i < answer.size(); ++i) {
    const char c = answer[i];
    if (c == '*' || c == '.' || (c >= '0' && c <= '8')) {
      marks->push_back(c);
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '|' && c != ',' && c != '/') {
      *why = absl::StrCat("answer: '", std::string(1, c), "' at offset ", i, " is not '*', '.' or a digit");
      return false;
    }
  }
  if (marks->size() != want) {
    *why = absl::StrCat("answer: expected ", want, " cells, got ", marks->size());
    return false;
  }
  return true;
}

// The first violated constraint of `marks` (digits already rewritten to '.'), or "" when none.
std::string Violation(const Board& b, const std::string& marks, int64_t mines) {
  int64_t total = 0;
  for (int r = 0; r < b.rows; ++r) {
    for (int c = 0; c < b.cols; ++c) {
      const char shown = b.cells[Idx(r, c, b.cols)];
      const bool mine = marks[Idx(r, c, b.cols)] == '*';
      total += mine ? 1 : 0;
      if (shown == '.') continue;
      if (mine) return absl::StrCat("row ", r + 1, " column ", c + 1, " is uncovered but marked as a mine");
      const int around = MinesAround(marks, b.rows, b.cols, r, c);
      if (around != shown - '0') {
        return absl::StrCat("row ", r + 1, " column ", c + 1, " shows ", std::string(1, shown), " but has ",
                            around, " marked neighbours");
      }
    }
  }
  if (total != mines) return absl::StrCat("expected ", mines, " mines, got ", total);
  return "";
}

class MinesweeperFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "minesweeper"; }
  std::string_view difficulty_help() const override {
    return "board 4x4 (1..3), 6x6 (4..6) or 8x8 (7..9); within a size, higher means more mines "
           "(5/6/7 per 32 cells) and fewer uncovered cells (70/55/40% of the mine-free cells)";
  }
  int max_difficulty() const override { return 9; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int side = 4 + 2 * ((difficulty - 1) / 3);
    const int tier = (difficulty - 1) % 3;
    const int cells = side * side;
    const int mines = cells * (5 + tier) / 32;
    std::vector<int> order(static_cast<size_t>(cells));
    for (int i = 0; i < cells; ++i) order[static_cast<size_t>(i)] = i;
    rng.Shuffle(order);
    std::string marks(static_cast<size_t>(cells), '.');
    for (int i = 0; i < mines; ++i) marks[static_cast<size_t>(order[static_cast<size_t>(i)])] = '*';
    std::string board(static_cast<size_t>(cells), '.');
    const int reveal_pct = 70 - 15 * tier;
    for (int i = mines; i < cells; ++i) {
      const int cell = order[static_cast<size_t>(i)];
      // At least one uncovered cell, then each further mine-free cell with probability reveal_pct%.
      if (i == mines || rng.Bernoulli(reveal_pct, 100)) {
        board[static_cast<size_t>(cell)] =
            static_cast<char>('0' + MinesAround(marks, side, side, cell / side, cell % side));
      }
    }
    GeneratedInstance g;
    g.instance = {{"rows", side}, {"cols", side}, {"mines", mines}, {"board", board}};
    g.prompt = absl::StrCat(
        "Minesweeper: this ", side, "x", side, " board (rows separated by /) hides exactly ", mines,
        " mines. A digit is an uncovered cell without a mine that shows how many of its 8 neighbours "
        "(including diagonals) hold a mine; '.' is a covered cell. Board: ",
        Rows(board, side, side),
        ". Place the mines so that every digit is right. Give the whole board row by row inside "
        "<answer></answer>, '*' for a mine and '.' for every other cell, rows separated by /.");
    g.witness = Rows(marks, side, side);
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<Board> b = GetBoard(instance);
    if (!b.ok()) return b.status();
    absl::StatusOr<int64_t> mines = GetInt(instance, "mines", 0, static_cast<int64_t>(b->rows) * b->cols);
    if (!mines.ok()) return mines.status();
    std::string marks, why;
    if (!ParseMarks(answer, b->cells.size(), &marks, &why)) return Unparseable(why);
    for (size_t i = 0; i < marks.size(); ++i) {
      if (marks[i] == '*' || marks[i] == '.') continue;
      if (marks[i] != b->cells[i]) {
        return Incorrect(
            absl::StrCat("row ", i / static_cast<size_t>(b->cols) + 1, " column ",
                         i % static_cast<size_t>(b->cols) + 1, " writes ", std::string(1, marks[i]),
                         " where the board shows ", std::string(1, b->cells[i])),
            Rows(marks, b->rows, b->cols));
      }
      marks[i] = '.';
    }
    const std::string normalized = Rows(marks, b->rows, b->cols);
    const std::string violation = Violation(*b, marks, *mines);
    if (!violation.empty()) return Incorrect(violation, normalized);
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewMinesweeperFamily() { return std::make_unique<MinesweeperFamily>(); }

}  // namespace m1rl::reward::logic::internal
