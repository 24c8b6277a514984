// Family "nonogram": shade cells of a rows x cols grid so that each row and column shows its clue:
// the lengths of its runs of consecutive shaded cells, in order ("row_clues" top to bottom, each
// left to right; "col_clues" left to right, each top to bottom; [] for a line with no shaded cell).
// The answer is the grid row by row, '#' or '1' for a shaded cell and '.' or '0' for a blank;
// whitespace and the separators , / | are ignored. Any grid whose every line matches its clue is
// accepted (clue sets often admit several).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

using Runs = std::vector<int64_t>;

// The run lengths of `count` cells of `filled` starting at `start`, `stride` apart.
Runs LineRuns(const std::vector<bool>& filled, size_t start, size_t stride, size_t count) {
  Runs runs;
  int64_t run = 0;
  for (size_t k = 0; k < count; ++k) {
    if (filled[start + k * stride]) {
      ++run;
    } else if (run > 0) {
      runs.push_back(run);
      run = 0;
    }
  }
  if (run > 0) runs.push_back(run);
  return runs;
}

// instance.<field>: `lines` clues, each an array of run lengths >= 1 that fits in `len` cells.
absl::StatusOr<std::vector<Runs>> GetClueLines(const nlohmann::json& instance, std::string_view field,
                                               size_t lines, int64_t len) {
  auto it = instance.find(std::string(field));
  if (it == instance.end())
    return absl::InvalidArgumentError(absl::StrCat("instance.", std::string(field), ": missing"));
  if (!it->is_array() || it->size() != lines) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.", std::string(field), ": expected an array of ", lines, " clues"));
  }
  std::vector<Runs> out;
  out.reserve(lines);
  for (size_t i = 0; i < lines; ++i) {
    // GetIntArray on a one-field wrapper, its "instance.clue" error prefix renamed to this line.
    const nlohmann::json wrapped = {{"clue", (*it)[i]}};
    absl::StatusOr<std::vector<int64_t>> runs =
        GetIntArray(wrapped, "clue", 0, static_cast<size_t>(len), 1, len);
    const std::string name = absl::StrCat(std::string(field), "[", i, "]");
    if (!runs.ok()) {
      constexpr std::string_view kPrefix = "instance.clue";
      const std::string_view msg(runs.status().message().data(), runs.status().message().size());
      return absl::Status(runs.status().code(),
                          absl::StrCat("instance.", name, std::string(msg.substr(kPrefix.size()))));
    }
    int64_t need = -1;
    for (int64_t r : *runs) need += r + 1;
    if (need > len) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.", name, ": runs need ", need, " cells, the line has ", len));
    }
    out.push_back(*std::move(runs));
  }
  return out;
}

// The answer's cells (separators dropped); false with *why on a foreign character or a wrong count.
bool ParseShading(std::string_view answer, size_t cells, std::vector<bool>* filled, std::string* why) {
  for (size_t i = 0; i < answer.size(); ++i) {
    const char c = answer[i];
    if (c == '#' || c == '1' || c == '.' || c == '0') {
      filled->push_back(c == '#' || c == '1');
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '|' && c != ',' && c != '/') {
      *why = absl::StrCat("answer: '", std::string(1, c), "' at offset ", i, " is not # . 1 or 0");
      return false;
    }
  }
  if (filled->size() != cells) {
    *why = absl::StrCat("answer: expected ", cells, " cells, got ", filled->size());
    return false;
  }
  return true;
}

std::string ClueText(const Runs& runs) { return runs.empty() ? "0" : absl::StrJoin(runs, " "); }

class NonogramFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "nonogram"; }
  std::string_view difficulty_help() const override {
    return "square grid of difficulty+3 cells a side (4x4..11x11), each cell shaded with probability 11/20";
  }
  int max_difficulty() const override { return 8; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const size_t n = static_cast<size_t>(difficulty) + 3;
    std::vector<bool> filled(n * n);
    for (size_t i = 0; i < n * n; ++i) filled[i] = rng.Bernoulli(11, 20);
    std::vector<Runs> row_clues, col_clues;
    std::vector<std::string> row_text, col_text, rows;
    for (auto* v : {&row_clues, &col_clues}) v->reserve(n);
    for (auto* v : {&row_text, &col_text, &rows}) v->reserve(n);
    for (size_t i = 0; i < n; ++i) {
      row_clues.push_back(LineRuns(filled, i * n, 1, n));
      col_clues.push_back(LineRuns(filled, i, n, n));
      row_text.push_back(ClueText(row_clues.back()));
      col_text.push_back(ClueText(col_clues.back()));
      std::string row;
      for (size_t c = 0; c < n; ++c) row.push_back(filled[i * n + c] ? '#' : '.');
      rows.push_back(row);
    }
    GeneratedInstance g;
    g.instance = {{"rows", n}, {"cols", n}, {"row_clues", row_clues}, {"col_clues", col_clues}};
    g.prompt = absl::StrCat(
        "Solve this ", n, "x", n,
        " nonogram: shade cells so that each row and column shows its clue, the lengths of its runs of "
        "consecutive shaded cells in order (0 means no shaded cell). Row clues, top to bottom, each left to "
        "right: ",
        absl::StrJoin(row_text, ", "),
        ". Column clues, left to right, each top to bottom: ", absl::StrJoin(col_text, ", "),
        ". Give the grid row by row with # for shaded and . for blank, rows "
        "separated by /, inside <answer></answer>.");
    g.witness = absl::StrJoin(rows, "/");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> rows = GetInt(instance, "rows", 1, 50);
    if (!rows.ok()) return rows.status();
    absl::StatusOr<int64_t> cols = GetInt(instance, "cols", 1, 50);
    if (!cols.ok()) return cols.status();
    const size_t nr = static_cast<size_t>(*rows), nc = static_cast<size_t>(*cols);
    absl::StatusOr<std::vector<Runs>> row_clues = GetClueLines(instance, "row_clues", nr, *cols);
    if (!row_clues.ok()) return row_clues.status();
    absl::StatusOr<std::vector<Runs>> col_clues = GetClueLines(instance, "col_clues", nc, *rows);
    if (!col_clues.ok()) return col_clues.status();
    std::vector<bool> filled;
    std::string why;
    if (!ParseShading(answer, nr * nc, &filled, &why)) return Unparseable(why);
    std::vector<std::string> text(nr);
    for (size_t r = 0; r < nr; ++r) {
      for (size_t c = 0; c < nc; ++c) text[r].push_back(filled[r * nc + c] ? '#' : '.');
    }
    const std::string normalized = absl::StrJoin(text, "/");
    for (size_t r = 0; r < nr; ++r) {
      const Runs got = LineRuns(filled, r * nc, 1, nc);
      if (got != (*row_clues)[r]) {
        return Incorrect(
            absl::StrCat("row ", r + 1, " shows ", ClueText(got), ", clue ", ClueText((*row_clues)[r])),
            normalized);
      }
    }
    for (size_t c = 0; c < nc; ++c) {
      const Runs got = LineRuns(filled, c, nc, nr);
      if (got != (*col_clues)[c]) {
        return Incorrect(
            absl::StrCat("column ", c + 1, " shows ", ClueText(got), ", clue ", ClueText((*col_clues)[c])),
            normalized);
      }
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewNonogramFamily() { return std::make_unique<NonogramFamily>(); }

}  // namespace m1rl::reward::logic::internal
