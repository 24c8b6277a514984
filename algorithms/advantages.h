// Group-relative advantage estimators (ALGORITHMS.md §4): GRPO (sample/population std, or Dr.GRPO
// without std scaling) and RLOO. Pure double arithmetic on one group's rewards; the trainer broadcasts
// each response's advantage to its tokens (advantages [N] of the policy loss).
#ifndef M1RL_ALGORITHMS_ADVANTAGES_H_
#define M1RL_ALGORITHMS_ADVANTAGES_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace m1rl::algorithms {

enum class AdvantageEstimator { kGrpo, kRloo };
enum class StdKind { kSample, kPopulation };

struct AdvantageParams {
  AdvantageEstimator estimator = AdvantageEstimator::kGrpo;
  bool scale_by_std = true;  // false = Dr.GRPO (A = R - mean); GRPO only
  StdKind std_kind = StdKind::kSample;
  double std_eps = 1e-6;  // A = (R - mean) / (std + std_eps)
};

// One group's result.
struct GroupAdvantages {
  // [G] per response; nullopt for unscored responses and for every response of a dropped group.
  std::vector<std::optional<double>> advantages;
  int64_t num_scored = 0;      // G'
  int64_t num_unscored = 0;    // G - G' (excluded, counted)
  bool dropped = false;        // G' < 2: the group contributes nothing
  bool zero_variance = false;  // all scored rewards equal: every advantage is exactly 0
};

// Computes advantages of one group from its rewards ([G], nullopt = unscored: excluded, never 0).
//   grpo: A_i = (R_i - mean) / (std + std_eps), std over the G' scored rewards with divisor G'-1
//         (sample) or G' (population); scale_by_std false: A_i = R_i - mean.
//   rloo: A_i = R_i - mean_{j != i} R_j = G'/(G'-1) (R_i - mean).
// Zero-variance groups get A := 0 exactly (never (R - mean)/eps). G' < 2 drops the group.
// Errors: InvalidArgument if rewards.size() < 2 (a group size below 2 is a configuration error) or a
// reward is not finite.
absl::StatusOr<GroupAdvantages> ComputeGroupAdvantages(const AdvantageParams& params,
                                                       std::span<const std::optional<double>> rewards);

// Batch-level advantage statistics (ALGORITHMS.md §9: mean |A|, zero-variance-group share, dropped groups,
// unscored samples). Integer-valued sums; the trainer SUM-reduces them across ranks.
struct AdvantageStats {
  int64_t num_groups = 0;
  int64_t num_dropped = 0;        // G' < 2
  int64_t num_zero_variance = 0;  // all scored rewards equal (A = 0, still in N_tok)
  int64_t num_scored = 0;
  int64_t num_unscored = 0;
  double abs_advantage_sum = 0;  // over scored responses of kept groups (per response, not per token)

  void Add(const GroupAdvantages& group);
  // Share of non-dropped groups with zero variance; 0 when there are none.
  double zero_variance_share() const;
  // Mean |A| per scored response of non-dropped groups; 0 when there are none.
  double mean_abs_advantage() const;
};

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_ADVANTAGES_H_
