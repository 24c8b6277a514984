#include "trainer/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <ATen/ops/ones.h>
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
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "algorithms/advantages.h"
#include "algorithms/algorithm_config.h"
#include "algorithms/dynamic_sampling.h"
#include "algorithms/loss_agg.h"
#include "algorithms/metrics.h"
#include "algorithms/overlong.h"
#include "algorithms/policy_loss.h"
#include "algorithms/repetition.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/progress.h"
#include "model/chat_template.h"
#include "rollout/engine.h"
#include "rollout/hybrid_decode_model.h"
#include "trainer/internal/status.h"
#include "trainer/internal/tensor_file.h"

namespace m1rl::trainer {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
uint64_t Mix(uint64_t a, uint64_t b) { return SplitMix(a ^ SplitMix(b)); }
uint64_t Mix(uint64_t a, uint64_t b, uint64_t c) { return Mix(Mix(a, b), c); }
uint64_t Mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d) { return Mix(Mix(a, b, c), d); }

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
  static const std::vector<std::string>* fields = new std::vector<std::string>{"trainer.steps",
                                                                               "trainer.checkpoint",
                                                                               "trainer.metrics_dir",
                                                                               "trainer.log_every",
                                                                               "trainer.eval_every",
                                                                               "trainer.eval_prompts",
                                                                               "trainer.tensorboard",
                                                                               "trainer.export_hf_dir",
                                                                               "trainer.eval_at_start",
                                                                               "trainer.dist_timeout_s",
                                                                               "trainer.eval_max_new_tokens",
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

// One completion kept for the update.
struct Trainer::Sample {
  int64_t group = 0;                    // local group index
  std::vector<int32_t> prompt;          // prompt token ids
  std::vector<int32_t> completion;      // generated token ids
  std::vector<float> rollout_logprobs;  // [completion] behaviour log-probs
  std::vector<uint8_t> loss_mask;       // [completion] v
  double advantage = 0;
  at::Tensor old_logprobs;  // [completion] fp32, l_old
  at::Tensor ref_logprobs;  // [completion] fp32, l_ref (only when the KL term needs it)
};

Trainer::Trainer(const config::RunConfig& config, Communicator* comm) : config_(config), comm_(comm) {}
Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const config::RunConfig& config, Communicator* comm,
                                                         std::unique_ptr<reward::RewardClient> reward) {
  std::unique_ptr<Trainer> t(new Trainer(config, comm));
  M1RL_RETURN_IF_ERROR(t->Init(std::move(reward)));
  return t;
}

absl::Status Trainer::Init(std::unique_ptr<reward::RewardClient> reward) {
  const config::TrainerConfig& tc = config_.trainer();
  if (tc.mode() != "rl" && tc.mode() != "sft") {
    return absl::InvalidArgumentError(absl::StrCat("trainer.mode must be rl or sft, got '", tc.mode(), "'"));
  }
  if (tc.steps() < 0)
    return absl::InvalidArgumentError(absl::StrCat("trainer.steps must be >= 0, got ", tc.steps()));
  if (tc.mode() == "rl") {
    if (tc.prompts_per_step() < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("trainer.prompts_per_step must be >= 1, got ", tc.prompts_per_step()));
    }
    if (config_.rollout().n_samples() < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rollout.n_samples must be >= 2 for group advantages, got ", config_.rollout().n_samples()));
    }
    M1RL_RETURN_IF_ERROR(algorithms::ResolveAlgorithmConfig(config_.algorithm()).status());
  } else if (tc.sft_batch_size() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.sft_batch_size must be >= 1, got ", tc.sft_batch_size()));
  }
  if (!tc.prompt_template().empty() && tc.prompt_template() != "chat" && tc.prompt_template() != "raw") {
    return absl::InvalidArgumentError(
        absl::StrCat("trainer.prompt_template must be chat or raw, got '", tc.prompt_template(), "'"));
  }
  rollout_temperature_ = config_.rollout().temperature() > 0 ? config_.rollout().temperature() : 1.0;

  // The trainer keeps FP32 weights, gradients and Adam moments (ALGORITHMS.md §7): model.dtype bfloat16 is
  // bf16 compute over FP32 master weights (model::ModelPrecision). The head precision is the one the
  // rollout uses too, so both sides compute the same token probabilities (M1 §3.2).
  const std::string& dtype = config_.model().dtype();
  if (!dtype.empty() && dtype != "float32" && dtype != "bfloat16") {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.dtype: the trainer keeps FP32 master weights, computing in float32 or bfloat16; got '", dtype,
        "'"));
  }
  const model::ModelPrecision precision =
      model::ModelPrecision::ForTraining(dtype == "bfloat16" ? at::kBFloat16 : at::kFloat);
  if (!config_.model().lm_head_precision().empty()) {
    absl::StatusOr<model::HeadPrecision> hp = model::ParseHeadPrecision(config_.model().lm_head_precision());
    if (!hp.ok()) return absl::InvalidArgumentError(absl::StrCat("model.", hp.status().message()));
    head_precision_ = *hp;
  }
  if (config_.model().head_chunk_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.head_chunk_size must be >= 0, got ", config_.model().head_chunk_size()));
  }

  const std::string tok_spec = config_.model().tokenizer().empty() ? "char" : config_.model().tokenizer();
  M1RL_ASSIGN_OR_RETURN(tokenizer_, model::LoadTokenizer(tok_spec));

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
  // The initial policy: model.init_from, else a seeded random init (identical on every rank).
  auto initial_policy = [&]() -> absl::StatusOr<std::unique_ptr<model::HybridModel>> {
    if (!config_.model().init_from().empty()) {
      return model::HybridModel::LoadHf(config_.model().init_from(), precision, device);
    }
    M1RL_ASSIGN_OR_RETURN(model::ModelConfig mc, model::ModelConfig::FromProto(config_.model()));
    const uint64_t seed = config_.model().seed() != 0 ? config_.model().seed() : tc.seed();
    return model::HybridModel::Create(mc, precision, device, seed);
  };
  M1RL_ASSIGN_OR_RETURN(model_, initial_policy());
  if (tc.mode() == "rl") {
    M1RL_ASSIGN_OR_RETURN(algorithms::ResolvedAlgorithm alg,
                          algorithms::ResolveAlgorithmConfig(config_.algorithm()));
    if (alg.needs_reference_model()) {
      // The KL term's reference is the initial policy, frozen (also after a resume: the checkpoint
      // holds the trained policy, the reference is rebuilt from the same source).
      M1RL_ASSIGN_OR_RETURN(ref_model_, initial_policy());
      for (auto& [name, p] : ref_model_->NamedParameters()) p.requires_grad_(false);
    }
  }
  if (tokenizer_->vocab_size() > model_->config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("model.vocab_size ", model_->config().vocab_size,
                                                   " is smaller than the tokenizer's ",
                                                   tokenizer_->vocab_size()));
  }

  const int64_t total_steps =
      std::max<int64_t>(1, tc.steps()) * (tc.mode() == "rl" ? std::max(1, tc.minibatches_per_step()) : 1);
  M1RL_ASSIGN_OR_RETURN(AdamWOptions opts, AdamWOptions::FromProto(tc.optim(), total_steps));
  M1RL_ASSIGN_OR_RETURN(optimizer_, ShardedAdamW::Create(model_->NamedParameters(), opts, comm_));

  if (reward != nullptr) {
    reward_ = std::move(reward);
  } else if (tc.mode() == "rl" || tc.eval_every() > 0 || tc.eval_at_start()) {
    M1RL_ASSIGN_OR_RETURN(reward_, reward::RewardClient::Create(config_.reward()));
  }

  if (config_.data().train_path().empty()) return absl::InvalidArgumentError("data.train_path is required");
  M1RL_ASSIGN_OR_RETURN(PromptDataset train, PromptDataset::Load(config_.data().train_path()));
  train_data_ = std::move(train);
  if (!config_.data().eval_path().empty()) {
    M1RL_ASSIGN_OR_RETURN(PromptDataset eval, PromptDataset::Load(config_.data().eval_path()));
    eval_data_ = std::move(eval);
  }
  const uint64_t data_seed = config_.data().seed() != 0 ? config_.data().seed() : tc.seed();
  sampler_ = std::make_unique<PromptSampler>(static_cast<int64_t>(train_data_->size()), data_seed,
                                             config_.data().shuffle());

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

