#include "trainer/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/where.h>
#include <ATen/ops/zeros.h>
#include <ATen/ops/zeros_like.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "algorithms/advantages.h"
#include "algorithms/algorithm_config.h"
#include "algorithms/dynamic_sampling.h"
#include "algorithms/loss_agg.h"
#include "algorithms/metrics.h"
#include "algorithms/mismatch.h"
#include "algorithms/overlong.h"
#include "algorithms/policy_loss.h"
#include "algorithms/repetition.h"
#include "algorithms/rollout_correction.h"
#include "common/config.h"
#include "common/file.h"
#include "common/logging.h"
#include "common/progress.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "model/chat_template.h"
#include "model/flops.h"
#include "model/safetensors.h"
#include "reward/genrm/length_bias.h"
#include "rollout/engine.h"
#include "rollout/hybrid_decode_model.h"
#include "rollout/rollout_config.h"
#include "trainer/export.h"
#include "trainer/policy.h"
#include "trainer/rollout_metrics.h"
#include "trainer/sync_status.h"
#include "trainer/trainer_config.h"

namespace m1rl::trainer {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Per-(step, round, prompt) seeds: common/random.h's MixSeeds.
template <typename... Seeds>
uint64_t Mix(Seeds... seeds) {
  return MixSeeds(static_cast<uint64_t>(seeds)...);
}

// Catches LibTorch exceptions at the step boundary (S16).
template <typename Fn>
auto Guard(const std::string& where, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(where, ": ", e.what_without_backtrace()));
  }
}

at::Tensor LongTensor(const std::vector<int64_t>& v) {
  return at::tensor(v.empty() ? std::vector<int64_t>{} : v, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

const std::vector<std::string>& ResumeMutableFields() {
  static const std::vector<std::string>* fields =
      new std::vector<std::string>{"trainer.steps",
                                   "trainer.checkpoint",
                                   "trainer.metrics_dir",
                                   "trainer.log_every",
                                   "trainer.eval_every",
                                   "trainer.eval_prompts",
                                   "trainer.tensorboard",
                                   "trainer.export_hf_dir",
                                   "trainer.export_max_shard_bytes",
                                   "trainer.eval_at_start",
                                   "trainer.dist_timeout_s",
                                   "trainer.eval_max_new_tokens",
                                   "trainer.sample_prompts_per_step",
                                   "reward.address",
                                   "reward.deadline_ms",
                                   "reward.max_in_flight",
                                   "reward.max_retries",
                                   "reward.retry_backoff_ms",
                                   "reward.give_up_after_ms",
                                   "model.init_from",
                                   "model.device",
                                   "data.eval_path",
                                   "name"};
  return *fields;
}

Trainer::Trainer(const config::RunConfig& config, Communicator* comm)
    : run_config_(config), config_(config), comm_(comm) {}
Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const config::RunConfig& config, Communicator* comm,
                                                         std::unique_ptr<reward::RewardClient> reward) {
  std::unique_ptr<Trainer> t(new Trainer(config, comm));
  M1RL_RETURN_IF_ERROR(t->Init(std::move(reward)));
  return t;
}

absl::Status Trainer::Init(std::unique_ptr<reward::RewardClient> reward) {
  // Local setup; a failure on any rank fails Create on every rank (the others would otherwise wait in the
  // first collective of the first step).
  absl::Status local = Guard("initialising", [&]() -> absl::Status {
    M1RL_RETURN_IF_ERROR(CheckConfig());
    tokenizer_spec_ = RunTokenizerSpec(config_.model());
    M1RL_ASSIGN_OR_RETURN(tokenizer_, model::LoadTokenizer(tokenizer_spec_));
    if (comm_->rank() == 0) M1RL_LOG(INFO) << "tokenizer: " << tokenizer_spec_;
    M1RL_RETURN_IF_ERROR(LoadPromptTemplate());
    M1RL_RETURN_IF_ERROR(BuildPolicy());
    M1RL_RETURN_IF_ERROR(BuildOptimizerAndReward(std::move(reward)));
    M1RL_RETURN_IF_ERROR(BuildLengthBiasWatch());
    M1RL_RETURN_IF_ERROR(LoadDataAndWriters());
    return EnterScheduledStage();
  });
  return SyncStatus(*comm_, local, "initialising");
}

absl::Status Trainer::CheckConfig() {
  const config::TrainerConfig& tc = config_.trainer();
  const bool rl = tc.mode() == config::TrainerConfig::MODE_RL;
  // The one validation of a run config, shared with `m1rl config` (trainer/trainer_config.h).
  M1RL_RETURN_IF_ERROR(ValidateRunConfig(config_));
  if (rl) {
    M1RL_ASSIGN_OR_RETURN(algorithm_, algorithms::ResolveAlgorithmConfig(
                                          config_.algorithm(), rollout::MaxNewTokens(config_.rollout())));
    // Every rollout field reaches the engine through rollout/rollout_config.h (checked here, used per step).
    // Warns once when top_p/top_k truncate sampling while the recorded behaviour log-probs are full.
    M1RL_ASSIGN_OR_RETURN(sampling_, rollout::SamplingParamsFromConfig(config_.rollout()));
    M1RL_RETURN_IF_ERROR(rollout::EngineOptionsFromConfig(config_.rollout()).status());
  }
  rollout_temperature_ = rollout::Temperature(config_.rollout());
  M1RL_RETURN_IF_ERROR(CheckDataFiles(config_.data()));

  // The head precision is the one the rollout uses too, so both sides compute the same token
  // probabilities (M1 §3.2). model.dtype (fp32 masters, bf16 or fp32 compute) is checked by
  // ValidateRunConfig and applied by InitialPolicy.
  head_precision_ = model::HeadPrecisionFromConfig(config_.model());
  return absl::OkStatus();
}

absl::Status Trainer::BuildPolicy() {
  const config::TrainerConfig& tc = config_.trainer();
  at::Device device(at::kCPU);
  if (!config_.model().device().empty() && config_.model().device() != "cpu" &&
      config_.model().device() != "auto") {
    try {
      device = at::Device(config_.model().device());
    } catch (const c10::Error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.device: '", config_.model().device(), "' is not a device"));
    }
  }
  M1RL_ASSIGN_OR_RETURN(model_, InitialPolicy(config_, device));
  if (tc.mode() == config::TrainerConfig::MODE_RL && algorithm_.needs_reference_model()) {
    // The KL term's reference is the initial policy, frozen (also after a resume: the checkpoint
    // holds the trained policy, the reference is rebuilt from the same source).
    M1RL_ASSIGN_OR_RETURN(ref_model_, InitialPolicy(config_, device));
    for (auto& [name, p] : ref_model_->NamedParameters()) p.requires_grad_(false);
  }
  if (tokenizer_->vocab_size() > model_->config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("model.vocab_size ", model_->config().vocab_size,
                                                   " is smaller than the tokenizer's ",
                                                   tokenizer_->vocab_size()));
  }
  return absl::OkStatus();
}

// trainer.optim of config_ (the current stage's), over the run's horizon of optimizer steps.
absl::StatusOr<AdamWOptions> Trainer::OptimizerOptions() const {
  const config::TrainerConfig& tc = config_.trainer();
  const bool rl = tc.mode() == config::TrainerConfig::MODE_RL;
  const int64_t total_steps =
      std::max<int64_t>(1, tc.steps()) * (rl ? std::max(1, tc.minibatches_per_step()) : 1);
  return AdamWOptions::FromProto(tc.optim(), total_steps);
}

absl::Status Trainer::BuildOptimizerAndReward(std::unique_ptr<reward::RewardClient> reward) {
  const config::TrainerConfig& tc = config_.trainer();
  const bool rl = tc.mode() == config::TrainerConfig::MODE_RL;
  M1RL_ASSIGN_OR_RETURN(AdamWOptions opts, OptimizerOptions());
  M1RL_ASSIGN_OR_RETURN(optimizer_, ShardedAdamW::Create(model_->NamedParameters(), opts, comm_));

  if (reward != nullptr) {
    reward_ = std::move(reward);
  } else if (rl || tc.eval_every() > 0 || tc.eval_at_start()) {
    M1RL_ASSIGN_OR_RETURN(reward_, reward::RewardClient::Create(config_.reward()));
  }
  return absl::OkStatus();
}

absl::Status Trainer::LoadDataAndWriters() {
  const config::TrainerConfig& tc = config_.trainer();
  M1RL_ASSIGN_OR_RETURN(schedule_, RunSchedule::Create(run_config_));
  if (!config_.data().eval_path().empty()) {
    M1RL_ASSIGN_OR_RETURN(PromptDataset eval, PromptDataset::Load(config_.data().eval_path()));
    eval_data_ = std::move(eval);
  }

  if (!tc.checkpoint().dir().empty()) {
    checkpoints_ =
        std::make_unique<CheckpointManager>(tc.checkpoint().dir(), tc.checkpoint().keep_last(), comm_);
  }
  if (comm_->rank() == 0 && !tc.metrics_dir().empty()) {
    std::error_code ec;
    fs::create_directories(tc.metrics_dir(), ec);
    if (ec)
      return absl::InternalError(absl::StrCat("trainer.metrics_dir ", tc.metrics_dir(), ": ", ec.message()));
    auto multi = std::make_unique<MultiWriter>();
    M1RL_ASSIGN_OR_RETURN(auto jsonl,
                          JsonlMetricsWriter::Open(tc.metrics_dir() + "/metrics.jsonl", /*append=*/true));
    multi->Add(std::move(jsonl));
    if (tc.tensorboard()) {
      M1RL_ASSIGN_OR_RETURN(auto tb, TensorBoardWriter::Open(tc.metrics_dir() + "/tb"));
      multi->Add(std::move(tb));
    }
    metrics_ = std::move(multi);
    M1RL_RETURN_IF_ERROR(WriteFileAtomic(tc.metrics_dir() + "/config.yaml", DumpConfigYaml(run_config_)));
    if (tc.mode() == config::TrainerConfig::MODE_RL && SamplePromptsPerStep(tc) > 0) {
      M1RL_ASSIGN_OR_RETURN(samples_,
                            SampleWriter::Open(tc.metrics_dir() + "/samples.jsonl", /*append=*/true));
    }
  }
  return absl::OkStatus();
}

