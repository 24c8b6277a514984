// Export to Hugging Face format: the model module's SaveHf (config.json + model.safetensors with HF names,
// loadable by transformers' MiniMax classes) plus the run's tokenizer files (model/tokenizer_files.h:
// tokenizer.json when the run has one, tokenizer_config.json with the chat template, generation_config.json).
#ifndef M1RL_TRAINER_EXPORT_H_
#define M1RL_TRAINER_EXPORT_H_

#include <string>

#include "absl/status/status.h"
#include "model/hybrid_model.h"
#include "proto/config.pb.h"

namespace m1rl::trainer {

// Loads the policy of `checkpoint_dir` with the loader the trainer's resume uses (policy.h:
// LoadCheckpointPolicy) and writes it to `out_dir` with the model's SaveHf. kFailedPrecondition if the
// checkpoint has no COMPLETE marker; kNotFound / kInvalidArgument / kDataLoss naming the file for missing
// or damaged files.
absl::Status ExportCheckpoint(const std::string& checkpoint_dir, const std::string& out_dir);

// The tokenizer a run uses: model.tokenizer, else model.init_from's tokenizer.json, else "char".
std::string RunTokenizerSpec(const config::ModelConfig& m);

// `policy` and the tokenizer files of `spec` (RunTokenizerSpec) into `out_dir`.
absl::Status ExportHf(const model::HybridModel& policy, const std::string& spec, const std::string& out_dir);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_EXPORT_H_