std::vector<int32_t> Trainer::EncodePrompt(const std::string& prompt) const {
  const bool raw = config_.trainer().prompt_template() == "raw";
  std::vector<int32_t> ids;
  if (tokenizer_->bos_id() >= 0) ids.push_back(tokenizer_->bos_id());
  std::vector<int32_t> body = tokenizer_->Encode(raw ? prompt : model::FormatPrompt(prompt));
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

namespace {

// Packs (prompt + completion) sequences into one training forward: inputs are seq[:-1], targets
// seq[1:]; completion token k of a sequence sits at target position P - 1 + k.
struct Packed {
  at::Tensor input_ids;                   // [T] int64
  at::Tensor targets;                     // [T] int64
  std::vector<int64_t> cu_seqlens;        // [S+1]
  std::vector<int64_t> completion_begin;  // per sequence: index in [T] of its first completion target
};

Packed Pack(const std::vector<const std::vector<int32_t>*>& prompts,
            const std::vector<const std::vector<int32_t>*>& completions) {
  std::vector<int64_t> in, tg;
  Packed p;
  p.cu_seqlens.push_back(0);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> full(prompts[i]->begin(), prompts[i]->end());
    full.insert(full.end(), completions[i]->begin(), completions[i]->end());
    p.completion_begin.push_back(static_cast<int64_t>(in.size()) + static_cast<int64_t>(prompts[i]->size()) -
                                 1);
    in.insert(in.end(), full.begin(), full.end() - 1);
    tg.insert(tg.end(), full.begin() + 1, full.end());
    p.cu_seqlens.push_back(static_cast<int64_t>(in.size()));
  }
  p.input_ids = LongTensor(in);
  p.targets = LongTensor(tg);
  return p;
}

std::string StripSpecials(const model::Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<int32_t> kept;
  for (int32_t id : ids) {
    if (id != tok.eos_id() && id != tok.bos_id() && id != tok.pad_id()) kept.push_back(id);
  }
  return tok.Decode(kept);
}

rl::ScoreItem MakeScoreItem(const PromptRow& row, const rl::Completion& c, const std::string& response) {
  rl::ScoreItem item;
  item.set_item_id(absl::StrCat(c.group_id(), "/", c.sample_index()));
  item.set_domain(row.domain);
  item.set_prompt(row.prompt);
  item.set_response(response);
  item.set_group_id(c.group_id());
  item.set_response_tokens(c.token_ids_size());
  if (row.domain == "math") {
    item.mutable_math()->set_gold(row.answer);
  } else if (row.domain == "logic") {
    item.mutable_logic()->set_family(row.raw.value("family", std::string()));
    item.mutable_logic()->set_instance_json(row.answer);
  } else {
    item.set_gold(row.answer);
  }
  return item;
}

}  // namespace

absl::StatusOr<StepResult> Trainer::TrainStep() {
  const std::string where = absl::StrCat("step ", step_ + 1, " on rank ", comm_->rank());
  absl::StatusOr<StepResult> r = Guard(where, [&]() -> absl::StatusOr<StepResult> {
    return config_.trainer().mode() == "rl" ? RlStep() : SftStep();
  });
  if (!r.ok()) return internal::Annotate(r.status(), where);
  return r;
}

