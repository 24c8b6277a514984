// Family "hanoi": disks 1 (smallest) .. n sit on pegs A, B, C in a legal start position (each peg
// sorted, largest at the bottom); move them all to the target peg, one top disk at a time, never a
// larger disk on a smaller one, in at most max_moves moves. The answer is the move list, each move
// "XY", "X->Y", "X-Y" or "X>Y" with X, Y in A..C, separated by commas, semicolons or whitespace.
// The checker simulates the moves, so any legal sequence within the budget is accepted.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

using Move = std::pair<int, int>;  // from peg, to peg (0..2)

// Optimal moves taking disks 1..k (all smaller than k+1) onto peg `to`, given pos[d] (0..2).
void Solve(std::vector<int>& pos, int k, int to, std::vector<Move>& out) {
  if (k == 0) return;
  if (pos[static_cast<size_t>(k)] == to) {
    Solve(pos, k - 1, to, out);
    return;
  }
  const int from = pos[static_cast<size_t>(k)];
  const int other = 3 - from - to;
  Solve(pos, k - 1, other, out);
  out.emplace_back(from, to);
  pos[static_cast<size_t>(k)] = to;
  Solve(pos, k - 1, to, out);
}

std::optional<std::vector<Move>> ParseMoves(std::string_view s, size_t max_moves, std::string* why) {
  std::vector<Move> out;
  size_t i = 0;
  auto sep = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';'; };
  auto peg = [](char c) {
    if (c >= 'a' && c <= 'c') return c - 'a';
    if (c >= 'A' && c <= 'C') return c - 'A';
    return -1;
  };
  while (i < s.size()) {
    if (sep(s[i])) {
      ++i;
      continue;
    }
    const int from = peg(s[i]);
    if (from < 0) {
      *why = absl::StrCat("answer: expected a peg A-C at offset ", i, ", got '", std::string(s.substr(i, 8)),
                          "'");
      return std::nullopt;
    }
    ++i;
    if (s.substr(i, 2) == "->") {
      i += 2;
    } else if (i < s.size() && (s[i] == '-' || s[i] == '>')) {
      ++i;
    }
    const int to = i < s.size() ? peg(s[i]) : -1;
    if (to < 0) {
      *why = absl::StrCat("answer: move ", out.size() + 1, " has no destination peg");
      return std::nullopt;
    }
    ++i;
    out.emplace_back(from, to);
    if (out.size() > max_moves) {
      *why = absl::StrCat("answer: more than ", max_moves, " moves");
      return std::nullopt;
    }
  }
  return out;
}

std::string PegName(int p) { return std::string(1, static_cast<char>('A' + p)); }

class HanoiFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "hanoi"; }
  std::string_view difficulty_help() const override {
    return "difficulty+1 disks (2..8) in a random legal start position; the budget is the optimal move count";
  }
  int max_difficulty() const override { return 7; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int n = difficulty + 1;
    const int target = static_cast<int>(rng.Uniform(0, 2));
    std::vector<int> pos(static_cast<size_t>(n + 1), 0);
    std::string start;
    do {
      for (int d = 1; d <= n; ++d) pos[static_cast<size_t>(d)] = static_cast<int>(rng.Uniform(0, 2));
      // Keep the largest disk off the target so the instance is never trivial.
    } while (pos[static_cast<size_t>(n)] == target);
    for (int d = 1; d <= n; ++d) start.push_back(static_cast<char>('A' + pos[static_cast<size_t>(d)]));
    std::vector<int> work = pos;
    std::vector<Move> moves;
    Solve(work, n, target, moves);
    std::vector<std::string> text;
    for (const auto& [f, t] : moves) text.push_back(PegName(f) + PegName(t));
    std::vector<std::string> where;
    for (int p = 0; p < 3; ++p) {
      std::vector<int> disks;
      for (int d = n; d >= 1; --d) {
        if (pos[static_cast<size_t>(d)] == p) disks.push_back(d);
      }
      where.push_back(absl::StrCat(PegName(p), ": ", disks.empty() ? "empty" : absl::StrJoin(disks, " ")));
    }
    GeneratedInstance g;
    g.instance = {
        {"start", start}, {"target", PegName(target)}, {"max_moves", static_cast<int64_t>(moves.size())}};
    g.prompt = absl::StrCat("Tower of Hanoi with disks 1 (smallest) to ", n,
                            ", listed bottom to top: ", absl::StrJoin(where, "; "),
                            ". Move all disks to peg ", PegName(target), " in at most ", moves.size(),
                            " moves, never a larger disk on a smaller one. Give the moves like AC,",
                            " comma-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(text, ", ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<std::string> start = GetString(instance, "start", 20);
    if (!start.ok()) return start.status();
    if (start->empty()) return absl::InvalidArgumentError("instance.start: no disks");
    for (size_t i = 0; i < start->size(); ++i) {
      if ((*start)[i] < 'A' || (*start)[i] > 'C') {
        return absl::InvalidArgumentError(absl::StrCat("instance.start: disk ", i + 1, " is on '",
                                                       std::string(1, (*start)[i]), "', not a peg A-C"));
      }
    }
    absl::StatusOr<std::string> target = GetString(instance, "target", 1);
    if (!target.ok()) return target.status();
    if (target->size() != 1 || (*target)[0] < 'A' || (*target)[0] > 'C') {
      return absl::InvalidArgumentError("instance.target: must be one of A, B, C");
    }
    absl::StatusOr<int64_t> max_moves = GetInt(instance, "max_moves", 0, 1 << 20);
    if (!max_moves.ok()) return max_moves.status();
    std::string why;
    auto moves = ParseMoves(answer, static_cast<size_t>(*max_moves) + 1000, &why);
    if (!moves) return Unparseable(why);
    std::vector<std::string> text;
    for (const auto& [f, t] : *moves) text.push_back(PegName(f) + PegName(t));
    const std::string normalized = absl::StrJoin(text, ",");
    if (static_cast<int64_t>(moves->size()) > *max_moves) {
      return Incorrect(absl::StrCat(moves->size(), " moves exceed the budget of ", *max_moves), normalized);
    }
    // Each peg is a stack of disk numbers, bottom first; the start position lists disk d's peg.
    std::vector<std::vector<int>> pegs(3);
    for (int d = static_cast<int>(start->size()); d >= 1; --d)
      pegs[static_cast<size_t>((*start)[static_cast<size_t>(d - 1)] - 'A')].push_back(d);
    for (size_t m = 0; m < moves->size(); ++m) {
      const auto [f, t] = (*moves)[m];
      auto& src = pegs[static_cast<size_t>(f)];
      auto& dst = pegs[static_cast<size_t>(t)];
      if (src.empty())
        return Incorrect(absl::StrCat("move ", m + 1, " takes from empty peg ", PegName(f)), normalized);
      if (f == t) return Incorrect(absl::StrCat("move ", m + 1, " does not move"), normalized);
      if (!dst.empty() && dst.back() < src.back()) {
        return Incorrect(absl::StrCat("move ", m + 1, " puts disk ", src.back(), " on disk ", dst.back()),
                         normalized);
      }
      dst.push_back(src.back());
      src.pop_back();
    }
    const size_t goal = static_cast<size_t>((*target)[0] - 'A');
    if (pegs[goal].size() != start->size()) {
      return Incorrect(absl::StrCat(start->size() - pegs[goal].size(), " disks are not on peg ", *target),
                       normalized);
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewHanoiFamily() { return std::make_unique<HanoiFamily>(); }

}  // namespace m1rl::reward::logic::internal
