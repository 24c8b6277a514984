// The trainer's view of trainer.stages and data.sources: which stage a step runs in (with the stage's
// settings applied to the run config), which source each prompt of a step comes from, and the per-step
// stage, mixture and per-source metrics. Built on the pure StageController (trainer/stages.h) and
// DataMixture (trainer/data_mixture.h); this class adds the loaded datasets, their row orders and the
// checkpoint state.
//
//   M1RL_ASSIGN_OR_RETURN(auto schedule, RunSchedule::Create(run_config));
//   const config::RunConfig& cfg = schedule->stage_config();          // rollout/algorithm/optim of the stage
//   M1RL_ASSIGN_OR_RETURN(auto prompts, schedule->NextPrompts(step, B));  // global batch, every rank alike
//   ... step ... metrics += schedule->StepMetrics(step) ...
//   M1RL_ASSIGN_OR_RETURN(bool advanced, schedule->Observe(metrics));  // stage_config() is the next stage's
//
// The single-file data.train_path is the one source "train" (weight 1, wrap): prompts come in the same
// order as PromptSampler gives them, so runs without data.sources are unchanged.
//
// Thread safety: none (the trainer's thread).
#ifndef M1RL_TRAINER_RUN_SCHEDULE_H_
#define M1RL_TRAINER_RUN_SCHEDULE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "proto/config.pb.h"
#include "trainer/communicator.h"
#include "trainer/data_mixture.h"
#include "trainer/dataset.h"
#include "trainer/stages.h"

namespace m1rl::trainer {

struct ScheduledPrompt {
  const PromptRow* row = nullptr;
  int source = 0;  // index into the sources
};

class RunSchedule {
 public:
  // Loads every source (rows without "domain" take data.sources[i].domain). REQUIRES: ValidateRunConfig
  // ok. Errors name the source's file (PromptDataset::Load).
  static absl::StatusOr<std::unique_ptr<RunSchedule>> Create(const config::RunConfig& run);

  // The run config with the current stage applied (trainer/stages.h ApplyStage).
  const config::RunConfig& stage_config() const { return stage_config_; }
  int stage() const { return stages_.index(); }
  int num_stages() const { return stages_.num_stages(); }
  std::string stage_name() const { return stages_.current_name(); }
  // One line naming the stage and what it sets (for the log).
  std::string DescribeStage() const;

  int num_sources() const { return mixture_.num_sources(); }
  const std::string& source_name(int i) const { return mixture_.source(i).name(); }
  const PromptDataset& source_data(int i) const { return data_[static_cast<size_t>(i)]; }

  // The `count` prompts of 0-based step `step` (the global batch, identical on every rank); advances the
  // sources' cursors. kOutOfRange naming the source when a wrap = false source has no rows left.
  absl::StatusOr<std::vector<ScheduledPrompt>> NextPrompts(int64_t step, int64_t count);

  // Of the step about to be observed: stage/index, stage/step_in_stage (1-based), data/<source>/weight (at
  // `step`) and data/<source>/prompts (drawn since the last call), for the step's metrics.
  std::map<std::string, double> StepMetrics(int64_t step);

  // Records a finished step's (global) metrics. True when the stage ended: stage_config() is then the next
  // stage's. kInvalidArgument naming the metric an advance rule needs but the step lacks.
  absl::StatusOr<bool> Observe(const std::map<std::string, double>& metrics);

  // {"stages": ..., "mixture": ...} for the checkpoint's trainer state.
  nlohmann::json State() const;
  // kDataLoss naming the field for a malformed or foreign state.
  absl::Status Restore(const nlohmann::json& state);
  // A checkpoint written before data.sources existed holds only the one source's cursor.
  absl::Status RestoreLegacyCursor(int64_t consumed);

 private:
  RunSchedule(const config::RunConfig& run, std::vector<PromptDataset> data, uint64_t seed);
  void ApplyCurrentStage();

  config::RunConfig run_;
  config::RunConfig stage_config_;
  StageController stages_;
  std::vector<PromptDataset> data_;
  std::vector<PromptSampler> orders_;  // [source] row order of each source's stream positions
  DataMixture mixture_;
  std::vector<int64_t> drawn_;  // [source] prompts drawn since the last StepMetrics
};

// Per-source sums of one step's judged completions on this rank (data/<source>/... metrics).
class SourceTally {
 public:
  explicit SourceTally(int num_sources);
  // `reward` and `correct` unset for an unscored completion (counted in completions and length only).
  void Add(int source, std::optional<double> reward, std::optional<bool> correct, int64_t length);
  // Sums over ranks (collective: one all-reduce), then data/<source>/{completions,reward_mean,accuracy,
  // length_mean} (means over the scored completions; length over all; 0 for an empty set).
  absl::StatusOr<std::map<std::string, double>> Reduce(Communicator& comm, const RunSchedule& schedule) const;

 private:
  static constexpr int kFields = 5;  // completions, scored, reward_sum, correct, length_sum
  std::vector<double> sums_;         // [num_sources * kFields]
};

// The q-quantile (0 < q <= 1, nearest rank: the smallest x with #{v <= x} >= ceil(q * N)) of every rank's
// `values` together, each in [0, max_value] (larger ones count as max_value). Collective: one all-reduce
// of a [max_value + 1] histogram. 0 when no rank has a value.
absl::StatusOr<double> GlobalQuantile(Communicator& comm, const std::vector<int64_t>& values,
                                      int64_t max_value, double q);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_RUN_SCHEDULE_H_