absl::StatusOr<StepResult> Trainer::RlStep() {
  const config::TrainerConfig& tc = config_.trainer();
  const config::RolloutConfig& rc = config_.rollout();
  M1RL_ASSIGN_OR_RETURN(algorithms::ResolvedAlgorithm alg,
                        algorithms::ResolveAlgorithmConfig(config_.algorithm()));
  const int world = comm_->world_size(), rank = comm_->rank();
  const int64_t step_index = step_;  // 0-based index of this step
  const uint64_t seed = static_cast<uint64_t>(tc.seed());
  const int G = rc.n_samples();
  const int64_t B = tc.prompts_per_step();
  const auto [shard_begin, shard_end] = ShardRange(B, rank, world);
  const int64_t local_target = shard_end - shard_begin;
  std::map<std::string, double> m;
  const Clock::time_point t_step = Clock::now();
  double gen_s = 0, score_wait_s = 0;
  int64_t gen_tokens = 0;

  // ---- generation rounds with scoring, filtering and advantages ----
  rollout::HybridDecodeModel decode(model_.get(), rollout::HybridDecodeOptions{head_precision_, 0});
  rollout::EngineOptions eo;
  eo.max_batch_size = rc.max_batch_size() > 0 ? rc.max_batch_size() : 64;
  eo.memory_budget_bytes = rc.memory_budget_bytes();
  eo.prefill_chunk = rc.prefill_chunk() > 0 ? rc.prefill_chunk() : 2048;
  eo.eos_token_ids = {tokenizer_->eos_id()};
  eo.stop_strings.assign(rc.stop_strings().begin(), rc.stop_strings().end());
  if (alg.repetition) {
    eo.repetition_run_length = alg.repetition_run_length;
    eo.repetition_threshold = alg.repetition_threshold;
  }
  const model::Tokenizer* tok = tokenizer_.get();
  eo.detokenize = [tok](const std::vector<int32_t>& ids) { return StripSpecials(*tok, ids); };
  eo.policy_version = step_index;
  M1RL_ASSIGN_OR_RETURN(auto engine, rollout::Engine::Create(&decode, eo));

  std::optional<algorithms::DynamicSampler> dyn;
  if (alg.dynamic_sampling)
    dyn.emplace(std::max<int64_t>(1, local_target), alg.max_gen_rounds, alg.on_exhausted);
  std::vector<Sample> samples;
  int64_t num_groups = 0;
  std::vector<uint64_t> group_keys;  // per kept group: its global minibatch-order key (>= 0 as int64)
  int64_t unscored = 0, total_completions = 0, repetition_dropped = 0, groups_dropped = 0,
          zero_var_groups = 0;
  int64_t correct_count = 0, scored_count = 0, masked_tokens = 0;
  double reward_sum = 0, length_sum = 0, length_max = 0, abs_adv_sum = 0;
  std::map<std::string, std::pair<double, int64_t>> domain_reward;
  int64_t stop_counts[rl::StopReason_ARRAYSIZE] = {};
  std::string last_score_error;
  absl::Status local_error = absl::OkStatus();
  int64_t round = 0;
  while (true) {
    const bool need_local = local_error.ok() && (dyn ? dyn->NeedsMoreGroups() : round == 0);
    at::Tensor flag = at::scalar_tensor(need_local ? 1 : 0, at::kLong).reshape({1});
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(flag, ReduceOp::kMax));
    if (flag.item<int64_t>() == 0) break;
    // All ranks draw the same global batch, so the cursor stays identical; a rank that has enough
    // groups discards its share (counted as dynamic-sampling extras).
    std::vector<int64_t> batch = sampler_->NextBatch(B);
    ++round;
    if (!need_local) continue;
    if (dyn) {
      if (absl::Status s = dyn->BeginRound(); !s.ok()) {
        local_error = s;
        continue;
      }
    }
    std::vector<rollout::GenerationRequest> requests;
    std::vector<const PromptRow*> rows;
    for (int64_t i = shard_begin; i < shard_end; ++i) {
      const PromptRow& row = train_data_->row(static_cast<size_t>(batch[static_cast<size_t>(i)]));
      rollout::GenerationRequest req;
      req.prompt_id = row.id;
      req.group_id = absl::StrCat(row.id, "@", step_index, ".", round, ".", i);
      req.prompt = row.prompt;
      req.domain = row.domain;
      req.prompt_token_ids = EncodePrompt(row.prompt);
      req.n = G;
      req.seed = Mix(seed, static_cast<uint64_t>(step_index), static_cast<uint64_t>(round),
                     static_cast<uint64_t>(i));
      req.max_new_tokens = rc.max_new_tokens() > 0 ? rc.max_new_tokens() : 256;
      req.sampling.temperature = rollout_temperature_;
      req.sampling.top_p = rc.top_p() > 0 ? rc.top_p() : 1.0;
      req.sampling.top_k = rc.top_k();
      requests.push_back(std::move(req));
      rows.push_back(&row);
    }
    // Streamed scoring: each finished completion goes to the reward client at once.
    std::mutex mu;
    std::map<std::pair<size_t, int>, rl::ScoreResult> results;
    std::map<std::string, size_t> request_of;
    for (size_t i = 0; i < requests.size(); ++i) request_of[requests[i].group_id] = i;
    const bool repetition_scored =
        !alg.repetition || algorithms::RepetitionPolicyCallsVerifier(alg.repetition_policy);
    auto on_done = [&](const rl::Completion& c) {
      if (c.stop_reason() == rl::STOP_REPETITION && !repetition_scored)
        return;  // policy decides, no verifier call
      const size_t ri = request_of.at(c.group_id());
      const int j = c.sample_index();
      reward_->ScoreAsync(MakeScoreItem(*rows[ri], c, c.text()),
                          [&mu, &results, ri, j](const rl::ScoreResult& r) {
                            std::lock_guard<std::mutex> lock(mu);
                            results[{ri, j}] = r;
                          });
    };
    const Clock::time_point t_gen = Clock::now();
    absl::StatusOr<std::vector<rollout::RequestOutput>> outs = engine->Generate(requests, on_done);
    gen_s += Seconds(t_gen);
    const Clock::time_point t_wait = Clock::now();
    reward_->Drain();
    score_wait_s += Seconds(t_wait);
    if (!outs.ok()) return outs.status();
    gen_tokens += engine->last_stats().generated_tokens;
    for (size_t ri = 0; ri < outs->size(); ++ri) {
      const rollout::RequestOutput& out = (*outs)[ri];
      M1RL_RETURN_IF_ERROR_WITH(out.status, "generation request ", requests[ri].group_id);
      std::vector<std::optional<double>> rewards(static_cast<size_t>(G));
      std::vector<std::optional<bool>> verdicts(static_cast<size_t>(G));
      std::vector<std::vector<uint8_t>> masks(static_cast<size_t>(G));
      std::vector<bool> dropped(static_cast<size_t>(G), false);
      for (int j = 0; j < G; ++j) {
        const rl::Completion& c = out.completions[static_cast<size_t>(j)];
        ++total_completions;
        ++stop_counts[c.stop_reason()];
        const double len = c.token_ids_size();
        length_sum += len;
        length_max = std::max(length_max, len);
        std::vector<uint8_t> mask(static_cast<size_t>(c.token_ids_size()), 1);
        std::optional<double> reward;
        std::optional<bool> correct;
        auto it = results.find({ri, j});
        if (it != results.end()) {
          if (it->second.status() == rl::OK) {
            reward = it->second.total();
            correct = it->second.verdict() == rl::CORRECT;
          } else {
            last_score_error =
                absl::StrCat(rl::ItemStatus_Name(it->second.status()), ": ", it->second.details());
          }
        }
        if (c.stop_reason() == rl::STOP_REPETITION && alg.repetition) {
          algorithms::RepetitionOutcome o = algorithms::ApplyRepetitionPolicy(
              alg.repetition_policy, alg.repetition_failure_reward, alg.repetition_run_length, mask,
              repetition_scored ? reward : std::nullopt, repetition_scored ? correct : std::nullopt);
          if (o.drop) {
            dropped[static_cast<size_t>(j)] = true;
            ++repetition_dropped;
            continue;
          }
          reward = o.reward;
          correct = o.correct;
          mask = o.loss_mask;
          masked_tokens += o.num_masked;
        } else if (it == results.end() || it->second.status() != rl::OK) {
          ++unscored;  // excluded, counted; never scored as 0
          continue;
        }
        if (!reward.has_value()) {
          ++unscored;
          continue;
        }
        ++scored_count;
        if (correct.value_or(false)) ++correct_count;
        reward_sum += *reward;
        domain_reward[rows[ri]->domain].first += *reward;
        domain_reward[rows[ri]->domain].second += 1;
        if (alg.overlong)
          *reward += algorithms::SoftOverlongPenalty(c.token_ids_size(), alg.overlong_max_len,
                                                     alg.overlong_cache_len);
        rewards[static_cast<size_t>(j)] = reward;
        verdicts[static_cast<size_t>(j)] = correct;
        masks[static_cast<size_t>(j)] = std::move(mask);
      }
      if (dyn && !dyn->OfferGroup(static_cast<int64_t>(ri), verdicts)) continue;
      M1RL_ASSIGN_OR_RETURN(algorithms::GroupAdvantages adv,
                            algorithms::ComputeGroupAdvantages(alg.advantage, rewards));
      if (adv.dropped) {
        ++groups_dropped;
        continue;
      }
      if (adv.zero_variance) ++zero_var_groups;
      const int64_t gidx = num_groups++;
      group_keys.push_back(Mix(seed ^ 0x6d696e69ULL, static_cast<uint64_t>(step_index),
                               static_cast<uint64_t>(round), static_cast<uint64_t>(shard_begin) + ri) >>
                           1);
      for (int j = 0; j < G; ++j) {
        if (dropped[static_cast<size_t>(j)] || !adv.advantages[static_cast<size_t>(j)].has_value()) continue;
        const rl::Completion& c = out.completions[static_cast<size_t>(j)];
        Sample s;
        s.group = gidx;
        s.prompt.assign(c.prompt_token_ids().begin(), c.prompt_token_ids().end());
        s.completion.assign(c.token_ids().begin(), c.token_ids().end());
        s.rollout_logprobs.assign(c.logprobs().begin(), c.logprobs().end());
        s.loss_mask = masks[static_cast<size_t>(j)];
        s.advantage = *adv.advantages[static_cast<size_t>(j)];
        abs_adv_sum += std::abs(s.advantage);
        if (s.completion.empty()) continue;
        samples.push_back(std::move(s));
      }
    }
  }
  // Dynamic-sampling exhaustion (kError) and other local failures end the step on every rank.
  at::Tensor err = at::scalar_tensor(local_error.ok() ? 0 : 1, at::kLong).reshape({1});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(err, ReduceOp::kMax));
  if (!local_error.ok()) return local_error;
  if (err.item<int64_t>() != 0)
    return absl::AbortedError("another rank failed this step's generation rounds");
  if (dyn) {
    M1RL_ASSIGN_OR_RETURN(algorithms::DynamicSamplingResult dr, dyn->Finish());
    m["dynamic_sampling/rounds"] = static_cast<double>(dr.rounds);
    m["dynamic_sampling/filtered"] = static_cast<double>(dr.num_filtered);
    m["dynamic_sampling/discarded_extra"] = static_cast<double>(dr.num_discarded_extra);
    m["dynamic_sampling/partial"] = dr.partial ? 1.0 : 0.0;
  }

  // ---- global rollout statistics ----
  {
    std::vector<double> sums = {static_cast<double>(total_completions),
                                static_cast<double>(unscored),
                                static_cast<double>(scored_count),
                                static_cast<double>(correct_count),
                                reward_sum,
                                length_sum,
                                static_cast<double>(repetition_dropped),
                                static_cast<double>(groups_dropped),
                                static_cast<double>(zero_var_groups),
                                static_cast<double>(num_groups),
                                static_cast<double>(gen_tokens),
                                abs_adv_sum,
                                static_cast<double>(samples.size()),
                                static_cast<double>(masked_tokens)};
    for (int k = 0; k < rl::StopReason_ARRAYSIZE; ++k) sums.push_back(static_cast<double>(stop_counts[k]));
    at::Tensor t = at::tensor(sums, at::TensorOptions().dtype(at::kDouble));
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(t, ReduceOp::kSum));
    at::Tensor mx = at::tensor(std::vector<double>{length_max}, at::TensorOptions().dtype(at::kDouble));
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(mx, ReduceOp::kMax));
    auto v = [&](int i) { return t[i].item<double>(); };
    const double total = v(0), uns = v(1), scored = v(2);
    m["rollout/completions"] = total;
    m["rollout/unscored"] = uns;
    m["rollout/accuracy"] = scored > 0 ? v(3) / scored : 0;
    m["rollout/reward_mean"] = scored > 0 ? v(4) / scored : 0;
    m["rollout/response_length_mean"] = total > 0 ? v(5) / total : 0;
    m["rollout/response_length_max"] = mx[0].item<double>();
    m["rollout/repetition_dropped"] = v(6);
    m["rollout/groups_dropped"] = v(7);
    m["rollout/zero_variance_group_share"] = v(9) > 0 ? v(8) / v(9) : 0;
    m["rollout/groups_kept"] = v(9);
    m["rollout/gen_tokens"] = v(10);
    m["rollout/abs_advantage_mean"] = v(12) > 0 ? v(11) / v(12) : 0;
    m["rollout/masked_tokens_repetition"] = v(13);
    for (int k = 1; k < rl::StopReason_ARRAYSIZE; ++k) {
      m[absl::StrCat("rollout/stop_",
                     absl::AsciiStrToLower(rl::StopReason_Name(static_cast<rl::StopReason>(k))))] = v(14 + k);
    }
    const double limit = tc.max_unscored_fraction() > 0 ? tc.max_unscored_fraction() : 0.5;
    if (total > 0 && uns / total > limit) {
      return absl::UnavailableError(absl::StrCat(
          "reward service: ", static_cast<int64_t>(uns), " of ", static_cast<int64_t>(total),
          " completions unscored (limit ", limit, " = trainer.max_unscored_fraction; reward.address ",
          config_.reward().address(), "); last error: ", last_score_error));
    }
  }
  for (const auto& [domain, rs] : domain_reward) {
    // Per-domain means are local (domains may differ per rank); rank 0's view is logged.
    m[absl::StrCat("reward/", domain, "_mean")] = rs.second > 0 ? rs.first / rs.second : 0;
  }

  // ---- minibatches of whole groups: a seeded global order over every rank's groups ----
  // Each kept group has a key derived from (seed, step, round, global prompt index); the keys of all
  // ranks are gathered and sorted, and position p of N goes to minibatch p * M / N. The split is thus
  // a function of the global batch only, identical for any number of ranks.
  at::Tensor max_groups = at::scalar_tensor(num_groups, at::kLong).reshape({1});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(max_groups, ReduceOp::kMax));
  const int64_t kmax = std::max<int64_t>(1, max_groups.item<int64_t>());
  constexpr int64_t kNoKey = std::numeric_limits<int64_t>::min();
  at::Tensor keys = at::full({kmax}, kNoKey, at::kLong);
  for (int64_t g = 0; g < num_groups; ++g) keys[g] = static_cast<int64_t>(group_keys[static_cast<size_t>(g)]);
  at::Tensor all_keys = at::zeros({kmax * world}, at::kLong);
  M1RL_RETURN_IF_ERROR(comm_->AllGather(keys, all_keys));
  std::vector<int64_t> sorted_keys;
  const int64_t* kp = all_keys.data_ptr<int64_t>();
  for (int64_t i = 0; i < kmax * world; ++i) {
    if (kp[i] != kNoKey) sorted_keys.push_back(kp[i]);
  }
  std::sort(sorted_keys.begin(), sorted_keys.end());
  const int64_t n_global = static_cast<int64_t>(sorted_keys.size());
  const int64_t M = std::max<int64_t>(1, std::min<int64_t>(std::max(1, tc.minibatches_per_step()), n_global));
  std::vector<int64_t> group_to_mb(static_cast<size_t>(num_groups));
  for (int64_t g = 0; g < num_groups; ++g) {
    const int64_t key = static_cast<int64_t>(group_keys[static_cast<size_t>(g)]);
    const int64_t pos = std::lower_bound(sorted_keys.begin(), sorted_keys.end(), key) - sorted_keys.begin();
    group_to_mb[static_cast<size_t>(g)] = pos * M / std::max<int64_t>(1, n_global);
  }
  std::vector<std::vector<Sample*>> minibatches(static_cast<size_t>(M));
  for (Sample& s : samples)
    minibatches[static_cast<size_t>(group_to_mb[static_cast<size_t>(s.group)])].push_back(&s);

  // Micro-batches by token budget (whole sequences).
  auto split_micro = [&](const std::vector<Sample*>& mb) {
    std::vector<std::vector<Sample*>> out;
    int64_t tokens = 0;
    for (Sample* s : mb) {
      const int64_t len = static_cast<int64_t>(s->prompt.size() + s->completion.size()) - 1;
      if (out.empty() ||
          (tc.micro_batch_tokens() > 0 && tokens + len > tc.micro_batch_tokens() && tokens > 0)) {
        out.emplace_back();
        tokens = 0;
      }
      out.back().push_back(s);
      tokens += len;
    }
    return out;
  };
  model::ForwardOptions fwd = HeadForwardOptions();
  fwd.temperature = rollout_temperature_;

  // ---- old log-probs: recomputed with theta_old in the update's packing, or the rollout's; ----
  // ---- reference log-probs from the frozen initial policy when the KL term needs them      ----
  const Clock::time_point t_update = Clock::now();
  const bool recompute_old = alg.ratio_denominator != algorithms::RatioDenominator::kRollout;
  for (const auto& mb : minibatches) {
    for (const auto& micro : split_micro(mb)) {
      if (!recompute_old) {
        for (Sample* s : micro) s->old_logprobs = at::tensor(s->rollout_logprobs);
      }
      if (!recompute_old && ref_model_ == nullptr) continue;
      std::vector<const std::vector<int32_t>*> ps, cs;
      for (Sample* s : micro) {
        ps.push_back(&s->prompt);
        cs.push_back(&s->completion);
      }
      Packed p = Pack(ps, cs);
      at::NoGradGuard no_grad;
      auto completion_logprobs = [&](const model::HybridModel& m, at::Tensor Sample::*field) {
        at::Tensor lp = m.Forward(p.input_ids, p.targets, p.cu_seqlens, fwd).logprobs.to(at::kCPU);
        for (size_t i = 0; i < micro.size(); ++i) {
          micro[i]->*field =
              lp.narrow(0, p.completion_begin[i], static_cast<int64_t>(micro[i]->completion.size())).clone();
        }
      };
      if (recompute_old) completion_logprobs(*model_, &Sample::old_logprobs);
      if (ref_model_ != nullptr) completion_logprobs(*ref_model_, &Sample::ref_logprobs);
    }
  }

  // ---- updates: one optimizer step per minibatch ----
  StepResult result;
  algorithms::PolicyStats stats;
  double grad_norm_sum = 0, clipped = 0, train_tokens = 0, lr = 0;
  for (size_t mbi = 0; mbi < minibatches.size(); ++mbi) {
    const std::vector<Sample*>& mb = minibatches[mbi];
    // Dense global ids: this rank's sequences and groups follow those of lower ranks.
    std::map<int64_t, int64_t> local_group_id;
    for (Sample* s : mb) local_group_id.emplace(s->group, static_cast<int64_t>(local_group_id.size()));
    at::Tensor mine =
        LongTensor({static_cast<int64_t>(mb.size()), static_cast<int64_t>(local_group_id.size())});
    at::Tensor all = at::zeros({2 * world}, at::kLong);
    M1RL_RETURN_IF_ERROR(comm_->AllGather(mine, all));
    int64_t seq_off = 0, grp_off = 0, S = 0, Gn = 0;
    for (int r = 0; r < world; ++r) {
      if (r < rank) {
        seq_off += all[2 * r].item<int64_t>();
        grp_off += all[2 * r + 1].item<int64_t>();
      }
      S += all[2 * r].item<int64_t>();
      Gn += all[2 * r + 1].item<int64_t>();
    }
    struct Micro {
      Packed packed;
      at::Tensor mask, seq_ids, group_ids, adv, old_lp, ref_lp;  // [T] (ref_lp only with a KL term)
    };
    std::vector<Micro> micros;
    int64_t seq_counter = 0;
    algorithms::TokenCounts counts{at::zeros({S}, at::kLong), at::zeros({Gn}, at::kLong)};
    for (const auto& micro : split_micro(mb)) {
      std::vector<const std::vector<int32_t>*> ps, cs;
      for (Sample* s : micro) {
        ps.push_back(&s->prompt);
        cs.push_back(&s->completion);
      }
      Micro mc;
      mc.packed = Pack(ps, cs);
      const int64_t T = mc.packed.input_ids.size(0);
      std::vector<uint8_t> mask(static_cast<size_t>(T), 0);
      std::vector<int64_t> sid(static_cast<size_t>(T), 0), gid(static_cast<size_t>(T), 0);
      std::vector<float> adv(static_cast<size_t>(T), 0.0f), old(static_cast<size_t>(T), 0.0f),
          ref(ref_model_ != nullptr ? static_cast<size_t>(T) : 0, 0.0f);
      for (size_t i = 0; i < micro.size(); ++i) {
        const Sample& s = *micro[i];
        const int64_t begin = mc.packed.cu_seqlens[i], end = mc.packed.cu_seqlens[i + 1];
        for (int64_t t = begin; t < end; ++t) {
          sid[static_cast<size_t>(t)] = S > 0 ? seq_off + seq_counter : 0;
          gid[static_cast<size_t>(t)] = grp_off + local_group_id.at(s.group);
        }
        const float* old_ptr = s.old_logprobs.data_ptr<float>();
        for (size_t k = 0; k < s.completion.size(); ++k) {
          const size_t t = static_cast<size_t>(mc.packed.completion_begin[i]) + k;
          mask[t] = s.loss_mask[k];
          adv[t] = static_cast<float>(s.advantage);
          old[t] = old_ptr[k];
          if (!ref.empty()) ref[t] = s.ref_logprobs.data_ptr<float>()[k];
        }
        ++seq_counter;
      }
      mc.mask = at::tensor(std::vector<int64_t>(mask.begin(), mask.end()), at::kLong).to(at::kBool);
      mc.seq_ids = LongTensor(sid);
      mc.group_ids = LongTensor(gid);
      mc.adv = at::tensor(adv);
      mc.old_lp = at::tensor(old);
      if (!ref.empty()) mc.ref_lp = at::tensor(ref);
      counts.Add(algorithms::CountLossTokens(mc.mask, mc.seq_ids, mc.group_ids, S, Gn));
      micros.push_back(std::move(mc));
    }
    int64_t local_positions = 0;
    for (const Micro& mc : micros) local_positions += mc.packed.input_ids.size(0);
    // One integer all-reduce: the loss-token counts plus the number of positions (aux-loss weight).
    at::Tensor packed_counts = at::cat({counts.Pack(), LongTensor({local_positions})});
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(packed_counts, ReduceOp::kSum));
    const double global_positions = static_cast<double>(packed_counts[S + Gn].item<int64_t>());
    const algorithms::TokenCounts global =
        algorithms::TokenCounts::Unpack(packed_counts.narrow(0, 0, S + Gn), S);
    const double global_tokens = static_cast<double>(global.num_tokens());
    train_tokens += global_tokens;
    double loss_sum = 0;
    optimizer_->ZeroGrad();
    for (Micro& mc : micros) {
      model::ForwardOutput out =
          model_->Forward(mc.packed.input_ids, mc.packed.targets, mc.packed.cu_seqlens, fwd);
      algorithms::PolicyLossInputs in;
      in.logprobs = out.logprobs;
      in.old_logprobs = mc.old_lp;
      in.advantages = mc.adv;
      in.mask = mc.mask;
      in.ref_logprobs = mc.ref_lp;  // undefined without a KL term
      in.coef = algorithms::LossCoefficients(alg.loss_agg, mc.mask, mc.seq_ids, mc.group_ids, global,
                                             alg.generation_budget, at::kFloat);
      algorithms::PolicyLossResult pl = algorithms::ComputePolicyLoss(alg.policy_loss, in);
      stats.Accumulate(pl.stats);
      at::Tensor total = pl.loss;
      if (out.aux_loss.defined() && global_tokens > 0) {
        // Router aux loss as a position-weighted mean over the micro-batches of all ranks.
        total = total.add(out.aux_loss.mul(static_cast<double>(mc.packed.input_ids.size(0)) /
                                           std::max(1.0, global_positions)));
      }
      total.backward();
      loss_sum += pl.loss.item<double>();
    }
    at::Tensor loss_t = at::tensor(std::vector<double>{loss_sum}, at::TensorOptions().dtype(at::kDouble));
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(loss_t, ReduceOp::kSum));
    result.losses.push_back(loss_t[0].item<double>());
    M1RL_ASSIGN_OR_RETURN(OptimizerStepStats os, optimizer_->Step());
    grad_norm_sum += os.grad_norm;
    clipped += os.clipped ? 1 : 0;
    lr = os.lr;
  }
  const double update_s = Seconds(t_update);

  // ---- policy metrics, global ----
  {
    std::array<double, algorithms::PolicyStats::kNumSums> sums = stats.Sums();
    at::Tensor t =
        at::tensor(std::vector<double>(sums.begin(), sums.end()), at::TensorOptions().dtype(at::kDouble));
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(t, ReduceOp::kSum));
    for (size_t i = 0; i < sums.size(); ++i) sums[i] = t[static_cast<int64_t>(i)].item<double>();
    stats.SetSums(sums);
    at::Tensor mn = at::tensor(std::vector<double>{stats.ratio_min}, at::TensorOptions().dtype(at::kDouble));
    at::Tensor mx = at::tensor(std::vector<double>{stats.ratio_max}, at::TensorOptions().dtype(at::kDouble));
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(mn, ReduceOp::kMin));
    M1RL_RETURN_IF_ERROR(comm_->AllReduce(mx, ReduceOp::kMax));
    stats.ratio_min = mn[0].item<double>();
    stats.ratio_max = mx[0].item<double>();
    for (const auto& [k, v] : stats.Finalize().ToMap()) m[k] = v;
  }
  double loss_mean = 0;
  for (double l : result.losses) loss_mean += l;
  m["train/loss"] = result.losses.empty() ? 0 : loss_mean / static_cast<double>(result.losses.size());
  m["train/grad_norm"] =
      result.losses.empty() ? 0 : grad_norm_sum / static_cast<double>(result.losses.size());
  m["train/clip_fired"] = clipped;
  m["train/lr"] = lr;
  m["train/minibatches"] = static_cast<double>(M);
  m["time/generate_s"] = gen_s;
  m["time/score_wait_s"] = score_wait_s;
  m["time/update_s"] = update_s;
  m["time/step_s"] = Seconds(t_step);
  m["throughput/rollout_tokens_per_s"] = gen_s > 0 ? m["rollout/gen_tokens"] / gen_s : 0;
  m["throughput/train_tokens_per_s"] = update_s > 0 ? train_tokens / update_s : 0;
  ++step_;
  result.step = step_;
  result.metrics = std::move(m);
  return result;
}

