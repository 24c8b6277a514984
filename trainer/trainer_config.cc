#include "trainer/trainer_config.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "algorithms/algorithm_config.h"
#include "common/config.h"
#include "model/config.h"
#include "reward/service/client.h"
#include "rollout/rollout_config.h"
#include "trainer/data_mixture.h"
#include "trainer/optimizer.h"
#include "trainer/stages.h"

namespace m1rl::trainer {
namespace {

bool IsRl(const config::RunConfig& cfg) { return cfg.trainer().mode() == config::TrainerConfig::MODE_RL; }

// A reward client is built for RL and for evaluation.
bool NeedsReward(const config::RunConfig& cfg) {
  return IsRl(cfg) || cfg.trainer().eval_every() > 0 || cfg.trainer().eval_at_start();
}

// Rules that span sections.
void CheckCrossSection(const config::RunConfig& cfg, FieldChecker& c) {
  // The trainer keeps FP32 master weights, gradients and AdamW state (ALGORITHMS.md §7) and computes in
  // float32 or bfloat16 (bf16 compute over the FP32 masters: trainer/policy.h TrainingPrecision).
  if (cfg.model().dtype() == config::ModelConfig::DTYPE_FLOAT64) {
    c.Add("model.dtype",
          " float64 is not a training precision: the trainer keeps FP32 master weights and "
          "computes in float32 or bfloat16");
  }
  // M1 §3.2: the bf16 LM head makes the training and rollout token probabilities disagree; the FP32
  // head is the fix. Kept for measurements behind an explicit opt-in.
  if (IsRl(cfg) && cfg.model().lm_head_precision() == config::ModelConfig::HEAD_PRECISION_BF16 &&
      !cfg.model().allow_bf16_head()) {
    c.Add("model.lm_head_precision",
          " bf16 is refused for trainer.mode rl (the bf16 head's probability mismatch is what M1's FP32 "
          "head fixes); use ieee_fp32, or set model.allow_bf16_head: true to measure it anyway");
  }
}

}  // namespace

double MaxUnscoredFraction(const config::TrainerConfig& t) {
  return t.max_unscored_fraction() != 0 ? t.max_unscored_fraction() : kDefaultMaxUnscoredFraction;
}

int32_t DistTimeoutSeconds(const config::TrainerConfig& t) {
  return t.dist_timeout_s() != 0 ? t.dist_timeout_s() : kDefaultDistTimeoutS;
}

int32_t EvalPrompts(const config::TrainerConfig& t) {
  return t.eval_prompts() != 0 ? t.eval_prompts() : kDefaultEvalPrompts;
}

int32_t SamplePromptsPerStep(const config::TrainerConfig& t) {
  if (t.sample_prompts_per_step() < 0) return 0;
  return t.sample_prompts_per_step() != 0 ? t.sample_prompts_per_step() : kDefaultSamplePromptsPerStep;
}

int32_t EvalMaxNewTokens(const config::RunConfig& cfg) {
  return cfg.trainer().eval_max_new_tokens() != 0 ? cfg.trainer().eval_max_new_tokens()
                                                  : rollout::MaxNewTokens(cfg.rollout());
}

std::string BackendName(const config::RunConfig& cfg) {
  if (cfg.trainer().backend() != config::TrainerConfig::BACKEND_AUTO)
    return YamlName(cfg.trainer().backend());
  return cfg.model().device().rfind("cuda", 0) == 0 ? "nccl" : "gloo";
}

absl::Status ValidateTrainerConfig(const config::TrainerConfig& t) {
  FieldChecker c;
  if (t.mode() == config::TrainerConfig::MODE_UNSPECIFIED) c.Add("trainer.mode", " must be set: rl or sft");
  const bool rl = t.mode() == config::TrainerConfig::MODE_RL;
  const bool sft = t.mode() == config::TrainerConfig::MODE_SFT;
  c.AtLeast(t.steps(), 0, "trainer.steps");
  c.AtLeast(t.prompts_per_step(), rl ? 1 : 0, "trainer.prompts_per_step");
  c.AtLeast(t.minibatches_per_step(), rl ? 1 : 0, "trainer.minibatches_per_step");
  c.AtLeast(t.micro_batch_tokens(), 0, "trainer.micro_batch_tokens");
  c.AtLeast(t.eval_every(), 0, "trainer.eval_every");
  c.AtLeast(t.export_max_shard_bytes(), 0, "trainer.export_max_shard_bytes");
  c.AtLeast(t.eval_prompts(), 0, "trainer.eval_prompts");
  c.AtLeast(t.log_every(), 0, "trainer.log_every");
  c.AtLeast(t.sft_batch_size(), sft ? 1 : 0, "trainer.sft_batch_size");
  // trainer.optim: the optimizer's own rules and defaults (AdamWOptions::FromProto).
  c.Merge(AdamWOptions::FromProto(t.optim(), /*total_steps=*/1).status());
  c.InRange(t.max_unscored_fraction(), 0, 1, false, true, "trainer.max_unscored_fraction");
  c.AtLeast(t.dist_timeout_s(), 0, "trainer.dist_timeout_s");
  c.AtLeast(t.eval_max_new_tokens(), 0, "trainer.eval_max_new_tokens");
  c.AtLeast(t.sample_prompts_per_step(), -1, "trainer.sample_prompts_per_step");
  c.AtLeast(t.checkpoint().every_steps(), 0, "trainer.checkpoint.every_steps");
  c.AtLeast(t.checkpoint().keep_last(), 0, "trainer.checkpoint.keep_last");
  return c.Result();
}

absl::Status ValidateRunConfig(const config::RunConfig& cfg) {
  FieldChecker c;
  const bool rl = IsRl(cfg);
  c.Merge(model::ValidateModelConfig(cfg.model()));
  const absl::Status rollout_ok = rollout::ValidateRolloutConfig(cfg.rollout(), rl);
  c.Merge(rollout_ok);
  if (NeedsReward(cfg)) c.Merge(reward::RewardClient::ValidateConfig(cfg.reward()));
  if (rl && !cfg.algorithm().has_preset()) {
    c.Add("algorithm.preset", absl::StrCat(" must be set when trainer.mode is rl (one of ",
                                           EnumYamlNames(config::AlgorithmConfig::Preset_descriptor()), ")"));
  } else if (rl && rollout_ok.ok()) {
    c.Merge(
        algorithms::ResolveAlgorithmConfig(cfg.algorithm(), rollout::MaxNewTokens(cfg.rollout())).status());
  }
  c.Merge(ValidateTrainerConfig(cfg.trainer()));
  c.Merge(ValidateStages(cfg.trainer()));
  c.Merge(ValidateDataSources(cfg.data(), cfg.trainer().stages_size()));
  CheckCrossSection(cfg, c);
  return c.Result();
}

absl::Status CheckDataFiles(const config::DataConfig& data) {
  constexpr char kHint[] =
      "write one with `m1rl make-data --task arith --difficulty 1 --n 20000 --seed 1 --out PATH` "
      "(tools/quickstart.sh does this for configs/quickstart.yaml)";
  if (data.sources_size() > 0) {
    for (int i = 0; i < data.sources_size(); ++i) {
      if (std::filesystem::is_regular_file(data.sources(i).path())) continue;
      return absl::NotFoundError(
          absl::StrCat("data.sources[", i, "].path: no such file ", data.sources(i).path(), "; ", kHint));
    }
  } else if (data.train_path().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.train_path is required for training: a JSONL of "
                     "prompts; ",
                     kHint));
  }
  for (const auto& [field, path] : {std::pair<const char*, std::string>{"data.train_path", data.train_path()},
                                    {"data.eval_path", data.eval_path()}}) {
    if (path.empty() || std::filesystem::is_regular_file(path)) continue;
    return absl::NotFoundError(absl::StrCat(field, ": no such file ", path, "; ", kHint));
  }
  return absl::OkStatus();
}

absl::StatusOr<config::RunConfig> LoadRunConfig(const std::string& yaml_path,
                                                const std::vector<std::string>& overrides) {
  absl::StatusOr<config::RunConfig> cfg = LoadConfig(yaml_path, overrides);
  if (!cfg.ok()) return cfg.status();
  if (absl::Status s = ValidateRunConfig(*cfg); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(yaml_path, overrides.empty() ? "" : " (after --set overrides)",
                                               ": ", s.message()));
  }
  return cfg;
}

}  // namespace m1rl::trainer
