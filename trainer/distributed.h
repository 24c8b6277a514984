// Distributed setup: rendezvous from the environment contract of torchrun and Slurm, and a
// Communicator over c10d (ProcessGroupGloo on CPU; ProcessGroupNCCL when built with M1RL_WITH_NCCL).
//
// Environment contract (torchrun's): RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
// Under Slurm (srun, one task per GPU) when RANK/WORLD_SIZE are absent: SLURM_PROCID -> rank,
// SLURM_NTASKS -> world size, SLURM_LOCALID -> local rank; MASTER_ADDR/MASTER_PORT must still be set
// (tools/launch/slurm.sbatch exports them). Nothing set at all means a single rank.
// These are the launcher's variables, not settings of ours (S21).
#ifndef M1RL_TRAINER_DISTRIBUTED_H_
#define M1RL_TRAINER_DISTRIBUTED_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/communicator.h"

namespace m1rl::trainer {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single";  // "torchrun" | "slurm" | "single"
};

// Looks up an environment variable; nullopt when unset. Tests pass a map-backed function.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnv();

// Reads the contract above. Errors (kInvalidArgument) name the variable: non-integer values,
// rank outside [0, world_size), WORLD_SIZE > 1 without MASTER_ADDR/MASTER_PORT, a partial set.
absl::StatusOr<DistEnv> ReadDistEnv(const EnvLookup& env);

// Rendezvous through a TCPStore at master_addr:master_port (rank 0 hosts it) and creates the process
// group: "gloo" (CPU tensors) or "nccl" (CUDA tensors; only in builds with M1RL_WITH_NCCL, else
// kUnimplemented). World size 1 returns MakeSingleRankCommunicator() without any networking.
// kDeadlineExceeded / kUnavailable when peers do not show up within `timeout`.
absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const DistEnv& env,
                                                                 const std::string& backend,
                                                                 std::chrono::milliseconds timeout);

// N ranks as threads of one process, each with its own real ProcessGroupGloo over one shared in-memory
// store (c10d::HashStore). For tests of the Gloo path without processes. Call from each rank's thread;
// all `world_size` ranks must call with the same `store_key` concurrently.
// Whether this build has the Gloo backend (Debian's LibTorch does; the PyTorch wheel ships no Gloo headers).
bool GlooAvailable();

absl::StatusOr<std::unique_ptr<Communicator>> CreateGlooCommunicatorInProcess(int rank, int world_size,
                                                                              const std::string& store_key);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_DISTRIBUTED_H_
