#include "algorithms/params.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace m1rl::algorithms {

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