model::ForwardOptions Trainer::HeadForwardOptions() const {
  model::ForwardOptions fwd;
  fwd.head = head_precision_;
  fwd.head_chunk_size = config_.model().head_chunk_size();
  fwd.recompute_layers = config_.model().recompute_layers();
  return fwd;
}

model::ForwardOptions Trainer::TrainForwardOptions() const {
  model::ForwardOptions fwd = HeadForwardOptions();
  fwd.temperature = rollout_temperature_;
  return fwd;
}

namespace {

model::PromptTemplate RenderKind(config::TrainerConfig::PromptTemplate kind) {
  switch (kind) {
    case config::TrainerConfig::PROMPT_TEMPLATE_RAW:
      return model::PromptTemplate::kRaw;
    case config::TrainerConfig::PROMPT_TEMPLATE_TOKENIZER:
      return model::PromptTemplate::kTokenizer;
    default:
      return model::PromptTemplate::kChat;
  }
}

}  // namespace

absl::Status Trainer::LoadPromptTemplate() {
  if (config_.trainer().prompt_template() != config::TrainerConfig::PROMPT_TEMPLATE_TOKENIZER) {
    return absl::OkStatus();
  }
  absl::StatusOr<model::ChatTemplateFile> t = model::LoadTokenizerChatTemplate(tokenizer_spec_);
  M1RL_RETURN_IF_ERROR_WITH(t.status(), "trainer.prompt_template tokenizer (tokenizer ", tokenizer_spec_,
                            ")");
  chat_template_ = std::make_shared<const model::ChatTemplateFile>(*std::move(t));
  if (comm_->rank() == 0)
    M1RL_LOG(INFO) << "prompt template: the chat template of " << chat_template_->path();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int32_t>> Trainer::EncodePrompt(const std::string& prompt) const {
  const model::PromptTemplate render = RenderKind(config_.trainer().prompt_template());
  absl::StatusOr<std::string> text = model::RenderPrompt(prompt, render, chat_template_.get());
  M1RL_RETURN_IF_ERROR_WITH(text.status(), "trainer.prompt_template tokenizer");  // only it can fail
  // The tokenizer's template writes BOS itself where the model wants one.
  if (render == model::PromptTemplate::kTokenizer) return tokenizer_->Encode(*text);
  std::vector<int32_t> ids;
  if (tokenizer_->bos_id() >= 0) ids.push_back(tokenizer_->bos_id());
  std::vector<int32_t> body = tokenizer_->Encode(*text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

namespace {

std::string StripSpecials(const model::Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<int32_t> kept;
  for (int32_t id : ids) {
    if (id != tok.eos_id() && id != tok.bos_id() && id != tok.pad_id()) kept.push_back(id);
  }
  return tok.Decode(kept);
}

}  // namespace

absl::StatusOr<rollout::EngineOptions> Trainer::MakeEngineOptions(const config::RolloutConfig& rc) const {
  M1RL_ASSIGN_OR_RETURN(rollout::EngineOptions eo, rollout::EngineOptionsFromConfig(rc));
  eo.eos_token_ids = {tokenizer_->eos_id()};
  const model::Tokenizer* tok = tokenizer_.get();
  eo.detokenize = [tok](const std::vector<int32_t>& ids) { return StripSpecials(*tok, ids); };
  return eo;
}

absl::StatusOr<StepResult> Trainer::TrainStep() {
  const std::string where = absl::StrCat("step ", step_ + 1, " on rank ", comm_->rank());
  absl::StatusOr<StepResult> r = Guard(where, [&]() -> absl::StatusOr<StepResult> {
    M1RL_ASSIGN_OR_RETURN(StepResult s,
                          config_.trainer().mode() == config::TrainerConfig::MODE_RL ? RlStep() : SftStep());
    M1RL_RETURN_IF_ERROR(ObserveSchedule(s));
    return s;
  });
  if (!r.ok()) return ::m1rl::internal::Annotate(r.status(), where);
  return r;
}

// ---- the schedule: trainer.stages and data.sources ----

absl::Status Trainer::EnterScheduledStage() {
  config_ = schedule_->stage_config();
  if (config_.trainer().mode() == config::TrainerConfig::MODE_RL) {
    M1RL_ASSIGN_OR_RETURN(algorithm_, algorithms::ResolveAlgorithmConfig(
                                          config_.algorithm(), rollout::MaxNewTokens(config_.rollout())));
  }
  M1RL_ASSIGN_OR_RETURN(const AdamWOptions opts, OptimizerOptions());
  M1RL_RETURN_IF_ERROR(optimizer_->SetOptions(opts));
  if (comm_->rank() == 0 && run_config_.trainer().stages_size() > 0)
    M1RL_LOG(INFO) << "from step " << step_ + 1 << ": " << schedule_->DescribeStage();
  return absl::OkStatus();
}

absl::Status Trainer::ObserveSchedule(StepResult& r) {
  for (const auto& [k, v] : schedule_->StepMetrics(step_ - 1)) r.metrics[k] = v;
  const std::string ended = schedule_->stage_name();
  M1RL_ASSIGN_OR_RETURN(const bool advanced, schedule_->Observe(r.metrics));
  r.metrics["stage/advanced"] = advanced ? 1 : 0;
  if (!advanced) return absl::OkStatus();
  if (comm_->rank() == 0) M1RL_LOG(INFO) << "stage '" << ended << "' ended after step " << step_;
  return EnterScheduledStage();
}

// ---- the RL step ----------------------------------------------------------------------------------------

// One generation round's requests over this rank's shard [shard_begin, shard_end) of the global batch.
struct Trainer::RoundRequests {
  int64_t round = 0;        // 1-based
  int64_t shard_begin = 0;  // global batch index of requests[0]
  std::vector<rollout::GenerationRequest> requests;
  std::vector<const PromptRow*> rows;                        // [requests]
  std::vector<int> sources;                                  // [requests] data source (RunSchedule)
  std::vector<rollout::RequestOutput> outputs;               // [requests], after generation
  std::map<std::pair<size_t, int>, rl::ScoreResult> scores;  // (request, sample) -> reply
};

// Stage 1: this rank's kept groups, in collection order.
struct Trainer::RolloutBatch {
  std::vector<RlSample> samples;
  std::vector<int64_t> group_keys;  // [kept groups] global minibatch-order key, >= 0
  RolloutCounters counters;         // local
  std::map<std::string, std::pair<double, int64_t>> domain_reward;  // domain -> (reward sum, count), local
  std::optional<algorithms::DynamicSamplingResult> dynamic_sampling;
  std::string last_score_error;  // the latest unscored item's status and details
  double generate_s = 0, score_wait_s = 0;
  std::vector<SampleRecord> logged;         // rank 0: the step's samples.jsonl rows
  SourceTally per_source = SourceTally(0);  // local, by data source
  std::vector<int64_t> lengths;             // [completions] generated tokens, local, every round
};

// Stage 2: global rollout metrics.
struct Trainer::RolloutReport {
  RolloutCounters global;
  std::map<std::string, double> metrics;
};

// Stage 5: the reducible sums of the step's updates (policy loss and rollout correction).
struct Trainer::UpdateStats {
  algorithms::PolicyStats policy;
  algorithms::RolloutCorrectionStats correction;
};

// Stage 5: one minibatch's optimizer step.
struct Trainer::PolicyUpdate {
  double loss = 0;         // global
  double loss_tokens = 0;  // global N_tok
  OptimizerStepStats optim;
};

absl::StatusOr<StepResult> Trainer::RlStep() {
  const Clock::time_point t_step = Clock::now();
  M1RL_ASSIGN_OR_RETURN(RolloutBatch batch, CollectGroups());
  M1RL_ASSIGN_OR_RETURN(RolloutReport report, ReduceRolloutMetrics(batch));
  if (length_bias_ != nullptr) EndLengthBiasWindow(&report.metrics);
  M1RL_ASSIGN_OR_RETURN(Minibatches minibatches, AssignGroupsToMinibatches(batch));
  const Clock::time_point t_update = Clock::now();
  M1RL_ASSIGN_OR_RETURN(algorithms::MismatchStats agreement, ComputeOldAndRefLogprobs(minibatches));
  StepResult result;
  UpdateStats stats;
  double grad_norm_sum = 0, clipped = 0, train_tokens = 0, lr = 0, loss_sum = 0;
  for (const std::vector<RlSample*>& mb : minibatches) {
    M1RL_ASSIGN_OR_RETURN(PolicyUpdate u, UpdateMinibatch(mb, &stats));
    result.losses.push_back(u.loss);
    loss_sum += u.loss;
    train_tokens += u.loss_tokens;
    grad_norm_sum += u.optim.grad_norm;
    clipped += u.optim.clipped ? 1 : 0;
    lr = u.optim.lr;
  }
  const double update_s = Seconds(t_update);
  std::map<std::string, double>& m = report.metrics;
  M1RL_ASSIGN_OR_RETURN(auto policy, ReduceUpdateStats(stats, agreement));
  for (const auto& [k, v] : policy) m[k] = v;
  const double num_updates = static_cast<double>(result.losses.size());
  m["train/loss"] = result.losses.empty() ? 0 : loss_sum / num_updates;
  m["train/grad_norm"] = result.losses.empty() ? 0 : grad_norm_sum / num_updates;
  m["train/clip_fired"] = clipped;
  m["train/lr"] = lr;
  m["train/minibatches"] = static_cast<double>(minibatches.size());
  m["time/generate_s"] = batch.generate_s;
  m["time/score_wait_s"] = batch.score_wait_s;
  m["time/update_s"] = update_s;
  m["time/step_s"] = Seconds(t_step);
  m["throughput/rollout_tokens_per_s"] =
      batch.generate_s > 0 ? m["rollout/gen_tokens"] / batch.generate_s : 0;
  m["throughput/train_tokens_per_s"] = update_s > 0 ? train_tokens / update_s : 0;
  // Model FLOPs of this rank's update phase (model/flops.h; MFU = this / the device's bf16 peak).
  m["throughput/model_tflops_per_s"] = update_s > 0 ? UpdateFlops(batch) / update_s / 1e12 : 0;
  ++step_;
  result.step = step_;
  result.metrics = std::move(m);
  result.samples = std::move(batch.logged);
  return result;
}

// ---- 1. collect groups: generation rounds, streamed scoring, reward shaping, group filter, advantages ----

absl::StatusOr<Trainer::RolloutBatch> Trainer::CollectGroups() {
  const algorithms::ResolvedAlgorithm& alg = algorithm_;
  const int64_t prompts = config_.trainer().prompts_per_step();
  const auto [shard_begin, shard_end] = ShardRange(prompts, comm_->rank(), comm_->world_size());
  RolloutBatch batch;
  batch.per_source = SourceTally(schedule_->num_sources());
  std::optional<algorithms::DynamicSampler> dyn;
  if (alg.dynamic_sampling)
    dyn.emplace(std::max<int64_t>(1, shard_end - shard_begin), alg.max_gen_rounds, alg.on_exhausted);
  // A local failure stops this rank's rounds; it keeps joining the round barrier (and drawing the global
  // batch, so the data cursor stays identical) until every rank is done, then all ranks see it.
  rollout::HybridDecodeModel decode(model_.get(), rollout::HybridDecodeOptions{head_precision_, 0});
  std::unique_ptr<rollout::Engine> engine;
  absl::Status local = [&]() -> absl::Status {
    M1RL_ASSIGN_OR_RETURN(rollout::EngineOptions eo, MakeEngineOptions(config_.rollout()));
    if (alg.repetition) {
      eo.repetition_run_length = alg.repetition_run_length;
      eo.repetition_threshold = alg.repetition_threshold;
    }
    eo.policy_version = step_;
    M1RL_ASSIGN_OR_RETURN(engine, rollout::Engine::Create(&decode, eo));
    return absl::OkStatus();
  }();
  for (int64_t round = 0;;) {
    const bool need = local.ok() && (dyn ? dyn->NeedsMoreGroups() : round == 0);
    M1RL_ASSIGN_OR_RETURN(bool any, AnyRankNeedsGroups(need));
    if (!any) break;
    // All ranks draw the same global batch; a rank that has enough groups discards its share (counted as
    // dynamic-sampling extras).
    M1RL_ASSIGN_OR_RETURN(const std::vector<ScheduledPrompt> global_batch,
                          schedule_->NextPrompts(step_, prompts));
    ++round;
    if (!need) continue;
    local = Guard(absl::StrCat("generation round ", round), [&]() -> absl::Status {
      return RunRound(*engine, round, global_batch, dyn ? &*dyn : nullptr, &batch);
    });
  }
  if (local.ok() && dyn) {
    absl::StatusOr<algorithms::DynamicSamplingResult> dr = dyn->Finish();
    if (dr.ok()) batch.dynamic_sampling = *dr;
    local = dr.status();
  }
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local, "collecting rollout groups"));
  return batch;
}

absl::StatusOr<bool> Trainer::AnyRankNeedsGroups(bool local_need) {
  at::Tensor flag = at::scalar_tensor(local_need ? 1 : 0, at::kLong).reshape({1});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(flag, ReduceOp::kMax));
  return flag.item<int64_t>() != 0;
}

