// Family "star_battle" (one star per line): an n x n grid split into n regions (the row-major
// string "regions" of letters A.., one per cell). Place n stars so that every row, every column
// and every region holds exactly one, and no two stars touch, not even diagonally. The answer is
// the 1-based column of the star in rows 1..n, as integers separated by spaces or commas (one
// pair of enclosing [] or () allowed). Any placement meeting every constraint is accepted.
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr size_t kMaxSize = 26;  // one region letter A..Z per row

// Columns for rows row.. of `cols` (0-based) that leave every column distinct and no two stars of
// neighbouring rows touching; random order, backtracking. False when no completion exists.
bool PlaceStars(int n, int row, std::vector<int>& cols, std::vector<bool>& used, Rng& rng) {
  if (row == n) return true;
  std::vector<int> order(static_cast<size_t>(n));
  for (int c = 0; c < n; ++c) order[static_cast<size_t>(c)] = c;
  rng.Shuffle(order);
  for (int c : order) {
    if (used[static_cast<size_t>(c)]) continue;
    if (row > 0 && std::abs(cols[static_cast<size_t>(row - 1)] - c) < 2) continue;
    cols[static_cast<size_t>(row)] = c;
    used[static_cast<size_t>(c)] = true;
    if (PlaceStars(n, row + 1, cols, used, rng)) return true;
    used[static_cast<size_t>(c)] = false;
  }
  return false;
}

// Regions grown from the stars: each region starts at one star and takes a random free neighbour
// of a random region until the grid is full. Every region is connected and holds exactly its star.
std::string GrowRegions(int n, const std::vector<int>& cols, Rng& rng) {
  const size_t cells = static_cast<size_t>(n) * static_cast<size_t>(n);
  std::string regions(cells, '.');
  for (int r = 0; r < n; ++r)
    regions[static_cast<size_t>(r) * static_cast<size_t>(n) +
            static_cast<size_t>(cols[static_cast<size_t>(r)])] = static_cast<char>('A' + r);
  for (size_t filled = static_cast<size_t>(n); filled < cells; ++filled) {
    std::vector<std::pair<size_t, char>> frontier;  // (free cell, region next to it)
    for (size_t i = 0; i < cells; ++i) {
      if (regions[i] != '.') continue;
      const int r = static_cast<int>(i) / n, c = static_cast<int>(i) % n;
      if (r > 0 && regions[i - static_cast<size_t>(n)] != '.')
        frontier.emplace_back(i, regions[i - static_cast<size_t>(n)]);
      if (r + 1 < n && regions[i + static_cast<size_t>(n)] != '.')
        frontier.emplace_back(i, regions[i + static_cast<size_t>(n)]);
      if (c > 0 && regions[i - 1] != '.') frontier.emplace_back(i, regions[i - 1]);
      if (c + 1 < n && regions[i + 1] != '.') frontier.emplace_back(i, regions[i + 1]);
    }
    const auto& [cell, region] =
        frontier[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(frontier.size()) - 1))];
    regions[cell] = region;
  }
  return regions;
}

// instance.regions: n*n letters A.. (A + n - 1), each of the n letters on at least one cell.
absl::StatusOr<std::string> GetRegions(const nlohmann::json& instance, int n) {
  absl::StatusOr<std::string> regions = GetString(instance, "regions", kMaxSize * kMaxSize);
  if (!regions.ok()) return regions.status();
  if (static_cast<int>(regions->size()) != n * n) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.regions: expected ", n * n, " cells, got ", regions->size()));
  }
  std::vector<int> region_cells(static_cast<size_t>(n), 0);
  for (size_t i = 0; i < regions->size(); ++i) {
    const char c = (*regions)[i];
    if (c < 'A' || c >= 'A' + n) {
      return absl::InvalidArgumentError(absl::StrCat("instance.regions: cell ", i, " is '", std::string(1, c),
                                                     "', not a letter A..",
                                                     std::string(1, static_cast<char>('A' + n - 1))));
    }
    ++region_cells[static_cast<size_t>(c - 'A')];
  }
  for (int k = 0; k < n; ++k) {
    if (region_cells[static_cast<size_t>(k)] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.regions: region ", std::string(1, static_cast<char>('A' + k)), " is empty"));
    }
  }
  return regions;
}

class StarBattleFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "star_battle"; }
  std::string_view difficulty_help() const override {
    return "grid of difficulty+3 cells a side (4x4..10x10) with as many regions, one star per row, column "
           "and "
           "region";
  }
  int max_difficulty() const override { return 7; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int n = difficulty + 3;
    std::vector<int> cols(static_cast<size_t>(n));
    std::vector<bool> used(static_cast<size_t>(n));
    if (!PlaceStars(n, 0, cols, used, rng)) return absl::InternalError("star_battle: no star placement");
    const std::string regions = GrowRegions(n, cols, rng);
    std::vector<std::string> rows_text;
    rows_text.reserve(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r)
      rows_text.push_back(
          regions.substr(static_cast<size_t>(r) * static_cast<size_t>(n), static_cast<size_t>(n)));
    std::vector<int> answer;
    answer.reserve(cols.size());
    for (int c : cols) answer.push_back(c + 1);
    GeneratedInstance g;
    g.instance = {{"size", n}, {"regions", regions}};
    g.prompt = absl::StrCat(
        "Solve this ", n, "x", n, " star battle: the grid is split into ", n,
        " regions, each cell labelled with its region's letter (rows top to bottom separated by /): ",
        absl::StrJoin(rows_text, "/"), ". Place ", n,
        " stars so that every row, every column and every region holds exactly one star, and no two stars "
        "touch, not even diagonally. Give the column (1-",
        n, ") of the star in rows 1..", n, " in order, space-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(answer, " ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> size = GetInt(instance, "size", 1, static_cast<int64_t>(kMaxSize));
    if (!size.ok()) return size.status();
    const int n = static_cast<int>(*size);
    absl::StatusOr<std::string> regions = GetRegions(instance, n);
    if (!regions.ok()) return regions.status();
    std::string why;
    std::optional<std::vector<int64_t>> cols = ParseIntList(answer, kMaxSize, &why);
    if (!cols) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*cols, " ");
    if (static_cast<int>(cols->size()) != n) {
      return Incorrect(absl::StrCat("expected ", n, " columns, got ", cols->size()), normalized);
    }
    std::vector<int> col_row(static_cast<size_t>(n), -1), region_row(static_cast<size_t>(n), -1);
    for (int r = 0; r < n; ++r) {
      const int64_t c = (*cols)[static_cast<size_t>(r)];
      if (c < 1 || c > n)
        return Incorrect(absl::StrCat("row ", r + 1, " column ", c, " is off the grid"), normalized);
      const size_t region =
          static_cast<size_t>((*regions)[static_cast<size_t>(r * n) + static_cast<size_t>(c - 1)] - 'A');
      int& seen_col = col_row[static_cast<size_t>(c - 1)];
      int& seen_region = region_row[region];
      if (seen_col != -1)
        return Incorrect(absl::StrCat("rows ", seen_col + 1, " and ", r + 1, " share column ", c),
                         normalized);
      if (seen_region != -1) {
        return Incorrect(absl::StrCat("rows ", seen_region + 1, " and ", r + 1, " share region ",
                                      std::string(1, static_cast<char>('A' + region))),
                         normalized);
      }
      if (r > 0 && std::abs((*cols)[static_cast<size_t>(r - 1)] - c) < 2) {
        return Incorrect(absl::StrCat("the stars of rows ", r, " and ", r + 1, " touch"), normalized);
      }
      seen_col = r;
      seen_region = r;
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewStarBattleFamily() { return std::make_unique<StarBattleFamily>(); }

}  // namespace m1rl::reward::logic::internal
