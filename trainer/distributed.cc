#include "trainer/distributed.h"

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
// The PyTorch wheel (GPU host) ships libtorch's Gloo compiled in but no gloo/*.h headers: there the Gloo
// backend is unavailable (NCCL serves the GPUs) and GlooAvailable() says so.
#if __has_include(<gloo/algorithm.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define M1RL_HAVE_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef M1RL_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "trainer/internal/c10d_compat.h"

namespace m1rl::trainer {
namespace {

absl::StatusOr<int> ParseIntVar(const std::string& name, const std::string& value) {
  int out = 0;
  if (!absl::SimpleAtoi(value, &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", name, "='", value, "' is not an integer"));
  }
  return out;
}

c10d::ReduceOp ToC10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return c10d::ReduceOp::SUM;
    case ReduceOp::kMin:
      return c10d::ReduceOp::MIN;
    case ReduceOp::kMax:
      return c10d::ReduceOp::MAX;
  }
  return c10d::ReduceOp::SUM;
}

// Wraps a c10d process group (ProcessGroup in 1.13, Backend in 2.x; both have these methods).
template <typename Group>
class C10dCommunicator final : public Communicator {
 public:
  C10dCommunicator(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Group> group, int rank,
                   int world, std::string backend)
      : store_(std::move(store)),
        group_(std::move(group)),
        rank_(rank),
        world_(world),
        backend_(std::move(backend)) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string backend() const override { return backend_; }

  absl::Status AllReduce(at::Tensor& tensor, ReduceOp op) override {
    return Run("AllReduce", [&] {
      std::vector<at::Tensor> tensors{tensor};
      c10d::AllreduceOptions opts;
      opts.reduceOp = ToC10d(op);
      group_->allreduce(tensors, opts)->wait();
    });
  }

  absl::Status AllGather(const at::Tensor& input, at::Tensor& output) override {
    if (output.numel() != input.numel() * world_) {
      return absl::InvalidArgumentError(absl::StrCat("AllGather: output has ", output.numel(),
                                                     " elements, expected ", input.numel() * world_));
    }
    return Run("AllGather", [&] {
      std::vector<at::Tensor> inputs{input.reshape({-1}).contiguous()};
      std::vector<std::vector<at::Tensor>> outputs(1);
      at::Tensor flat = output.view({world_, -1});
      for (int r = 0; r < world_; ++r) outputs[0].push_back(flat[r]);
      group_->allgather(outputs, inputs)->wait();
    });
  }

  absl::Status Broadcast(at::Tensor& tensor, int root) override {
    return Run("Broadcast", [&] {
      std::vector<at::Tensor> tensors{tensor};
      c10d::BroadcastOptions opts;
      opts.rootRank = root;
      group_->broadcast(tensors, opts)->wait();
    });
  }

  absl::Status Barrier() override {
    return Run("Barrier", [&] { group_->barrier()->wait(); });
  }