absl::Status Trainer::RunRound(rollout::Engine& engine, int64_t round,
                               const std::vector<ScheduledPrompt>& global_batch,
                               algorithms::DynamicSampler* dyn, RolloutBatch* batch) {
  if (dyn != nullptr) M1RL_RETURN_IF_ERROR(dyn->BeginRound());
  M1RL_ASSIGN_OR_RETURN(RoundRequests rq, MakeRoundRequests(round, global_batch));
  M1RL_RETURN_IF_ERROR(GenerateAndScore(engine, rq, batch));
  const size_t logged_prompts =
      round == 1 && samples_ != nullptr ? static_cast<size_t>(SamplePromptsPerStep(config_.trainer())) : 0;
  for (size_t ri = 0; ri < std::min(logged_prompts, rq.outputs.size()); ++ri) {
    for (const rl::Completion& c : rq.outputs[ri].completions) {
      auto it = rq.scores.find({ri, c.sample_index()});
      batch->logged.push_back(
          MakeSampleRecord(*rq.rows[ri], c, it == rq.scores.end() ? nullptr : &it->second));
    }
  }
  for (size_t ri = 0; ri < rq.outputs.size(); ++ri) {
    M1RL_RETURN_IF_ERROR_WITH(rq.outputs[ri].status, "generation request ", rq.requests[ri].group_id);
    M1RL_RETURN_IF_ERROR(AddGroup(rq, ri, dyn, batch));
  }
  return absl::OkStatus();
}

absl::StatusOr<Trainer::RoundRequests> Trainer::MakeRoundRequests(
    int64_t round, const std::vector<ScheduledPrompt>& global_batch) const {
  const auto [shard_begin, shard_end] =
      ShardRange(config_.trainer().prompts_per_step(), comm_->rank(), comm_->world_size());
  const uint64_t seed = static_cast<uint64_t>(config_.trainer().seed());
  RoundRequests rq;
  rq.round = round;
  rq.shard_begin = shard_begin;
  for (int64_t i = shard_begin; i < shard_end; ++i) {
    const ScheduledPrompt& drawn = global_batch[static_cast<size_t>(i)];
    const PromptRow& row = *drawn.row;
    rollout::GenerationRequest req;
    req.prompt_id = row.id;
    req.group_id = absl::StrCat(row.id, "@", step_, ".", round, ".", i);
    req.prompt = row.prompt;
    req.domain = row.domain;
    M1RL_ASSIGN_OR_RETURN(req.prompt_token_ids, EncodePrompt(row.prompt));
    req.n = config_.rollout().n_samples();
    req.seed =
        Mix(seed, static_cast<uint64_t>(step_), static_cast<uint64_t>(round), static_cast<uint64_t>(i));
    req.max_new_tokens = rollout::MaxNewTokens(config_.rollout());
    req.sampling = sampling_;
    rq.requests.push_back(std::move(req));
    rq.rows.push_back(&row);
    rq.sources.push_back(drawn.source);
  }
  return rq;
}

// Streamed scoring: each finished completion goes to the reward client at once.
absl::Status Trainer::GenerateAndScore(rollout::Engine& engine, RoundRequests& rq, RolloutBatch* batch) {
  const algorithms::ResolvedAlgorithm& alg = algorithm_;
  const bool repetition_scored =
      !alg.repetition || algorithms::RepetitionPolicyCallsVerifier(alg.repetition_policy);
  std::map<std::string, size_t> request_of;
  for (size_t i = 0; i < rq.requests.size(); ++i) request_of[rq.requests[i].group_id] = i;
  std::mutex mu;
  std::map<std::pair<size_t, int>, rl::ScoreResult> scores;
  auto on_done = [&](const rl::Completion& c) {
    if (c.stop_reason() == rl::STOP_REPETITION && !repetition_scored) return;  // policy decides, no verifier
    const size_t ri = request_of.at(c.group_id());
    const int j = c.sample_index();
    reward_->ScoreAsync(ScoreItemForRow(*rq.rows[ri], c, c.text()),
                        [&mu, &scores, ri, j](const rl::ScoreResult& r) {
                          std::lock_guard<std::mutex> lock(mu);
                          scores[{ri, j}] = r;
                        });
  };
  const Clock::time_point t_gen = Clock::now();
  absl::StatusOr<std::vector<rollout::RequestOutput>> outs = engine.Generate(rq.requests, on_done);
  batch->generate_s += Seconds(t_gen);
  const Clock::time_point t_wait = Clock::now();
  reward_->Drain();  // Invariant: no callback touches `scores` after this
  batch->score_wait_s += Seconds(t_wait);
  if (!outs.ok()) return outs.status();
  batch->counters.generated_tokens += engine.last_stats().generated_tokens;
  rq.outputs = std::move(*outs);
  rq.scores = std::move(scores);
  return absl::OkStatus();
}

