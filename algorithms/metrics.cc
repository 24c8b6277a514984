#include "algorithms/metrics.h"

#include <algorithm>
#include <cmath>

namespace m1rl::algorithms {

namespace {

template <typename Stats, typename F>
void ForEachSum(Stats& s, F&& f) {
  f(s.num_positions);
  f(s.num_tokens);
  f(s.num_log_ratio_clamped);
  f(s.ratio_sum);
  f(s.is_clip_high);
  f(s.is_clip_low);
  f(s.tr_above_pos);
  f(s.tr_above_neg);
  f(s.tr_below_pos);
  f(s.tr_below_neg);
  f(s.tr_masked);
  f(s.abs_advantage_sum);
  f(s.entropy_sum);
  f(s.entropy_count);
  f(s.k1_sum);
  f(s.k3_sum);
  f(s.kl_count);
}

}  // namespace

std::array<double, PolicyStats::kNumSums> PolicyStats::Sums() const {
  std::array<double, kNumSums> out{};
  int i = 0;
  ForEachSum(*this, [&](const double& v) { out[i++] = v; });
  return out;
}

void PolicyStats::SetSums(const std::array<double, kNumSums>& sums) {
  int i = 0;
  ForEachSum(*this, [&](double& v) { v = sums[i++]; });
}

void PolicyStats::Accumulate(const PolicyStats& other) {
  std::array<double, kNumSums> a = Sums();
  const std::array<double, kNumSums> b = other.Sums();
  for (int i = 0; i < kNumSums; ++i) a[i] += b[i];
  SetSums(a);
  ratio_min = std::min(ratio_min, other.ratio_min);
  ratio_max = std::max(ratio_max, other.ratio_max);
}

PolicyMetrics PolicyStats::Finalize() const {
  PolicyMetrics m;
  m.num_tokens = static_cast<int64_t>(num_tokens);
  m.log_ratio_clamped = static_cast<int64_t>(num_log_ratio_clamped);
  if (num_positions > 0) m.masked_fraction = (num_positions - num_tokens) / num_positions;
  if (num_tokens > 0) {
    const double n = num_tokens;
    m.ratio_mean = ratio_sum / n;
    m.ratio_min = ratio_min;
    m.ratio_max = ratio_max;
    m.is_clip_high_frac = is_clip_high / n;
    m.is_clip_low_frac = is_clip_low / n;
    m.tr_above_pos_frac = tr_above_pos / n;
    m.tr_above_neg_frac = tr_above_neg / n;
    m.tr_below_pos_frac = tr_below_pos / n;
    m.tr_below_neg_frac = tr_below_neg / n;
    m.tr_masked_frac = tr_masked / n;
    m.abs_advantage_mean = abs_advantage_sum / n;
  }
  if (entropy_count > 0) m.entropy_mean = entropy_sum / entropy_count;
  if (kl_count > 0) {
    m.k1_mean = k1_sum / kl_count;
    m.k3_mean = k3_sum / kl_count;
  }
  return m;
}

std::map<std::string, double> PolicyMetrics::ToMap() const {
  std::map<std::string, double> out = {
      {"policy/num_tokens", static_cast<double>(num_tokens)},
      {"policy/masked_fraction", masked_fraction},
      {"policy/ratio_mean", ratio_mean},
      {"policy/ratio_min", ratio_min},
      {"policy/ratio_max", ratio_max},
      {"policy/log_ratio_clamped", static_cast<double>(log_ratio_clamped)},
      {"policy/is_clip_high_frac", is_clip_high_frac},
      {"policy/is_clip_low_frac", is_clip_low_frac},
      {"policy/tr_above_pos_frac", tr_above_pos_frac},
      {"policy/tr_above_neg_frac", tr_above_neg_frac},
      {"policy/tr_below_pos_frac", tr_below_pos_frac},
      {"policy/tr_below_neg_frac", tr_below_neg_frac},
      {"policy/tr_masked_frac", tr_masked_frac},
      {"policy/abs_advantage_mean", abs_advantage_mean},
  };
  if (entropy_mean) out["policy/entropy_mean"] = *entropy_mean;
  if (k1_mean) out["policy/kl_k1_mean"] = *k1_mean;
  if (k3_mean) out["policy/kl_k3_mean"] = *k3_mean;
  return out;
}

std::array<double, MismatchStats::kNumSums> MismatchStats::Sums() const {
  return {count,
          sum_x,
          sum_y,
          sum_xx,
          sum_yy,
          sum_xy,
          sum_abs_logprob_diff,
          sum_k3,
          sum_sq_log_ratio,
          sum_entropy,
          entropy_count};
}

void MismatchStats::SetSums(const std::array<double, kNumSums>& s) {
  count = s[0];
  sum_x = s[1];
  sum_y = s[2];
  sum_xx = s[3];
  sum_yy = s[4];
  sum_xy = s[5];
  sum_abs_logprob_diff = s[6];
  sum_k3 = s[7];
  sum_sq_log_ratio = s[8];
  sum_entropy = s[9];
  entropy_count = s[10];
}

void MismatchStats::Accumulate(const MismatchStats& other) {
  std::array<double, kNumSums> a = Sums();
  const std::array<double, kNumSums> b = other.Sums();
  for (int i = 0; i < kNumSums; ++i) a[i] += b[i];
  SetSums(a);
}

MismatchMetrics MismatchStats::Finalize() const {
  MismatchMetrics m;
  m.num_tokens = static_cast<int64_t>(count);
  if (count <= 0) return m;
  m.mean_abs_logprob_diff = sum_abs_logprob_diff / count;
  m.mean_k3 = sum_k3 / count;
  m.rms_log_ratio = std::sqrt(sum_sq_log_ratio / count);
  if (entropy_count > 0) m.mean_entropy = sum_entropy / entropy_count;
  // Sums of probabilities in [0, 1]: the one-pass covariance loses at most ~count * eps, far below the
  // variances of interest (a constant side is reported as 0).
  const double cov = sum_xy - sum_x * sum_y / count;
  const double var_x = sum_xx - sum_x * sum_x / count;
  const double var_y = sum_yy - sum_y * sum_y / count;
  if (count >= 2 && var_x > 0 && var_y > 0) m.pearson = cov / std::sqrt(var_x * var_y);
  return m;
}

std::map<std::string, double> MismatchMetrics::ToMap() const {
  std::map<std::string, double> out = {{"mismatch/num_tokens", static_cast<double>(num_tokens)},
                                       {"mismatch/pearson", pearson},
                                       {"mismatch/mean_abs_logprob_diff", mean_abs_logprob_diff},
                                       {"mismatch/rms_log_ratio", rms_log_ratio},
                                       {"mismatch/mean_k3", mean_k3}};
  if (mean_entropy) out["mismatch/mean_entropy"] = *mean_entropy;
  return out;
}

std::array<double, RolloutCorrectionStats::kNumSums> RolloutCorrectionStats::Sums() const {
  return {count, sum_rho, sum_weight, num_corrected};
}

void RolloutCorrectionStats::SetSums(const std::array<double, kNumSums>& s) {
  count = s[0];
  sum_rho = s[1];
  sum_weight = s[2];
  num_corrected = s[3];
}

void RolloutCorrectionStats::Accumulate(const RolloutCorrectionStats& other) {
  std::array<double, kNumSums> a = Sums();
  const std::array<double, kNumSums> b = other.Sums();
  for (int i = 0; i < kNumSums; ++i) a[i] += b[i];
  SetSums(a);
}

RolloutCorrectionMetrics RolloutCorrectionStats::Finalize() const {
  RolloutCorrectionMetrics m;
  m.num_tokens = static_cast<int64_t>(count);
  if (count <= 0) return m;
  m.rho_mean = sum_rho / count;
  m.weight_mean = sum_weight / count;
  m.corrected_frac = num_corrected / count;
  return m;
}

std::map<std::string, double> RolloutCorrectionMetrics::ToMap() const {
  return {{"rollout_correction/num_tokens", static_cast<double>(num_tokens)},
          {"rollout_correction/rho_mean", rho_mean},
          {"rollout_correction/weight_mean", weight_mean},
          {"rollout_correction/corrected_frac", corrected_frac}};
}

}  // namespace m1rl::algorithms
