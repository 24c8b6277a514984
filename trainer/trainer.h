// The RL and SFT loops (ARCHITECTURE "One RL step", colocated and synchronous), data parallel over a
// Communicator, with checkpoints, evaluation and metrics.
//
// RL step (trainer.mode "rl"), one function per stage with a plain result struct (trainer.cc):
//   1. CollectGroups: every rank takes its slice of the next global batch of B = trainer.prompts_per_step
//      prompts and generates G = rollout.n_samples completions per prompt with the rollout engine on the
//      current weights (engine and sampling options from the rollout section through
//      rollout::EngineOptionsFromConfig; behaviour log-probs from the FP32 head), streaming each finished
//      completion to the reward client while the others still generate; then reward -> repetition
//      policy -> overlong penalty -> group filter (dynamic sampling with refill rounds, synchronised
//      across ranks so the data cursor stays identical) -> advantages;
//   2. ReduceRolloutMetrics: RolloutCounters summed over ranks; unscored completions are excluded and
//      counted, and the step fails (kUnavailable) when more than trainer.max_unscored_fraction of them
//      are unscored;
//   3. AssignGroupsToMinibatches: groups split into trainer.minibatches_per_step minibatches by a seeded
//      global order (AssignMinibatches, minibatch.h: the same split for any world size);
//   4. ComputeOldAndRefLogprobs: the old log-probs recomputed with the training forward in the same
//      packing (or taken from the rollout, algorithm.ratio_denominator), reference log-probs for a KL term;
//   5. UpdateMinibatch, per minibatch: loss-token counts all-reduced (global normaliser), per micro-batch
//      forward + unified policy loss (+ router aux loss) + backward, then one ShardedAdamW step.
// Every tensor of the update lives on the model's device. Local work that can fail (generation, scoring,
// forward/backward) ends in SyncStatus (sync_status.h) before the next collective, so a failure on any rank
// is the same error, naming that rank and the cause, on every rank.
// Run directory (trainer.metrics_dir, rank 0): config.yaml (the resolved config, written at start),
// metrics.jsonl, tb/ with trainer.tensorboard, and for RL samples.jsonl: every completion of the first
// trainer.sample_prompts_per_step prompts of rank 0's shard in each step's first round (samples.h).
// SFT step (trainer.mode "sft"): trainer.sft_batch_size rows (global), cross-entropy on the completion
// tokens normalised by the global token count, one optimizer step.
//
// Determinism: every random choice derives from (trainer.seed, step, ...) -- sampling seeds per prompt,
// the group shuffle -- and the data cursor is checkpointed, so a resumed run repeats the uninterrupted
// run's losses bit for bit (same world size and threads).
//
// Thread safety: none; one Trainer per rank, driven by one thread.
#ifndef M1RL_TRAINER_TRAINER_H_
#define M1RL_TRAINER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "algorithms/algorithm_config.h"
#include "algorithms/dynamic_sampling.h"
#include "algorithms/loss_agg.h"
#include "algorithms/metrics.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "model/hybrid_model.h"
#include "model/tokenizer.h"
#include "proto/config.pb.h"
#include "reward/service/client.h"
#include "rollout/engine.h"
#include "rollout/sampler.h"
#include "trainer/checkpoint.h"
#include "trainer/communicator.h"
#include "trainer/dataset.h"
#include "trainer/minibatch.h"
#include "trainer/optimizer.h"
#include "trainer/run_schedule.h"
#include "trainer/samples.h"

namespace m1rl::model {
class ChatTemplateFile;
}  // namespace m1rl::model

namespace m1rl::trainer {

struct StepResult {
  int64_t step = 0;                       // 1-based index of the finished step
  std::vector<double> losses;             // global loss of each optimizer step (minibatch) of this step
  std::map<std::string, double> metrics;  // everything written to the metrics files
  std::vector<SampleRecord> samples;      // rank 0 with a run directory: samples.jsonl rows of this step
};

struct EvalResult {
  int64_t num_prompts = 0;  // scored prompts (global)
  int64_t num_correct = 0;
  int64_t num_unscored = 0;  // excluded, counted
  double accuracy() const { return num_prompts > 0 ? static_cast<double>(num_correct) / num_prompts : 0.0; }
};

class Trainer {
 public:
  // Builds model (model.init_from, else random init from the config), tokenizer, datasets, optimizer
  // and the reward client (`reward` when given, else RewardClient::Create(config.reward)).
  // kInvalidArgument naming the field for bad configs; kNotFound for missing files. Collective: a failure
  // on any rank fails Create on every rank ("initialising: rank R failed: ..."). `comm` must outlive the
  // trainer.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(
      const config::RunConfig& config, Communicator* comm,
      std::unique_ptr<reward::RewardClient> reward = nullptr);
  ~Trainer();

