#include "algorithms/advantages.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace m1rl::algorithms {

absl::StatusOr<GroupAdvantages> ComputeGroupAdvantages(const AdvantageParams& params,
                                                       std::span<const std::optional<double>> rewards) {
  const int64_t g = static_cast<int64_t>(rewards.size());
  if (g < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("group size must be >= 2 for group-relative advantages, got ", g));
  }
  GroupAdvantages out;
  out.advantages.assign(rewards.size(), std::nullopt);
  double sum = 0.0;
  for (int64_t i = 0; i < g; ++i) {
    if (!rewards[i].has_value()) {
      ++out.num_unscored;
      continue;
    }
    if (!std::isfinite(*rewards[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("reward of response ", i, " is not finite: ", *rewards[i]));
    }
    ++out.num_scored;
    sum += *rewards[i];
  }
  const int64_t n = out.num_scored;
  if (n < 2) {
    out.dropped = true;
    return out;
  }
  const double mean = sum / static_cast<double>(n);
  bool all_equal = true;
  double first = 0.0;
  bool have_first = false;
  double sq = 0.0;
  for (const auto& r : rewards) {
    if (!r.has_value()) continue;
    if (!have_first) {
      first = *r;
      have_first = true;
    } else if (*r != first) {
      all_equal = false;
    }
    sq += (*r - mean) * (*r - mean);
  }
  // Invariant: exact equality test, so a zero-variance group never divides rounding noise by eps.
  if (all_equal) {
    out.zero_variance = true;
    for (int64_t i = 0; i < g; ++i) {
      if (rewards[i].has_value()) out.advantages[i] = 0.0;
    }
    return out;
  }
  double scale = 1.0;
  if (params.estimator == AdvantageEstimator::kRloo) {
    scale = static_cast<double>(n) / static_cast<double>(n - 1);
  } else if (params.scale_by_std) {
    const double divisor =
        params.std_kind == StdKind::kSample ? static_cast<double>(n - 1) : static_cast<double>(n);
    scale = 1.0 / (std::sqrt(sq / divisor) + params.std_eps);
  }
  for (int64_t i = 0; i < g; ++i) {
    if (rewards[i].has_value()) out.advantages[i] = (*rewards[i] - mean) * scale;
  }
  return out;
}

void AdvantageStats::Add(const GroupAdvantages& group) {
  ++num_groups;
  num_unscored += group.num_unscored;
  if (group.dropped) {
    ++num_dropped;
    return;
  }
  num_scored += group.num_scored;
  if (group.zero_variance) ++num_zero_variance;
  for (const auto& a : group.advantages) {
    if (a.has_value()) abs_advantage_sum += std::abs(*a);
  }
}

double AdvantageStats::zero_variance_share() const {
  const int64_t kept = num_groups - num_dropped;
  return kept > 0 ? static_cast<double>(num_zero_variance) / static_cast<double>(kept) : 0.0;
}

double AdvantageStats::mean_abs_advantage() const {
  return num_scored > 0 ? abs_advantage_sum / static_cast<double>(num_scored) : 0.0;
}

}  // namespace m1rl::algorithms
