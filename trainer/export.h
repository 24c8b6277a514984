// Export to Hugging Face format: the model module's SaveHf (config.json with the RoPE convention,
// model.safetensors with HF names and transformers' lightning buffers, sharded with an index above
// `max_shard_bytes`; loadable by transformers' MiniMax classes) plus the run's tokenizer files
// (model/tokenizer_files.h: tokenizer.json when the run has one, tokenizer_config.json with the chat
// template, generation_config.json). Export -> HybridModel::LoadHf -> export writes identical bytes.
#ifndef M1RL_TRAINER_EXPORT_H_
#define M1RL_TRAINER_EXPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "model/hybrid_model.h"
#include "proto/config.pb.h"

namespace m1rl::trainer {

// 5 GiB, transformers' save_pretrained default.
inline constexpr int64_t kDefaultMaxShardBytes = int64_t{5} << 30;

// trainer.export_max_shard_bytes, 0 meaning kDefaultMaxShardBytes.
int64_t ExportShardBytes(const config::TrainerConfig& t);

// Loads the policy of `checkpoint_dir` with the loader the trainer's resume uses (policy.h:
// LoadCheckpointPolicy) and writes it to `out_dir` with the model's SaveHf. kFailedPrecondition if the
// checkpoint has no COMPLETE marker; kNotFound / kInvalidArgument / kDataLoss naming the file for missing
// or damaged files.
absl::Status ExportCheckpoint(const std::string& checkpoint_dir, const std::string& out_dir,
                              int64_t max_shard_bytes = kDefaultMaxShardBytes);

// The tokenizer a run uses: model.tokenizer, else model.init_from's tokenizer.json, else "char".
std::string RunTokenizerSpec(const config::ModelConfig& m);

// `policy` and the tokenizer files of `spec` (RunTokenizerSpec) into `out_dir`.
absl::Status ExportHf(const model::HybridModel& policy, const std::string& spec, const std::string& out_dir,
                      int64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_EXPORT_H_
