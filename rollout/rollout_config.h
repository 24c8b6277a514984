// The run config's `rollout` section (proto/config_rollout.proto): its one validation, its defaults and
// its mapping onto the engine's types.
//
// proto3 scalars cannot tell "unset" from 0, so 0 means the default named below: temperature
// kDefaultTemperature, top_p kDefaultTopP (off), top_k 0 (off), max_new_tokens kDefaultMaxNewTokens,
// max_batch_size kDefaultMaxBatchSize, memory_budget_bytes 0 (unlimited), prefill_chunk
// kDefaultPrefillChunk. Repetition truncation (algorithm.repetition), the EOS ids (tokenizer) and the
// detokenizer are not part of this section: the caller sets them on the returned EngineOptions.
#ifndef M1RL_ROLLOUT_ROLLOUT_CONFIG_H_
#define M1RL_ROLLOUT_ROLLOUT_CONFIG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/config_rollout.pb.h"
#include "rollout/engine.h"
#include "rollout/sampler.h"

namespace m1rl::rollout {

inline constexpr double kDefaultTemperature = 1.0;
inline constexpr double kDefaultTopP = 1.0;
inline constexpr int32_t kDefaultMaxNewTokens = 256;
inline constexpr int32_t kDefaultMaxBatchSize = 64;
inline constexpr int32_t kDefaultPrefillChunk = 2048;

// The rollout.* section, validated once (trainer::ValidateRunConfig calls it for `m1rl config` and
// `m1rl train`). `rl`: the section drives RL rollouts, so rollout.n_samples (G) must be >= 2 (group
// advantages compare samples of one prompt); otherwise it may be 0 (unused). Every violation is reported,
// each naming rollout.<field>.
absl::Status ValidateRolloutConfig(const config::RolloutConfig& config, bool rl);

// The generation budget per completion: rollout.max_new_tokens, or kDefaultMaxNewTokens when 0.
int32_t MaxNewTokens(const config::RolloutConfig& config);
// rollout.temperature, or kDefaultTemperature when 0.
double Temperature(const config::RolloutConfig& config);

// Both validate with rl = false (kInvalidArgument naming rollout.<field>). SamplingParamsFromConfig
// warns once per process when behaviour_logprob is full while top_p < 1 or top_k > 0 (the recorded
// log-probs are then of a distribution the tokens were not drawn from).
absl::StatusOr<SamplingParams> SamplingParamsFromConfig(const config::RolloutConfig& config);
absl::StatusOr<EngineOptions> EngineOptionsFromConfig(const config::RolloutConfig& config);

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_ROLLOUT_CONFIG_H_
