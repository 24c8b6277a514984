// The policy network's construction and its checkpoint file: one path shared by the trainer's start
// (InitialPolicy), its resume (LoadPolicyWeights into the live model) and `m1rl export`
// (LoadCheckpointPolicy = the checkpoint's config -> InitialPolicy -> LoadPolicyWeights).
//
// A checkpoint stores the policy's parameters under their NamedParameters() names in
// `dir`/model.safetensors (FP32, bit-exact) and the resolved config in `dir`/config.pb (checkpoint.h).
//
// Thread safety: free functions, no shared state.
#ifndef M1RL_TRAINER_POLICY_H_
#define M1RL_TRAINER_POLICY_H_

#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/hybrid_model.h"
#include "proto/config.pb.h"

namespace m1rl::trainer {

inline constexpr char kPolicyWeightsFile[] = "model.safetensors";
inline constexpr char kConfigProtoFile[] = "config.pb";

// The precision training uses for model.dtype (ALGORITHMS.md §7): FP32 master weights always (so FP32
// gradients and AdamW state); bfloat16 computes in bf16 (model::ModelPrecision), float32 in fp32. float64
// is refused by ValidateRunConfig before this is reached.
model::ModelPrecision TrainingPrecision(const config::ModelConfig& m);

// The initial policy of `cfg`, FP32 master weights on `device` computing in TrainingPrecision:
// model.init_from (a Hugging Face directory) if set, else a random init seeded by model.seed (trainer.seed
// when 0), identical on every rank. Errors of the model module (bad config, unreadable init_from) unchanged.
absl::StatusOr<std::unique_ptr<model::HybridModel>> InitialPolicy(const config::RunConfig& cfg,
                                                                  at::Device device);

// Writes `policy`'s parameters to `dir`/model.safetensors (atomically). kInternal naming the file.
absl::Status SavePolicyWeights(const std::string& dir, const model::HybridModel& policy);

// Copies `dir`/model.safetensors into `policy`'s parameters, bit for bit. kNotFound if the file is missing;
// kInvalidArgument naming the file for a damaged one; kDataLoss naming the file and tensor when a parameter
// is missing or has another shape (a checkpoint of another model).
absl::Status LoadPolicyWeights(const std::string& dir, model::HybridModel& policy);

// The resolved config a checkpoint was saved with (`dir`/config.pb). kNotFound / kDataLoss naming the file.
absl::StatusOr<config::RunConfig> ReadCheckpointConfig(const std::string& dir);

// The trained policy of the checkpoint `dir`: its config -> InitialPolicy -> LoadPolicyWeights.
// kFailedPrecondition if `dir` has no COMPLETE marker; the errors above otherwise.
absl::StatusOr<std::unique_ptr<model::HybridModel>> LoadCheckpointPolicy(const std::string& dir,
                                                                         at::Device device);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_POLICY_H_
