// Family "dyck": append brackets so that prefix + answer is balanced. Any balanced completion is
// accepted (the shortest is the witness; inserting "()" pairs gives other valid answers).
// Answer grammar: the bracket characters ()[]{}<> and whitespace (ignored).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "reward/logic/internal/family_util.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic::internal {
namespace {

constexpr std::string_view kOpen = "([{<";
constexpr std::string_view kClose = ")]}>";

class DyckFamily : public TaskFamily {
 public:
  std::string_view name() const override { return "dyck"; }
  std::string_view difficulty_help() const override {
    return "prefix length 4+3*difficulty; bracket kinds min(1+difficulty/2, 4)";
  }
  int max_difficulty() const override { return 10; }

 protected:
  absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const override {
    Rng rng(name(), seed, difficulty);
    const int length = 4 + 3 * difficulty;
    const int64_t kinds = std::min(1 + difficulty / 2, 4);
    std::string prefix;
    std::vector<size_t> stack;
    for (int i = 0; i < length; ++i) {
      if (stack.empty() || rng.Bernoulli(3, 5)) {
        const size_t k = static_cast<size_t>(rng.Uniform(0, kinds - 1));
        stack.push_back(k);
        prefix.push_back(kOpen[k]);
      } else {
        prefix.push_back(kClose[stack.back()]);
        stack.pop_back();
      }
    }
    if (stack.empty()) {
      stack.push_back(0);
      prefix.push_back(kOpen[0]);
    }
    std::string witness;
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) witness.push_back(kClose[*it]);
    GeneratedInstance g;
    g.instance = {{"prefix", prefix}};
    g.prompt = absl::StrCat("Complete the brackets \"", prefix,
                            "\" so that every bracket is closed in the right order."
                            " Give only the characters to append inside <answer></answer>.");
    g.witness = witness;
    return g;
  }

  absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                        std::string_view answer) const override {
    absl::StatusOr<std::string> prefix = GetString(instance, "prefix", 4096);
    if (!prefix.ok()) return prefix.status();
    std::vector<char> stack;
    for (size_t i = 0; i < prefix->size(); ++i) {
      const char c = (*prefix)[i];
      if (kOpen.find(c) != std::string_view::npos) {
        stack.push_back(c);
        continue;
      }
      const size_t k = kClose.find(c);
      if (k == std::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("instance.prefix: character '", std::string(1, c), "' at ", i, " is not a bracket"));
      }
      if (stack.empty() || stack.back() != kOpen[k]) {
        return absl::InvalidArgumentError(
            absl::StrCat("instance.prefix: unmatched '", std::string(1, c), "' at ", i));
      }
      stack.pop_back();
    }
    std::string normalized;
    for (size_t i = 0; i < answer.size(); ++i) {
      const char c = answer[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
      if (kOpen.find(c) == std::string_view::npos && kClose.find(c) == std::string_view::npos) {
        return Unparseable(
            absl::StrCat("answer: '", std::string(1, c), "' at offset ", i, " is not a bracket"));
      }
      normalized.push_back(c);
    }
    for (size_t i = 0; i < normalized.size(); ++i) {
      const char c = normalized[i];
      if (kOpen.find(c) != std::string_view::npos) {
        stack.push_back(c);
        continue;
      }
      const size_t k = kClose.find(c);
      if (stack.empty()) return Incorrect(absl::StrCat("closer ", i, " has nothing to close"), normalized);
      if (stack.back() != kOpen[k]) {
        return Incorrect(absl::StrCat("closer ", i, " '", std::string(1, c), "' does not match '",
                                      std::string(1, stack.back()), "'"),
                         normalized);
      }
      stack.pop_back();
    }
    if (!stack.empty()) return Incorrect(absl::StrCat(stack.size(), " brackets left open"), normalized);
    return Correct(normalized);
  }
};

}  // namespace

std::unique_ptr<TaskFamily> NewDyckFamily() { return std::make_unique<DyckFamily>(); }

}  // namespace m1rl::reward::logic::internal