absl::StatusOr<StepResult> Trainer::SftStep() {
  const config::TrainerConfig& tc = config_.trainer();
  const int world = comm_->world_size(), rank = comm_->rank();
  const Clock::time_point t_step = Clock::now();
  const int64_t B = tc.sft_batch_size();
  std::vector<int64_t> batch = sampler_->NextBatch(B);
  const auto [begin, end] = ShardRange(B, rank, world);
  const std::string tmpl =
      tc.sft_completion_template().empty() ? "\\boxed{{answer}}" : tc.sft_completion_template();
  std::vector<std::vector<int32_t>> prompts, completions;
  for (int64_t i = begin; i < end; ++i) {
    const PromptRow& row = train_data_->row(static_cast<size_t>(batch[static_cast<size_t>(i)]));
    const std::string text =
        !row.completion.empty() ? row.completion : absl::StrReplaceAll(tmpl, {{"{answer}", row.answer}});
    prompts.push_back(EncodePrompt(row.prompt));
    std::vector<int32_t> c = tokenizer_->Encode(text);
    if (tokenizer_->eos_id() >= 0) c.push_back(tokenizer_->eos_id());
    completions.push_back(std::move(c));
  }
  std::vector<const std::vector<int32_t>*> ps, cs;
  int64_t local_tokens = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ps.push_back(&prompts[i]);
    cs.push_back(&completions[i]);
    local_tokens += static_cast<int64_t>(completions[i].size());
  }
  at::Tensor n = at::scalar_tensor(local_tokens, at::kLong).reshape({1});
  M1RL_RETURN_IF_ERROR(comm_->AllReduce(n, ReduceOp::kSum));
  const double global_tokens = static_cast<double>(std::max<int64_t>(1, n.item<int64_t>()));
  optimizer_->ZeroGrad();
  double loss_sum = 0;
  if (!ps.empty()) {
    Packed p = Pack(ps, cs);
    std::vector<uint8_t> mask(static_cast<size_t>(p.input_ids.size(0)), 0);
    for (size_t i = 0; i < cs.size(); ++i) {
      for (size_t k = 0; k < cs[i]->size(); ++k) mask[static_cast<size_t>(p.completion_begin[i]) + k] = 1;
    }
    at::Tensor m = at::tensor(std::vector<int64_t>(mask.begin(), mask.end()), at::kLong).to(at::kBool);
    model::ForwardOptions fwd = HeadForwardOptions();
    model::ForwardOutput out = model_->Forward(p.input_ids, p.targets, p.cu_seqlens, fwd);
    // Sum of NLL with the global count (a SUM per rank; the gradient all-reduce adds ranks).
    at::Tensor nll = at::where(m, out.logprobs, at::zeros_like(out.logprobs)).sum().div(-global_tokens);
    at::Tensor total = nll;
    if (out.aux_loss.defined())
      total = total.add(out.aux_loss.mul(static_cast<double>(local_tokens) / global_tokens));
    total.backward();
    loss_sum = nll.item<double>();
  }
  at::Tensor l = at::tensor(std::vector<double>{loss_sum}, at::TensorOptions().dtype(at::kDouble));
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
  r.metrics["throughput/train_tokens_per_s"] = global_tokens / std::max(1e-9, Seconds(t_step));
  return r;
}

