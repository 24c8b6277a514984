// Family "topo_sort": tasks A, B, C, ... (the first num_tasks capital letters) with precedence
// constraints [u, v] ("task u before task v", 0-based indices). The answer is an order of all the
// tasks, letters separated by spaces or commas (either case); any order that is a permutation of the
// tasks and respects every constraint counts.
#include <functional>
#include <optional>
#include <queue>
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

constexpr int64_t kMaxTasks = 26;

using Edges = std::vector<std::pair<int64_t, int64_t>>;

std::string Letter(int64_t i) { return std::string(1, static_cast<char>('A' + i)); }

// Kahn's algorithm taking the smallest available task first; nullopt if the graph has a cycle.
std::optional<std::vector<int64_t>> SmallestFirstOrder(int64_t n, const Edges& edges) {
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(n));
  std::vector<int64_t> indegree(static_cast<size_t>(n), 0);
  for (const auto& [u, v] : edges) {
    out[static_cast<size_t>(u)].push_back(v);
    ++indegree[static_cast<size_t>(v)];
  }
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> ready;
  for (int64_t i = 0; i < n; ++i) {
    if (indegree[static_cast<size_t>(i)] == 0) ready.push(i);
  }
  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n));
  while (!ready.empty()) {
    const int64_t u = ready.top();
    ready.pop();
    order.push_back(u);
    for (int64_t v : out[static_cast<size_t>(u)]) {
      if (--indegree[static_cast<size_t>(v)] == 0) ready.push(v);
    }
  }
  if (static_cast<int64_t>(order.size()) != n) return std::nullopt;
  return order;
}

// Letters separated by whitespace or commas -> 0-based task indices (unbounded above: the caller
// checks the range). nullopt with *why set on any other token.
std::optional<std::vector<int64_t>> ParseLetters(std::string_view answer, std::string* why) {
  std::vector<int64_t> out;
  std::string_view s = TrimSpace(answer);
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    const bool alone =
        i + 1 == s.size() || !((s[i + 1] >= 'A' && s[i + 1] <= 'Z') || (s[i + 1] >= 'a' && s[i + 1] <= 'z'));
    if (!(upper || lower) || !alone) {
      *why = absl::StrCat("expected single task letters separated by spaces or commas, got '",
                          std::string(s.substr(i, 8)), "'");
      return std::nullopt;
    }
    out.push_back(upper ? c - 'A' : c - 'a');
    ++i;
  }
  if (out.empty()) {
    *why = "empty order";
    return std::nullopt;
  }
  return out;
}

std::string RenderOrder(const std::vector<int64_t>& order) {
  std::vector<std::string> letters;
  letters.reserve(order.size());
  for (int64_t t : order) letters.push_back(Letter(t));
  return absl::StrJoin(letters, " ");
}

class TopoSortFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "topo_sort"; }
  std::string_view difficulty_help() const override {
    return "3+2*difficulty tasks (5..23); each pair of tasks is constrained with probability 3/tasks, "
           "following a hidden order, so a valid order always exists and usually several do";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t n = 3 + 2 * static_cast<int64_t>(difficulty);
    std::vector<int64_t> hidden(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) hidden[static_cast<size_t>(i)] = i;
    rng.Shuffle(hidden);
    Edges edges;
    for (size_t i = 0; i < hidden.size(); ++i) {
      for (size_t j = i + 1; j < hidden.size(); ++j) {
        if (rng.Bernoulli(3, n)) edges.emplace_back(hidden[i], hidden[j]);
      }
    }
    if (edges.empty()) edges.emplace_back(hidden.front(), hidden.back());
    rng.Shuffle(edges);
    std::vector<std::string> text;
    text.reserve(edges.size());
    for (const auto& [u, v] : edges) text.push_back(absl::StrCat(Letter(u), " before ", Letter(v)));
    std::optional<std::vector<int64_t>> order = SmallestFirstOrder(n, edges);
    if (!order) return absl::InternalError("topo_sort: generated constraints have a cycle");
    GeneratedInstance g;
    g.instance = {{"num_tasks", n}, {"edges", edges}};
    g.prompt = absl::StrCat("Order the tasks A..", Letter(n - 1),
                            " so that every constraint holds. Constraints: ", absl::StrJoin(text, ", "),
                            ". List every task exactly once, as letters separated by spaces (e.g. A B C), "
                            "inside <answer></answer>.");
    g.witness = RenderOrder(*order);
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> n = GetInt(instance, "num_tasks", 1, kMaxTasks);
    if (!n.ok()) return n.status();
    auto edges = GetPairArray(instance, "edges", 1000, 0, *n - 1);
    if (!edges.ok()) return edges.status();
    if (!SmallestFirstOrder(*n, *edges)) {
      return absl::InvalidArgumentError("instance.edges: the constraints contain a cycle (no valid order)");
    }
    std::string why;
    std::optional<std::vector<int64_t>> order = ParseLetters(answer, &why);
    if (!order) return Unparseable(why);
    const std::string normalized = RenderOrder(*order);
    if (static_cast<int64_t>(order->size()) != *n) {
      return Incorrect(absl::StrCat("expected ", *n, " tasks, got ", order->size()), normalized);
    }
    std::vector<int64_t> position(static_cast<size_t>(*n), -1);
    for (size_t i = 0; i < order->size(); ++i) {
      const int64_t t = (*order)[i];
      if (t >= *n)
        return Incorrect(absl::StrCat("task ", Letter(t), " is not one of A..", Letter(*n - 1)), normalized);
      if (position[static_cast<size_t>(t)] >= 0) {
        return Incorrect(absl::StrCat("task ", Letter(t), " appears twice"), normalized);
      }
      position[static_cast<size_t>(t)] = static_cast<int64_t>(i);
    }
    for (const auto& [u, v] : *edges) {
      if (position[static_cast<size_t>(u)] > position[static_cast<size_t>(v)]) {
        return Incorrect(absl::StrCat("constraint ", Letter(u), " before ", Letter(v), " is violated"),
                         normalized);
      }
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewTopoSortFamily() { return std::make_unique<TopoSortFamily>(); }

}  // namespace m1rl::reward::logic::internal
