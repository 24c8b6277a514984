// Family "shortest_path": an undirected graph on nodes 1..num_nodes with positive integer edge
// weights ("edges" lists [u, v, w]); find a cheapest path from "source" to "target". The answer lists
// the path's nodes from source to target (integers separated by spaces or commas). It is accepted
// when it starts at the source, ends at the target, every step follows an edge, and its length (the
// cheapest edge between each consecutive pair) equals the shortest distance, which the checker
// recomputes with Dijkstra's algorithm. Any shortest path is accepted.
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

constexpr int64_t kMaxNodes = 100;
constexpr size_t kMaxEdges = 2000;
constexpr int64_t kMaxWeight = 1000;
constexpr int64_t kUnreachable = INT64_MAX;

struct Graph {
  int64_t n = 0;
  // adj[u] = (v, w), 0-based; parallel edges allowed (the cheapest one counts).
  std::vector<std::vector<std::pair<int64_t, int64_t>>> adj;
  int64_t source = 0;  // 0-based
  int64_t target = 0;
};

// The cheapest edge between u and v, or nullopt if they are not adjacent.
std::optional<int64_t> EdgeWeight(const Graph& g, int64_t u, int64_t v) {
  std::optional<int64_t> best;
  for (const auto& [x, w] : g.adj[static_cast<size_t>(u)]) {
    if (x == v && (!best || w < *best)) best = w;
  }
  return best;
}

// Dijkstra from the source: dist (kUnreachable when unreachable) and, per node, the predecessor on
// a shortest path (the smallest-numbered one among ties), -1 for the source and unreachable nodes.
std::pair<std::vector<int64_t>, std::vector<int64_t>> Dijkstra(const Graph& g) {
  std::vector<int64_t> dist(static_cast<size_t>(g.n), kUnreachable), pred(static_cast<size_t>(g.n), -1);
  using Item = std::pair<int64_t, int64_t>;  // (distance, node)
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
  dist[static_cast<size_t>(g.source)] = 0;
  queue.emplace(0, g.source);
  while (!queue.empty()) {
    const auto [d, u] = queue.top();
    queue.pop();
    if (d != dist[static_cast<size_t>(u)]) continue;
    for (const auto& [v, w] : g.adj[static_cast<size_t>(u)]) {
      int64_t& dv = dist[static_cast<size_t>(v)];
      int64_t& pv = pred[static_cast<size_t>(v)];
      if (d + w < dv || (d + w == dv && u < pv)) {
        if (d + w < dv) queue.emplace(d + w, v);
        dv = d + w;
        pv = u;
      }
    }
  }
  return {dist, pred};
}

absl::StatusOr<Graph> GetGraph(const nlohmann::json& instance) {
  Graph g;
  absl::StatusOr<int64_t> n = GetInt(instance, "num_nodes", 2, kMaxNodes);
  if (!n.ok()) return n.status();
  g.n = *n;
  g.adj.resize(static_cast<size_t>(g.n));
  auto it = instance.find("edges");
  if (it == instance.end() || !it->is_array() || it->size() > kMaxEdges) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance.edges: expected an array of at most ", kMaxEdges));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& e = (*it)[i];
    bool ok = e.is_array() && e.size() == 3;
    for (size_t k = 0; ok && k < 3; ++k) ok = e[k].is_number_integer();
    ok = ok && e[0].get<int64_t>() >= 1 && e[0].get<int64_t>() <= g.n && e[1].get<int64_t>() >= 1 &&
         e[1].get<int64_t>() <= g.n && e[0] != e[1] && e[2].get<int64_t>() >= 1 &&
         e[2].get<int64_t>() <= kMaxWeight;
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat("instance.edges[", i,
                                                     "]: expected [u, v, w] with u != v in 1..", g.n,
                                                     " and w in 1..", kMaxWeight));
    }
    const int64_t u = e[0].get<int64_t>() - 1, v = e[1].get<int64_t>() - 1, w = e[2].get<int64_t>();
    g.adj[static_cast<size_t>(u)].emplace_back(v, w);
    g.adj[static_cast<size_t>(v)].emplace_back(u, w);
  }
  absl::StatusOr<int64_t> s = GetInt(instance, "source", 1, g.n);
  if (!s.ok()) return s.status();
  absl::StatusOr<int64_t> t = GetInt(instance, "target", 1, g.n);
  if (!t.ok()) return t.status();
  g.source = *s - 1;
  g.target = *t - 1;
  if (Dijkstra(g).first[static_cast<size_t>(g.target)] == kUnreachable) {
    return absl::InvalidArgumentError("instance.target: not reachable from the source");
  }
  return g;
}

class ShortestPathFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "shortest_path"; }
  std::string_view difficulty_help() const override {
    return "4+2*difficulty nodes (6..20) on a random spanning tree plus as many extra edges; weights 1..9 "
           "(1..4) or 1..20 (5..8)";
  }
  int max_difficulty() const override { return 8; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    Graph g;
    g.n = 4 + 2 * static_cast<int64_t>(difficulty);
    g.adj.resize(static_cast<size_t>(g.n));
    const int64_t max_w = difficulty <= 4 ? 9 : 20;
    std::vector<std::vector<bool>> has(static_cast<size_t>(g.n), std::vector<bool>(static_cast<size_t>(g.n)));
    nlohmann::json edges = nlohmann::json::array();
    std::vector<std::string> text;
    auto add = [&](int64_t u, int64_t v) {
      if (u == v || has[static_cast<size_t>(u)][static_cast<size_t>(v)]) return;
      has[static_cast<size_t>(u)][static_cast<size_t>(v)] =
          has[static_cast<size_t>(v)][static_cast<size_t>(u)] = true;
      const int64_t w = rng.Uniform(1, max_w);
      g.adj[static_cast<size_t>(u)].emplace_back(v, w);
      g.adj[static_cast<size_t>(v)].emplace_back(u, w);
      edges.push_back({u + 1, v + 1, w});
      text.push_back(absl::StrCat(u + 1, "-", v + 1, " (", w, ")"));
    };
    for (int64_t v = 1; v < g.n; ++v) add(rng.Uniform(0, v - 1), v);  // a random spanning tree
    for (int64_t i = 0; i < g.n; ++i) add(rng.Uniform(0, g.n - 1), rng.Uniform(0, g.n - 1));
    g.source = rng.Uniform(0, g.n - 1);
    // The target: the node farthest from the source in edges (ties: smallest), so paths have length.
    std::vector<int64_t> hops(static_cast<size_t>(g.n), -1);
    std::queue<int64_t> bfs;
    hops[static_cast<size_t>(g.source)] = 0;
    bfs.push(g.source);
    while (!bfs.empty()) {
      const int64_t u = bfs.front();
      bfs.pop();
      if (hops[static_cast<size_t>(u)] > hops[static_cast<size_t>(g.target)]) g.target = u;
      for (const auto& [v, w] : g.adj[static_cast<size_t>(u)]) {
        if (hops[static_cast<size_t>(v)] < 0) {
          hops[static_cast<size_t>(v)] = hops[static_cast<size_t>(u)] + 1;
          bfs.push(v);
        }
      }
    }
    const std::vector<int64_t> pred = Dijkstra(g).second;
    std::vector<int64_t> path;
    for (int64_t v = g.target; v >= 0; v = pred[static_cast<size_t>(v)]) path.insert(path.begin(), v + 1);
    GeneratedInstance out;
    out.instance = {{"num_nodes", g.n}, {"edges", edges}, {"source", g.source + 1}, {"target", g.target + 1}};
    out.prompt = absl::StrCat("An undirected graph has nodes 1..", g.n,
                              " and these edges (weight in brackets): ", absl::StrJoin(text, ", "),
                              ". Find a shortest path (least total weight) from node ", g.source + 1,
                              " to node ", g.target + 1,
                              ". Give its nodes in order, separated by spaces, inside <answer></answer>.");
    out.witness = absl::StrJoin(path, " ");
    return out;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<Graph> g = GetGraph(instance);
    if (!g.ok()) return g.status();
    std::string why;
    std::optional<std::vector<int64_t>> path = ParseIntList(answer, static_cast<size_t>(4 * kMaxNodes), &why);
    if (!path) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*path, " ");
    for (int64_t v : *path) {
      if (v < 1 || v > g->n) return Incorrect(absl::StrCat("node ", v, " is not in 1..", g->n), normalized);
    }
    if (path->front() != g->source + 1) {
      return Incorrect(absl::StrCat("the path starts at ", path->front(), ", not at ", g->source + 1),
                       normalized);
    }
    if (path->back() != g->target + 1) {
      return Incorrect(absl::StrCat("the path ends at ", path->back(), ", not at ", g->target + 1),
                       normalized);
    }
    int64_t length = 0;
    for (size_t i = 1; i < path->size(); ++i) {
      const std::optional<int64_t> w = EdgeWeight(*g, (*path)[i - 1] - 1, (*path)[i] - 1);
      if (!w) return Incorrect(absl::StrCat("no edge ", (*path)[i - 1], "-", (*path)[i]), normalized);
      length += *w;
    }
    const int64_t best = Dijkstra(*g).first[static_cast<size_t>(g->target)];
    if (length != best) {
      return Incorrect(absl::StrCat("the path has length ", length, ", the shortest is ", best), normalized);
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewShortestPathFamily() { return std::make_unique<ShortestPathFamily>(); }

}  // namespace m1rl::reward::logic::internal