absl::StatusOr<EvalResult> Trainer::Evaluate() {
  return Guard(
      absl::StrCat("evaluation at step ", step_, " on rank ", comm_->rank()),
      [&]() -> absl::StatusOr<EvalResult> {
        if (reward_ == nullptr) return absl::FailedPreconditionError("evaluation needs a reward client");
        const PromptDataset& data = eval_data_.has_value() ? *eval_data_ : *train_data_;
        const int64_t n =
            std::min<int64_t>(config_.trainer().eval_prompts() > 0 ? config_.trainer().eval_prompts() : 64,
                              static_cast<int64_t>(data.size()));
        const auto [begin, end] = ShardRange(n, comm_->rank(), comm_->world_size());
        rollout::HybridDecodeModel decode(model_.get(), rollout::HybridDecodeOptions{head_precision_, 0});
        rollout::EngineOptions eo;
        eo.max_batch_size = config_.rollout().max_batch_size() > 0 ? config_.rollout().max_batch_size() : 64;
        eo.eos_token_ids = {tokenizer_->eos_id()};
        const model::Tokenizer* tok = tokenizer_.get();
        eo.detokenize = [tok](const std::vector<int32_t>& ids) { return StripSpecials(*tok, ids); };
        M1RL_ASSIGN_OR_RETURN(auto engine, rollout::Engine::Create(&decode, eo));
        std::vector<rollout::GenerationRequest> reqs;
        const int max_new = config_.trainer().eval_max_new_tokens() > 0
                                ? config_.trainer().eval_max_new_tokens()
                            : config_.rollout().max_new_tokens() > 0 ? config_.rollout().max_new_tokens()
                                                                     : 256;
        for (int64_t i = begin; i < end; ++i) {
          const PromptRow& row = data.row(static_cast<size_t>(i));
          rollout::GenerationRequest r;
          r.prompt_id = row.id;
          r.group_id = absl::StrCat("eval.", row.id, ".", i);
          r.prompt = row.prompt;
          r.domain = row.domain;
          r.prompt_token_ids = EncodePrompt(row.prompt);
          r.n = 1;
          r.max_new_tokens = max_new;
          r.sampling.greedy = true;
          r.sampling.temperature = rollout_temperature_;
          reqs.push_back(std::move(r));
        }
        M1RL_ASSIGN_OR_RETURN(std::vector<rollout::RequestOutput> outs, engine->Generate(reqs));
        std::vector<rl::ScoreItem> items;
        for (size_t i = 0; i < outs.size(); ++i) {
          M1RL_RETURN_IF_ERROR(outs[i].status);
          const rl::Completion& c = outs[i].completions[0];
          items.push_back(MakeScoreItem(data.row(static_cast<size_t>(begin) + i), c, c.text()));
        }
        M1RL_ASSIGN_OR_RETURN(std::vector<rl::ScoreResult> results, reward_->ScoreBatch(std::move(items)));
        int64_t correct = 0, scored = 0, uns = 0;
        for (const rl::ScoreResult& r : results) {
          if (r.status() != rl::OK) {
            ++uns;
            continue;
          }
          ++scored;
          if (r.verdict() == rl::CORRECT) ++correct;
        }
        at::Tensor t = LongTensor({scored, correct, uns});
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
      });
}

