// algorithm.* resolution (ALGORITHMS.md §2-§6): preset -> user overrides -> validation -> typed
// parameters for the policy loss, advantages and batch shaping.
//
//   M1RL_ASSIGN_OR_RETURN(ResolvedAlgorithm alg,
//                         ResolveAlgorithmConfig(run_config.algorithm(),
//                         MaxNewTokens(run_config.rollout())));
//   for (const auto& note : alg.deviations) LOG(INFO) << "deviates from preset: " << note;
//   LOG(INFO) << alg.Summary();   // includes "is_weight: eps_high 4 -> cap 5; no floor"
//
// Presets set every field (except the ones with no default, below); a field the user writes overrides
// the preset, and every override whose value differs from the preset is listed in `deviations`.
//
// | preset    | IS band                 | TR mask   | loss_agg            | KL         | dyn. sampling,
// overlong | | grpo      | off                     | 0.2/0.2   | seq_mean_token_mean | k3, 0.04   | off | |
// dapo      | off                     | 0.2/0.28  | token_mean          | none       | on | | cispo     | cap
// 1+eps_high, no floor| off       | token_mean          | none       | on                      | | reinforce
// | off                     | off       | seq_mean_token_mean | none       | off                     | All
// presets: advantage grpo/sample std/std_eps 1e-6, repetition on (0.99, 3000, fail, reward 0),
// dynamic_sampling.max_gen_rounds 10 on_exhausted error, ratio_denominator recompute, log_ratio_clamp 20.
// Overlong (every preset): L_max = the generation budget (rollout.max_new_tokens) unless
// algorithm.overlong.max_len is set (it must not exceed the budget); L_cache = min(4096, L_max / 5)
// unless set (the DAPO recipe's 20480/4096 at a 20480 budget).
// No default: algorithm.is_weight.eps_high (required when the IS band is on; M1 does not publish it),
// algorithm.generation_budget (required by seq_mean_token_sum_norm).
#ifndef M1RL_ALGORITHMS_ALGORITHM_CONFIG_H_
#define M1RL_ALGORITHMS_ALGORITHM_CONFIG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "algorithms/advantages.h"
#include "algorithms/dynamic_sampling.h"
#include "algorithms/params.h"
#include "algorithms/repetition.h"

// Design: this header includes neither LibTorch nor the generated proto header, so torch translation
// units can include it without mixing protobuf headers (the PyTorch wheel bundles its own
// google/protobuf, which shadows the project's on the GPU host). Callers that read or build the config
// message include "proto/config_algorithm.pb.h" themselves. Target m1rl::algorithm_config, no LibTorch.
namespace m1rl::config {
class AlgorithmConfig;
}  // namespace m1rl::config

namespace m1rl::algorithms {

enum class Preset { kCispo, kGrpo, kDapo, kReinforce };
enum class RatioDenominator { kRecompute, kRollout };

// The YAML names of config::AlgorithmConfig::Preset ("cispo", ...). InvalidArgument naming algorithm.preset.
absl::StatusOr<Preset> ParsePreset(std::string_view name);
std::string PresetName(Preset preset);

inline constexpr int64_t kOverlongCacheLen = 4096;   // L_cache default (DAPO recipe)
inline constexpr int64_t kOverlongCacheDivisor = 5;  // ... capped at L_max / 5 (DAPO: 20480 / 4096)

// The preset's full config (every field the preset defines is set).
config::AlgorithmConfig PresetConfig(Preset preset);

struct ResolvedAlgorithm {
  // Preset merged with the user's fields (never null after ResolveAlgorithmConfig); save it in checkpoints.
  std::shared_ptr<const config::AlgorithmConfig> config;
  Preset preset = Preset::kCispo;

  PolicyLossParams policy_loss;  // absolute IS bounds, TR offsets, KL, log-ratio clamp
  LossAgg loss_agg = LossAgg::kTokenMean;
  int64_t generation_budget = 0;  // L_gen; > 0 iff set (required by seq_mean_token_sum_norm)
  AdvantageParams advantage;

  bool dynamic_sampling = false;
  int64_t max_gen_rounds = 0;
  OnExhausted on_exhausted = OnExhausted::kError;

  bool overlong = false;
  int64_t overlong_max_len = 0;
  int64_t overlong_cache_len = 0;

  bool repetition = false;
  double repetition_threshold = 0.99;
  int64_t repetition_run_length = 3000;
  RepetitionPolicy repetition_policy = RepetitionPolicy::kFail;
  double repetition_failure_reward = 0.0;

  RatioDenominator ratio_denominator = RatioDenominator::kRecompute;
  // algorithm.rollout_correction (off unless set); feed ComputeRolloutCorrection.
  RolloutCorrectionParams rollout_correction;

  // "algorithm.loss_agg: seq_mean_token_mean (preset cispo: token_mean)", one per differing override.
  std::vector<std::string> deviations;
  // Both views of the IS bounds: "eps_high 4 -> cap 5; no floor", "max_ratio 5 (= eps_high 4); ...",
  // or "off (r unclipped)".
  std::string is_bounds;

  // True iff the trainer must run a reference-model forward (a KL term with beta > 0).
  bool needs_reference_model() const {
    return policy_loss.kl != KlEstimator::kNone && policy_loss.kl_beta > 0;
  }
  // Multi-line human-readable summary of the resolved algorithm.
  std::string Summary() const;
};

// Applies the preset named by user.preset, then the user's set fields, validates, and converts.
// `max_new_tokens` is the generation budget (rollout.max_new_tokens resolved, rollout::MaxNewTokens):
// the overlong penalty's L_max follows it unless algorithm.overlong.max_len is set, and an explicit
// L_max above it is an error naming both fields. This is the algorithm section's one validation
// (trainer::ValidateRunConfig calls it for RL).
// Errors (all InvalidArgument, message naming the full field path, e.g. algorithm.is_weight.eps_high):
// unset preset; IS band on without eps_high or max_ratio; eps_high together with max_ratio; non-finite
// or out-of-range values; kl.beta > 0 with estimator none; seq_mean_token_sum_norm without
// generation_budget > 0; overlong cache_len outside (0, max_len]; overlong.max_len > max_new_tokens;
// rollout_correction.tis_cap < 1 or icepop_k <= 1 (or non-finite).
absl::StatusOr<ResolvedAlgorithm> ResolveAlgorithmConfig(const config::AlgorithmConfig& user,
                                                         int64_t max_new_tokens);

// Convenience for callers without the proto header: resolves `preset` with the IS-weight fields
// (algorithm.is_weight.eps_high / eps_low / max_ratio) set where given. Same errors as
// ResolveAlgorithmConfig.
absl::StatusOr<ResolvedAlgorithm> ResolvePreset(std::string_view preset, int64_t max_new_tokens,
                                                std::optional<double> eps_high,
                                                std::optional<double> eps_low = std::nullopt,
                                                std::optional<double> max_ratio = std::nullopt);

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_ALGORITHM_CONFIG_H_