namespace {

// A completion after reward -> repetition policy -> overlong penalty (ALGORITHMS.md §4 order).
struct JudgedCompletion {
  std::optional<double> reward;  // shaped reward; nullopt: unscored or dropped (not in the group estimator)
  std::optional<bool> correct;   // verdict for dynamic sampling
  std::optional<double> score;   // the reward before the overlong penalty (what the length-bias monitor sees)
  std::vector<uint8_t> mask;     // [completion] v
  bool dropped = false;          // repetition policy "drop"
};

JudgedCompletion JudgeCompletion(const algorithms::ResolvedAlgorithm& alg, const rl::Completion& c,
                                 const rl::ScoreResult* score, const std::string& domain,
                                 std::map<std::string, std::pair<double, int64_t>>& domain_reward,
                                 RolloutCounters& n, std::string& last_score_error) {
  const bool repetition_scored =
      !alg.repetition || algorithms::RepetitionPolicyCallsVerifier(alg.repetition_policy);
  ++n.completions;
  ++n.stop_counts[static_cast<size_t>(c.stop_reason())];
  n.length_sum += c.token_ids_size();
  for (float lp : c.logprobs()) n.logprob_sum += lp;
  n.length_max = std::max<double>(n.length_max, c.token_ids_size());
  JudgedCompletion out;
  out.mask.assign(static_cast<size_t>(c.token_ids_size()), 1);
  const bool score_ok = score != nullptr && score->status() == rl::OK;
  std::optional<double> reward;
  std::optional<bool> correct;
  if (score_ok) {
    reward = score->total();
    correct = score->verdict() == rl::CORRECT;
  } else if (score != nullptr) {
    last_score_error = absl::StrCat(rl::ItemStatus_Name(score->status()), ": ", score->details());
  }
  if (c.stop_reason() == rl::STOP_REPETITION && alg.repetition) {
    algorithms::RepetitionOutcome o = algorithms::ApplyRepetitionPolicy(
        alg.repetition_policy, alg.repetition_failure_reward, alg.repetition_run_length, out.mask,
        repetition_scored ? reward : std::nullopt, repetition_scored ? correct : std::nullopt);
    if (o.drop) {
      out.dropped = true;
      ++n.repetition_dropped;
      return out;
    }
    reward = o.reward;
    correct = o.correct;
    out.mask = std::move(o.loss_mask);
    n.masked_tokens_repetition += o.num_masked;
  } else if (!score_ok) {
    ++n.unscored;  // excluded, counted; never scored as 0
    return out;
  }
  if (!reward.has_value()) {
    ++n.unscored;
    return out;
  }
  ++n.scored;
  if (correct.value_or(false)) ++n.correct;
  n.reward_sum += *reward;
  domain_reward[domain].first += *reward;
  domain_reward[domain].second += 1;
  out.score = reward;
  if (alg.overlong)
    *reward +=
        algorithms::SoftOverlongPenalty(c.token_ids_size(), alg.overlong_max_len, alg.overlong_cache_len);
  out.reward = reward;
  out.correct = correct;
  return out;
}

}  // namespace

// One request's group: judge each completion, filter (dynamic sampling), advantages, keep its samples.
absl::Status Trainer::AddGroup(const RoundRequests& rq, size_t ri, algorithms::DynamicSampler* dyn,
                               RolloutBatch* batch) {
  const std::vector<rl::Completion>& completions = rq.outputs[ri].completions;
  const size_t group_size = completions.size();
  std::vector<JudgedCompletion> judged;
  std::vector<std::optional<double>> rewards(group_size);
  std::vector<std::optional<bool>> verdicts(group_size);
  std::vector<std::optional<double>> scores(group_size);
  std::vector<int64_t> lengths(group_size);
  for (size_t j = 0; j < group_size; ++j) {
    auto it = rq.scores.find({ri, static_cast<int>(j)});
    judged.push_back(JudgeCompletion(algorithm_, completions[j],
                                     it == rq.scores.end() ? nullptr : &it->second, rq.rows[ri]->domain,
                                     batch->domain_reward, batch->counters, batch->last_score_error));
    rewards[j] = judged[j].reward;
    verdicts[j] = judged[j].correct;
    scores[j] = judged[j].score;
    lengths[j] = static_cast<int64_t>(completions[j].token_ids_size());
    batch->lengths.push_back(lengths[j]);
    batch->per_source.Add(rq.sources[ri], judged[j].reward, judged[j].correct, lengths[j]);
  }
  if (length_bias_ != nullptr) WatchLengthBias(rq.rows[ri]->domain, lengths, scores, &rewards);
  if (dyn != nullptr && !dyn->OfferGroup(static_cast<int64_t>(ri), verdicts)) return absl::OkStatus();
  M1RL_ASSIGN_OR_RETURN(algorithms::GroupAdvantages adv,
                        algorithms::ComputeGroupAdvantages(algorithm_.advantage, rewards));
  if (adv.dropped) {
    ++batch->counters.groups_dropped;
    return absl::OkStatus();
  }
  if (adv.zero_variance) ++batch->counters.zero_variance_groups;
  const int64_t group = batch->counters.groups_kept++;
  // The minibatch-order key: a function of the global batch only (seed, step, round, global prompt index).
  const uint64_t seed = static_cast<uint64_t>(config_.trainer().seed());
  batch->group_keys.push_back(
      static_cast<int64_t>(Mix(seed ^ 0x6d696e69ULL, static_cast<uint64_t>(step_),
                               static_cast<uint64_t>(rq.round), static_cast<uint64_t>(rq.shard_begin) + ri) >>
                           1));
  for (size_t j = 0; j < group_size; ++j) {
    if (judged[j].dropped || !adv.advantages[j].has_value()) continue;
    const rl::Completion& c = completions[j];
    RlSample s;
    s.group = group;
    s.prompt.assign(c.prompt_token_ids().begin(), c.prompt_token_ids().end());
    s.completion.assign(c.token_ids().begin(), c.token_ids().end());
    s.rollout_logprobs.assign(c.logprobs().begin(), c.logprobs().end());
    s.loss_mask = std::move(judged[j].mask);
    s.advantage = *adv.advantages[j];
    batch->counters.abs_advantage_sum += std::abs(s.advantage);
    if (s.completion.empty()) continue;
    ++batch->counters.samples;
    batch->samples.push_back(std::move(s));
  }
  return absl::OkStatus();
}

// ---- the GenRM length-bias monitor (reward.genrm.length_bias.monitor) ----

struct Trainer::LengthBiasWatch {
  reward::genrm::LengthBiasOptions options;
  reward::genrm::LengthBiasMonitor monitor;
  std::set<std::string> residualised;  // domains that alarmed, under residualise_beta > 0
};

absl::Status Trainer::BuildLengthBiasWatch() {
  const config::LengthBiasConfig& c = config_.reward().genrm().length_bias();
  if (config_.trainer().mode() != config::TrainerConfig::MODE_RL || !c.monitor()) return absl::OkStatus();
  M1RL_ASSIGN_OR_RETURN(reward::genrm::LengthBiasOptions options, reward::genrm::ResolveLengthBiasOptions(c));
  length_bias_ = std::make_unique<LengthBiasWatch>(
      LengthBiasWatch{options, reward::genrm::LengthBiasMonitor(options), {}});
  // The recalibration hook: log the alarm; with residualise_beta > 0 the domain's rewards are residualised
  // from the next group on (WatchLengthBias).
  LengthBiasWatch* w = length_bias_.get();
  const bool log = comm_->rank() == 0;
  w->monitor.SetRecalibrationHook([w, log](const reward::genrm::LengthBiasReport& report) {
    for (const reward::genrm::DomainLengthStats& d : report.domains) {
      if (!d.alarm) continue;
      const bool residualise = w->options.residualise_beta > 0;
      if (residualise) w->residualised.insert(d.domain);
      if (log) {
        M1RL_LOG(WARNING) << "step " << report.step << ": GenRM length-bias alarm in domain '" << d.domain
                          << "' (" << absl::StrJoin(d.reasons, "; ") << ")"
                          << (residualise
                                  ? absl::StrCat("; residualising its rewards by length, beta ",
                                                 w->options.residualise_beta)
                                  : std::string(
                                        "; reward.genrm.length_bias.residualise_beta is 0: logged only"));
      }
    }
  });
  return absl::OkStatus();
}

void Trainer::WatchLengthBias(const std::string& domain, const std::vector<int64_t>& lengths,
                              const std::vector<std::optional<double>>& scores,
                              std::vector<std::optional<double>>* rewards) {
  LengthBiasWatch& w = *length_bias_;
  if (std::find(w.options.domains.begin(), w.options.domains.end(), domain) == w.options.domains.end())
    return;
  std::vector<double> scored_lengths, scored;
  std::vector<size_t> at;  // positions of the completions with a reward
  for (size_t j = 0; j < scores.size(); ++j) {
    if (!scores[j].has_value() || !(*rewards)[j].has_value()) continue;
    scored_lengths.push_back(static_cast<double>(lengths[j]));
    scored.push_back(*scores[j]);
    at.push_back(j);
  }
  w.monitor.AddGroup(domain, scored_lengths, scored);
  if (!w.residualised.contains(domain)) return;
  std::vector<double> shaped;
  for (size_t j : at) shaped.push_back(*(*rewards)[j]);
  const std::vector<double> r =
      reward::genrm::ResidualiseLength(scored_lengths, shaped, w.options.residualise_beta);
  for (size_t i = 0; i < at.size(); ++i) (*rewards)[at[i]] = r[i];
}

void Trainer::EndLengthBiasWindow(std::map<std::string, double>* metrics) {
  LengthBiasWatch& w = *length_bias_;
  const reward::genrm::LengthBiasReport report =
      w.monitor.EndWindow(step_ + 1);  // calls the hook on an alarm
  for (const auto& [k, v] : report.Metrics()) (*metrics)[k] = v;
  for (const std::string& d : w.residualised)
    (*metrics)[absl::StrCat("genrm_length_bias/", d, "/residualised")] = 1;
}

// ---- 2. rollout metrics, global ----

