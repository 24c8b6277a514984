// Device selection for a training rank (model.device; ARCHITECTURE.md "What runs where"): `auto` takes CUDA
// when present, and under a launcher every rank of a node takes its own GPU, cuda:LOCAL_RANK (torchrun's
// and Slurm's contract, read by trainer/distributed.h).
//
//   M1RL_ASSIGN_OR_RETURN(DeviceChoice d,
//                         ChooseDevice(cfg.model().device(), ProbeDevices(), env.local_rank,
//                         env.world_size));
//   M1RL_LOG(INFO) << d.description;   // the rank's first log line says where it runs
//
// ChooseDevice is pure (the probe is an input), so the policy is tested with fake device counts.
#ifndef M1RL_TRAINER_DEVICE_H_
#define M1RL_TRAINER_DEVICE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace m1rl::trainer {

struct DeviceProbe {
  bool cuda_available = false;
  int64_t cuda_device_count = 0;
};

// What this process's LibTorch sees (at::hasCUDA, at::getNumGPUs; false / 0 in CPU-only builds).
DeviceProbe ProbeDevices();

struct DeviceChoice {
  std::string device;       // "cpu" or "cuda:N": what at::Device(...) takes
  std::string description;  // e.g. "rank 3 (local 1) on cuda:1 (model.device 'auto', 8 CUDA devices)"
};

// model.device -> the device of rank `rank` whose node-local index is `local_rank`:
//   "" or "auto": cuda:local_rank when CUDA is available, else cpu;
//   "cpu": cpu;  "cuda": cuda:local_rank (CUDA required);  "cuda:N": cuda:N (CUDA required, N < count).
// Errors (InvalidArgument naming model.device or LOCAL_RANK): unknown spelling; "cuda"/"cuda:N" without a
// CUDA device (FailedPrecondition); N or local_rank >= the device count; negative local_rank.
absl::StatusOr<DeviceChoice> ChooseDevice(std::string_view spec, const DeviceProbe& probe, int rank,
                                          int local_rank);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_DEVICE_H_
