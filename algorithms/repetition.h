// Repetition truncation (ALGORITHMS.md §6, M1 §3.2) and the loss treatment of truncated completions.
//
// This header has no LibTorch dependency: the rollout engine calls RepetitionDetector once per sampled
// token with a double probability, and the reward stage calls ApplyRepetitionPolicy per completion.
// Target: m1rl::repetition.
#ifndef M1RL_ALGORITHMS_REPETITION_H_
#define M1RL_ALGORITHMS_REPETITION_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace m1rl::algorithms {

// Streaming detector for one sequence. Counter k <- (p_t > threshold) ? k + 1 : 0 after each sampled
// token; when k reaches run_length the sequence stops with reason REPETITION. The token that makes
// k == run_length is kept in the completion (it was sampled); the caller stops after appending it.
//
// [m1rl] choices: strict ">" (p exactly equal to the threshold does not count); environment/tool
// tokens (not sampled by the policy) reset k; p is softmax(z/T)[x] from FP32 logits before any
// top-k/top-p renormalisation.
//
// Thread safety: none; one detector per sequence. Cheap to copy.
class RepetitionDetector {
 public:
  // REQUIRES: 0 <= threshold < 1, run_length >= 1 (checked by ResolveAlgorithmConfig for configs;
  // M1RL_CHECK here).
  RepetitionDetector(double threshold, int64_t run_length);

  // Feeds the probability of one policy-sampled token. Returns true iff this token completes a run of
  // run_length consecutive tokens with p > threshold, i.e. the sequence must stop after this token
  // (stop reason REPETITION). Calling again after true continues counting (k keeps growing).
  bool ObserveSampledToken(double prob);

  // An environment/tool token was appended: resets the run.
  void ObserveEnvironmentToken() { run_ = 0; }

  // Resets for a new sequence.
  void Reset() { run_ = 0; }

  int64_t current_run() const { return run_; }
  double threshold() const { return threshold_; }
  int64_t run_length() const { return run_length_; }

 private:
  double threshold_;
  int64_t run_length_;
  int64_t run_ = 0;
};

// algorithm.repetition.policy (ALGORITHMS.md §6).
enum class RepetitionPolicy {
  kScore,        // score as usual (verifier called)
  kFail,         // default: failure reward, no verifier call, incorrect, all tokens in the loss
  kFailMaskRun,  // as kFail, and the last run_length tokens get v = 0
  kMaskAll,      // reward as kFail, every token v = 0
  kDrop,         // remove the completion (the trainer refills / excludes it, counted)
};

const char* RepetitionPolicyName(RepetitionPolicy policy);

// True iff the verifier must be called for a REPETITION-truncated completion under `policy`.
inline bool RepetitionPolicyCallsVerifier(RepetitionPolicy policy) {
  return policy == RepetitionPolicy::kScore;
}

// What the reward stage does with one REPETITION-truncated completion.
struct RepetitionOutcome {
  bool drop = false;               // kDrop: remove the completion from its group (counted by the caller)
  std::optional<double> reward;    // reward to use (nullopt iff drop, or kScore with an unscored verdict)
  std::optional<bool> correct;     // binary verdict for dynamic sampling (false under fail/mask policies)
  std::vector<uint8_t> loss_mask;  // [T_completion] v per generated token after the policy (0/1)
  int64_t num_masked = 0;          // tokens whose v changed 1 -> 0 here (reason: repetition)
};

// Applies `policy` to one completion whose stop reason is REPETITION.
//   loss_mask: [T_completion] v of the completion's generated tokens (policy tokens 1, environment 0);
//              the repetition run is its last run_length entries (environment tokens reset the run).
//   verifier_reward / verifier_correct: the verifier's result, used only by kScore (pass nullopt for
//              the others, which never call the verifier); nullopt under kScore means "unscored".
//   failure_reward: algorithm.repetition.failure_reward.
// REQUIRES: run_length >= 1.
RepetitionOutcome ApplyRepetitionPolicy(RepetitionPolicy policy, double failure_reward, int64_t run_length,
                                        std::vector<uint8_t> loss_mask, std::optional<double> verifier_reward,
                                        std::optional<bool> verifier_correct);

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_REPETITION_H_
