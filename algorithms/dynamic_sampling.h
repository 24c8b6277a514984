// DAPO dynamic sampling (ALGORITHMS.md §4): keep a group iff 0 < #correct < G' on the verifier's
// binary verdict (not the shaped reward), generate in rounds until B groups are kept, use exactly B.
//
// Usage (trainer):
//   DynamicSampler sampler(B, max_gen_rounds, on_exhausted);
//   while (sampler.NeedsMoreGroups()) {
//     M1RL_RETURN_IF_ERROR(sampler.BeginRound());   // ResourceExhausted after max_gen_rounds
//     for (each generated group) sampler.OfferGroup(group_id, verdicts);
//   }
//   M1RL_ASSIGN_OR_RETURN(DynamicSamplingResult r, sampler.Finish());
// With on_exhausted = kTrainPartial, BeginRound never fails: NeedsMoreGroups() turns false once the
// rounds are spent and Finish() returns the partial set (counted in `partial`).
//
// Thread safety: none (one sampler per training step, fed from one thread).
#ifndef M1RL_ALGORITHMS_DYNAMIC_SAMPLING_H_
#define M1RL_ALGORITHMS_DYNAMIC_SAMPLING_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl::algorithms {

enum class OnExhausted { kError, kTrainPartial };

// Filter decision for one group on verdicts ([G], nullopt = unscored, excluded from G').
// Keep iff G' >= 2 and 0 < #correct < G'.
bool KeepGroupByVerdict(std::span<const std::optional<bool>> correct);
// For GenRM-only sources (no binary verdict): keep iff G' >= 2 and the scored rewards are not all equal.
bool KeepGroupByReward(std::span<const std::optional<double>> rewards);

struct DynamicSamplingResult {
  std::vector<int64_t> kept_group_ids;  // exactly B unless partial; in offer order
  int64_t rounds = 0;                   // generation rounds used
  int64_t num_offered = 0;              // groups offered in total
  int64_t num_filtered = 0;             // groups failing the filter (all correct / all wrong / G' < 2)
  int64_t num_discarded_extra = 0;      // groups passing the filter after B were already kept
  bool partial = false;                 // fewer than B kept (only with kTrainPartial)
};

class DynamicSampler {
 public:
  // REQUIRES: target_groups >= 1, max_gen_rounds >= 1.
  DynamicSampler(int64_t target_groups, int64_t max_gen_rounds, OnExhausted on_exhausted);

  // True while fewer than B groups are kept and rounds remain (kTrainPartial) or, with kError, while
  // fewer than B are kept (the next BeginRound then reports exhaustion).
  bool NeedsMoreGroups() const;

  // Starts a generation round. ResourceExhausted naming algorithm.dynamic_sampling.max_gen_rounds when
  // max_gen_rounds rounds have run without B kept groups (kError), FailedPrecondition when B groups are
  // already kept or (kTrainPartial) the rounds are spent.
  absl::Status BeginRound();

  // Offers one generated group of the current round. Returns true iff it is kept. Groups passing the
  // filter after B are kept are discarded and counted. REQUIRES: BeginRound() was called.
  bool OfferGroup(int64_t group_id, std::span<const std::optional<bool>> correct);
  bool OfferGroupByReward(int64_t group_id, std::span<const std::optional<double>> rewards);

  // Ends sampling. kError and fewer than B kept: ResourceExhausted naming
  // algorithm.dynamic_sampling.max_gen_rounds with the counts. Otherwise the result.
  absl::StatusOr<DynamicSamplingResult> Finish() const;

 private:
  bool Offer(int64_t group_id, bool passes);

  int64_t target_groups_;
  int64_t max_gen_rounds_;
  OnExhausted on_exhausted_;
  DynamicSamplingResult result_;
};

}  // namespace m1rl::algorithms

#endif  // M1RL_ALGORITHMS_DYNAMIC_SAMPLING_H_
