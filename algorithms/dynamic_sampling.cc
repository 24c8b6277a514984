#include "algorithms/dynamic_sampling.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace m1rl::algorithms {

bool KeepGroupByVerdict(std::span<const std::optional<bool>> correct) {
  int64_t scored = 0;
  int64_t num_correct = 0;
  for (const auto& c : correct) {
    if (!c.has_value()) continue;
    ++scored;
    if (*c) ++num_correct;
  }
  return scored >= 2 && num_correct > 0 && num_correct < scored;
}

bool KeepGroupByReward(std::span<const std::optional<double>> rewards) {
  int64_t scored = 0;
  std::optional<double> first;
  bool differ = false;
  for (const auto& r : rewards) {
    if (!r.has_value()) continue;
    ++scored;
    if (!first.has_value()) {
      first = *r;
    } else if (*r != *first) {
      differ = true;
    }
  }
  return scored >= 2 && differ;
}

DynamicSampler::DynamicSampler(int64_t target_groups, int64_t max_gen_rounds, OnExhausted on_exhausted)
    : target_groups_(target_groups), max_gen_rounds_(max_gen_rounds), on_exhausted_(on_exhausted) {
  M1RL_CHECK_GE(target_groups, 1);
  M1RL_CHECK_GE(max_gen_rounds, 1);
}

bool DynamicSampler::NeedsMoreGroups() const {
  const bool short_of_target = static_cast<int64_t>(result_.kept_group_ids.size()) < target_groups_;
  if (on_exhausted_ == OnExhausted::kTrainPartial) return short_of_target && result_.rounds < max_gen_rounds_;
  return short_of_target;
}

absl::Status DynamicSampler::BeginRound() {
  const int64_t kept = static_cast<int64_t>(result_.kept_group_ids.size());
  if (kept >= target_groups_) {
    return absl::FailedPreconditionError(absl::StrCat("dynamic sampling already has ", kept, " groups"));
  }
  if (result_.rounds >= max_gen_rounds_) {
    if (on_exhausted_ == OnExhausted::kError) {
      return absl::ResourceExhaustedError(
          absl::StrCat("dynamic sampling kept ", kept, " of ", target_groups_,
                       " groups after algorithm.dynamic_sampling.max_gen_rounds=", max_gen_rounds_,
                       " rounds (", result_.num_filtered, " of ", result_.num_offered,
                       " groups filtered); raise max_gen_rounds or set on_exhausted: train_partial"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("dynamic sampling rounds exhausted (", max_gen_rounds_, "); call Finish()"));
  }
  ++result_.rounds;
  return absl::OkStatus();
}

bool DynamicSampler::Offer(int64_t group_id, bool passes) {
  M1RL_CHECK_GE(result_.rounds, 1) << "OfferGroup before BeginRound";
  ++result_.num_offered;
  if (!passes) {
    ++result_.num_filtered;
    return false;
  }
  if (static_cast<int64_t>(result_.kept_group_ids.size()) >= target_groups_) {
    ++result_.num_discarded_extra;
    return false;
  }
  result_.kept_group_ids.push_back(group_id);
  return true;
}

bool DynamicSampler::OfferGroup(int64_t group_id, std::span<const std::optional<bool>> correct) {
  return Offer(group_id, KeepGroupByVerdict(correct));
}

bool DynamicSampler::OfferGroupByReward(int64_t group_id, std::span<const std::optional<double>> rewards) {
  return Offer(group_id, KeepGroupByReward(rewards));
}

absl::StatusOr<DynamicSamplingResult> DynamicSampler::Finish() const {
  DynamicSamplingResult out = result_;
  const int64_t kept = static_cast<int64_t>(out.kept_group_ids.size());
  if (kept < target_groups_) {
    if (on_exhausted_ == OnExhausted::kError) {
      return absl::ResourceExhaustedError(
          absl::StrCat("dynamic sampling kept ", kept, " of ", target_groups_, " groups after ", out.rounds,
                       " rounds (algorithm.dynamic_sampling.max_gen_rounds=", max_gen_rounds_, "; ",
                       out.num_filtered, " of ", out.num_offered, " groups filtered)"));
    }
    out.partial = true;
  }
  return out;
}

}  // namespace m1rl::algorithms
