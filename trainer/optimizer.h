// AdamW with ZeRO-1 sharding, bucketed gradient all-reduce, global-norm clipping and an LR schedule,
// written on at::Tensor ops (torch::optim is frontend-only and not sharded).
//
// One Step():
//   1. gradients of all parameters are all-reduced with SUM in buckets of `bucket_bytes` (the loss is
//      already normalised by global counts, ALGORITHMS §2.5, so SUM is the right reduction);
//   2. the global L2 norm of the reduced gradient is computed (identical on every rank) and, if
//      grad_clip > 0 and norm > grad_clip, gradients are scaled by grad_clip / (norm + 1e-6);
//   3. AdamW (decoupled weight decay, PyTorch's formula, bias-corrected):
//        p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
//        p <- p - lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
//      With zero1, the flat concatenation of all parameters is split into world_size equal shards
//      (the last padded); rank r keeps fp32 m, v only for shard r, updates only that shard and the
//      shards are all-gathered into every rank's parameters. Without zero1 every rank updates all
//      parameters with full moments. Both give the same parameters (element-wise arithmetic).
//
// Weight decay applies to parameters with >= 2 dimensions (matrices), not to norms and biases.
// Parameters, gradients and moments are fp32 (ALGORITHMS §7); other dtypes are rejected at Create.
// Thread safety: none; the training thread owns it.
#ifndef M1RL_TRAINER_OPTIMIZER_H_
#define M1RL_TRAINER_OPTIMIZER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config_trainer.pb.h"
#include "trainer/communicator.h"

namespace m1rl::trainer {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-15;
  double weight_decay = 0.0;
  double grad_clip = 0.0;             // global norm; 0 = off
  int64_t warmup_steps = 0;           // linear from lr/warmup to lr over the first warmup_steps steps
  std::string schedule = "constant";  // "constant" | "cosine" | "linear" (decay after warm-up) | "wsd"
  double min_lr_ratio = 0.0;          // floor of cosine/linear/wsd decay, as a fraction of lr
  double decay_fraction = 0.2;  // "wsd": lr stays flat, then decays linearly over this share of the steps
  int64_t total_steps = 1;      // horizon of the decay
  bool zero1 = false;
  int64_t bucket_bytes = 8 << 20;

  // Reads trainer.optim.* (betas default [0.9, 0.95], eps default 1e-15 when 0); errors name the field.
  static absl::StatusOr<AdamWOptions> FromProto(const config::OptimConfig& proto, int64_t total_steps);
  absl::Status Validate() const;
};

// Learning rate of 0-based optimizer step `step` (the step about to be taken).
double LearningRateAt(const AdamWOptions& options, int64_t step);

struct OptimizerStepStats {
  double lr = 0;
  double grad_norm = 0;  // before clipping
  bool clipped = false;
};

class ShardedAdamW {
 public:
  // params: (name, leaf tensor [*] fp32 requiring grad), in the same order on every rank.
  // The communicator must outlive the optimizer.
  static absl::StatusOr<std::unique_ptr<ShardedAdamW>> Create(
      std::vector<std::pair<std::string, at::Tensor>> params, const AdamWOptions& options,
      Communicator* comm);

  ShardedAdamW(const ShardedAdamW&) = delete;
  ShardedAdamW& operator=(const ShardedAdamW&) = delete;

  // Reduces gradients (missing .grad() counts as zeros), clips, updates. Errors: communicator failures
  // (kUnavailable naming the collective), non-finite gradient norm (kInternal; parameters untouched).
  absl::StatusOr<OptimizerStepStats> Step();
  // Sets every gradient to zero (keeps the buffers).
  void ZeroGrad();

  int64_t step() const { return step_; }
  const AdamWOptions& options() const { return options_; }
  // New hyperparameters from the next step on (a trainer.stages override of lr, grad_clip, weight_decay);
  // the moments and the step count stay. kInvalidArgument when invalid or when the sharding (zero1,
  // bucket_bytes) would change.
  absl::Status SetOptions(const AdamWOptions& options);
  int64_t num_elements() const { return total_; }
  // This rank's shard [begin, end) of the flat parameter vector (the whole vector without zero1).
  std::pair<int64_t, int64_t> shard_range() const { return {shard_begin_, shard_end_}; }

  // State for checkpoints: {"step": [] int64, "exp_avg": [shard] fp32, "exp_avg_sq": [shard] fp32}.
  std::vector<std::pair<std::string, at::Tensor>> StateDict() const;
  // Restores StateDict() output of a run with the same parameters, world size and zero1 setting;
  // kInvalidArgument naming the entry on missing entries or shape mismatch.
  absl::Status LoadStateDict(const std::vector<std::pair<std::string, at::Tensor>>& state);

 private:
  ShardedAdamW(std::vector<std::pair<std::string, at::Tensor>> params, const AdamWOptions& options,
               Communicator* comm);
  absl::Status AllReduceGradients(at::Tensor& flat_grad);

  std::vector<std::pair<std::string, at::Tensor>> params_;  // each [*] fp32 leaf
  AdamWOptions options_;
  Communicator* comm_;
  int64_t total_ = 0;       // number of parameter elements
  int64_t shard_size_ = 0;  // padded shard length (zero1) or total_
  int64_t shard_begin_ = 0;
  int64_t shard_end_ = 0;
  at::Tensor exp_avg_;     // [shard_end - shard_begin] fp32
  at::Tensor exp_avg_sq_;  // [shard_end - shard_begin] fp32
  at::Tensor decay_mask_;  // [shard_end - shard_begin] fp32, 1 where weight decay applies
  int64_t step_ = 0;
};

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_OPTIMIZER_H_