 private:
  template <typename Fn>
  absl::Status Run(const char* what, Fn&& fn) {
    // S16: c10d reports failures as exceptions; they stop here.
    try {
      fn();
    } catch (const c10::Error& e) {
      return absl::UnavailableError(
          absl::StrCat(what, " failed on rank ", rank_, ": ", e.what_without_backtrace()));
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat(what, " failed on rank ", rank_, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Group> group_;
  int rank_;
  int world_;
  std::string backend_;
};

absl::StatusOr<std::unique_ptr<Communicator>> MakeGloo(c10::intrusive_ptr<c10d::Store> store, int rank,
                                                       int world, std::chrono::milliseconds timeout,
                                                       const std::string& hostname) {
#ifndef M1RL_HAVE_GLOO
  return absl::UnimplementedError(
      absl::StrCat("rank ", rank, ": this LibTorch build has no Gloo headers; use nccl"));
#else
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, options);
    return std::unique_ptr<Communicator>(
        std::make_unique<C10dCommunicator<c10d::ProcessGroupGloo>>(store, group, rank, world, "gloo"));
  } catch (const c10::Error& e) {
    return absl::UnavailableError(absl::StrCat("creating the Gloo process group on rank ", rank, " of ",
                                               world, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("creating the Gloo process group on rank ", rank, " of ", world, ": ", e.what()));
  }
#endif
}

}  // namespace

bool GlooAvailable() {
#ifdef M1RL_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<DistEnv> ReadDistEnv(const EnvLookup& env) {
  DistEnv out;
  std::string rank_var = "RANK", world_var = "WORLD_SIZE", local_var = "LOCAL_RANK";
  if (env("RANK").has_value() || env("WORLD_SIZE").has_value()) {
    out.source = "torchrun";
  } else if (env("SLURM_PROCID").has_value() && env("SLURM_NTASKS").has_value()) {
    out.source = "slurm";
    rank_var = "SLURM_PROCID";
    world_var = "SLURM_NTASKS";
    local_var = "SLURM_LOCALID";
  } else {
    return out;
  }
  std::optional<std::string> rank = env(rank_var), world = env(world_var);
  if (!rank.has_value())
    return absl::InvalidArgumentError(absl::StrCat(world_var, " is set but ", rank_var, " is not"));
  if (!world.has_value())
    return absl::InvalidArgumentError(absl::StrCat(rank_var, " is set but ", world_var, " is not"));
  M1RL_ASSIGN_OR_RETURN(out.rank, ParseIntVar(rank_var, *rank));
  M1RL_ASSIGN_OR_RETURN(out.world_size, ParseIntVar(world_var, *world));
  if (out.world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(world_var, " must be >= 1, got ", out.world_size));
  }
  if (out.rank < 0 || out.rank >= out.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(rank_var, "=", out.rank, " is outside [0, ", world_var, "=", out.world_size, ")"));
  }
  out.local_rank = out.rank;
  if (std::optional<std::string> local = env(local_var); local.has_value()) {
    M1RL_ASSIGN_OR_RETURN(out.local_rank, ParseIntVar(local_var, *local));
  }
  std::optional<std::string> addr = env("MASTER_ADDR"), port = env("MASTER_PORT");
  if (out.world_size > 1 && (!addr.has_value() || !port.has_value())) {
    return absl::InvalidArgumentError(
        absl::StrCat(world_var, "=", out.world_size, " needs MASTER_ADDR and MASTER_PORT (",
                     addr.has_value() ? "MASTER_PORT" : "MASTER_ADDR", " is unset)"));
  }
  if (addr.has_value()) out.master_addr = *addr;
  if (port.has_value()) {
    M1RL_ASSIGN_OR_RETURN(out.master_port, ParseIntVar("MASTER_PORT", *port));
    if (out.master_port <= 0 || out.master_port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("MASTER_PORT=", out.master_port, " is not a TCP port"));
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const DistEnv& env,
                                                                 const std::string& backend,
                                                                 std::chrono::milliseconds timeout) {
  if (backend != "gloo" && backend != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("distributed backend must be gloo or nccl, got '", backend, "'"));
  }
  if (env.world_size == 1) return MakeSingleRankCommunicator();
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(env.master_port);
    opts.isServer = env.rank == 0;
    opts.numWorkers = env.world_size;
    opts.waitWorkers = true;
    opts.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rendezvous at ", env.master_addr, ":", env.master_port,
                                               " for rank ", env.rank, " of ", env.world_size,
                                               " failed: ", e.what()));
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>(absl::StrCat("m1rl/", backend), store);
  if (backend == "gloo") {
    // Gloo binds to the address peers use to reach the master's host; loopback when local.
    const bool local = env.master_addr == "127.0.0.1" || env.master_addr == "localhost";
    return MakeGloo(prefixed, env.rank, env.world_size, timeout,
                    local ? "127.0.0.1" : internal::LocalHostname());
  }
#ifdef M1RL_WITH_NCCL
  try {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank, env.world_size, options);
    return std::unique_ptr<Communicator>(std::make_unique<C10dCommunicator<c10d::ProcessGroupNCCL>>(
        prefixed, group, env.rank, env.world_size, "nccl"));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("creating the NCCL process group on rank ", env.rank, ": ", e.what()));
  }
#else
  return absl::UnimplementedError("distributed backend nccl needs a CUDA build (M1RL_WITH_NCCL); use gloo");
#endif
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateGlooCommunicatorInProcess(int rank, int world_size,
                                                                              const std::string& store_key) {
  static std::mutex mu;
  static std::map<std::string, c10::intrusive_ptr<c10d::Store>>* stores =
      new std::map<std::string, c10::intrusive_ptr<c10d::Store>>();
  c10::intrusive_ptr<c10d::Store> store;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto& slot = (*stores)[store_key];
    if (!slot) slot = c10::make_intrusive<c10d::HashStore>();
    store = slot;
  }
  return MakeGloo(store, rank, world_size, std::chrono::milliseconds(60000), "127.0.0.1");
}

}  // namespace m1rl::trainer
