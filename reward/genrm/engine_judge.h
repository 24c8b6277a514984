// The in-process judge backend: a model of ours served by the rollout engine (rollout/engine.h). Messages are
// rendered with model::ApplyChatTemplate (generation prompt added), encoded with the tokenizer (BOS
// prepended when it has one) and decoded greedily (temperature 0 as for every judge) with the request's
// max_tokens and seed; the reply is the tokenizer's Decode of the generated ids without the EOS.
//
// Batching: the engine runs one Generate at a time; concurrent Complete() calls queue and the caller that
// finds the engine idle runs everyone queued (up to max_batch) in one Generate (continuous batching inside
// it), then hands out the replies (leader/follower, no extra thread). A caller whose deadline passes or who
// is cancelled while queued leaves the queue with kDeadlineExceeded / kCancelled; one whose request is
// already generating gets the same status when the deadline passes and its reply is dropped. Engine
// failures are kInternal; a request the engine refuses (too long for the context, ...) is
// kFailedPrecondition.
//
// Thread-safe. The engine and tokenizer are borrowed and must outlive the judge (or owned, FromCheckpoint).
#ifndef M1RL_REWARD_GENRM_ENGINE_JUDGE_H_
#define M1RL_REWARD_GENRM_ENGINE_JUDGE_H_

#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "model/tokenizer.h"
#include "proto/config_reward.pb.h"
#include "reward/genrm/judge.h"
#include "rollout/engine.h"

namespace m1rl::rollout {
class CheckpointGenerator;
}

namespace m1rl::reward::genrm {

struct EngineJudgeOptions {
  std::string model_name = "in-process";  // part of the verifier version
  int max_batch = 32;                     // requests per Generate
};

class EngineJudge : public Judge {
 public:
  // REQUIRES: engine, tokenizer non-null and outliving the judge; the engine is used by nobody else.
  EngineJudge(rollout::Engine* engine, const model::Tokenizer* tokenizer, EngineJudgeOptions options);
  ~EngineJudge() override;

  // Loads reward.genrm.in_process (an HF-format checkpoint of our architecture,
  // rollout/checkpoint_generator.h) and owns it. kInvalidArgument naming the field, the loaders' errors for
  // missing or bad files.
  static absl::StatusOr<std::unique_ptr<EngineJudge>> FromConfig(const config::InProcessJudgeConfig& config);

  absl::StatusOr<std::string> Complete(const JudgeRequest& request, const CheckContext& ctx) override;
  std::string_view model() const override { return options_.model_name; }
  int64_t generate_calls() const;  // Generate() batches run so far
  int queue_depth() const;         // calls waiting for the engine

 private:
  struct Pending;
  void RunBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  rollout::Engine* engine_;
  const model::Tokenizer* tokenizer_;
  EngineJudgeOptions options_;
  std::unique_ptr<rollout::CheckpointGenerator> owned_;  // FromConfig only
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int64_t generate_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_ENGINE_JUDGE_H_
