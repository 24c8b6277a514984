// Family "magic_square": fill an n x n grid with the numbers 1..n^2, each once, so that every row,
// every column and both main diagonals sum to n(n^2+1)/2, keeping the given numbers. "givens" holds
// the n*n cells row by row, 0 for a blank. The answer is the n*n numbers row by row, separated by
// whitespace, commas or semicolons (one pair of enclosing [] or () allowed). Any magic square that
// keeps the givens is accepted.
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

using Square = std::vector<int64_t>;  // n*n, row-major

int64_t At(const Square& s, int n, int r, int c) {
  return s[static_cast<size_t>(r) * static_cast<size_t>(n) + static_cast<size_t>(c)];
}

// A random order-5 magic square: n*A + B + 1 with A = (a i + b j + c) mod 5 and B = (d i + e j + f)
// mod 5. Rows, columns and diagonals each cover every residue of A and of B when b, e, a+-b, d+-e are
// non-zero mod 5, and (A, B) hits every pair once when a e - b d is non-zero, so the result is magic.
Square LinearMagicSquare5(Rng& rng) {
  constexpr int kN = 5;
  int a = 0, b = 0, d = 0, e = 0;
  auto unit = [](int x) { return ((x % kN) + kN) % kN != 0; };
  do {
    a = static_cast<int>(rng.Uniform(1, kN - 1));
    b = static_cast<int>(rng.Uniform(1, kN - 1));
    d = static_cast<int>(rng.Uniform(1, kN - 1));
    e = static_cast<int>(rng.Uniform(1, kN - 1));
  } while (!unit(a + b) || !unit(a - b) || !unit(d + e) || !unit(d - e) || !unit(a * e - b * d));
  const int c = static_cast<int>(rng.Uniform(0, kN - 1));
  const int f = static_cast<int>(rng.Uniform(0, kN - 1));
  Square s;
  s.reserve(static_cast<size_t>(kN) * static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) {
    for (int j = 0; j < kN; ++j) s.push_back(kN * ((a * i + b * j + c) % kN) + (d * i + e * j + f) % kN + 1);
  }
  return s;
}

// A random magic square of order 3 or 4: the Lo Shu / Duerer square under a random symmetry of the
// square, a random complement x -> n^2+1-x, and (order 4) the same random permutation of rows and of
// columns, one that commutes with reversal (i -> 3-i), so diagonal cells stay on their diagonals.
// Each step keeps every line sum.
Square TransformedMagicSquare(int n, Rng& rng) {
  static const Square kLoShu = {2, 7, 6, 9, 5, 1, 4, 3, 8};
  static const Square kDuerer = {16, 3, 2, 13, 5, 10, 11, 8, 9, 6, 7, 12, 4, 15, 14, 1};
  Square s = n == 3 ? kLoShu : kDuerer;
  std::vector<int> perm(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  if (n == 4) {
    if (rng.Bernoulli(1, 2)) perm = {1, 0, 3, 2};                          // 0<->1 with its mirror 3<->2
    if (rng.Bernoulli(1, 2)) perm = {perm[0], perm[2], perm[1], perm[3]};  // 1<->2 (its own mirror)
    if (rng.Bernoulli(1, 2)) perm = {perm[3], perm[2], perm[1], perm[0]};  // reversal
  }
  const bool transpose = rng.Bernoulli(1, 2), flip_rows = rng.Bernoulli(1, 2),
             flip_cols = rng.Bernoulli(1, 2);
  const bool complement = rng.Bernoulli(1, 2);
  Square out;
  out.reserve(s.size());
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      int r = perm[static_cast<size_t>(i)], c = perm[static_cast<size_t>(j)];
      if (flip_rows) r = n - 1 - r;
      if (flip_cols) c = n - 1 - c;
      const int64_t v = transpose ? At(s, n, c, r) : At(s, n, r, c);
      out.push_back(complement ? n * n + 1 - v : v);
    }
  }
  return out;
}

