#include "rollout/rollout_config.h"

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/logging.h"

namespace m1rl::rollout {

absl::Status ValidateRolloutConfig(const config::RolloutConfig& r, bool rl) {
  FieldChecker c;
  if (rl) {
    if (r.n_samples() < 2) {
      c.Add("rollout.n_samples",
            absl::StrCat(" must be >= 2 for RL (group advantages compare the samples of a prompt), got ",
                         r.n_samples()));
    }
  } else {
    c.AtLeast(r.n_samples(), 0, "rollout.n_samples");
  }
  c.AtLeast(r.max_new_tokens(), 0, "rollout.max_new_tokens");
  c.NonNegative(r.temperature(), "rollout.temperature");
  c.InRange(r.top_p(), 0, 1, /*lo_exclusive=*/false, /*hi_inclusive=*/true, "rollout.top_p");
  c.AtLeast(r.top_k(), 0, "rollout.top_k");
  c.AtLeast(r.max_batch_size(), 0, "rollout.max_batch_size");
  c.AtLeast(r.memory_budget_bytes(), 0, "rollout.memory_budget_bytes");
  c.AtLeast(r.prefill_chunk(), 0, "rollout.prefill_chunk");
  for (int i = 0; i < r.stop_strings_size(); ++i) {
    if (r.stop_strings(i).empty()) c.Add(absl::StrCat("rollout.stop_strings[", i, "]"), " must not be empty");
  }
  return c.Result();
}

int32_t MaxNewTokens(const config::RolloutConfig& config) {
  return config.max_new_tokens() != 0 ? config.max_new_tokens() : kDefaultMaxNewTokens;
}

double Temperature(const config::RolloutConfig& config) {
  return config.temperature() != 0.0 ? config.temperature() : kDefaultTemperature;
}

absl::StatusOr<SamplingParams> SamplingParamsFromConfig(const config::RolloutConfig& config) {
  if (absl::Status s = ValidateRolloutConfig(config, /*rl=*/false); !s.ok()) return s;
  SamplingParams p;
  p.temperature = Temperature(config);
  p.top_p = config.top_p() != 0.0 ? config.top_p() : kDefaultTopP;
  p.top_k = config.top_k();
  p.greedy = config.greedy();
  p.behaviour_logprob = config.behaviour_logprob() == config::RolloutConfig::BEHAVIOUR_LOGPROB_TRUNCATED
                            ? BehaviourLogprob::kTruncated
                            : BehaviourLogprob::kFull;
  const bool truncating = !p.greedy && (p.top_p < 1.0 || p.top_k > 0);
  if (truncating && p.behaviour_logprob == BehaviourLogprob::kFull) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      M1RL_LOG(WARNING) << "rollout.top_p " << p.top_p << " / rollout.top_k " << p.top_k
                        << " truncate sampling, but rollout.behaviour_logprob is full: the recorded "
                           "behaviour log-probs are of the full tempered distribution, not the one the "
                           "tokens were drawn from (set rollout.behaviour_logprob: truncated to record "
                           "the renormalised log-prob)";
    }
  }
  return p;
}

namespace {

DecodePath DecodePathFromConfig(config::RolloutConfig::DecodePath p) {
  switch (p) {
    case config::RolloutConfig::DECODE_PATH_PER_SEQUENCE:
      return DecodePath::kPerSequence;
    case config::RolloutConfig::DECODE_PATH_SLOTS:
      return DecodePath::kSlots;
    default:
      return DecodePath::kAuto;
  }
}

}  // namespace

absl::StatusOr<EngineOptions> EngineOptionsFromConfig(const config::RolloutConfig& config) {
  if (absl::Status s = ValidateRolloutConfig(config, /*rl=*/false); !s.ok()) return s;
  EngineOptions o;
  o.max_batch_size = config.max_batch_size() != 0 ? config.max_batch_size() : kDefaultMaxBatchSize;
  o.memory_budget_bytes = config.memory_budget_bytes();
  o.prefill_chunk = config.prefill_chunk() != 0 ? config.prefill_chunk() : kDefaultPrefillChunk;
  o.stop_strings.assign(config.stop_strings().begin(), config.stop_strings().end());
  o.decode_path = DecodePathFromConfig(config.decode_path());
  o.cuda_graphs = !config.eager_decode();
  return o;
}

}  // namespace m1rl::rollout
