#include "trainer/export.h"

#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/hybrid_model.h"
#include "proto/config.pb.h"
#include "trainer/checkpoint.h"
#include "trainer/internal/tensor_file.h"

namespace m1rl::trainer {

absl::Status ExportCheckpoint(const std::string& checkpoint_dir, const std::string& out_dir) {
  if (!IsCompleteCheckpoint(checkpoint_dir)) {
    return absl::FailedPreconditionError(absl::StrCat(checkpoint_dir, " has no COMPLETE marker"));
  }
  M1RL_ASSIGN_OR_RETURN(std::string pb, internal::ReadFile(checkpoint_dir + "/config.pb"));
  config::RunConfig cfg;
  if (!cfg.ParseFromString(pb))
    return absl::DataLossError(absl::StrCat(checkpoint_dir, "/config.pb: unparseable"));
  try {
    std::unique_ptr<model::HybridModel> policy;
    if (!cfg.model().init_from().empty()) {
      M1RL_ASSIGN_OR_RETURN(policy,
                            model::HybridModel::LoadHf(cfg.model().init_from(), at::kFloat, at::kCPU));
    } else {
      M1RL_ASSIGN_OR_RETURN(model::ModelConfig mc, model::ModelConfig::FromProto(cfg.model()));
      M1RL_ASSIGN_OR_RETURN(policy, model::HybridModel::Create(mc, at::kFloat, at::kCPU, 0));
    }
    M1RL_ASSIGN_OR_RETURN(internal::NamedTensors weights,
                          internal::ReadTensorFile(checkpoint_dir + "/model.safetensors"));
    std::map<std::string, at::Tensor> by_name(weights.begin(), weights.end());
    at::NoGradGuard no_grad;
    for (auto& [name, p] : policy->NamedParameters()) {
      auto it = by_name.find(name);
      if (it == by_name.end() || it->second.sizes() != p.sizes()) {
        return absl::DataLossError(
            absl::StrCat(checkpoint_dir, "/model.safetensors: tensor ", name, " missing or misshaped"));
      }
      p.detach().copy_(it->second);
    }
    return policy->SaveHf(out_dir);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("export of ", checkpoint_dir, ": ", e.what_without_backtrace()));
  }
}

}  // namespace m1rl::trainer
