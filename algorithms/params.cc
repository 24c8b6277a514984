#include "algorithms/params.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace m1rl::algorithms {

absl::StatusOr<KlEstimator> ParseKlEstimator(std::string_view name) {
  if (name == "none") return KlEstimator::kNone;
  if (name == "k1") return KlEstimator::kK1;
  if (name == "k2") return KlEstimator::kK2;
  if (name == "k3") return KlEstimator::kK3;
  return absl::InvalidArgumentError(
      absl::StrCat("algorithm.kl.estimator must be one of none|k1|k2|k3, got '", std::string(name), "'"));
}

const char* KlEstimatorName(KlEstimator estimator) {
  switch (estimator) {
    case KlEstimator::kNone:
      return "none";
    case KlEstimator::kK1:
      return "k1";
    case KlEstimator::kK2:
      return "k2";
    case KlEstimator::kK3:
      return "k3";
  }
  return "?";
}

const char* RolloutCorrectionName(RolloutCorrection kind) {
  switch (kind) {
    case RolloutCorrection::kNone:
      return "none";
    case RolloutCorrection::kTis:
      return "tis";
    case RolloutCorrection::kIcePop:
      return "icepop";
  }
  return "?";
}

absl::StatusOr<LossAgg> ParseLossAgg(std::string_view name) {
  if (name == "token_mean") return LossAgg::kTokenMean;
  if (name == "seq_mean_token_mean") return LossAgg::kSeqMeanTokenMean;
  if (name == "group_token_mean") return LossAgg::kGroupTokenMean;
  if (name == "seq_mean_token_sum_norm") return LossAgg::kSeqMeanTokenSumNorm;
  return absl::InvalidArgumentError(
      absl::StrCat("algorithm.loss_agg must be one of "
                   "token_mean|seq_mean_token_mean|group_token_mean|seq_mean_token_sum_norm, "
                   "got '",
                   std::string(name), "'"));
}

const char* LossAggName(LossAgg agg) {
  switch (agg) {
    case LossAgg::kTokenMean:
      return "token_mean";
    case LossAgg::kSeqMeanTokenMean:
      return "seq_mean_token_mean";
    case LossAgg::kGroupTokenMean:
      return "group_token_mean";
    case LossAgg::kSeqMeanTokenSumNorm:
      return "seq_mean_token_sum_norm";
  }
  return "?";
}

}  // namespace m1rl::algorithms
