// Family "subset_sum": pick some of the given positive numbers (each at most as often as given)
// whose sum is the target. The answer lists the picked numbers, separated by commas, spaces or '+'
// ("3 + 7 + 12"); any such sub-multiset is accepted.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

class SubsetSumFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "subset_sum"; }
  std::string_view difficulty_help() const override {
    return "4+difficulty numbers in 1..10*difficulty+10; the planted subset has 2..n-1 of them";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int count = 4 + difficulty;
    std::vector<int64_t> numbers;
    for (int i = 0; i < count; ++i) numbers.push_back(rng.Uniform(1, 10 * difficulty + 10));
    std::vector<size_t> order;
    for (size_t i = 0; i < numbers.size(); ++i) order.push_back(i);
    rng.Shuffle(order);
    order.resize(static_cast<size_t>(rng.Uniform(2, count - 1)));
    std::sort(order.begin(), order.end());
    std::vector<int64_t> picked;
    int64_t target = 0;
    for (size_t i : order) {
      picked.push_back(numbers[i]);
      target += numbers[i];
    }
    GeneratedInstance g;
    g.instance = {{"numbers", numbers}, {"target", target}};
    g.prompt = absl::StrCat("Pick some of the numbers ", absl::StrJoin(numbers, ", "),
                            " (each at most once) that add up to ", target,
                            ". Give the picked numbers, comma-separated, inside <answer></answer>.");
    g.witness = absl::StrJoin(picked, ", ");
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    auto numbers = GetIntArray(instance, "numbers", 1, 1000, 1, 1000000);
    if (!numbers.ok()) return numbers.status();
    absl::StatusOr<int64_t> target = GetInt(instance, "target", 1, 1000000000000LL);
    if (!target.ok()) return target.status();
    std::string text(answer);
    for (char& c : text) {
      if (c == '+') c = ' ';  // "3 + 7": numbers are positive, so '+' is only a separator
    }
    std::string why;
    auto picked = ParseIntList(text, 1000, &why);
    if (!picked) return Unparseable(why);
    const std::string normalized = absl::StrJoin(*picked, ", ");
    std::map<int64_t, int> available;
    for (int64_t n : *numbers) ++available[n];
    int64_t sum = 0;
    for (int64_t p : *picked) {
      if (--available[p] < 0)
        return Incorrect(absl::StrCat("uses ", p, " more often than given"), normalized);
      sum += p;  // <= 1000 * 10^6: no overflow
    }
    if (sum != *target) return Incorrect(absl::StrCat("sums to ", sum, ", not ", *target), normalized);
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewSubsetSumFamily() { return std::make_unique<SubsetSumFamily>(); }

}  // namespace m1rl::reward::logic::internal