absl::StatusOr<Trainer::RolloutReport> Trainer::ReduceRolloutMetrics(const RolloutBatch& batch) {
  RolloutReport report;
  M1RL_ASSIGN_OR_RETURN(report.global, AllReduceRolloutCounters(*comm_, batch.counters));
  const RolloutCounters& g = report.global;
  const double limit = MaxUnscoredFraction(config_.trainer());
  if (g.completions > 0 && static_cast<double>(g.unscored) / static_cast<double>(g.completions) > limit) {
    // The same global numbers on every rank: every rank returns this error.
    return absl::UnavailableError(
        absl::StrCat("reward service: ", g.unscored, " of ", g.completions, " completions unscored (limit ",
                     limit, " = trainer.max_unscored_fraction; reward.address ", config_.reward().address(),
                     "); last error: ", batch.last_score_error));
  }
  report.metrics = g.ToMetrics();
  if (batch.dynamic_sampling.has_value()) {
    const algorithms::DynamicSamplingResult& dr = *batch.dynamic_sampling;
    report.metrics["dynamic_sampling/rounds"] = static_cast<double>(dr.rounds);
    report.metrics["dynamic_sampling/filtered"] = static_cast<double>(dr.num_filtered);
    report.metrics["dynamic_sampling/discarded_extra"] = static_cast<double>(dr.num_discarded_extra);
    report.metrics["dynamic_sampling/partial"] = dr.partial ? 1.0 : 0.0;
  }
  M1RL_ASSIGN_OR_RETURN(
      report.metrics[kP99LengthMetric],
      GlobalQuantile(*comm_, batch.lengths, rollout::MaxNewTokens(config_.rollout()), 0.99));
  M1RL_ASSIGN_OR_RETURN(auto per_source, batch.per_source.Reduce(*comm_, *schedule_));
  report.metrics.insert(per_source.begin(), per_source.end());
  for (const auto& [domain, rs] : batch.domain_reward) {
    // Per-domain means are local (domains may differ per rank); rank 0's view is logged.
    report.metrics[absl::StrCat("reward/", domain, "_mean")] = rs.second > 0 ? rs.first / rs.second : 0;
  }
  return report;
}

// ---- 3. minibatches of whole groups: a seeded global order over every rank's groups ----

absl::StatusOr<Trainer::Minibatches> Trainer::AssignGroupsToMinibatches(RolloutBatch& batch) {
  const int64_t num_groups = static_cast<int64_t>(batch.group_keys.size());
  at::Tensor max_groups = at::scalar_tensor(num_groups, at::kLong).reshape({1});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(max_groups, ReduceOp::kMax));
  const int64_t kmax = std::max<int64_t>(1, max_groups.item<int64_t>());
  at::Tensor keys = at::full({kmax}, kNoGroupKey, at::kLong);
  std::copy(batch.group_keys.begin(), batch.group_keys.end(), keys.data_ptr<int64_t>());
  at::Tensor all_keys = at::zeros({kmax * comm_->world_size()}, at::kLong);
  M1RL_RETURN_IF_ERROR(comm_->AllGather(keys, all_keys));
  const int64_t* kp = all_keys.data_ptr<int64_t>();
  const MinibatchAssignment a = AssignMinibatches(std::vector<int64_t>(kp, kp + all_keys.numel()),
                                                  batch.group_keys, config_.trainer().minibatches_per_step());
  Minibatches minibatches(static_cast<size_t>(a.num_minibatches));
  for (RlSample& s : batch.samples)
    minibatches[static_cast<size_t>(a.minibatch_of[static_cast<size_t>(s.group)])].push_back(&s);
  return minibatches;
}

Trainer::Minibatches Trainer::MicroBatches(const std::vector<RlSample*>& minibatch) const {
  std::vector<int64_t> positions;
  for (const RlSample* s : minibatch)
    positions.push_back(static_cast<int64_t>(s->prompt.size() + s->completion.size()) - 1);
  Minibatches micros;
  for (const std::vector<size_t>& idx :
       SplitMicroBatches(positions, config_.trainer().micro_batch_tokens())) {
    micros.emplace_back();
    for (size_t i : idx) micros.back().push_back(minibatch[i]);
  }
  return micros;
}

// ---- 4. old log-probs (recomputed with theta_old in the update's packing, or the rollout's) and the ----
// ---- reference log-probs of the frozen initial policy when the KL term needs them                 ----

namespace {

// Packs a micro-batch for a training forward on `device`.
PackedSequences PackMicroBatch(const std::vector<RlSample*>& micro, at::Device device) {
  std::vector<const std::vector<int32_t>*> ps, cs;
  for (const RlSample* s : micro) {
    ps.push_back(&s->prompt);
    cs.push_back(&s->completion);
  }
  return PackSequences(ps, cs, device);
}

// Copies the completion positions of `values` ([T], any device) into (micro[i]->*field).
void ScatterCompletions(const at::Tensor& values, const PackedSequences& p,
                        const std::vector<RlSample*>& micro, std::vector<float> RlSample::*field) {
  const at::Tensor host = values.to(at::kCPU, at::kFloat).contiguous();
  const float* ptr = host.data_ptr<float>();
  for (size_t i = 0; i < micro.size(); ++i) {
    const float* begin = ptr + p.completion_begin[i];
    (micro[i]->*field).assign(begin, begin + micro[i]->completion.size());
  }
}

// The train/infer agreement of one micro-batch (M1 Fig. 3): l_old (the trainer, before the first update)
// against l_roll (the rollout engine) and the trainer's entropy, over the completion tokens with v = 1.
// Computed in float64 on the host.
algorithms::MismatchStats MicroBatchAgreement(const std::vector<RlSample*>& micro, const at::Tensor& entropy,
                                              const PackedSequences& p) {
  std::vector<double> old, roll, ent;
  std::vector<int64_t> mask;
  const at::Tensor ent_host = entropy.to(at::kCPU, at::kDouble).contiguous();
  const double* e = ent_host.data_ptr<double>();
  for (size_t i = 0; i < micro.size(); ++i) {
    const RlSample& s = *micro[i];
    for (size_t k = 0; k < s.completion.size(); ++k) {
      old.push_back(s.old_logprobs[k]);
      roll.push_back(s.rollout_logprobs[k]);
      ent.push_back(e[p.completion_begin[i] + static_cast<int64_t>(k)]);
      mask.push_back(s.loss_mask[k]);
    }
  }
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble);
  return algorithms::ComputeMismatchStats(at::tensor(old, f64), at::tensor(roll, f64),
                                          LongTensor(mask).to(at::kBool), at::tensor(ent, f64));
}

// Element-wise all-reduce (sum) of a stats struct's Sums().
template <typename Stats>
absl::Status AllReduceSums(Communicator& comm, Stats* stats) {
  const auto sums = stats->Sums();
  at::Tensor t =
      at::tensor(std::vector<double>(sums.begin(), sums.end()), at::TensorOptions().dtype(at::kDouble));
  M1RL_RETURN_IF_ERROR(comm.AllReduce(t, ReduceOp::kSum));
  auto reduced = sums;
  for (size_t i = 0; i < reduced.size(); ++i) reduced[i] = t[static_cast<int64_t>(i)].item<double>();
  stats->SetSums(reduced);
  return absl::OkStatus();
}

}  // namespace

// Three policies stay distinct (ALGORITHMS.md §3): l_roll (RlSample::rollout_logprobs, from the engine),
// l_old (recomputed here by the trainer under theta_old, or l_roll under ratio_denominator rollout) and the
// current l of each update's forward. Returns this rank's agreement sums of l_old vs l_roll (empty when
// l_old is not recomputed).
absl::StatusOr<algorithms::MismatchStats> Trainer::ComputeOldAndRefLogprobs(const Minibatches& minibatches) {
  const bool recompute_old = algorithm_.ratio_denominator != algorithms::RatioDenominator::kRollout;
  model::ForwardOptions fwd = TrainForwardOptions();
  fwd.recompute_layers = false;  // no graph is kept under no_grad
  algorithms::MismatchStats agreement;
  absl::Status local = Guard("old/reference log-probs", [&]() -> absl::Status {
    for (const std::vector<RlSample*>& mb : minibatches) {
      for (const std::vector<RlSample*>& micro : MicroBatches(mb)) {
        if (!recompute_old) {
          for (RlSample* s : micro) s->old_logprobs = s->rollout_logprobs;
        }
        if (!recompute_old && ref_model_ == nullptr) continue;
        const PackedSequences p = PackMicroBatch(micro, model_->device());
        at::NoGradGuard no_grad;
        if (recompute_old) {
          model::ForwardOptions with_entropy = fwd;
          with_entropy.compute_entropy = true;
          const model::ForwardOutput out =
              model_->Forward(p.input_ids, p.targets, p.cu_seqlens, with_entropy);
          ScatterCompletions(out.logprobs, p, micro, &RlSample::old_logprobs);
          agreement.Accumulate(MicroBatchAgreement(micro, out.entropy, p));
        }
        if (ref_model_ != nullptr) {
          const model::ForwardOutput out = ref_model_->Forward(p.input_ids, p.targets, p.cu_seqlens, fwd);
          ScatterCompletions(out.logprobs, p, micro, &RlSample::ref_logprobs);
        }
      }
    }
    return absl::OkStatus();
  });
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local, "old/reference log-probs"));
  return agreement;
}

// Model FLOPs of this rank's update phase (model/flops.h): per kept sequence, forward + backward of each
// update (3 forwards' worth; layer recomputation is not counted, the MFU convention) plus one no-grad
// forward for l_old when recomputed and one for l_ref with a KL term.
double Trainer::UpdateFlops(const RolloutBatch& batch) const {
  std::vector<int64_t> lengths;
  for (const RlSample& s : batch.samples)
    lengths.push_back(static_cast<int64_t>(s.prompt.size() + s.completion.size()) - 1);
  const bool recompute_old = algorithm_.ratio_denominator != algorithms::RatioDenominator::kRollout;
  const double passes = 3.0 + (recompute_old ? 1.0 : 0.0) + (ref_model_ != nullptr ? 1.0 : 0.0);
  return passes * model::ForwardFlops(model_->config(), lengths).total();
}

