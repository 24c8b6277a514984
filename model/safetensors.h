// safetensors reader/writer (https://github.com/huggingface/safetensors format): an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {..}},
// then the raw little-endian data. Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.
// Sharded checkpoints: model.safetensors.index.json {"metadata": {"total_size"}, "weight_map": {name: file}}.
//
// Every read validates before touching data: header length within the file, JSON well formed, known dtype,
// shape × element size = byte range, range within the data section. Errors name the file and the tensor.
#ifndef M1RL_MODEL_SAFETENSORS_H_
#define M1RL_MODEL_SAFETENSORS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl::model {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// All tensors of one file, as CPU tensors in their stored dtype, in header order. The file is memory-mapped
// and each tensor copied out of the mapping once (peak memory: the tensors, not the file plus the tensors).
// NotFound if the file is missing; InvalidArgument (naming file and tensor) if it is malformed or truncated.
absl::StatusOr<NamedTensors> ReadSafetensors(const std::string& path);

// Writes `tensors` (any device; stored contiguous, in their dtype) with optional string metadata, atomically
// (common/file.h: temp file, fsync, rename). InvalidArgument for an unsupported dtype or duplicate name;
// Internal naming the file on I/O failure.
absl::Status WriteSafetensors(const std::string& path, const NamedTensors& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// Reads `dir`/model.safetensors.index.json and its shards if present, else `dir`/model.safetensors.
absl::StatusOr<std::map<std::string, at::Tensor>> ReadSafetensorsDir(const std::string& dir);

// Writes `dir`/model.safetensors if the total fits in `max_shard_bytes`, else
// model-0000X-of-0000N.safetensors shards (tensors in order, a shard closes before exceeding the limit)
// plus model.safetensors.index.json. Metadata {"format": "pt"} as transformers writes.
absl::Status WriteSafetensorsDir(const std::string& dir, const NamedTensors& tensors,
                                 int64_t max_shard_bytes = int64_t{5} << 30);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_SAFETENSORS_H_
