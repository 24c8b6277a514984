#include "rollout/rollout_config.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace m1rl::rollout {

absl::StatusOr<SamplingParams> SamplingParamsFromConfig(const config::RolloutConfig& config) {
  SamplingParams p;
  if (config.temperature() != 0.0) p.temperature = config.temperature();
  if (config.top_p() != 0.0) p.top_p = config.top_p();
  p.top_k = config.top_k();
  p.greedy = config.greedy();
  absl::Status valid = ValidateSamplingParams(p, "rollout");
  if (!valid.ok()) return valid;
  if (config.n_samples() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.n_samples must be >= 1, got ", config.n_samples()));
  }
  if (config.max_new_tokens() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.max_new_tokens must be >= 1, got ", config.max_new_tokens()));
  }
  return p;
}

absl::StatusOr<EngineOptions> EngineOptionsFromConfig(const config::RolloutConfig& config) {
  absl::StatusOr<SamplingParams> sampling = SamplingParamsFromConfig(config);
  if (!sampling.ok()) return sampling.status();
  EngineOptions o;
  if (config.max_batch_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.max_batch_size must be >= 1 (0 = default 64), got ", config.max_batch_size()));
  }
  if (config.max_batch_size() > 0) o.max_batch_size = config.max_batch_size();
  if (config.memory_budget_bytes() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.memory_budget_bytes must be >= 0, got ", config.memory_budget_bytes()));
  }
  o.memory_budget_bytes = config.memory_budget_bytes();
  if (config.prefill_chunk() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.prefill_chunk must be >= 1 (0 = default 2048), got ", config.prefill_chunk()));
  }
  if (config.prefill_chunk() > 0) o.prefill_chunk = config.prefill_chunk();
  for (int i = 0; i < config.stop_strings_size(); ++i) {
    if (config.stop_strings(i).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("rollout.stop_strings[", i, "] is empty"));
    }
    o.stop_strings.push_back(config.stop_strings(i));
  }
  return o;
}

}  // namespace m1rl::rollout
