// Torch-free parameter types of the policy loss (ALGORITHMS.md §2, §2.5, §5), shared by the config
// resolution (algorithm_config.h, no LibTorch) and the tensor code (kl.h, loss_agg.h, policy_loss.h).
#ifndef M1RL_ALGORITHMS_PARAMS_H_
#define M1RL_ALGORITHMS_PARAMS_H_

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"

namespace m1rl::algorithms {

// KL estimators against a reference policy (§5; kl.h).
enum class KlEstimator { kNone, kK1, kK2, kK3 };

const char* KlEstimatorName(KlEstimator estimator);

// Loss aggregation modes (§2.5; loss_agg.h).
enum class LossAgg { kTokenMean, kSeqMeanTokenMean, kGroupTokenMean, kSeqMeanTokenSumNorm };

// "token_mean" | "seq_mean_token_mean" | "group_token_mean" | "seq_mean_token_sum_norm".
const char* LossAggName(LossAgg agg);

// Rollout/trainer mismatch correction (rollout_correction.h), from rho = exp(l_old - l_roll).
enum class RolloutCorrection {
  kNone,    // factor 1
  kTis,     // truncated IS: factor min(rho, tis_cap)
  kIcePop,  // mask: factor 1 iff 1/icepop_k <= rho <= icepop_k, else 0
};
const char* RolloutCorrectionName(RolloutCorrection kind);  // "none" | "tis" | "icepop"

struct RolloutCorrectionParams {
  RolloutCorrection kind = RolloutCorrection::kNone;
  double tis_cap = 2.0;   // C >= 1
  double icepop_k = 2.0;  // k > 1
  double log_ratio_clamp = 20.0;
};

// Parameters of the unified per-token loss (policy_loss.h). ResolveAlgorithmConfig fills them from a
// preset and the user's overrides.
struct PolicyLossParams {
  // IS band, ABSOLUTE bounds on r (ResolveAlgorithmConfig converts eps_* offsets and max_ratio).
  bool is_enabled = false;
  std::optional<double> is_low;   // floor lo_IS in (0, 1); nullopt = no floor
  std::optional<double> is_high;  // cap hi_IS > 1; REQUIRED when is_enabled (ComputePolicyLoss checks)
  // Trust-region mask (Eq. 7), RELATIVE offsets.
  bool tr_enabled = false;
  double tr_eps_low = 0.2;
  double tr_eps_high = 0.2;
  // KL penalty (§5).
  KlEstimator kl = KlEstimator::kNone;
  double kl_beta = 0.0;
  double log_ratio_clamp = 20.0;
};

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_PARAMS_H_