  // Restores a checkpoint: "" does nothing; "auto" the newest complete one under
  // trainer.checkpoint.dir (none: starts fresh, OK); else that directory. The saved resolved config
  // must match (kFailedPrecondition naming the field; trainer.steps, checkpoint/metrics/logging
  // settings and reward transport fields may change). Collective: a failure on any rank fails every
  // rank ("resuming: rank R failed: ...").
  absl::Status Resume(const std::string& resume);

  // One RL or SFT step (collective). Errors name the step and rank.
  absl::StatusOr<StepResult> TrainStep();
  // Greedy decoding on the first trainer.eval_prompts rows of data.eval_path (every other rollout field
  // from the config, as in RL), scored by the reward client. Collective; a failure on any rank fails
  // every rank ("evaluation: rank R failed: ...").
  absl::StatusOr<EvalResult> Evaluate();
  // Writes a checkpoint of the current state (collective); returns its directory.
  absl::StatusOr<std::string> SaveCheckpoint();
  // Runs to trainer.steps: steps, progress line, metrics, evaluation every trainer.eval_every steps,
  // checkpoints every trainer.checkpoint.every_steps and at the end, HF export at the end.
  absl::Status Run();

  // Where Run looks after each step for a request to stop early: a signal number, 0 for none (the `m1rl
  // train` command passes m1rl::StopSignalReceived). Set it on every rank or on none: Run agrees on it
  // across ranks (one all-reduce per step), writes a checkpoint of the finished steps, skips the export and
  // returns OK; stopped_by() then says which signal ended it.
  void SetStopCheck(std::function<int()> check) { stop_check_ = std::move(check); }
  int stopped_by() const { return stopped_by_; }

  int64_t step() const { return step_; }
  model::HybridModel& policy() { return *model_; }
  const config::RunConfig& config() const { return config_; }
  ShardedAdamW& optimizer() { return *optimizer_; }

 private:
  // Results of the RL stages (trainer.cc), in the order RlStep runs them.
  struct RoundRequests;  // one generation round's requests over this rank's shard
  struct RolloutBatch;   // 1. collected groups and local counters
  struct RolloutReport;  // 2. global rollout metrics
  struct UpdateStats;    // 5. reducible sums of the step's updates
  struct PolicyUpdate;   // 5. one minibatch's optimizer step
  struct SftBatch;
  struct LengthBiasWatch;  // reward.genrm.length_bias.monitor: the monitor and its alarmed domains
  using Minibatches = std::vector<std::vector<RlSample*>>;

  Trainer(const config::RunConfig& config, Communicator* comm);
  absl::Status Init(std::unique_ptr<reward::RewardClient> reward);
  absl::Status CheckConfig();
  absl::StatusOr<int> AgreedStopSignal();
  absl::Status StopEarly(int64_t last_saved);
  absl::Status BuildPolicy();
  absl::Status BuildOptimizerAndReward(std::unique_ptr<reward::RewardClient> reward);
  absl::Status BuildLengthBiasWatch();  // reward.genrm.length_bias.monitor
  absl::Status LoadDataAndWriters();
  absl::Status ResumeLocal(const std::string& resume);
  // trainer.stages: config_ (and what is derived from it: the resolved algorithm, the optimizer's
  // hyperparameters) for the schedule's current stage; logs the stage on rank 0.
  absl::Status EnterScheduledStage();
  absl::StatusOr<AdamWOptions> OptimizerOptions() const;
  // After a step: stage and mixture metrics into `r`, then the advance rules on the step's metrics.
  absl::Status ObserveSchedule(StepResult& r);

