// Per-update policy metrics (ALGORITHMS.md §9) as reducible sums, so micro-batches and DP ranks combine
// exactly before the fractions are formed.
//
// Protocol (trainer): ComputePolicyLoss returns a PolicyStats per micro-batch;
//   PolicyStats step; for each micro-batch: step.Accumulate(result.stats);
//   DP: all_reduce(step.Sums(), SUM); all_reduce(ratio_min, MIN); all_reduce(ratio_max, MAX);
//       step.SetSums(reduced_sums); step.ratio_min = ...; step.ratio_max = ...;
//   PolicyMetrics m = step.Finalize();  writer.Write(m.ToMap());
#ifndef M1RL_ALGORITHMS_METRICS_H_
#define M1RL_ALGORITHMS_METRICS_H_

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>

namespace m1rl::algorithms {

struct PolicyMetrics;

// Sums (counts are exact integers in double up to 2^53) plus the MIN/MAX-reduced ratio extremes.
// All token statistics are over v = 1 tokens unless named otherwise.
struct PolicyStats {
  // --- SUM-reduced ---
  double num_positions = 0;          // all positions given to the loss (v = 0 and v = 1)
  double num_tokens = 0;             // N_tok: positions with v = 1
  double num_log_ratio_clamped = 0;  // |l - l_old| > log_ratio_clamp
  double ratio_sum = 0;              // sum of r (after the log-ratio clamp)
  double is_clip_high = 0;           // IS band on: r > hi_IS
  double is_clip_low = 0;            // IS band on with a floor: r < lo_IS
  double tr_above_pos = 0;           // TR on: r > 1+eps_high and A > 0  (M = 0)
  double tr_above_neg = 0;           // TR on: r > 1+eps_high and A < 0  (M = 1, PPO keeps r)
  double tr_below_pos = 0;           // TR on: r < 1-eps_low and A > 0   (M = 1, PPO keeps r)
  double tr_below_neg = 0;           // TR on: r < 1-eps_low and A < 0   (M = 0)
  double tr_masked = 0;              // M = 0
  double abs_advantage_sum = 0;      // sum |A|
  double entropy_sum = 0;            // when entropy is given
  double entropy_count = 0;
  double k1_sum = 0;  // when ref log-probs are given
  double k3_sum = 0;
  double kl_count = 0;
  // --- MIN / MAX-reduced ---
  double ratio_min = std::numeric_limits<double>::infinity();
  double ratio_max = -std::numeric_limits<double>::infinity();

  static constexpr int kNumSums = 17;
  // The SUM-reduced fields in declaration order, for one all-reduce.
  std::array<double, kNumSums> Sums() const;
  void SetSums(const std::array<double, kNumSums>& sums);

  // Adds another micro-batch (sums add, extremes min/max).
  void Accumulate(const PolicyStats& other);

  PolicyMetrics Finalize() const;
};

struct PolicyMetrics {
  int64_t num_tokens = 0;
  double masked_fraction = 0;                           // v = 0 share of all positions
  double ratio_mean = 0, ratio_min = 0, ratio_max = 0;  // 0 when num_tokens == 0
  int64_t log_ratio_clamped = 0;
  double is_clip_high_frac = 0, is_clip_low_frac = 0;
  double tr_above_pos_frac = 0, tr_above_neg_frac = 0, tr_below_pos_frac = 0, tr_below_neg_frac = 0;
  double tr_masked_frac = 0;
  double abs_advantage_mean = 0;
  std::optional<double> entropy_mean;
  std::optional<double> k1_mean, k3_mean;

  // Flat names for metrics writers ("policy/ratio_mean", ...); optional values only when present.
  std::map<std::string, double> ToMap() const;
};

// Train/inference mismatch over v = 1 tokens (ALGORITHMS.md §3, §9; the train/infer agreement of M1 Fig. 3):
// x = p_old = exp(l_old), y = p_roll = exp(l_roll). Pearson(x, y) of token PROBABILITIES, mean
// |l_old - l_roll|, RMS of the log-ratio sqrt(mean (l_old - l_roll)^2), mean k3 with delta = l_roll - l_old
// (an estimate of KL(pi_roll || pi_old) on samples from pi_roll), and the mean trainer entropy when given
// (MODEL.md §7 acceptance: Pearson >= 0.997, RMS <= 0.03 nats with the FP32 head). Filled by
// ComputeMismatchStats (mismatch.h). All fields SUM-reduce across micro-batches and DP ranks; then
// Finalize().
struct MismatchMetrics {
  int64_t num_tokens = 0;
  double pearson = 0;  // 0 when fewer than 2 tokens or a constant side
  double mean_abs_logprob_diff = 0;
  double rms_log_ratio = 0;
  double mean_k3 = 0;
  std::optional<double> mean_entropy;           // when entropy was given
  std::map<std::string, double> ToMap() const;  // "mismatch/pearson", ...
};

struct MismatchStats {
  double count = 0, sum_x = 0, sum_y = 0, sum_xx = 0, sum_yy = 0, sum_xy = 0;
  double sum_abs_logprob_diff = 0, sum_k3 = 0;
  double sum_sq_log_ratio = 0;
  double sum_entropy = 0, entropy_count = 0;

  static constexpr int kNumSums = 11;
  std::array<double, kNumSums> Sums() const;
  void SetSums(const std::array<double, kNumSums>& sums);
  void Accumulate(const MismatchStats& other);
  MismatchMetrics Finalize() const;
};

// Rollout/trainer mismatch correction (rollout_correction.h) over v = 1 tokens, rho = pi_old / pi_roll.
struct RolloutCorrectionMetrics {
  int64_t num_tokens = 0;
  double rho_mean = 0;        // mean rho (after the log-ratio clamp)
  double weight_mean = 0;     // mean correction factor
  double corrected_frac = 0;  // tis: rho > cap (truncated); icepop: rho outside [1/k, k] (dropped)
  std::map<std::string, double> ToMap() const;  // "rollout_correction/weight_mean", ...
};

struct RolloutCorrectionStats {
  double count = 0, sum_rho = 0, sum_weight = 0, num_corrected = 0;

  static constexpr int kNumSums = 4;
  std::array<double, kNumSums> Sums() const;
  void SetSums(const std::array<double, kNumSums>& sums);
  void Accumulate(const RolloutCorrectionStats& other);
  RolloutCorrectionMetrics Finalize() const;
};

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_METRICS_H_
