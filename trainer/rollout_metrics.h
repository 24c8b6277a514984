// Rollout statistics of one RL step (ALGORITHMS.md §9): counted per rank while the groups are collected,
// summed over ranks with one all-reduce (length_max with a second, MAX), then written as metrics.
//
// Thread safety: a plain value.
#ifndef M1RL_TRAINER_ROLLOUT_METRICS_H_
#define M1RL_TRAINER_ROLLOUT_METRICS_H_

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "proto/rl.pb.h"
#include "trainer/communicator.h"

namespace m1rl::trainer {

struct RolloutCounters {
  int64_t completions = 0;               // every generated completion
  int64_t unscored = 0;                  // excluded: no reward (timeout, infra error), never scored as 0
  int64_t scored = 0;                    // with a reward (from the verifier or the repetition policy)
  int64_t correct = 0;                   // scored with a CORRECT verdict
  double reward_sum = 0;                 // over scored completions, before the overlong penalty
  double length_sum = 0;                 // generated tokens over every completion
  double logprob_sum = 0;                // behaviour log-probs of those tokens (rollout/logprob_mean)
  int64_t repetition_dropped = 0;        // removed by algorithm.repetition.policy "drop"
  int64_t groups_dropped = 0;            // fewer than 2 scored completions
  int64_t zero_variance_groups = 0;      // kept groups whose rewards are all equal (A = 0)
  int64_t groups_kept = 0;               // groups entering the update
  int64_t generated_tokens = 0;          // the engine's count, every round
  double abs_advantage_sum = 0;          // sum of |A| over the kept completions
  int64_t samples = 0;                   // completions entering the update (non-empty)
  int64_t masked_tokens_repetition = 0;  // v = 0 tokens set by the repetition policy
  std::array<int64_t, rl::StopReason_ARRAYSIZE> stop_counts{};  // by rl::StopReason
  double length_max = 0;                                        // reduced with MAX (not part of the sums)

  static constexpr int64_t kNumSums = 15 + rl::StopReason_ARRAYSIZE;
  // [kNumSums] float64 of every field but length_max (integers up to 2^53 are exact), for a SUM.
  at::Tensor PackSums() const;
  // Inverse of PackSums. REQUIRES: sums is [kNumSums] float64 on the CPU.
  static RolloutCounters UnpackSums(const at::Tensor& sums, double length_max);

  // "rollout/..." metrics: completions, unscored, accuracy (correct / scored), reward_mean,
  // response_length_mean (over completions) and _max, logprob_mean (per generated token: minus the log
  // of the policy's perplexity on its own samples), repetition_dropped, groups_dropped,
  // zero_variance_group_share (of kept groups), groups_kept, gen_tokens, abs_advantage_mean (over samples),
  // masked_tokens_repetition, stop_<reason> (stop_eos, stop_length, ...; not UNSPECIFIED). Ratios of empty
  // sets are 0.
  std::map<std::string, double> ToMetrics() const;
};

// Sums `local` over all ranks (length_max: maximum). Collective: two all-reduces.
absl::StatusOr<RolloutCounters> AllReduceRolloutCounters(Communicator& comm, const RolloutCounters& local);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_ROLLOUT_METRICS_H_
