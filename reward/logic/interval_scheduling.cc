// Family "interval_scheduling": "intervals" lists half-open time intervals [start, end), numbered 1..n
// in order; optional "weights" gives each a positive weight (all 1 when absent). Two intervals overlap
// when each starts before the other ends (touching at an end point is fine). The answer lists the ids
// of the chosen intervals (integers separated by spaces or commas); it is accepted when the ids are
// distinct, in range, pairwise non-overlapping and their total weight equals the optimum, which the
// checker recomputes from the instance (weighted interval scheduling by dynamic programming). Any
// optimal set is accepted.
#include <algorithm>
#include <numeric>
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

constexpr size_t kMaxIntervals = 200;
constexpr int64_t kMaxTime = 1000000;

struct Instance {
  std::vector<std::pair<int64_t, int64_t>> intervals;
  std::vector<int64_t> weights;
  bool weighted = false;
};

bool Overlap(const std::pair<int64_t, int64_t>& x, const std::pair<int64_t, int64_t>& y) {
  return x.first < y.second && y.first < x.second;
}

// The maximum total weight of pairwise non-overlapping intervals and one set (0-based ids, sorted)
// achieving it: intervals by end time, best[i] = max(best[i-1], w_i + best[last compatible]).
std::pair<int64_t, std::vector<size_t>> Optimum(const Instance& in) {
  const size_t n = in.intervals.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return in.intervals[a].second < in.intervals[b].second; });
  std::vector<int64_t> best(n + 1, 0);  // best over the first i intervals of `order`
  std::vector<size_t> prev(n + 1, 0);   // how many of `order` end by the start of order[i-1]
  for (size_t i = 1; i <= n; ++i) {
    const int64_t start = in.intervals[order[i - 1]].first;
    size_t p = i - 1;
    while (p > 0 && in.intervals[order[p - 1]].second > start) --p;
    prev[i] = p;
    best[i] = std::max(best[i - 1], in.weights[order[i - 1]] + best[p]);
  }
  std::vector<size_t> chosen;
  for (size_t i = n; i > 0;) {
    if (best[i] == best[i - 1]) {
      --i;
    } else {
      chosen.push_back(order[i - 1]);
      i = prev[i];
    }
  }
  std::sort(chosen.begin(), chosen.end());
  return {best[n], chosen};
}

absl::StatusOr<Instance> GetInstance(const nlohmann::json& j) {
  Instance in;
  auto intervals = GetPairArray(j, "intervals", kMaxIntervals, 0, kMaxTime);
  if (!intervals.ok()) return intervals.status();
  if (intervals->empty()) return absl::InvalidArgumentError("instance.intervals: empty");
  for (size_t i = 0; i < intervals->size(); ++i) {
    if ((*intervals)[i].first >= (*intervals)[i].second) {
      return absl::InvalidArgumentError(
          absl::StrCat("instance.intervals[", i, "]: start must be before end"));
    }
  }
  in.intervals = *std::move(intervals);
  in.weighted = j.contains("weights");
  if (in.weighted) {
    auto weights = GetIntArray(j, "weights", in.intervals.size(), in.intervals.size(), 1, kMaxTime);
    if (!weights.ok()) return weights.status();
    in.weights = *std::move(weights);
  } else {
    in.weights.assign(in.intervals.size(), 1);
  }
  return in;
}

class IntervalSchedulingFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "interval_scheduling"; }
  std::string_view difficulty_help() const override {
    return "1..4: the most non-overlapping intervals out of 5+3*difficulty (8..17); 5..8: the largest "
           "total weight out of 2*difficulty-4 (6..12) weighted intervals";
  }
  int max_difficulty() const override { return 8; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    Instance in;
    in.weighted = difficulty > 4;
    const int64_t n = in.weighted ? 2 * difficulty - 4 : 5 + 3 * difficulty;
    const int64_t horizon = 3 * n;
    std::vector<std::string> text;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t start = rng.Uniform(0, horizon - 2);
      const int64_t end = std::min(horizon, start + rng.Uniform(1, std::max<int64_t>(3, n / 2)));
      in.intervals.emplace_back(start, end);
      in.weights.push_back(in.weighted ? rng.Uniform(1, 20) : 1);
      text.push_back(absl::StrCat(i + 1, ": [", start, ", ", end, ")",
                                  in.weighted ? absl::StrCat(" weight ", in.weights.back()) : ""));
    }
    const std::vector<size_t> chosen = Optimum(in).second;
    GeneratedInstance g;
    g.instance = {{"intervals", in.intervals}};
    if (in.weighted) g.instance["weights"] = in.weights;
    g.prompt = absl::StrCat(
        "Intervals (id: [start, end)): ", absl::StrJoin(text, "; "),
        ". Two intervals overlap if each starts before the other ends; one ending at time t and one "
        "starting at t do not overlap. Choose pairwise non-overlapping intervals ",
        in.weighted ? "with the largest possible total weight" : "as many as possible",
        ". Give the ids of the chosen intervals separated by spaces inside <answer></answer>.");
    std::vector<int64_t> ids;
    ids.reserve(chosen.size());
    for (size_t c : chosen) ids.push_back(static_cast<int64_t>(c) + 1);
    g.witness = absl::StrJoin(ids, " ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<Instance> in = GetInstance(instance);
    if (!in.ok()) return in.status();
    std::string why;
    std::optional<std::vector<int64_t>> ids = ParseIntList(answer, kMaxIntervals, &why);
    if (!ids) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*ids, " ");
    const int64_t n = static_cast<int64_t>(in->intervals.size());
    std::vector<bool> used(in->intervals.size(), false);
    int64_t total = 0;
    for (size_t i = 0; i < ids->size(); ++i) {
      const int64_t id = (*ids)[i];
      if (id < 1 || id > n) return Incorrect(absl::StrCat("id ", id, " is not in 1..", n), normalized);
      if (used[static_cast<size_t>(id - 1)])
        return Incorrect(absl::StrCat("id ", id, " appears twice"), normalized);
      used[static_cast<size_t>(id - 1)] = true;
      total += in->weights[static_cast<size_t>(id - 1)];
      for (size_t k = 0; k < i; ++k) {
        const int64_t other = (*ids)[k];
        if (Overlap(in->intervals[static_cast<size_t>(id - 1)],
                    in->intervals[static_cast<size_t>(other - 1)])) {
          return Incorrect(absl::StrCat("intervals ", other, " and ", id, " overlap"), normalized);
        }
      }
    }
    const int64_t best = Optimum(*in).first;
    if (total != best) {
      return Incorrect(
          absl::StrCat(in->weighted ? "total weight " : "count ", total, " is not the optimum ", best),
          normalized);
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewIntervalSchedulingFamily() {
  return std::make_unique<IntervalSchedulingFamily>();
}

}  // namespace m1rl::reward::logic::internal
