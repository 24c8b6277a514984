// Token sampling for the rollout engine: temperature, top-k, top-p (nucleus) and greedy, drawn from a
// per-sequence random stream so a sequence's tokens depend only on its seed and its own logits, never
// on which other sequences share the decode batch. No LibTorch: it works on a raw fp32 logits row.
//
// Behaviour log-prob (SamplingParams.behaviour_logprob, config rollout.behaviour_logprob), computed in
// float64 from the fp32 logits:
//  kFull (default): log softmax(z / temperature)[token] of the *full* distribution (before top-k/top-p
//    renormalisation): the quantity the training forward computes (model ForwardOutput.logprobs, same
//    temperature). With top_k/top_p active the token was not drawn from it.
//  kTruncated: the log-prob under the distribution actually sampled, renormalised over the kept
//    top-k/top-p set: log(p[token] / sum of p over the kept set) = kFull's value - log(kept mass).
//    Identical to kFull when no filter is active. Greedy decoding always records kFull's value.
// SampledToken.prob = exp(logprob) is the p_t the repetition rule uses (ALGORITHMS.md §6).
//
// Design / non-goals: sampling runs on the host, one row at a time, after the [B, V] logits are copied
// off the device. A fused device sampler (needed for V = 200k at large B on GPU) is left to the kernels
// issue; its results must then match this reference token for token given the same uniforms.
#ifndef M1RL_ROLLOUT_SAMPLER_H_
#define M1RL_ROLLOUT_SAMPLER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl::rollout {

enum class BehaviourLogprob { kFull, kTruncated };

struct SamplingParams {
  double temperature = 1.0;  // > 0; also used for the recorded log-prob when greedy
  double top_p = 1.0;        // (0, 1]; 1 = off
  int32_t top_k = 0;         // >= 0; 0 = off
  bool greedy = false;       // argmax (lowest index on ties); consumes no randomness
  BehaviourLogprob behaviour_logprob = BehaviourLogprob::kFull;  // which log-prob SampledToken records
};

// kInvalidArgument naming `field_prefix`.<field> when a parameter is out of range.
absl::Status ValidateSamplingParams(const SamplingParams& params, const std::string& field_prefix);

// A per-sequence random stream (xoshiro256**, state seeded with splitmix64 from (seed, stream)).
// Copyable value type; the same (seed, stream) always yields the same sequence of uniforms.
class SequenceRng {
 public:
  SequenceRng(uint64_t seed, uint64_t stream);
  uint64_t NextU64();
  // Uniform in [0, 1) with 53 random bits.
  double NextUniform();

 private:
  uint64_t s_[4];
};

struct SampledToken {
  int32_t token = -1;
  float logprob = 0.0f;  // behaviour log-prob (SamplingParams.behaviour_logprob)
  double prob = 0.0;     // exp(logprob) in float64 (the repetition rule's p_t)
};

// Samples one token from `logits` (`vocab_size` fp32 values, [V]) with `params`, drawing exactly one
// uniform from `rng` unless params.greedy (then none). `scratch` is reused between calls to avoid
// allocations (any contents). REQUIRES: params valid, vocab_size > 0. Returns kInternal when the
// logits contain NaN or +inf, or are all -inf (a model bug, reported rather than sampled from).
absl::StatusOr<SampledToken> SampleToken(const float* logits, int32_t vocab_size,
                                         const SamplingParams& params, SequenceRng* rng,
                                         std::vector<double>* scratch);

// Inverse-CDF draw over the nucleus, exposed for tests: the candidate set is the top-k tokens by
// probability (ties: lower index first), then the smallest prefix of them whose renormalised mass
// reaches top_p; returns the token whose cumulative interval in that order contains u * mass. With
// neither filter active (top_k == 0 or >= V, top_p >= 1) the order is plain token-index order (no sort).
// `weights` are unnormalised non-negative weights [V] with a positive sum; u in [0, 1). `kept_mass`, when
// given, receives the summed weight of the candidate set the token was drawn from (the total without
// filters).
int32_t SampleFromWeights(const std::vector<double>& weights, int32_t top_k, double top_p, double u,
                          double* kept_mass = nullptr);

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_SAMPLER_H_
