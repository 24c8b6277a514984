#include "trainer/optimizer.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/zeros.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/status_macros.h"

namespace m1rl::trainer {

absl::StatusOr<AdamWOptions> AdamWOptions::FromProto(const config::OptimConfig& proto, int64_t total_steps) {
  AdamWOptions o;
  o.lr = proto.lr();
  if (proto.betas_size() != 0 && proto.betas_size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.optim.betas must have 2 entries, got ", proto.betas_size()));
  }
  if (proto.betas_size() == 2) {
    o.beta1 = proto.betas(0);
    o.beta2 = proto.betas(1);
  }
  if (proto.eps() != 0) o.eps = proto.eps();
  o.weight_decay = proto.weight_decay();
  o.grad_clip = proto.grad_clip();
  o.warmup_steps = proto.warmup_steps();
  o.schedule = YamlName(proto.schedule());
  o.min_lr_ratio = proto.min_lr_ratio();
  if (proto.decay_fraction() != 0) o.decay_fraction = proto.decay_fraction();
  o.zero1 = proto.zero1();
  o.total_steps = std::max<int64_t>(1, total_steps);
  M1RL_RETURN_IF_ERROR(o.Validate());
  return o;
}

absl::Status AdamWOptions::Validate() const {
  if (!(lr > 0) || !std::isfinite(lr))
    return absl::InvalidArgumentError(absl::StrCat("trainer.optim.lr must be > 0, got ", lr));
  if (!(beta1 >= 0 && beta1 < 1))
    return absl::InvalidArgumentError(absl::StrCat("trainer.optim.betas[0] must be in [0, 1), got ", beta1));
  if (!(beta2 >= 0 && beta2 < 1))
    return absl::InvalidArgumentError(absl::StrCat("trainer.optim.betas[1] must be in [0, 1), got ", beta2));
  if (!(eps > 0)) return absl::InvalidArgumentError(absl::StrCat("trainer.optim.eps must be > 0, got ", eps));
  if (weight_decay < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.optim.weight_decay must be >= 0, got ", weight_decay));
  if (grad_clip < 0)
    return absl::InvalidArgumentError(absl::StrCat("trainer.optim.grad_clip must be >= 0, got ", grad_clip));
  if (warmup_steps < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.optim.warmup_steps must be >= 0, got ", warmup_steps));
  if (schedule != "constant" && schedule != "cosine" && schedule != "linear" && schedule != "wsd") {
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.optim.schedule must be constant, cosine, linear or wsd, got '", schedule, "'"));
  }
  if (!(decay_fraction > 0 && decay_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.optim.decay_fraction must be in (0, 1], got ", decay_fraction));
  }
  if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.optim.min_lr_ratio must be in [0, 1], got ", min_lr_ratio));
  }
  if (bucket_bytes < 4) return absl::InvalidArgumentError("bucket_bytes must be >= 4");
  return absl::OkStatus();
}

double LearningRateAt(const AdamWOptions& o, int64_t step) {
  if (step < o.warmup_steps)
    return o.lr * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  if (o.schedule == "constant") return o.lr;
  const double span = static_cast<double>(std::max<int64_t>(1, o.total_steps - o.warmup_steps));
  const double progress = std::clamp(static_cast<double>(step - o.warmup_steps) / span, 0.0, 1.0);
  double factor = 1.0 - progress;  // linear
  if (o.schedule == "cosine") factor = 0.5 * (1.0 + std::cos(M_PI * progress));
  // Warm-up, stable, decay: flat until the last decay_fraction of the steps, then linear to the floor.
  if (o.schedule == "wsd") factor = std::clamp((1.0 - progress) / o.decay_fraction, 0.0, 1.0);
  return o.lr * (o.min_lr_ratio + (1.0 - o.min_lr_ratio) * factor);
}

absl::Status ShardedAdamW::SetOptions(const AdamWOptions& options) {
  M1RL_RETURN_IF_ERROR(options.Validate());
  if (options.zero1 != options_.zero1 || options.bucket_bytes != options_.bucket_bytes)
    return absl::InvalidArgumentError("optimizer: zero1 and bucket_bytes cannot change during a run");
  options_ = options;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ShardedAdamW>> ShardedAdamW::Create(
    std::vector<std::pair<std::string, at::Tensor>> params, const AdamWOptions& options, Communicator* comm) {
  M1RL_RETURN_IF_ERROR(options.Validate());
  if (params.empty()) return absl::InvalidArgumentError("optimizer: no parameters");
  for (const auto& [name, p] : params) {
    if (!p.defined() || p.scalar_type() != at::kFloat) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer: parameter ", name, " must be a defined fp32 tensor"));
    }
    if (!p.is_contiguous())
      return absl::InvalidArgumentError(absl::StrCat("optimizer: parameter ", name, " is not contiguous"));
  }
  return std::unique_ptr<ShardedAdamW>(new ShardedAdamW(std::move(params), options, comm));
}

ShardedAdamW::ShardedAdamW(std::vector<std::pair<std::string, at::Tensor>> params,
                           const AdamWOptions& options, Communicator* comm)
    : params_(std::move(params)), options_(options), comm_(comm) {
  std::vector<at::Tensor> masks;
  for (const auto& [name, p] : params_) {
    total_ += p.numel();
    masks.push_back(at::ones({p.numel()}, p.options().requires_grad(false)).mul_(p.dim() >= 2 ? 1.0 : 0.0));
  }
  const int world = comm_->world_size();
  if (options_.zero1) {
    shard_size_ = (total_ + world - 1) / world;
    shard_begin_ = std::min<int64_t>(total_, shard_size_ * comm_->rank());
    shard_end_ = std::min<int64_t>(total_, shard_begin_ + shard_size_);
  } else {
    shard_size_ = total_;
    shard_begin_ = 0;
    shard_end_ = total_;
  }
  const auto opts = params_[0].second.options().requires_grad(false);
  exp_avg_ = at::zeros({shard_end_ - shard_begin_}, opts);
  exp_avg_sq_ = at::zeros({shard_end_ - shard_begin_}, opts);
  decay_mask_ = at::cat(masks).narrow(0, shard_begin_, shard_end_ - shard_begin_).contiguous();
}

void ShardedAdamW::ZeroGrad() {
  for (auto& [name, p] : params_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

absl::Status ShardedAdamW::AllReduceGradients(at::Tensor& flat_grad) {
  if (comm_->world_size() == 1) return absl::OkStatus();
  const int64_t bucket = std::max<int64_t>(1, options_.bucket_bytes / static_cast<int64_t>(sizeof(float)));
  for (int64_t begin = 0; begin < total_; begin += bucket) {
    at::Tensor slice = flat_grad.narrow(0, begin, std::min(bucket, total_ - begin));
    M1RL_RETURN_IF_ERROR_WITH(comm_->AllReduce(slice, ReduceOp::kSum), "gradient all-reduce, optimizer step ",
                              step_);
  }
  return absl::OkStatus();
}

absl::StatusOr<OptimizerStepStats> ShardedAdamW::Step() {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads, values;
  grads.reserve(params_.size());
  for (const auto& [name, p] : params_) {
    grads.push_back(p.grad().defined() ? p.grad().reshape({-1})
                                       : at::zeros({p.numel()}, p.options().requires_grad(false)));
    values.push_back(p.detach().reshape({-1}));
  }
  at::Tensor flat_grad = at::cat(grads);  // [total] fp32
  M1RL_RETURN_IF_ERROR(AllReduceGradients(flat_grad));

  OptimizerStepStats stats;
  stats.lr = LearningRateAt(options_, step_);
  stats.grad_norm = flat_grad.to(at::kDouble).pow(2).sum().sqrt().item<double>();
  if (!std::isfinite(stats.grad_norm)) {
    return absl::InternalError(absl::StrCat("optimizer step ", step_, " on rank ", comm_->rank(),
                                            ": gradient norm is not finite (", stats.grad_norm, ")"));
  }
  if (options_.grad_clip > 0 && stats.grad_norm > options_.grad_clip) {
    flat_grad.mul_(options_.grad_clip / (stats.grad_norm + 1e-6));
    stats.clipped = true;
  }

  const int64_t t = step_ + 1;
  const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t));
  at::Tensor flat_param = at::cat(values);  // [total] fp32
  const int64_t n = shard_end_ - shard_begin_;
  at::Tensor p = flat_param.narrow(0, shard_begin_, n);
  at::Tensor g = flat_grad.narrow(0, shard_begin_, n);
  if (options_.weight_decay > 0) p.mul_(decay_mask_.mul(-stats.lr * options_.weight_decay).add_(1.0));
  exp_avg_.mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
  exp_avg_sq_.mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
  at::Tensor denom = exp_avg_sq_.sqrt().div_(std::sqrt(bc2)).add_(options_.eps);
  p.addcdiv_(exp_avg_, denom, -stats.lr / bc1);

  if (options_.zero1 && comm_->world_size() > 1) {
    at::Tensor shard = at::zeros({shard_size_}, flat_param.options());
    shard.narrow(0, 0, n).copy_(p);
    at::Tensor gathered = at::zeros({shard_size_ * comm_->world_size()}, flat_param.options());
    M1RL_RETURN_IF_ERROR_WITH(comm_->AllGather(shard, gathered),
                              "ZeRO-1 parameter all-gather, optimizer step ", step_);
    flat_param = gathered.narrow(0, 0, total_);
  }
  int64_t offset = 0;
  for (auto& [name, param] : params_) {
    param.detach().view({-1}).copy_(flat_param.narrow(0, offset, param.numel()));
    offset += param.numel();
  }
  ++step_;
  return stats;
}

std::vector<std::pair<std::string, at::Tensor>> ShardedAdamW::StateDict() const {
  return {{"step", at::scalar_tensor(step_, at::kLong)},
          {"exp_avg", exp_avg_.clone()},
          {"exp_avg_sq", exp_avg_sq_.clone()}};
}

absl::Status ShardedAdamW::LoadStateDict(const std::vector<std::pair<std::string, at::Tensor>>& state) {
  auto find = [&](const std::string& key) -> at::Tensor {
    for (const auto& [k, v] : state) {
      if (k == key) return v;
    }
    return at::Tensor();
  };
  at::Tensor step = find("step"), m = find("exp_avg"), v = find("exp_avg_sq");
  if (!step.defined()) return absl::InvalidArgumentError("optimizer state: missing entry 'step'");
  for (const auto& [key, t] : {std::pair<std::string, at::Tensor>{"exp_avg", m}, {"exp_avg_sq", v}}) {
    if (!t.defined())
      return absl::InvalidArgumentError(absl::StrCat("optimizer state: missing entry '", key, "'"));
    if (t.numel() != exp_avg_.numel()) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state: '", key, "' has ", t.numel(),
                                                     " elements, this rank's shard has ", exp_avg_.numel(),
                                                     " (different world size, zero1 or model?)"));
    }
  }
  at::NoGradGuard no_grad;
  step_ = step.item<int64_t>();
  exp_avg_.copy_(m.reshape({-1}));
  exp_avg_sq_.copy_(v.reshape({-1}));
  return absl::OkStatus();
}

}  // namespace m1rl::trainer