  // RL step (ARCHITECTURE "One RL step"); each stage's collectives are preceded by a SyncStatus.
  absl::StatusOr<StepResult> RlStep();
  absl::StatusOr<RolloutBatch> CollectGroups();              // 1.
  absl::StatusOr<bool> AnyRankNeedsGroups(bool local_need);  // 1. round barrier
  absl::Status RunRound(rollout::Engine& engine, int64_t round,
                        const std::vector<ScheduledPrompt>& global_batch, algorithms::DynamicSampler* dyn,
                        RolloutBatch* batch);
  absl::StatusOr<RoundRequests> MakeRoundRequests(int64_t round,
                                                  const std::vector<ScheduledPrompt>& global_batch) const;
  absl::Status GenerateAndScore(rollout::Engine& engine, RoundRequests& round, RolloutBatch* batch);
  absl::Status AddGroup(const RoundRequests& round, size_t ri, algorithms::DynamicSampler* dyn,
                        RolloutBatch* batch);
  // The GenRM length-bias monitor (reward/genrm/length_bias.h): a group's scored (length, score) pairs in,
  // and for a domain that alarmed under residualise_beta > 0, its rewards replaced by r - beta * z(length).
  void WatchLengthBias(const std::string& domain, const std::vector<int64_t>& lengths,
                       const std::vector<std::optional<double>>& scores,
                       std::vector<std::optional<double>>* rewards);
  void EndLengthBiasWindow(std::map<std::string, double>* metrics);  // after 2.: the step's window
  absl::StatusOr<RolloutReport> ReduceRolloutMetrics(const RolloutBatch& batch);  // 2.
  absl::StatusOr<Minibatches> AssignGroupsToMinibatches(RolloutBatch& batch);     // 3.
  // 4. l_old (and l_ref); returns this rank's train/infer agreement sums (l_old vs l_roll).
  absl::StatusOr<algorithms::MismatchStats> ComputeOldAndRefLogprobs(const Minibatches& minibatches);
  absl::StatusOr<PolicyUpdate> UpdateMinibatch(const std::vector<RlSample*>& minibatch,
                                               UpdateStats* stats);  // 5.
  double PolicyLossBackward(const PolicyMicroBatch& micro, const algorithms::TokenCounts& global,
                            double global_positions, UpdateStats* stats);
  absl::StatusOr<std::map<std::string, double>> ReduceUpdateStats(UpdateStats stats,
                                                                  algorithms::MismatchStats agreement);
  double UpdateFlops(const RolloutBatch& batch) const;
  Minibatches MicroBatches(const std::vector<RlSample*>& minibatch) const;
  absl::StatusOr<rollout::EngineOptions> MakeEngineOptions(const config::RolloutConfig& rc) const;
  model::ForwardOptions TrainForwardOptions() const;  // head precision, chunk and sampling temperature

  absl::StatusOr<StepResult> SftStep();
  absl::StatusOr<SftBatch> EncodeSftBatch();
  absl::StatusOr<double> SftForwardBackward(const SftBatch& batch, double global_tokens);
  absl::StatusOr<EvalResult> EvaluateLocal();
  absl::Status RecordStep(StepResult& r, Progress* progress, int64_t first_step);

  // BOS (when the tokenizer has one) + the prompt per trainer.prompt_template; a template that fails to
  // render (raise_exception, ...) is an error naming its file.
  absl::StatusOr<std::vector<int32_t>> EncodePrompt(const std::string& prompt) const;
  absl::Status LoadPromptTemplate();                 // trainer.prompt_template tokenizer: chat_template_
  model::ForwardOptions HeadForwardOptions() const;  // the configured head precision and chunk
  absl::Status WriteMetrics(int64_t step, const std::map<std::string, double>& values);

  const config::RunConfig run_config_;  // as given: checkpoints, config.yaml, resume checks
  config::RunConfig config_;            // run_config_ with the current trainer.stages entry applied
  Communicator* comm_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
  std::string tokenizer_spec_;  // what tokenizer_ was loaded from (RunTokenizerSpec)
  std::unique_ptr<model::HybridModel> model_;
  std::unique_ptr<model::HybridModel> ref_model_;  // frozen initial policy, only when the loss has a KL term
  std::unique_ptr<ShardedAdamW> optimizer_;
  std::unique_ptr<reward::RewardClient> reward_;
  std::unique_ptr<CheckpointManager> checkpoints_;
  std::unique_ptr<MetricsWriter> metrics_;        // rank 0 only
  std::unique_ptr<SampleWriter> samples_;         // rank 0 with trainer.metrics_dir and samples per step > 0
  std::unique_ptr<LengthBiasWatch> length_bias_;  // RL with reward.genrm.length_bias.monitor
  std::shared_ptr<const model::ChatTemplateFile> chat_template_;  // trainer.prompt_template tokenizer
  std::unique_ptr<RunSchedule> schedule_;  // trainer.stages, data.sources: the stage and each step's prompts
  std::optional<PromptDataset> eval_data_;
  algorithms::ResolvedAlgorithm algorithm_;  // trainer.mode rl: the resolved algorithm section
  rollout::SamplingParams sampling_;         // trainer.mode rl: rollout.{temperature,top_p,top_k,greedy}
  int64_t step_ = 0;
  std::function<int()> stop_check_;  // see SetStopCheck
  int stopped_by_ = 0;
  double rollout_temperature_ = 1.0;
  model::HeadPrecision head_precision_ = model::HeadPrecision::kIeeeFp32;  // model.lm_head_precision
  double last_eval_accuracy_ = -1;
};

// Resolved-config paths that may differ between a checkpoint and the resuming run.
const std::vector<std::string>& ResumeMutableFields();

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_TRAINER_H_
