// `m1rl eval`: generation over a dataset with the rollout engine, scoring of every sample against the
// dataset's own ground truth, accuracy and pass@k per domain (eval_report.h).
//
// Rows are read by the trainer's reader (PromptDataset: "prompt", "answer", "domain", "id", ...; a
// malformed row is an error naming file:line) and scored through the trainer's mapping (ScoreItemForRow)
// by a RewardClient (in-process verifiers or a reward server; every call has a deadline). Each finished
// completion is sent for scoring while the others still generate.
//
// Nothing is skipped silently: a prompt the engine rejects (e.g. longer than the context) is counted in
// failed_prompts with its file:line; a sample whose score is not OK is counted as unscored (never as
// wrong) and the first such problem of each row is listed with its file:line.
#ifndef M1RL_TRAINER_CHECKPOINT_EVAL_H_
#define M1RL_TRAINER_CHECKPOINT_EVAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"
#include "reward/service/client.h"
#include "rollout/engine.h"
#include "rollout/prompt_file.h"
#include "trainer/dataset.h"
#include "trainer/eval_report.h"
#include "trainer/samples.h"

namespace m1rl::trainer {

struct CheckpointEvalOptions {
  rollout::PromptFileOptions prompt;  // n samples per prompt (>= 1), template, budget, seed, sampling
  SampleWriter* samples = nullptr;  // every sample in dataset order (prompt, then sample index); may be null
};

struct CheckpointEvalResult {
  std::vector<DomainReport> reports;  // per domain, then "all" (AggregateEval)
  int64_t failed_prompts = 0;         // rejected by the engine; not in the reports
  std::vector<std::string> problems;  // "FILE:LINE: ..." for failed prompts and rows with unscored samples
};

// REQUIRES: `engine` decodes the model `tokenizer` belongs to; the tokenizer's ids fit its vocabulary.
// Row i's samples draw from seed options.prompt.seed * 1000003 + line (as `m1rl generate`).
// Errors: the engine's for invalid options; kInternal when writing samples fails; kUnavailable when no
// sample at all was scored (a reward outage, not a 0% accuracy).
absl::StatusOr<CheckpointEvalResult> EvaluateCheckpoint(const PromptDataset& data,
                                                        const model::Tokenizer& tokenizer,
                                                        rollout::Engine& engine, reward::RewardClient& reward,
                                                        const CheckpointEvalOptions& options);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_CHECKPOINT_EVAL_H_
