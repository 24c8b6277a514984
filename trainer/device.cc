#include "trainer/device.h"

#include <ATen/Context.h>

#include <cctype>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace m1rl::trainer {

DeviceProbe ProbeDevices() {
  DeviceProbe p;
  p.cuda_available = at::hasCUDA();
  p.cuda_device_count = p.cuda_available ? static_cast<int64_t>(at::getNumGPUs()) : 0;
  return p;
}

namespace {

absl::StatusOr<int64_t> CudaIndex(std::string_view spec, const DeviceProbe& probe, int local_rank) {
  if (!probe.cuda_available || probe.cuda_device_count <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("model.device is '", std::string(spec), "' but no CUDA device is available"));
  }
  if (spec == "cuda") {
    if (local_rank >= probe.cuda_device_count) {
      return absl::InvalidArgumentError(absl::StrCat("LOCAL_RANK ", local_rank, " has no GPU: this node has ",
                                                     probe.cuda_device_count, " CUDA device(s)"));
    }
    return local_rank;
  }
  int64_t index = -1;
  const std::string_view digits = spec.substr(5);
  if (digits.empty() || !std::isdigit(static_cast<unsigned char>(digits[0])) ||
      !absl::SimpleAtoi(std::string(digits), &index)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.device must be cpu, cuda, cuda:N or auto, got '", std::string(spec), "'"));
  }
  if (index >= probe.cuda_device_count) {
    return absl::InvalidArgumentError(absl::StrCat("model.device is '", std::string(spec),
                                                   "' but this node has ", probe.cuda_device_count,
                                                   " CUDA device(s)"));
  }
  return index;
}

}  // namespace

absl::StatusOr<DeviceChoice> ChooseDevice(std::string_view spec, const DeviceProbe& probe, int rank,
                                          int local_rank) {
  if (local_rank < 0)
    return absl::InvalidArgumentError(absl::StrCat("LOCAL_RANK must be >= 0, got ", local_rank));
  const std::string shown = spec.empty() ? "auto" : std::string(spec);
  DeviceChoice out;
  if (spec.empty() || spec == "auto") {
    if (probe.cuda_available && probe.cuda_device_count > 0) {
      absl::StatusOr<int64_t> index = CudaIndex("cuda", probe, local_rank);
      if (!index.ok()) return index.status();
      out.device = absl::StrCat("cuda:", *index);
    } else {
      out.device = "cpu";
    }
  } else if (spec == "cpu") {
    out.device = "cpu";
  } else if (spec == "cuda" || spec.substr(0, 5) == "cuda:") {
    absl::StatusOr<int64_t> index = CudaIndex(spec, probe, local_rank);
    if (!index.ok()) return index.status();
    out.device = absl::StrCat("cuda:", *index);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("model.device must be cpu, cuda, cuda:N or auto, got '", std::string(spec), "'"));
  }
  out.description =
      absl::StrCat("rank ", rank, " (local ", local_rank, ") on ", out.device, " (model.device '", shown,
                   "', ", probe.cuda_available ? probe.cuda_device_count : 0, " CUDA device(s))");
  return out;
}

}  // namespace m1rl::trainer