absl::StatusOr<std::string> Trainer::SaveCheckpoint() {
  if (checkpoints_ == nullptr) return absl::FailedPreconditionError("trainer.checkpoint.dir is not set");
  const int rank = comm_->rank();
  return checkpoints_->Save(step_, [&](const std::string& dir) -> absl::Status {
    M1RL_RETURN_IF_ERROR(internal::WriteTensorFile(absl::StrCat(dir, "/optim_rank", rank, ".safetensors"),
                                                   optimizer_->StateDict()));
    at::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
    M1RL_RETURN_IF_ERROR(
        internal::WriteTensorFile(absl::StrCat(dir, "/rng_rank", rank, ".safetensors"), {{"cpu", rng}}));
    if (rank != 0) return absl::OkStatus();
    M1RL_RETURN_IF_ERROR(internal::WriteTensorFile(dir + "/model.safetensors", model_->NamedParameters()));
    nlohmann::json state = {{"step", step_},
                            {"data_consumed", sampler_->cursor().consumed},
                            {"mode", config_.trainer().mode()},
                            {"world_size", comm_->world_size()},
                            {"last_eval_accuracy", last_eval_accuracy_}};
    M1RL_RETURN_IF_ERROR(internal::WriteFileAtomic(dir + "/trainer_state.json", state.dump(2)));
    M1RL_RETURN_IF_ERROR(internal::WriteFileAtomic(dir + "/config.yaml", DumpConfigYaml(config_)));
    M1RL_RETURN_IF_ERROR(internal::WriteFileAtomic(dir + "/config.pb", config_.SerializeAsString()));
    return absl::OkStatus();
  });
}

