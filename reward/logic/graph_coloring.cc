// Family "graph_coloring": colour vertices 0..n-1 with colours 0..k-1 so that no edge is
// monochromatic. The answer is the list of n colours in vertex order; any proper colouring counts
// (permuting the colours of a valid answer gives another).
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

class GraphColoringFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "graph_coloring"; }
  std::string_view difficulty_help() const override {
    return "4+2*difficulty vertices; 3 colours up to 6, then 4; a planted colouring guarantees a solution";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int64_t n = 4 + 2 * difficulty;
    const int64_t k = difficulty <= 6 ? 3 : 4;
    std::vector<int64_t> colour(static_cast<size_t>(n));
    for (auto& c : colour) c = rng.Uniform(0, k - 1);
    std::vector<std::vector<int64_t>> edges;
    std::vector<std::string> edge_text;
    for (int64_t u = 0; u < n; ++u) {
      for (int64_t v = u + 1; v < n; ++v) {
        if (colour[static_cast<size_t>(u)] != colour[static_cast<size_t>(v)] && rng.Bernoulli(1, 2)) {
          edges.push_back({u, v});
          edge_text.push_back(absl::StrCat(u, "-", v));
        }
      }
    }
    GeneratedInstance g;
    g.instance = {{"num_vertices", n}, {"num_colors", k}, {"edges", edges}};
    g.prompt = absl::StrCat(
        "Color the vertices 0..", n - 1, " with colors 0..", k - 1,
        " so that no edge joins two vertices of the same color. Edges: ", absl::StrJoin(edge_text, ", "),
        ". Give the colors of vertices 0..", n - 1, " in order, space-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(colour, " ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<int64_t> n = GetInt(instance, "num_vertices", 1, 1000);
    if (!n.ok()) return n.status();
    absl::StatusOr<int64_t> k = GetInt(instance, "num_colors", 1, 100);
    if (!k.ok()) return k.status();
    auto edges = GetPairArray(instance, "edges", 100000, 0, *n - 1);
    if (!edges.ok()) return edges.status();
    for (size_t i = 0; i < edges->size(); ++i) {
      if ((*edges)[i].first == (*edges)[i].second) {
        return absl::InvalidArgumentError(
            absl::StrCat("instance.edges[", i, "]: self-loop makes the graph uncolorable"));
      }
    }
    std::string why;
    auto colours = ParseIntList(answer, 1000, &why);
    if (!colours) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*colours, " ");
    if (static_cast<int64_t>(colours->size()) != *n) {
      return Incorrect(absl::StrCat("expected ", *n, " colors, got ", colours->size()), normalized);
    }
    for (size_t v = 0; v < colours->size(); ++v) {
      if ((*colours)[v] < 0 || (*colours)[v] >= *k) {
        return Incorrect(absl::StrCat("vertex ", v, " has color ", (*colours)[v], " outside 0..", *k - 1),
                         normalized);
      }
    }
    for (const auto& [u, v] : *edges) {
      if ((*colours)[static_cast<size_t>(u)] == (*colours)[static_cast<size_t>(v)]) {
        return Incorrect(absl::StrCat("edge ", u, "-", v, " joins two vertices of color ",
                                      (*colours)[static_cast<size_t>(u)]),
                         normalized);
      }
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewGraphColoringFamily() { return std::make_unique<GraphColoringFamily>(); }

}  // namespace m1rl::reward::logic::internal
