#include "trainer/communicator.h"

#include <ATen/ops/cat.h>
#include <ATen/ops/stack.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace m1rl::trainer {
namespace {

class SingleRankCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  absl::Status AllReduce(at::Tensor&, ReduceOp) override { return absl::OkStatus(); }
  absl::Status AllGather(const at::Tensor& input, at::Tensor& output) override {
    if (output.numel() != input.numel()) {
      return absl::InvalidArgumentError(
          absl::StrCat("AllGather: output has ", output.numel(), " elements, expected ", input.numel()));
    }
    output.view(-1).copy_(input.view(-1));
    return absl::OkStatus();
  }
  absl::Status Broadcast(at::Tensor&, int root) override {
    if (root != 0)
      return absl::InvalidArgumentError(absl::StrCat("Broadcast: root ", root, " >= world size 1"));
    return absl::OkStatus();
  }
  absl::Status Barrier() override { return absl::OkStatus(); }
  std::string backend() const override { return "single"; }
};

}  // namespace

std::unique_ptr<Communicator> MakeSingleRankCommunicator() {
  return std::make_unique<SingleRankCommunicator>();
}

class InProcessCommunicator final : public Communicator {
 public:
  InProcessCommunicator(InProcessGroup* group, int rank) : group_(group), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return group_->world_size(); }

  absl::Status AllReduce(at::Tensor& tensor, ReduceOp op) override {
    at::Tensor result;
    absl::Status s = group_->Exchange(
        rank_, "AllReduce", tensor,
        [op](const std::vector<at::Tensor>& parts) {
          // Rank-order accumulation, like a ring would give up to summation order.
          at::Tensor acc = parts[0].clone();
          for (size_t i = 1; i < parts.size(); ++i) {
            switch (op) {
              case ReduceOp::kSum:
                acc.add_(parts[i]);
                break;
              case ReduceOp::kMin:
                acc = acc.minimum(parts[i]);
                break;
              case ReduceOp::kMax:
                acc = acc.maximum(parts[i]);
                break;
            }
          }
          return acc;
        },
        &result);
    if (!s.ok()) return s;
    tensor.copy_(result);
    return absl::OkStatus();
  }

  absl::Status AllGather(const at::Tensor& input, at::Tensor& output) override {
    if (output.numel() != input.numel() * world_size()) {
      return absl::InvalidArgumentError(absl::StrCat("AllGather: output has ", output.numel(),
                                                     " elements, expected ", input.numel() * world_size()));
    }
    at::Tensor result;
    absl::Status s = group_->Exchange(
        rank_, "AllGather", input.reshape({-1}),
        [](const std::vector<at::Tensor>& parts) { return at::cat(parts); }, &result);
    if (!s.ok()) return s;
    output.view(-1).copy_(result);
    return absl::OkStatus();
  }

  absl::Status Broadcast(at::Tensor& tensor, int root) override {
    if (root < 0 || root >= world_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Broadcast: root ", root, " out of [0, ", world_size(), ")"));
    }
    at::Tensor result;
    absl::Status s = group_->Exchange(
        rank_, "Broadcast", tensor,
        [root](const std::vector<at::Tensor>& parts) { return parts[root].clone(); }, &result);
    if (!s.ok()) return s;
    tensor.copy_(result);
    return absl::OkStatus();
  }

  absl::Status Barrier() override {
    at::Tensor result;
    at::Tensor token = at::Tensor();
    return group_->Exchange(
        rank_, "Barrier", token, [](const std::vector<at::Tensor>&) { return at::Tensor(); }, &result);
  }
  std::string backend() const override { return "in_process"; }

 private:
  InProcessGroup* group_;
  int rank_;
};

InProcessGroup::InProcessGroup(int world_size) : world_size_(world_size), slots_(world_size) {
  M1RL_CHECK(world_size >= 1) << "world_size=" << world_size;
}

std::unique_ptr<Communicator> InProcessGroup::Rank(int r) {
  M1RL_CHECK(r >= 0 && r < world_size_) << "rank " << r;
  return std::make_unique<InProcessCommunicator>(this, r);
}

void InProcessGroup::DropPeer(int r) {
  std::lock_guard<std::mutex> lock(mu_);
  dropped_rank_ = r;
  cv_.notify_all();
}

absl::Status InProcessGroup::Exchange(
    int rank, const std::string& what, const at::Tensor& contribution,
    const std::function<at::Tensor(const std::vector<at::Tensor>&)>& combine, at::Tensor* result) {
  std::unique_lock<std::mutex> lock(mu_);
  auto lost = [&] {
    return absl::UnavailableError(
        absl::StrCat(what, " on rank ", rank, ": peer rank ", dropped_rank_, " is gone"));
  };
  if (dropped_rank_ >= 0) return lost();
  slots_[rank] = contribution.defined() ? contribution.clone() : at::Tensor();
  const int64_t my_generation = generation_;
  if (++arrived_ == world_size_) {
    combined_ = combine(slots_);
    arrived_ = 0;
    ++generation_;
    cv_.notify_all();
  } else {
    cv_.wait(lock, [&] { return generation_ != my_generation || dropped_rank_ >= 0; });
    if (generation_ == my_generation) return lost();
  }
  // Invariant: the next generation cannot complete before this rank arrives again, so combined_ is
  // still this generation's result.
  *result = combined_;
  return absl::OkStatus();
}

}  // namespace m1rl::trainer
