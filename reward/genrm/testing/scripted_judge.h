// Test-only judges: a Judge whose replies come from a function of the request, and helpers to read the
// texts back out of the built-in templates.
#ifndef M1RL_REWARD_GENRM_TESTING_SCRIPTED_JUDGE_H_
#define M1RL_REWARD_GENRM_TESTING_SCRIPTED_JUDGE_H_

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "reward/genrm/judge.h"

namespace m1rl::reward::genrm::testing {

class ScriptedJudge : public Judge {
 public:
  using Script = std::function<absl::StatusOr<std::string>(const JudgeRequest&, int call_index)>;
  explicit ScriptedJudge(Script script) : script_(std::move(script)) {}
  absl::StatusOr<std::string> Complete(const JudgeRequest& request, const CheckContext& /*ctx*/) override {
    return script_(request, calls_.fetch_add(1));
  }
  std::string_view model() const override { return "scripted"; }
  int calls() const { return calls_.load(); }

 private:
  Script script_;
  std::atomic<int> calls_{0};
};

// The delimited text that follows `label` (e.g. "ANSWER A:") in a prompt rendered from the built-in
// templates; empty when absent.
inline std::string BlockAfter(std::string_view prompt, std::string_view label) {
  size_t at = prompt.find(label);
  if (at == std::string_view::npos) return "";
  size_t open = prompt.find(">>\n", at);
  size_t close = prompt.find("\n<</TEXT-", open);
  if (open == std::string_view::npos || close == std::string_view::npos) return "";
  return std::string(prompt.substr(open + 3, close - open - 3));
}

}  // namespace m1rl::reward::genrm::testing

#endif  // M1RL_REWARD_GENRM_TESTING_SCRIPTED_JUDGE_H_
