#include "algorithms/repetition.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace m1rl::algorithms {

RepetitionDetector::RepetitionDetector(double threshold, int64_t run_length)
    : threshold_(threshold), run_length_(run_length) {
  M1RL_CHECK(threshold >= 0.0 && threshold < 1.0) << "threshold=" << threshold;
  M1RL_CHECK_GE(run_length, 1);
}

bool RepetitionDetector::ObserveSampledToken(double prob) {
  // Strict '>': p == threshold breaks the run (ALGORITHMS.md §6 [m1rl]).
  run_ = prob > threshold_ ? run_ + 1 : 0;
  return run_ == run_length_;
}

const char* RepetitionPolicyName(RepetitionPolicy policy) {
  switch (policy) {
    case RepetitionPolicy::kScore:
      return "score";
    case RepetitionPolicy::kFail:
      return "fail";
    case RepetitionPolicy::kFailMaskRun:
      return "fail_mask_run";
    case RepetitionPolicy::kMaskAll:
      return "mask_all";
    case RepetitionPolicy::kDrop:
      return "drop";
  }
  return "?";
}

RepetitionOutcome ApplyRepetitionPolicy(RepetitionPolicy policy, double failure_reward, int64_t run_length,
                                        std::vector<uint8_t> loss_mask, std::optional<double> verifier_reward,
                                        std::optional<bool> verifier_correct) {
  M1RL_CHECK_GE(run_length, 1);
  RepetitionOutcome out;
  const int64_t n = static_cast<int64_t>(loss_mask.size());
  auto mask_range = [&](int64_t begin) {
    for (int64_t t = begin; t < n; ++t) {
      if (loss_mask[t] != 0) ++out.num_masked;
      loss_mask[t] = 0;
    }
  };
  switch (policy) {
    case RepetitionPolicy::kScore:
      out.reward = verifier_reward;
      out.correct = verifier_correct;
      break;
    case RepetitionPolicy::kFail:
      out.reward = failure_reward;
      out.correct = false;
      break;
    case RepetitionPolicy::kFailMaskRun:
      out.reward = failure_reward;
      out.correct = false;
      mask_range(std::max<int64_t>(0, n - run_length));
      break;
    case RepetitionPolicy::kMaskAll:
      out.reward = failure_reward;
      out.correct = false;
      mask_range(0);
      break;
    case RepetitionPolicy::kDrop:
      out.drop = true;
      break;
  }
  out.loss_mask = std::move(loss_mask);
  return out;
}

}  // namespace m1rl::algorithms
