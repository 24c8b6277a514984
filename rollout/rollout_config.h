// The run config's `rollout` section (proto/config_rollout.proto) mapped onto the engine's types.
//
// proto3 scalars cannot tell "unset" from 0, so 0 means the default documented here: temperature 1.0,
// top_p 1.0 (off), top_k 0 (off), max_batch_size 64, memory_budget_bytes 0 (unlimited),
// prefill_chunk 2048. n_samples and max_new_tokens have no default and must be >= 1.
// Repetition truncation (algorithm.repetition), the EOS ids (tokenizer) and the detokenizer are not
// part of this section: the caller sets them on the returned EngineOptions.
#ifndef M1RL_ROLLOUT_ROLLOUT_CONFIG_H_
#define M1RL_ROLLOUT_ROLLOUT_CONFIG_H_

#include "absl/status/statusor.h"
#include "proto/config_rollout.pb.h"
#include "rollout/engine.h"
#include "rollout/sampler.h"

namespace m1rl::rollout {

// kInvalidArgument naming rollout.<field> for out-of-range values.
absl::StatusOr<SamplingParams> SamplingParamsFromConfig(const config::RolloutConfig& config);
absl::StatusOr<EngineOptions> EngineOptionsFromConfig(const config::RolloutConfig& config);

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_ROLLOUT_CONFIG_H_
