// Export of a trainer checkpoint to Hugging Face format (the model module's SaveHf: config.json +
// model.safetensors with HF names, loadable by transformers' MiniMax classes).
#ifndef M1RL_TRAINER_EXPORT_H_
#define M1RL_TRAINER_EXPORT_H_

#include <string>

#include "absl/status/status.h"

namespace m1rl::trainer {

// Loads the policy of `checkpoint_dir` with the loader the trainer's resume uses (policy.h:
// LoadCheckpointPolicy) and writes it to `out_dir` with the model's SaveHf. kFailedPrecondition if the
// checkpoint has no COMPLETE marker; kNotFound / kInvalidArgument / kDataLoss naming the file for missing
// or damaged files.
absl::Status ExportCheckpoint(const std::string& checkpoint_dir, const std::string& out_dir);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_EXPORT_H_