absl::Status Trainer::Resume(const std::string& resume) {
  if (resume.empty()) return absl::OkStatus();
  const std::string root = config_.trainer().checkpoint().dir();
  absl::StatusOr<std::string> dir = ResolveResume(resume, root);
  if (resume == "auto" && absl::IsNotFound(dir.status())) {
    if (comm_->rank() == 0)
      M1RL_LOG(INFO) << "--resume auto: no complete checkpoint under " << root << ", starting fresh";
    return absl::OkStatus();
  }
  M1RL_RETURN_IF_ERROR(dir.status());
  M1RL_ASSIGN_OR_RETURN(std::string pb, internal::ReadFile(*dir + "/config.pb"));
  config::RunConfig saved;
  if (!saved.ParseFromString(pb)) return absl::DataLossError(absl::StrCat(*dir, "/config.pb: unparseable"));
  M1RL_RETURN_IF_ERROR_WITH(CheckResumeCompatible(saved, config_, ResumeMutableFields()), "resuming from ",
                            *dir);
  M1RL_ASSIGN_OR_RETURN(std::string state_text, internal::ReadFile(*dir + "/trainer_state.json"));
  nlohmann::json state = nlohmann::json::parse(state_text, nullptr, false);
  if (!state.is_object())
    return absl::DataLossError(absl::StrCat(*dir, "/trainer_state.json: not a JSON object"));
  if (state.value("world_size", 1) != comm_->world_size() && optimizer_->options().zero1) {
    return absl::FailedPreconditionError(absl::StrCat("resuming from ", *dir, ": saved with world size ",
                                                      state.value("world_size", 1), ", this run has ",
                                                      comm_->world_size(), " (ZeRO-1 shards differ)"));
  }
  return Guard(absl::StrCat("resuming from ", *dir), [&]() -> absl::Status {
    M1RL_ASSIGN_OR_RETURN(internal::NamedTensors weights,
                          internal::ReadTensorFile(*dir + "/model.safetensors"));
    std::map<std::string, at::Tensor> by_name(weights.begin(), weights.end());
    at::NoGradGuard no_grad;
    for (auto& [name, p] : model_->NamedParameters()) {
      auto it = by_name.find(name);
      if (it == by_name.end())
        return absl::DataLossError(absl::StrCat(*dir, "/model.safetensors: missing ", name));
      if (it->second.sizes() != p.sizes())
        return absl::DataLossError(absl::StrCat(*dir, "/model.safetensors: ", name, " has the wrong shape"));
      p.detach().copy_(it->second);
    }
    const int rank = comm_->rank();
    const int saved_rank = state.value("world_size", 1) == comm_->world_size() ? rank : 0;
    M1RL_ASSIGN_OR_RETURN(internal::NamedTensors opt, internal::ReadTensorFile(absl::StrCat(
                                                          *dir, "/optim_rank", saved_rank, ".safetensors")));
    M1RL_RETURN_IF_ERROR(optimizer_->LoadStateDict(opt));
    absl::StatusOr<internal::NamedTensors> rng =
        internal::ReadTensorFile(absl::StrCat(*dir, "/rng_rank", saved_rank, ".safetensors"));
    if (rng.ok() && !rng->empty()) {
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      gen.set_state((*rng)[0].second);
    }
    step_ = state.value("step", int64_t{0});
    sampler_->set_cursor(DataCursor{state.value("data_consumed", int64_t{0})});
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
    M1RL_RETURN_IF_ERROR(WriteMetrics(
        0, {{"eval/accuracy", e.accuracy()}, {"eval/unscored", static_cast<double>(e.num_unscored)}}));
  }
  const int64_t first = step_;
  std::unique_ptr<Progress> progress;
  if (leader)
    progress = std::make_unique<Progress>(absl::StrCat(tc.mode(), " train"), tc.steps() - first, "step");
  int64_t last_saved = -1;
  while (step_ < tc.steps()) {
    M1RL_ASSIGN_OR_RETURN(StepResult r, TrainStep());
    if (tc.eval_every() > 0 && step_ % tc.eval_every() == 0 && reward_ != nullptr) {
      M1RL_ASSIGN_OR_RETURN(EvalResult e, Evaluate());
      r.metrics["eval/accuracy"] = e.accuracy();
      r.metrics["eval/unscored"] = static_cast<double>(e.num_unscored);
    }
    M1RL_RETURN_IF_ERROR(WriteMetrics(step_, r.metrics));
    if (leader) {
      std::string line = absl::StrFormat("step %d loss %.5f", step_, r.metrics["train/loss"]);
      if (r.metrics.count("rollout/accuracy"))
        absl::StrAppendFormat(&line, " train_acc %.3f", r.metrics["rollout/accuracy"]);
      if (r.metrics.count("eval/accuracy"))
        absl::StrAppendFormat(&line, " eval_acc %.3f", r.metrics["eval/accuracy"]);
      absl::StrAppendFormat(&line, " %.2fs", r.metrics["time/step_s"]);
      if (tc.log_every() > 0 && step_ % tc.log_every() == 0) M1RL_LOG(INFO) << line;
      progress->Update(step_ - first, line);
    }
    if (checkpoints_ != nullptr && tc.checkpoint().every_steps() > 0 &&
        step_ % tc.checkpoint().every_steps() == 0) {
      M1RL_RETURN_IF_ERROR(SaveCheckpoint().status());
      last_saved = step_;
    }
  }
  if (progress) progress->Finish();
  if (checkpoints_ != nullptr && last_saved != step_ && step_ > first)
    M1RL_RETURN_IF_ERROR(SaveCheckpoint().status());
  if (!tc.export_hf_dir().empty() && leader) {
    M1RL_RETURN_IF_ERROR(
        Guard("export", [&]() -> absl::Status { return model_->SaveHf(tc.export_hf_dir()); }));
    M1RL_LOG(INFO) << "exported the policy to " << tc.export_hf_dir();
  }
  return comm_->Barrier();
}

}  // namespace m1rl::trainer