// ---- 5. one optimizer step per minibatch ----

namespace {

// Dense global ids of one minibatch: this rank's sequences and groups follow those of lower ranks.
struct MinibatchIds {
  int64_t num_sequences = 0;                                  // S, global
  int64_t num_groups = 0;                                     // G, global
  std::vector<std::vector<int64_t>> sequence_ids, group_ids;  // [micro][sample]
};

// Collective: one all-gather of every rank's (sequences, groups).
absl::StatusOr<MinibatchIds> GatherMinibatchIds(Communicator& comm,
                                                const std::vector<std::vector<RlSample*>>& micros) {
  std::map<int64_t, int64_t> local_group_id;
  int64_t num_local = 0;
  for (const auto& micro : micros) {
    for (const RlSample* s : micro)
      local_group_id.emplace(s->group, static_cast<int64_t>(local_group_id.size()));
    num_local += static_cast<int64_t>(micro.size());
  }
  at::Tensor mine = LongTensor({num_local, static_cast<int64_t>(local_group_id.size())});
  at::Tensor all = at::zeros({int64_t{2} * comm.world_size()}, at::kLong);
  M1RL_RETURN_IF_ERROR(comm.AllGather(mine, all));
  MinibatchIds ids;
  int64_t seq_off = 0, grp_off = 0;
  for (int r = 0; r < comm.world_size(); ++r) {
    if (r < comm.rank()) {
      seq_off += all[int64_t{2} * r].item<int64_t>();
      grp_off += all[2 * r + 1].item<int64_t>();
    }
    ids.num_sequences += all[int64_t{2} * r].item<int64_t>();
    ids.num_groups += all[2 * r + 1].item<int64_t>();
  }
  for (const auto& micro : micros) {
    ids.sequence_ids.emplace_back();
    ids.group_ids.emplace_back();
    for (const RlSample* s : micro) {
      ids.sequence_ids.back().push_back(seq_off++);
      ids.group_ids.back().push_back(grp_off + local_group_id.at(s->group));
    }
  }
  return ids;
}

}  // namespace

absl::StatusOr<Trainer::PolicyUpdate> Trainer::UpdateMinibatch(const std::vector<RlSample*>& mb,
                                                               UpdateStats* stats) {
  const Minibatches micro_samples = MicroBatches(mb);
  M1RL_ASSIGN_OR_RETURN(const MinibatchIds ids, GatherMinibatchIds(*comm_, micro_samples));
  // Local: the micro-batches' tensors on the model's device and their loss-token counts.
  const at::Device device = model_->device();
  std::vector<PolicyMicroBatch> micros;
  algorithms::TokenCounts counts;
  int64_t local_positions = 0;
  absl::Status local = Guard("building micro-batches", [&]() -> absl::Status {
    const at::TensorOptions longs = at::TensorOptions().dtype(at::kLong).device(device);
    counts = {at::zeros({ids.num_sequences}, longs), at::zeros({ids.num_groups}, longs)};
    for (size_t i = 0; i < micro_samples.size(); ++i) {
      const std::vector<const RlSample*> samples(micro_samples[i].begin(), micro_samples[i].end());
      micros.push_back(BuildPolicyMicroBatch(samples, ids.sequence_ids[i], ids.group_ids[i],
                                             ref_model_ != nullptr, device));
      const PolicyMicroBatch& m = micros.back();
      counts.Add(algorithms::CountLossTokens(m.mask, m.sequence_ids, m.group_ids, ids.num_sequences,
                                             ids.num_groups));
      local_positions += m.packed.input_ids.size(0);
    }
    return absl::OkStatus();
  });
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local, "building micro-batches"));
  // One integer all-reduce (on the host): the loss-token counts plus the number of positions (aux weight).
  at::Tensor packed_counts = at::cat({counts.Pack().to(at::kCPU), LongTensor({local_positions})});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(packed_counts, ReduceOp::kSum));
  const int64_t num_seqs = ids.num_sequences, num_groups = ids.num_groups;
  const double global_positions = static_cast<double>(packed_counts[num_seqs + num_groups].item<int64_t>());
  const algorithms::TokenCounts host =
      algorithms::TokenCounts::Unpack(packed_counts.narrow(0, 0, num_seqs + num_groups), num_seqs);
  const algorithms::TokenCounts global{host.tokens_per_sequence.to(device), host.tokens_per_group.to(device)};
  PolicyUpdate u;
  u.loss_tokens = static_cast<double>(host.num_tokens());
  optimizer_->ZeroGrad();
  double loss_sum = 0;
  local = Guard("forward/backward", [&]() -> absl::Status {
    for (const PolicyMicroBatch& m : micros)
      loss_sum += PolicyLossBackward(m, global, global_positions, stats);
    return absl::OkStatus();
  });
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local, "forward/backward"));
  at::Tensor loss_t = at::tensor(std::vector<double>{loss_sum}, at::TensorOptions().dtype(at::kDouble));
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(loss_t, ReduceOp::kSum));
  u.loss = loss_t[0].item<double>();
  M1RL_ASSIGN_OR_RETURN(u.optim, optimizer_->Step());
  return u;
}

// Forward, unified policy loss (+ router aux loss) and backward of one micro-batch; returns its loss.
double Trainer::PolicyLossBackward(const PolicyMicroBatch& m, const algorithms::TokenCounts& global,
                                   double global_positions, UpdateStats* stats) {
  model::ForwardOutput out =
      model_->Forward(m.packed.input_ids, m.packed.targets, m.packed.cu_seqlens, TrainForwardOptions());
  algorithms::PolicyLossInputs in;
  in.logprobs = out.logprobs;
  in.old_logprobs = m.old_logprobs;
  in.advantages = m.advantages;
  in.mask = m.mask;
  in.ref_logprobs = m.ref_logprobs;  // undefined without a KL term
  if (algorithm_.rollout_correction.kind != algorithms::RolloutCorrection::kNone) {
    // TIS / IcePop factor from rho = pi_old / pi_roll, composed with the policy loss's weight.
    algorithms::RolloutCorrectionResult rc = algorithms::ComputeRolloutCorrection(
        algorithm_.rollout_correction, m.old_logprobs, m.rollout_logprobs, m.mask);
    in.rollout_weight = rc.weight;
    stats->correction.Accumulate(rc.stats);
  }
  in.coef = algorithms::LossCoefficients(algorithm_.loss_agg, m.mask, m.sequence_ids, m.group_ids, global,
                                         algorithm_.generation_budget, at::kFloat);
  algorithms::PolicyLossResult pl = algorithms::ComputePolicyLoss(algorithm_.policy_loss, in);
  stats->policy.Accumulate(pl.stats);
  at::Tensor total = pl.loss;
  if (out.aux_loss.defined() && global.num_tokens() > 0) {
    // Router aux loss as a position-weighted mean over the micro-batches of all ranks.
    total = total.add(
        out.aux_loss.mul(static_cast<double>(m.packed.input_ids.size(0)) / std::max(1.0, global_positions)));
  }
  total.backward();
  return pl.loss.item<double>();
}

// The step's policy-loss, rollout-correction and train/infer agreement metrics, reduced over all ranks.
absl::StatusOr<std::map<std::string, double>> Trainer::ReduceUpdateStats(
    UpdateStats stats, algorithms::MismatchStats agreement) {
  algorithms::PolicyStats& policy = stats.policy;
  M1RL_RETURN_IF_ERROR(AllReduceSums(*comm_, &policy));
  at::Tensor mn = at::tensor(std::vector<double>{policy.ratio_min}, at::TensorOptions().dtype(at::kDouble));
  at::Tensor mx = at::tensor(std::vector<double>{policy.ratio_max}, at::TensorOptions().dtype(at::kDouble));
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(mn, ReduceOp::kMin));
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(mx, ReduceOp::kMax));
  policy.ratio_min = mn[0].item<double>();
  policy.ratio_max = mx[0].item<double>();
  std::map<std::string, double> out = policy.Finalize().ToMap();
  if (algorithm_.rollout_correction.kind != algorithms::RolloutCorrection::kNone) {
    M1RL_RETURN_IF_ERROR(AllReduceSums(*comm_, &stats.correction));
    for (const auto& [k, v] : stats.correction.Finalize().ToMap()) out[k] = v;
  }
  if (algorithm_.ratio_denominator != algorithms::RatioDenominator::kRollout) {
    M1RL_RETURN_IF_ERROR(AllReduceSums(*comm_, &agreement));
    for (const auto& [k, v] : agreement.Finalize().ToMap()) out[k] = v;
  }
  return out;
}

// ---- the SFT step ---------------------------------------------------------------------------------------

// This rank's slice of the SFT batch, tokenized.
struct Trainer::SftBatch {
  std::vector<std::vector<int32_t>> prompts, completions;
  int64_t completion_tokens = 0;
};

