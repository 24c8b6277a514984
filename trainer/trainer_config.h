// The run config's trainer.* and data.* sections (proto/config_trainer.proto): their validation and
// defaults, and ValidateRunConfig, the one validation of a whole run config that `m1rl config`,
// `m1rl train` and Trainer::Create all call. It composes each module's own check (model, rollout,
// algorithm, reward, trainer: each section is validated once, by the module that owns it) and the
// cross-section rules no single module owns.
//
//   M1RL_ASSIGN_OR_RETURN(config::RunConfig cfg, trainer::LoadRunConfig("configs/quickstart.yaml", {}));
//
// proto3 scalars cannot tell "unset" from 0; a 0 below means the named default.
#ifndef M1RL_TRAINER_TRAINER_CONFIG_H_
#define M1RL_TRAINER_TRAINER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace m1rl::trainer {

inline constexpr double kDefaultMaxUnscoredFraction = 0.5;  // trainer.max_unscored_fraction = 0
inline constexpr int32_t kDefaultDistTimeoutS = 600;        // trainer.dist_timeout_s = 0
inline constexpr int32_t kDefaultEvalPrompts = 64;          // trainer.eval_prompts = 0
inline constexpr int32_t kDefaultSamplePromptsPerStep = 2;  // trainer.sample_prompts_per_step = 0

double MaxUnscoredFraction(const config::TrainerConfig& t);
int32_t DistTimeoutSeconds(const config::TrainerConfig& t);
int32_t EvalPrompts(const config::TrainerConfig& t);
// Prompts per RL step logged to samples.jsonl: the default for 0, none (0) for -1.
int32_t SamplePromptsPerStep(const config::TrainerConfig& t);
// trainer.eval_max_new_tokens, else the rollout's generation budget (rollout::MaxNewTokens).
int32_t EvalMaxNewTokens(const config::RunConfig& cfg);
// trainer.backend, "auto" resolved: nccl when model.device is CUDA, else gloo.
std::string BackendName(const config::RunConfig& cfg);

// trainer.* (optimizer included) and data.*: every violation, each naming its path.
absl::Status ValidateTrainerConfig(const config::TrainerConfig& t);

// The whole run config: each module's validation (model::ValidateModelConfig,
// rollout::ValidateRolloutConfig, algorithms::ResolveAlgorithmConfig for RL with the generation budget,
// reward::RewardClient::ValidateConfig where a reward client is needed, ValidateTrainerConfig) plus the
// trainer.stages (ValidateStages), data.sources (ValidateDataSources) and the
// cross-section rules: RL with model.lm_head_precision bf16 needs model.allow_bf16_head; model.dtype is
// float32 or bfloat16 (FP32 masters, bf16 compute). kInvalidArgument
// listing every violation, "; "-separated. data.train_path is not required here (configs/minimax_m1.yaml
// is a planning config); Trainer::Create requires it and names a missing file.
absl::Status ValidateRunConfig(const config::RunConfig& cfg);

// What training needs of data.* beyond ValidateRunConfig: data.train_path (or every data.sources path)
// and data.eval_path present.
// kInvalidArgument / kNotFound naming the field, the file and how to make one (`m1rl make-data`).
absl::Status CheckDataFiles(const config::DataConfig& data);

// LoadConfig (YAML + --set overrides) then ValidateRunConfig; errors are prefixed with the file path
// (and "(after --set overrides)" when there were any).
absl::StatusOr<config::RunConfig> LoadRunConfig(const std::string& yaml_path,
                                                const std::vector<std::string>& overrides = {});

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_TRAINER_CONFIG_H_
