#include "trainer/policy.h"

#include <ATen/core/grad_mode.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "model/safetensors.h"
#include "trainer/checkpoint.h"

namespace m1rl::trainer {

model::ModelPrecision TrainingPrecision(const config::ModelConfig& m) {
  return model::ModelPrecision::ForTraining(m.dtype() == config::ModelConfig::DTYPE_BFLOAT16 ? at::kBFloat16
                                                                                             : at::kFloat);
}

absl::StatusOr<std::unique_ptr<model::HybridModel>> InitialPolicy(const config::RunConfig& cfg,
                                                                  at::Device device) {
  const model::ModelPrecision precision = TrainingPrecision(cfg.model());
  if (!cfg.model().init_from().empty()) {
    return model::HybridModel::LoadHf(cfg.model().init_from(), precision, device,
                                      model::RopeConventionFromConfig(cfg.model()));
  }
  M1RL_ASSIGN_OR_RETURN(model::ModelConfig mc, model::ModelConfig::FromProto(cfg.model()));
  const uint64_t seed = cfg.model().seed() != 0 ? cfg.model().seed() : cfg.trainer().seed();
  return model::HybridModel::Create(mc, precision, device, seed);
}

absl::Status SavePolicyWeights(const std::string& dir, const model::HybridModel& policy) {
  return model::WriteSafetensors(absl::StrCat(dir, "/", kPolicyWeightsFile), policy.NamedParameters());
}

absl::Status LoadPolicyWeights(const std::string& dir, model::HybridModel& policy) {
  const std::string path = absl::StrCat(dir, "/", kPolicyWeightsFile);
  M1RL_ASSIGN_OR_RETURN(model::NamedTensors weights, model::ReadSafetensors(path));
  std::map<std::string, at::Tensor> by_name(weights.begin(), weights.end());
  at::NoGradGuard no_grad;
  for (auto& [name, p] : policy.NamedParameters()) {
    auto it = by_name.find(name);
    if (it == by_name.end()) return absl::DataLossError(absl::StrCat(path, ": missing ", name));
    if (it->second.sizes() != p.sizes())
      return absl::DataLossError(absl::StrCat(path, ": ", name, " has the wrong shape"));
    p.detach().copy_(it->second);
  }
  return absl::OkStatus();
}

absl::StatusOr<config::RunConfig> ReadCheckpointConfig(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kConfigProtoFile);
  M1RL_ASSIGN_OR_RETURN(std::string pb, ReadFile(path));
  config::RunConfig cfg;
  if (!cfg.ParseFromString(pb)) return absl::DataLossError(absl::StrCat(path, ": unparseable"));
  return cfg;
}

absl::StatusOr<std::unique_ptr<model::HybridModel>> LoadCheckpointPolicy(const std::string& dir,
                                                                         at::Device device) {
  if (!IsCompleteCheckpoint(dir)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " has no ", kCompleteMarker, " marker"));
  }
  M1RL_ASSIGN_OR_RETURN(const config::RunConfig cfg, ReadCheckpointConfig(dir));
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<model::HybridModel> policy, InitialPolicy(cfg, device));
  M1RL_RETURN_IF_ERROR(LoadPolicyWeights(dir, *policy));
  return policy;
}

}  // namespace m1rl::trainer