absl::StatusOr<Trainer::SftBatch> Trainer::EncodeSftBatch() {
  const config::TrainerConfig& tc = config_.trainer();
  const int64_t batch_size = tc.sft_batch_size();
  M1RL_ASSIGN_OR_RETURN(const std::vector<ScheduledPrompt> batch, schedule_->NextPrompts(step_, batch_size));
  const auto [begin, end] = ShardRange(batch_size, comm_->rank(), comm_->world_size());
  const std::string tmpl =
      tc.sft_completion_template().empty() ? "\\boxed{{answer}}" : tc.sft_completion_template();
  SftBatch b;
  for (int64_t i = begin; i < end; ++i) {
    const PromptRow& row = *batch[static_cast<size_t>(i)].row;
    const std::string text =
        !row.completion.empty() ? row.completion : absl::StrReplaceAll(tmpl, {{"{answer}", row.answer}});
    M1RL_ASSIGN_OR_RETURN(std::vector<int32_t> prompt, EncodePrompt(row.prompt));
    b.prompts.push_back(std::move(prompt));
    std::vector<int32_t> c = tokenizer_->Encode(text);
    if (tokenizer_->eos_id() >= 0) c.push_back(tokenizer_->eos_id());
    b.completion_tokens += static_cast<int64_t>(c.size());
    b.completions.push_back(std::move(c));
  }
  return b;
}

// Cross-entropy on the completion tokens as a SUM with the global count (the gradient all-reduce adds the
// ranks); returns this rank's share of the loss.
absl::StatusOr<double> Trainer::SftForwardBackward(const SftBatch& b, double global_tokens) {
  if (b.prompts.empty()) return 0.0;
  std::vector<const std::vector<int32_t>*> ps, cs;
  for (size_t i = 0; i < b.prompts.size(); ++i) {
    ps.push_back(&b.prompts[i]);
    cs.push_back(&b.completions[i]);
  }
  const at::Device device = model_->device();
  const PackedSequences p = PackSequences(ps, cs, device);
  std::vector<int64_t> mask(static_cast<size_t>(p.cu_seqlens.back()), 0);
  for (size_t i = 0; i < cs.size(); ++i) {
    for (size_t k = 0; k < cs[i]->size(); ++k) mask[static_cast<size_t>(p.completion_begin[i]) + k] = 1;
  }
  const at::Tensor m = at::tensor(mask, at::kLong).to(at::kBool).to(device);
  model::ForwardOutput out = model_->Forward(p.input_ids, p.targets, p.cu_seqlens, HeadForwardOptions());
  at::Tensor nll = at::where(m, out.logprobs, at::zeros_like(out.logprobs)).sum().div(-global_tokens);
  at::Tensor total = nll;
  if (out.aux_loss.defined())
    total = total.add(out.aux_loss.mul(static_cast<double>(b.completion_tokens) / global_tokens));
  total.backward();
  return nll.item<double>();
}

absl::StatusOr<StepResult> Trainer::SftStep() {
  const Clock::time_point t_step = Clock::now();
  M1RL_ASSIGN_OR_RETURN(const SftBatch b, EncodeSftBatch());
  at::Tensor n = at::scalar_tensor(b.completion_tokens, at::kLong).reshape({1});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(n, ReduceOp::kSum));
  const double global_tokens = static_cast<double>(std::max<int64_t>(1, n.item<int64_t>()));
  optimizer_->ZeroGrad();
  absl::StatusOr<double> loss =
      Guard("SFT forward/backward", [&] { return SftForwardBackward(b, global_tokens); });
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, loss.status(), "SFT forward/backward"));
  at::Tensor l = at::tensor(std::vector<double>{*loss}, at::TensorOptions().dtype(at::kDouble));
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(l, ReduceOp::kSum));
  M1RL_ASSIGN_OR_RETURN(OptimizerStepStats os, optimizer_->Step());
  ++step_;
  StepResult r;
  r.step = step_;
  r.losses.push_back(l[0].item<double>());
  r.metrics["train/loss"] = r.losses[0];
  r.metrics["train/grad_norm"] = os.grad_norm;
  r.metrics["train/clip_fired"] = os.clipped ? 1 : 0;
  r.metrics["train/lr"] = os.lr;
  r.metrics["train/tokens"] = global_tokens;
  r.metrics["time/step_s"] = Seconds(t_step);
  const double step_s = std::max(1e-9, Seconds(t_step));
  r.metrics["throughput/train_tokens_per_s"] = global_tokens / step_s;
  // Model FLOPs of this rank's forward + backward (model/flops.h; MFU = this / the device's bf16 peak).
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < b.prompts.size(); ++i)
    lengths.push_back(static_cast<int64_t>(b.prompts[i].size() + b.completions[i].size()) - 1);
  r.metrics["throughput/model_tflops_per_s"] =
      3.0 * model::ForwardFlops(model_->config(), lengths).total() / step_s / 1e12;
  return r;
}

// ---- evaluation -----------------------------------------------------------------------------------------

absl::StatusOr<EvalResult> Trainer::Evaluate() {
  const std::string where = absl::StrCat("evaluation at step ", step_, " on rank ", comm_->rank());
  // Local: greedy generation and scoring of this rank's share; then every rank learns of any failure.
  absl::StatusOr<EvalResult> local = Guard(where, [&] { return EvaluateLocal(); });
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, local.status(), "evaluation"));
  at::Tensor t = LongTensor({local->num_prompts, local->num_correct, local->num_unscored});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(t, ReduceOp::kSum));
  EvalResult e;
  e.num_prompts = t[0].item<int64_t>();
  e.num_correct = t[1].item<int64_t>();
  e.num_unscored = t[2].item<int64_t>();
  if (e.num_prompts == 0 && e.num_unscored > 0) {
    return absl::UnavailableError(absl::StrCat("evaluation: all ", e.num_unscored,
                                               " completions unscored (reward.address ",
                                               config_.reward().address(), ")"));
  }
  last_eval_accuracy_ = e.accuracy();
  return e;
}

// Greedy decoding of this rank's share of the first trainer.eval_prompts rows; the engine takes every other
// rollout field (batch size, memory budget, prefill chunk, stop strings, temperature of the recorded
// log-probs) from the config, as in RL.
absl::StatusOr<EvalResult> Trainer::EvaluateLocal() {
  if (reward_ == nullptr) return absl::FailedPreconditionError("evaluation needs a reward client");
  const PromptDataset& data = eval_data_.has_value() ? *eval_data_ : schedule_->source_data(0);
  const int64_t n = std::min<int64_t>(EvalPrompts(config_.trainer()), static_cast<int64_t>(data.size()));
  const auto [begin, end] = ShardRange(n, comm_->rank(), comm_->world_size());
  config::RolloutConfig rc = config_.rollout();
  rc.set_n_samples(1);
  rc.set_greedy(true);
  rc.set_max_new_tokens(EvalMaxNewTokens(config_));
  M1RL_ASSIGN_OR_RETURN(rollout::EngineOptions eo, MakeEngineOptions(rc));
  M1RL_ASSIGN_OR_RETURN(rollout::SamplingParams sampling, rollout::SamplingParamsFromConfig(rc));
  rollout::HybridDecodeModel decode(model_.get(), rollout::HybridDecodeOptions{head_precision_, 0});
  M1RL_ASSIGN_OR_RETURN(auto engine, rollout::Engine::Create(&decode, eo));
  std::vector<rollout::GenerationRequest> reqs;
  for (int64_t i = begin; i < end; ++i) {
    const PromptRow& row = data.row(static_cast<size_t>(i));
    rollout::GenerationRequest r;
    r.prompt_id = row.id;
    r.group_id = absl::StrCat("eval.", row.id, ".", i);
    r.prompt = row.prompt;
    r.domain = row.domain;
    M1RL_ASSIGN_OR_RETURN(r.prompt_token_ids, EncodePrompt(row.prompt));
    r.n = 1;
    r.max_new_tokens = rc.max_new_tokens();
    r.sampling = sampling;
    reqs.push_back(std::move(r));
  }
  M1RL_ASSIGN_OR_RETURN(std::vector<rollout::RequestOutput> outs, engine->Generate(reqs));
  std::vector<rl::ScoreItem> items;
  for (size_t i = 0; i < outs.size(); ++i) {
    M1RL_RETURN_IF_ERROR(outs[i].status);
    const rl::Completion& c = outs[i].completions[0];
    items.push_back(ScoreItemForRow(data.row(static_cast<size_t>(begin) + i), c, c.text()));
  }
  M1RL_ASSIGN_OR_RETURN(std::vector<rl::ScoreResult> results, reward_->ScoreBatch(std::move(items)));
  EvalResult e;
  for (const rl::ScoreResult& r : results) {
    if (r.status() != rl::OK) {
      ++e.num_unscored;
      continue;
    }
    ++e.num_prompts;
    if (r.verdict() == rl::CORRECT) ++e.num_correct;
  }
  return e;
}

absl::StatusOr<std::string> Trainer::SaveCheckpoint() {
  if (checkpoints_ == nullptr) return absl::FailedPreconditionError("trainer.checkpoint.dir is not set");
  const int rank = comm_->rank();
  return checkpoints_->Save(step_, [&](const std::string& dir) -> absl::Status {
    M1RL_RETURN_IF_ERROR(model::WriteSafetensors(absl::StrCat(dir, "/optim_rank", rank, ".safetensors"),
                                                 optimizer_->StateDict()));
    // The CPU generator and, on a GPU, the device's CUDA generator (neither is drawn from by sampling,
    // which uses counter-based streams, but any LibTorch op that draws resumes where it was).
    model::NamedTensors rng = {{"cpu", at::detail::getDefaultCPUGenerator().get_state()}};
    if (model_->device().is_cuda())
      rng.emplace_back("cuda", at::globalContext().defaultGenerator(model_->device()).get_state());
    M1RL_RETURN_IF_ERROR(model::WriteSafetensors(absl::StrCat(dir, "/rng_rank", rank, ".safetensors"), rng));
    if (rank != 0) return absl::OkStatus();
    M1RL_RETURN_IF_ERROR(SavePolicyWeights(dir, *model_));
    nlohmann::json state = {{"step", step_},
                            {"schedule", schedule_->State()},
                            {"mode", YamlName(config_.trainer().mode())},
                            {"world_size", comm_->world_size()},
                            {"last_eval_accuracy", last_eval_accuracy_}};
    M1RL_RETURN_IF_ERROR(WriteFileAtomic(dir + "/trainer_state.json", state.dump(2)));
    M1RL_RETURN_IF_ERROR(WriteFileAtomic(dir + "/config.yaml", DumpConfigYaml(run_config_)));
    M1RL_RETURN_IF_ERROR(
        WriteFileAtomic(absl::StrCat(dir, "/", kConfigProtoFile), run_config_.SerializeAsString()));
    return absl::OkStatus();
  });
}

