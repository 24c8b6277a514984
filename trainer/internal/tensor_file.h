// A minimal safetensors reader/writer for trainer-private checkpoint files (optimizer shards, RNG
// states, and the model weights under their NamedParameters() names, so resume restores them bit for
// bit). Format: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw data.
// Supported dtypes: F32, F64, I64, I32, U8, BF16. Tensors are written from CPU copies.
#ifndef M1RL_TRAINER_INTERNAL_TENSOR_FILE_H_
#define M1RL_TRAINER_INTERNAL_TENSOR_FILE_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace m1rl::trainer::internal {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes `tensors` (each [*], any supported dtype) to `path` and fsyncs it. kInternal naming the file
// on I/O errors, kInvalidArgument on an unsupported dtype or duplicate name.
absl::Status WriteTensorFile(const std::string& path, const NamedTensors& tensors);
// Reads every tensor of `path` (CPU, in file order). kNotFound / kDataLoss naming the file.
absl::StatusOr<NamedTensors> ReadTensorFile(const std::string& path);

// Writes `contents` to `path` atomically (temp file, fsync, rename).
absl::Status WriteFileAtomic(const std::string& path, const std::string& contents);
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace m1rl::trainer::internal

#endif  // M1RL_TRAINER_INTERNAL_TENSOR_FILE_H_
