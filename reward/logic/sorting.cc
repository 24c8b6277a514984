// Family "sorting": sort integers by value or by absolute value, ascending or descending. The
// answer is the sorted list; it must be a permutation of the instance's values whose keys are
// monotone. With key "abs", 3 and -3 tie and either order is accepted.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

int64_t Key(int64_t v, bool abs) { return abs && v < 0 ? -v : v; }

class SortingFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "sorting"; }
  std::string_view difficulty_help() const override {
    return "3+2*difficulty numbers in [-10*difficulty, 10*difficulty]; from 4 on, half the instances sort by "
           "absolute value";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int count = 3 + 2 * difficulty;
    const int64_t range = 10 * difficulty;
    std::vector<int64_t> values;
    for (int i = 0; i < count; ++i) values.push_back(rng.Uniform(-range, range));
    const bool abs = difficulty >= 4 && rng.Bernoulli(1, 2);
    const bool desc = rng.Bernoulli(1, 2);
    std::vector<int64_t> sorted = values;
    std::stable_sort(sorted.begin(), sorted.end(), [&](int64_t a, int64_t b) {
      return desc ? Key(a, abs) > Key(b, abs) : Key(a, abs) < Key(b, abs);
    });
    GeneratedInstance g;
    g.instance = {{"values", values}, {"key", abs ? "abs" : "value"}, {"order", desc ? "desc" : "asc"}};
    g.prompt =
        absl::StrCat("Sort these numbers", abs ? " by absolute value (ties in any order)" : "",
                     desc ? " in descending order: " : " in ascending order: ", absl::StrJoin(values, ", "),
                     ". Give the sorted list, comma-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(sorted, ", ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    auto values = GetIntArray(instance, "values", 1, 1000, -1000000000, 1000000000);
    if (!values.ok()) return values.status();
    absl::StatusOr<std::string> key = GetString(instance, "key", 16);
    if (!key.ok()) return key.status();
    if (*key != "value" && *key != "abs") {
      return absl::InvalidArgumentError(absl::StrCat("instance.key: must be value|abs, got '", *key, "'"));
    }
    absl::StatusOr<std::string> order = GetString(instance, "order", 16);
    if (!order.ok()) return order.status();
    if (*order != "asc" && *order != "desc") {
      return absl::InvalidArgumentError(absl::StrCat("instance.order: must be asc|desc, got '", *order, "'"));
    }
    std::string why;
    auto got = ParseIntList(answer, 1000, &why);
    if (!got) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*got, ", ");
    std::vector<int64_t> a = *values;
    std::vector<int64_t> b = *got;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b) return Incorrect("not a permutation of the given numbers", normalized);
    const bool abs = *key == "abs";
    const bool desc = *order == "desc";
    for (size_t i = 1; i < got->size(); ++i) {
      const int64_t prev = Key((*got)[i - 1], abs);
      const int64_t cur = Key((*got)[i], abs);
      if (desc ? prev < cur : prev > cur) {
        return Incorrect(absl::StrCat("positions ", i, " and ", i + 1, " are out of order"), normalized);
      }
    }
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewSortingFamily() { return std::make_unique<SortingFamily>(); }

}  // namespace m1rl::reward::logic::internal
