// The training schedule trainer.stages (proto/config_trainer.proto StageConfig): an ordered list of stages,
// each with a generation budget, optional algorithm/optimizer overrides and an advance rule. Pure (no
// torch): StageController consumes each step's metrics and says when to move on; ApplyStage turns the run's
// base config into the config of a stage. The trainer applies the stage at the start of each step and saves
// State() in the checkpoint's trainer state.
//
//   M1RL_ASSIGN_OR_RETURN(StageController stages, StageController::Create(cfg.trainer()));
//   config::RunConfig step_cfg = ApplyStage(cfg, stages.current());
//   ... run the step, metrics["stage"] = stages.index() ...
//   M1RL_ASSIGN_OR_RETURN(bool advanced, stages.Observe(metrics));
#ifndef M1RL_TRAINER_STAGES_H_
#define M1RL_TRAINER_STAGES_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "proto/config.pb.h"

namespace m1rl::trainer {

// The per-step metric the p99-length rule reads (generated tokens, global over ranks).
inline constexpr char kP99LengthMetric[] = "rollout/response_length_p99";

// trainer.stages: every violation, each naming its path (trainer.stages[1].advance.plateau_window ...).
absl::Status ValidateStages(const config::TrainerConfig& t);

// `base` with `stage` applied: rollout.max_new_tokens and algorithm.overlong.max_len = the stage's budget
// (when set), and every set override (StageOverrides) written into its field.
config::RunConfig ApplyStage(const config::RunConfig& base, const config::StageConfig& stage);

class StageController {
 public:
  // REQUIRES: ValidateStages(t) ok. No stages: one implicit stage that never advances.
  explicit StageController(const config::TrainerConfig& t);

  int index() const { return index_; }
  int num_stages() const { return static_cast<int>(stages_.size()); }
  const config::StageConfig& current() const { return stages_[static_cast<size_t>(index_)]; }
  std::string current_name() const;
  int64_t steps_in_stage() const { return steps_in_stage_; }

  // Records one finished step of the current stage. Returns true when the stage ends here (the next step
  // runs in the next stage). kInvalidArgument naming the metric when a rule's metric is missing.
  absl::StatusOr<bool> Observe(const std::map<std::string, double>& metrics);

  // Serialised counters (index, steps in stage, p99 streak, plateau window) for the checkpoint.
  nlohmann::json State() const;
  // kDataLoss naming the field for a malformed state or a stage index outside this config.
  absl::Status Restore(const nlohmann::json& state);

 private:
  struct RuleResults {
    int set = 0;   // rules configured
    int held = 0;  // rules holding this step
  };
  absl::StatusOr<RuleResults> Evaluate(const std::map<std::string, double>& metrics);
  void Enter(int index);

  std::vector<config::StageConfig> stages_;
  int index_ = 0;
  int64_t steps_in_stage_ = 0;
  int64_t p99_streak_ = 0;
  std::deque<double> plateau_history_;  // the plateau metric's last window+1 values
};

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_STAGES_H_
