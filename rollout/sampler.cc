#include "rollout/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/random.h"

namespace m1rl::rollout {
namespace {

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& params, const std::string& field_prefix) {
  if (!(params.temperature > 0.0) || !std::isfinite(params.temperature)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_prefix, ".temperature must be finite and > 0, got ", params.temperature));
  }
  if (!(params.top_p > 0.0 && params.top_p <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_prefix, ".top_p must be in (0, 1], got ", params.top_p));
  }
  if (params.top_k < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field_prefix, ".top_k must be >= 0, got ", params.top_k));
  }
  return absl::OkStatus();
}

SequenceRng::SequenceRng(uint64_t seed, uint64_t stream) {
  // Two splitmix64 rounds mix seed and stream, so (seed, stream) and (seed + 1, stream - 1) differ.
  uint64_t mixed = StreamSeed(seed, stream);
  for (uint64_t& s : s_) s = SplitMix64Next(&mixed);
}

uint64_t SequenceRng::NextU64() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double SequenceRng::NextUniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

int32_t SampleFromWeights(const std::vector<double>& weights, int32_t top_k, double top_p, double u,
                          double* kept_mass) {
  const int32_t vocab = static_cast<int32_t>(weights.size());
  M1RL_CHECK_GT(vocab, 0);
  const bool use_k = top_k > 0 && top_k < vocab;
  const bool use_p = top_p < 1.0;
  if (!use_k && !use_p) {
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    if (kept_mass != nullptr) *kept_mass = total;
    const double target = u * total;
    double cum = 0.0;
    int32_t last_positive = 0;
    for (int32_t i = 0; i < vocab; ++i) {
      if (weights[i] <= 0.0) continue;
      cum += weights[i];
      last_positive = i;
      if (target < cum) return i;
    }
    return last_positive;  // rounding put target at the very top of the range
  }
  // Candidates ordered by weight descending, ties by lower index (a strict total order, so the
  // result does not depend on the sort implementation).
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  auto by_weight = [&weights](int32_t a, int32_t b) {
    return weights[a] > weights[b] || (weights[a] == weights[b] && a < b);
  };
  const int32_t k = use_k ? top_k : vocab;
  std::partial_sort(order.begin(), order.begin() + k, order.end(), by_weight);
  double mass_k = 0.0;
  for (int32_t i = 0; i < k; ++i) mass_k += weights[order[i]];
  int32_t kept = k;
  double mass = mass_k;
  if (use_p) {
    double cum = 0.0;
    for (int32_t i = 0; i < k; ++i) {
      cum += weights[order[i]];
      if (cum >= top_p * mass_k) {
        kept = i + 1;
        mass = cum;
        break;
      }
    }
  }
  if (kept_mass != nullptr) *kept_mass = mass;
  const double target = u * mass;
  double cum = 0.0;
  for (int32_t i = 0; i < kept; ++i) {
    cum += weights[order[i]];
    if (target < cum) return order[i];
  }
  return order[kept - 1];
}

absl::StatusOr<SampledToken> SampleToken(const float* logits, int32_t vocab_size,
                                         const SamplingParams& params, SequenceRng* rng,
                                         std::vector<double>* scratch) {
  M1RL_CHECK_GT(vocab_size, 0);
  const double inv_t = 1.0 / params.temperature;
  double max_scaled = -std::numeric_limits<double>::infinity();
  int32_t argmax = -1;
  for (int32_t i = 0; i < vocab_size; ++i) {
    const float z = logits[i];
    if (std::isnan(z) || z == std::numeric_limits<float>::infinity()) {
      return absl::InternalError(absl::StrCat("logit ", i, " is ", z, " (NaN or +inf)"));
    }
    const double s = static_cast<double>(z) * inv_t;
    if (argmax < 0 || s > max_scaled) {
      max_scaled = s;
      argmax = i;
    }
  }
  if (max_scaled == -std::numeric_limits<double>::infinity()) {
    return absl::InternalError("all logits are -inf");
  }
  std::vector<double>& w = *scratch;
  w.resize(vocab_size);
  double total = 0.0;
  for (int32_t i = 0; i < vocab_size; ++i) {
    w[i] = std::exp(static_cast<double>(logits[i]) * inv_t - max_scaled);
    total += w[i];
  }
  const double log_z = max_scaled + std::log(total);
  int32_t token = argmax;
  double log_kept = 0.0;  // log of the sampled set's probability mass (0: the full distribution)
  if (!params.greedy) {
    double kept_mass = total;
    token = SampleFromWeights(w, params.top_k, params.top_p, rng->NextUniform(), &kept_mass);
    if (params.behaviour_logprob == BehaviourLogprob::kTruncated) log_kept = std::log(kept_mass / total);
  }
  SampledToken out;
  out.token = token;
  const double logprob = static_cast<double>(logits[token]) * inv_t - log_z - log_kept;
  out.logprob = static_cast<float>(logprob);
  out.prob = std::exp(logprob);
  return out;
}

}  // namespace m1rl::rollout
