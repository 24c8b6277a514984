// Family "water_jug": jugs A, B (, C) with the given integer "capacities", all empty at the start;
// reach a state where some jug holds exactly "target" litres in as few moves as possible. Moves:
// "fill X" (X to the brim), "empty X", "pour X Y" (from X into Y until X is empty or Y is full). The
// answer is the move list, moves separated by commas, semicolons or newlines (words in either case).
// It is accepted when every move is legal, some jug holds the target after the last move, and the
// number of moves equals the minimum, which the checker recomputes by breadth-first search over the
// states. Any shortest move sequence is accepted.
#include <algorithm>
#include <map>
#include <numeric>
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

constexpr int64_t kMaxCapacity = 40;
constexpr size_t kMaxMoves = 500;

using State = std::vector<int64_t>;

struct Move {
  enum class Kind { kFill, kEmpty, kPour };
  Kind kind = Kind::kFill;
  size_t from = 0;
  size_t to = 0;  // kPour only
};

std::string Jug(size_t i) { return std::string(1, static_cast<char>('A' + i)); }

std::string MoveText(const Move& m) {
  switch (m.kind) {
    case Move::Kind::kFill:
      return "fill " + Jug(m.from);
    case Move::Kind::kEmpty:
      return "empty " + Jug(m.from);
    case Move::Kind::kPour:
      return "pour " + Jug(m.from) + " " + Jug(m.to);
  }
  return "";
}

State Apply(State s, const Move& m, const std::vector<int64_t>& cap) {
  if (m.kind == Move::Kind::kFill) {
    s[m.from] = cap[m.from];
  } else if (m.kind == Move::Kind::kEmpty) {
    s[m.from] = 0;
  } else {
    const int64_t amount = std::min(s[m.from], cap[m.to] - s[m.to]);
    s[m.from] -= amount;
    s[m.to] += amount;
  }
  return s;
}

std::vector<Move> AllMoves(size_t jugs) {
  std::vector<Move> out;
  out.reserve(jugs * (jugs + 1));
  for (size_t i = 0; i < jugs; ++i) {
    out.push_back({Move::Kind::kFill, i, 0});
    out.push_back({Move::Kind::kEmpty, i, 0});
    for (size_t j = 0; j < jugs; ++j) {
      if (j != i) out.push_back({Move::Kind::kPour, i, j});
    }
  }
  return out;
}

// Per amount that some jug can hold, the fewest moves to get it there and one such move list: a
// breadth-first search from the empty state (moves tried in AllMoves order) keeping each state's
// parent, so the first state reached holding an amount ends a shortest move list for it.
std::map<int64_t, std::vector<Move>> ShortestPerAmount(const std::vector<int64_t>& cap) {
  const std::vector<Move> moves = AllMoves(cap.size());
  // Mixed-radix code of a state, digit i in 0..cap[i].
  auto code = [&](const State& st) {
    size_t c = 0;
    for (size_t i = 0; i < cap.size(); ++i)
      c = c * static_cast<size_t>(cap[i] + 1) + static_cast<size_t>(st[i]);
    return c;
  };
  size_t codes = 1;
  for (int64_t c : cap) codes *= static_cast<size_t>(c + 1);
  std::vector<bool> seen(codes, false);
  std::vector<State> states = {State(cap.size(), 0)};
  std::vector<std::pair<size_t, Move>> parent = {{0, Move{}}};
  seen[0] = true;
  std::map<int64_t, std::vector<Move>> best;
  for (size_t at = 0; at < states.size(); ++at) {
    for (int64_t amount : states[at]) {
      if (best.count(amount) > 0) continue;
      std::vector<Move>& path = best[amount];
      for (size_t s = at; s != 0; s = parent[s].first) path.insert(path.begin(), parent[s].second);
    }
    for (const Move& m : moves) {
      State next = Apply(states[at], m, cap);
      if (seen[code(next)]) continue;
      seen[code(next)] = true;
      states.push_back(std::move(next));
      parent.emplace_back(at, m);
    }
  }
  return best;
}

// One move from its words ("fill a", "POUR A B"); nullopt if malformed or a jug is out of range.
std::optional<Move> ParseMove(std::string_view text, size_t jugs) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : std::string(text) + " ") {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) words.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  auto jug = [&](const std::string& w) -> std::optional<size_t> {
    if (w.size() != 1 || w[0] < 'a' || static_cast<size_t>(w[0] - 'a') >= jugs) return std::nullopt;
    return static_cast<size_t>(w[0] - 'a');
  };
  if (words.size() == 2 && (words[0] == "fill" || words[0] == "empty")) {
    std::optional<size_t> x = jug(words[1]);
    if (!x) return std::nullopt;
    return Move{words[0] == "fill" ? Move::Kind::kFill : Move::Kind::kEmpty, *x, 0};
  }
  if (words.size() == 3 && words[0] == "pour") {
    std::optional<size_t> x = jug(words[1]), y = jug(words[2]);
    if (!x || !y || *x == *y) return std::nullopt;
    return Move{Move::Kind::kPour, *x, *y};
  }
  return std::nullopt;
}

class WaterJugFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "water_jug"; }
  std::string_view difficulty_help() const override {
    return "two jugs (1..4) or three (5..8) of distinct capacities up to 4+2*difficulty litres with no "
           "common divisor; the target is the amount needing the most moves";
  }
  int max_difficulty() const override { return 8; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const size_t jugs = difficulty <= 4 ? 2 : 3;
    // Distinct capacities with no common divisor, so that every amount up to the largest is reachable.
    std::vector<int64_t> cap(jugs);
    do {
      for (int64_t& c : cap) c = rng.Uniform(2, 4 + 2 * difficulty);
      std::sort(cap.begin(), cap.end());
    } while (std::adjacent_find(cap.begin(), cap.end()) != cap.end() ||
             std::accumulate(cap.begin(), cap.end(), int64_t{0},
                             [](int64_t a, int64_t b) { return std::gcd(a, b); }) != 1);
    // The amount whose shortest solution is longest (ties: the smallest amount).
    int64_t target = 0;
    std::vector<Move> witness;
    for (const auto& [amount, path] : ShortestPerAmount(cap)) {
      if (path.size() > witness.size()) {
        target = amount;
        witness = path;
      }
    }
    std::vector<std::string> caps, moves;
    for (size_t i = 0; i < jugs; ++i) caps.push_back(absl::StrCat(Jug(i), " holds ", cap[i]));
    for (const Move& m : witness) moves.push_back(MoveText(m));
    GeneratedInstance g;
    g.instance = {{"capacities", cap}, {"target", target}};
    g.prompt = absl::StrCat("Water jugs: ", absl::StrJoin(caps, ", "),
                            " litres; all start empty. Moves: fill X (to the brim), "
                            "empty X, pour X Y (from X into Y until X is empty or Y is full). Using as few "
                            "moves as possible, get "
                            "exactly ",
                            target, target == 1 ? " litre" : " litres",
                            " into one of the jugs. Give the moves in order, separated by commas "
                            "(e.g. fill A, pour A B), inside <answer></answer>.");
    g.witness = absl::StrJoin(moves, ", ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<std::vector<int64_t>> cap = GetIntArray(instance, "capacities", 2, 3, 1, kMaxCapacity);
    if (!cap.ok()) return cap.status();
    absl::StatusOr<int64_t> target = GetInt(instance, "target", 1, kMaxCapacity);
    if (!target.ok()) return target.status();
    const std::map<int64_t, std::vector<Move>> per_amount = ShortestPerAmount(*cap);
    auto best = per_amount.find(*target);
    if (best == per_amount.end()) {
      return absl::InvalidArgumentError("instance.target: no jug can be brought to the target");
    }
    std::vector<Move> moves;
    size_t i = 0;
    const std::string_view s = TrimSpace(answer);
    while (i <= s.size()) {
      const size_t j = std::min(s.find_first_of(",;\n", i), s.size());
      const std::string_view part = TrimSpace(s.substr(i, j - i));
      if (!part.empty()) {
        std::optional<Move> m = ParseMove(part, cap->size());
        if (!m)
          return Unparseable(absl::StrCat("answer: '", std::string(part.substr(0, 24)), "' is not a move"));
        if (moves.size() == kMaxMoves)
          return Unparseable(absl::StrCat("answer: more than ", kMaxMoves, " moves"));
        moves.push_back(*m);
      }
      i = j + 1;
    }
    if (moves.empty()) return Unparseable("answer: no moves");
    std::vector<std::string> text;
    text.reserve(moves.size());
    for (const Move& m : moves) text.push_back(MoveText(m));
    const std::string normalized = absl::StrJoin(text, ", ");
    State state(cap->size(), 0);
    for (const Move& m : moves) state = Apply(state, m, *cap);
    if (std::find(state.begin(), state.end(), *target) == state.end()) {
      return Incorrect(
          absl::StrCat("no jug holds ", *target, " at the end (", absl::StrJoin(state, " "), ")"),
          normalized);
    }
    if (moves.size() != best->second.size()) {
      return Incorrect(absl::StrCat(moves.size(), " moves, the fewest is ", best->second.size()), normalized);
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewWaterJugFamily() { return std::make_unique<WaterJugFamily>(); }

}  // namespace m1rl::reward::logic::internal
