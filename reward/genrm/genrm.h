// The generative reward model (REWARDS.md §6): five-grade scoring against a ground truth and pairwise
// comparison with a reference in both orders, over any Judge (judge.h).
//
//   M1RL_ASSIGN_OR_RETURN(GenrmOptions opts, ResolveGenrmOptions(config.reward().genrm()));
//   GenRm genrm(judge, opts);
//   M1RL_ASSIGN_OR_RETURN(GradeResult g, genrm.Grade(question, ground_truth, response, ctx));
//
// Determinism: the judge seed and the template delimiters of a call derive from (options.seed, inputs,
// attempt), so a judgement is a function of its inputs, the templates, the model and the seed.
// An unparseable reply is retried parse_retries times with a new seed, then kInvalidArgument (the
// service's JUDGE_ERROR); judge errors pass through (judge.h). Nothing is ever scored by default.
// Thread-safe (the judge must be).
#ifndef M1RL_REWARD_GENRM_GENRM_H_
#define M1RL_REWARD_GENRM_GENRM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"
#include "reward/genrm/judge.h"
#include "reward/genrm/verdict.h"
#include "reward/verifier.h"

namespace m1rl::reward::genrm {

inline constexpr std::string_view kGenrmVersion = "genrm-1";

struct GenrmOptions {
  Templates templates = DefaultTemplates();
  int max_tokens = 1024;
  uint64_t seed = 0;
  int verdict_tail_chars = 200;
  int parse_retries = 1;
  double reward_min = 0.0;
  double reward_max = 1.0;
  bool binarize_grades = false;
};

// Defaults applied; kInvalidArgument naming the field ("reward.genrm.reward_max must be > reward_min ...").
absl::StatusOr<GenrmOptions> ResolveGenrmOptions(const config::GenrmConfig& config);

struct GradeResult {
  int grade = 0;        // 1..5
  double reward = 0.0;  // GradeToReward(grade, ...)
  int judge_calls = 0;  // including parse retries
};

struct PairwiseResult {
  PairwiseScore score;
  PairVerdict candidate_first = PairVerdict::kTie;  // candidate shown as A
  PairVerdict reference_first = PairVerdict::kTie;  // reference shown as A
  int judge_calls = 0;
};

class GenRm {
 public:
  // REQUIRES: judge != nullptr; options from ResolveGenrmOptions.
  GenRm(std::shared_ptr<Judge> judge, GenrmOptions options);

  absl::StatusOr<GradeResult> Grade(std::string_view question, std::string_view ground_truth,
                                    std::string_view response, const CheckContext& ctx) const;
  // Both orders, judged concurrently; kInvalidArgument if either order stays unparseable (the candidate-first
  // order's error first).
  absl::StatusOr<PairwiseResult> Compare(std::string_view question, std::string_view candidate,
                                         std::string_view reference, const CheckContext& ctx) const;
  // One order: which of `a` (shown first) and `b` is better. `*calls` (may be null) gets the calls made.
  absl::StatusOr<PairVerdict> JudgeOrder(std::string_view question, std::string_view a, std::string_view b,
                                         const CheckContext& ctx, int* calls) const;

  // "genrm-1/<model>/tpl-<hash>/seed-<seed>": changes whenever judgements may change.
  const std::string& version() const { return version_; }
  const GenrmOptions& options() const { return options_; }
  // Judge calls made so far (all methods), for budgets and metrics.
  int64_t judge_calls() const { return judge_calls_.load(std::memory_order_relaxed); }

 private:
  absl::StatusOr<std::string> Call(const std::string& user, uint64_t seed, const CheckContext& ctx) const;

  std::shared_ptr<Judge> judge_;
  GenrmOptions options_;
  std::string version_;
  mutable std::atomic<int64_t> judge_calls_{0};
};

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_GENRM_H_