absl::Status Trainer::Resume(const std::string& resume) {
  if (resume.empty()) return absl::OkStatus();
  return SyncStatus(*comm_, ResumeLocal(resume), "resuming");
}

absl::Status Trainer::ResumeLocal(const std::string& resume) {
  const std::string root = config_.trainer().checkpoint().dir();
  absl::StatusOr<std::string> dir = ResolveResume(resume, root);
  if (resume == "auto" && absl::IsNotFound(dir.status())) {
    if (comm_->rank() == 0)
      M1RL_LOG(INFO) << "--resume auto: no complete checkpoint under " << root << ", starting fresh";
    return absl::OkStatus();
  }
  M1RL_RETURN_IF_ERROR(dir.status());
  M1RL_ASSIGN_OR_RETURN(const config::RunConfig saved, ReadCheckpointConfig(*dir));
  M1RL_RETURN_IF_ERROR_WITH(CheckResumeCompatible(saved, run_config_, ResumeMutableFields()),
                            "resuming from ", *dir);
  M1RL_ASSIGN_OR_RETURN(std::string state_text, ReadFile(*dir + "/trainer_state.json"));
  nlohmann::json state = nlohmann::json::parse(state_text, nullptr, false);
  if (!state.is_object())
    return absl::DataLossError(absl::StrCat(*dir, "/trainer_state.json: not a JSON object"));
  if (state.value("world_size", 1) != comm_->world_size() && optimizer_->options().zero1) {
    return absl::FailedPreconditionError(absl::StrCat("resuming from ", *dir, ": saved with world size ",
                                                      state.value("world_size", 1), ", this run has ",
                                                      comm_->world_size(), " (ZeRO-1 shards differ)"));
  }
  return Guard(absl::StrCat("resuming from ", *dir), [&]() -> absl::Status {
    M1RL_RETURN_IF_ERROR(LoadPolicyWeights(*dir, *model_));
    const int rank = comm_->rank();
    const int saved_rank = state.value("world_size", 1) == comm_->world_size() ? rank : 0;
    M1RL_ASSIGN_OR_RETURN(model::NamedTensors opt, model::ReadSafetensors(absl::StrCat(
                                                       *dir, "/optim_rank", saved_rank, ".safetensors")));
    M1RL_RETURN_IF_ERROR(optimizer_->LoadStateDict(opt));
    absl::StatusOr<model::NamedTensors> rng =
        model::ReadSafetensors(absl::StrCat(*dir, "/rng_rank", saved_rank, ".safetensors"));
    for (const auto& [name, state] : rng.ok() ? *rng : model::NamedTensors{}) {
      if (name != "cpu" && !(name == "cuda" && model_->device().is_cuda())) continue;
      at::Generator gen = name == "cpu" ? at::detail::getDefaultCPUGenerator()
                                        : at::globalContext().defaultGenerator(model_->device());
      gen.set_state(state);
    }
    step_ = state.value("step", int64_t{0});
    M1RL_RETURN_IF_ERROR(state.contains("schedule")
                             ? schedule_->Restore(state["schedule"])
                             : schedule_->RestoreLegacyCursor(state.value("data_consumed", int64_t{0})));
    M1RL_RETURN_IF_ERROR(EnterScheduledStage());
    last_eval_accuracy_ = state.value("last_eval_accuracy", -1.0);
    if (rank == 0) M1RL_LOG(INFO) << "resumed from " << *dir << " at step " << step_;
    return absl::OkStatus();
  });
}

absl::Status Trainer::WriteMetrics(int64_t step, const std::map<std::string, double>& values) {
  if (metrics_ == nullptr) return absl::OkStatus();
  return metrics_->Write(step, values);
}

absl::Status Trainer::Run() {
  const config::TrainerConfig& tc = config_.trainer();
  const bool leader = comm_->rank() == 0;
  if (tc.eval_at_start() && step_ == 0 && reward_ != nullptr) {
    M1RL_ASSIGN_OR_RETURN(EvalResult e, Evaluate());
    if (leader)
      M1RL_LOG(INFO) << "eval step 0: accuracy " << e.accuracy() << " (" << e.num_correct << "/"
                     << e.num_prompts << ")";
    M1RL_RETURN_IF_ERROR(SyncStatus(*comm_,
                                    WriteMetrics(0, {{"eval/accuracy", e.accuracy()},
                                                     {"eval/unscored", static_cast<double>(e.num_unscored)}}),
                                    "writing metrics"));
  }
  const int64_t first = step_;
  std::unique_ptr<Progress> progress;
  if (leader)
    progress =
        std::make_unique<Progress>(absl::StrCat(YamlName(tc.mode()), " train"), tc.steps() - first, "step");
  int64_t last_saved = -1;
  while (step_ < tc.steps()) {
    M1RL_ASSIGN_OR_RETURN(StepResult r, TrainStep());
    M1RL_RETURN_IF_ERROR(RecordStep(r, progress.get(), first));
    if (checkpoints_ != nullptr && tc.checkpoint().every_steps() > 0 &&
        step_ % tc.checkpoint().every_steps() == 0) {
      M1RL_RETURN_IF_ERROR(SaveCheckpoint().status());
      last_saved = step_;
    }
    M1RL_ASSIGN_OR_RETURN(stopped_by_, AgreedStopSignal());
    if (stopped_by_ != 0) {
      if (progress) progress->Finish();
      return StopEarly(last_saved);
    }
  }
  if (progress) progress->Finish();
  if (checkpoints_ != nullptr && last_saved != step_ && step_ > first)
    M1RL_RETURN_IF_ERROR(SaveCheckpoint().status());
  absl::Status exported = absl::OkStatus();
  if (!tc.export_hf_dir().empty() && leader) {
    exported = Guard("export", [&]() -> absl::Status {
      return ExportHf(*model_, tokenizer_spec_, tc.export_hf_dir(), ExportShardBytes(tc));
    });
    if (exported.ok()) M1RL_LOG(INFO) << "exported the policy to " << tc.export_hf_dir();
  }
  return SyncStatus(*comm_, exported, "exporting");  // also the final barrier
}

// The largest stop request (signal number) any rank has seen; 0 when none or no check is set. Collective.
absl::StatusOr<int> Trainer::AgreedStopSignal() {
  if (!stop_check_) return 0;
  at::Tensor t = at::tensor(std::vector<double>{static_cast<double>(stop_check_())},
                            at::TensorOptions().dtype(at::kDouble));
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(t, ReduceOp::kMax));
  return static_cast<int>(t.item<double>());
}

// Ends Run on a stop request: a checkpoint of the finished steps (unless this step's was just written), no
// export. The caller (m1rl train) says which signal it was and how to continue.
absl::Status Trainer::StopEarly(int64_t last_saved) {
  std::string saved = "not saved (trainer.checkpoint.dir is empty)";
  if (checkpoints_ != nullptr && last_saved == step_) saved = "checkpoint of this step already written";
  if (checkpoints_ != nullptr && last_saved != step_) {
    M1RL_ASSIGN_OR_RETURN(const std::string dir, SaveCheckpoint());
    saved = absl::StrCat("checkpoint ", dir);
  }
  if (comm_->rank() == 0) {
    M1RL_LOG(INFO) << "stop requested (signal " << stopped_by_ << "): stopped after step " << step_ << " of "
                   << config_.trainer().steps() << "; " << saved;
  }
  return absl::OkStatus();
}

// After a step: periodic evaluation (collective), metrics, the log line and the progress display (rank 0).
absl::Status Trainer::RecordStep(StepResult& r, Progress* progress, int64_t first_step) {
  const config::TrainerConfig& tc = config_.trainer();
  if (tc.eval_every() > 0 && step_ % tc.eval_every() == 0 && reward_ != nullptr) {
    M1RL_ASSIGN_OR_RETURN(EvalResult e, Evaluate());
    r.metrics["eval/accuracy"] = e.accuracy();
    r.metrics["eval/unscored"] = static_cast<double>(e.num_unscored);
  }
  absl::Status written = WriteMetrics(step_, r.metrics);
  if (written.ok() && samples_ != nullptr)
    written = LogStepSamples(step_, std::move(r.samples), *samples_, metrics_.get());  // text: TensorBoard
  M1RL_RETURN_IF_ERROR(SyncStatus(*comm_, written, "writing metrics"));
  if (progress == nullptr) return absl::OkStatus();
  std::string line = absl::StrFormat("step %d loss %.5f", step_, r.metrics["train/loss"]);
  if (r.metrics.count("rollout/accuracy"))
    absl::StrAppendFormat(&line, " train_acc %.3f", r.metrics["rollout/accuracy"]);
  if (r.metrics.count("eval/accuracy"))
    absl::StrAppendFormat(&line, " eval_acc %.3f", r.metrics["eval/accuracy"]);
  absl::StrAppendFormat(&line, " %.2fs", r.metrics["time/step_s"]);
  if (tc.log_every() > 0 && step_ % tc.log_every() == 0) M1RL_LOG(INFO) << line;
  progress->Update(step_ - first_step, line);
  return absl::OkStatus();
}

}  // namespace m1rl::trainer