// The first broken line of `s` (rows, then columns, then diagonals), or "" when all sum to `magic`.
std::string BrokenLine(const Square& s, int n, int64_t magic) {
  int64_t diag = 0, anti = 0;
  for (int i = 0; i < n; ++i) {
    int64_t row = 0, col = 0;
    for (int j = 0; j < n; ++j) {
      row += At(s, n, i, j);
      col += At(s, n, j, i);
    }
    if (row != magic) return absl::StrCat("row ", i + 1, " sums to ", row, ", not ", magic);
    if (col != magic) return absl::StrCat("column ", i + 1, " sums to ", col, ", not ", magic);
    diag += At(s, n, i, i);
    anti += At(s, n, i, n - 1 - i);
  }
  if (diag != magic) return absl::StrCat("the main diagonal sums to ", diag, ", not ", magic);
  if (anti != magic) return absl::StrCat("the anti-diagonal sums to ", anti, ", not ", magic);
  return "";
}

class MagicSquareFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "magic_square"; }
  std::string_view difficulty_help() const override {
    return "order 3 (1..2), 4 (3..4) or 5 (5..6); odd levels give n + n/2 of the numbers, even levels n/2";
  }
  int max_difficulty() const override { return 6; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int n = 3 + (difficulty - 1) / 2;
    const Square sq = n == 5 ? LinearMagicSquare5(rng) : TransformedMagicSquare(n, rng);
    const int given = (difficulty - 1) % 2 == 0 ? n + n / 2 : n / 2;
    std::vector<int> cells(static_cast<size_t>(n * n));
    for (int i = 0; i < n * n; ++i) cells[static_cast<size_t>(i)] = i;
    rng.Shuffle(cells);
    Square givens(sq.size(), 0);
    for (int k = 0; k < given; ++k)
      givens[static_cast<size_t>(cells[static_cast<size_t>(k)])] =
          sq[static_cast<size_t>(cells[static_cast<size_t>(k)])];
    std::vector<std::string> rows_text;
    rows_text.reserve(static_cast<size_t>(n));
    for (int r = 0; r < n; ++r) {
      std::vector<std::string> row;
      row.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c)
        row.push_back(At(givens, n, r, c) == 0 ? "." : absl::StrCat(At(givens, n, r, c)));
      rows_text.push_back(absl::StrJoin(row, " "));
    }
    GeneratedInstance g;
    g.instance = {{"size", n}, {"givens", givens}};
    g.prompt = absl::StrCat(
        "Complete this ", n, "x", n, " magic square: use each number 1-", n * n,
        " once so that every row, every column and both main diagonals sum to ", n * (n * n + 1) / 2,
        ", keeping the given numbers ('.' is blank; rows separated by /): [", absl::StrJoin(rows_text, " / "),
        "]. Give all ", n * n, " numbers row by row, space-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(sq, " ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> size = GetInt(instance, "size", 1, 20);
    if (!size.ok()) return size.status();
    const int n = static_cast<int>(*size);
    const size_t cells = static_cast<size_t>(n) * static_cast<size_t>(n);
    const int64_t area = static_cast<int64_t>(n) * n;
    absl::StatusOr<Square> givens = GetIntArray(instance, "givens", cells, cells, 0, area);
    if (!givens.ok()) return givens.status();
    std::string why;
    std::optional<Square> s = ParseIntList(answer, cells, &why);
    if (!s) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*s, " ");
    if (s->size() != cells) {
      return Incorrect(absl::StrCat("expected ", cells, " numbers, got ", s->size()), normalized);
    }
    std::vector<bool> used(cells + 1, false);
    for (size_t i = 0; i < cells; ++i) {
      const int64_t v = (*s)[i];
      const std::string where =
          absl::StrCat("row ", i / static_cast<size_t>(n) + 1, " column ", i % static_cast<size_t>(n) + 1);
      if (v < 1 || v > area)
        return Incorrect(absl::StrCat(where, " holds ", v, ", outside 1..", area), normalized);
      if (used[static_cast<size_t>(v)]) return Incorrect(absl::StrCat(where, " repeats ", v), normalized);
      used[static_cast<size_t>(v)] = true;
      if ((*givens)[i] != 0 && (*givens)[i] != v) {
        return Incorrect(absl::StrCat(where, " changes the given ", (*givens)[i]), normalized);
      }
    }
    const std::string broken = BrokenLine(*s, n, n * (area + 1) / 2);
    if (!broken.empty()) return Incorrect(broken, normalized);
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewMagicSquareFamily() { return std::make_unique<MagicSquareFamily>(); }

}  // namespace m1rl::reward::logic::internal
