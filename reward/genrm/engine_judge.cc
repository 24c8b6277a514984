#include "reward/genrm/engine_judge.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/status_macros.h"
#include "model/chat_template.h"
#include "rollout/checkpoint_generator.h"

namespace m1rl::reward::genrm {

struct EngineJudge::Pending {
  rollout::GenerationRequest request;
  bool taken = false;  // in a running Generate
  bool done = false;
  absl::StatusOr<std::string> reply = absl::InternalError("not generated");
};

EngineJudge::EngineJudge(rollout::Engine* engine, const model::Tokenizer* tokenizer,
                         EngineJudgeOptions options)
    : engine_(engine), tokenizer_(tokenizer), options_(std::move(options)) {
  M1RL_CHECK(engine_ != nullptr && tokenizer_ != nullptr);
  M1RL_CHECK(options_.max_batch >= 1);
}

EngineJudge::~EngineJudge() = default;

absl::StatusOr<std::unique_ptr<EngineJudge>> EngineJudge::FromConfig(
    const config::InProcessJudgeConfig& config) {
  if (config.model_dir().empty())
    return absl::InvalidArgumentError("reward.genrm.in_process.model_dir is required");
  if (config.max_batch() < 0 || config.max_context() < 0) {
    return absl::InvalidArgumentError("reward.genrm.in_process.max_batch and .max_context must be >= 0");
  }
  rollout::GeneratorOptions g;
  g.model_dir = config.model_dir();
  g.tokenizer = config.tokenizer();
  if (!config.device().empty()) g.device = config.device();
  if (!config.dtype().empty()) g.dtype = config.dtype();
  g.max_context = config.max_context();
  g.greedy = true;
  g.repetition_run_length = 0;
  EngineJudgeOptions o;
  o.model_name = absl::StrCat("in-process:", config.model_dir());
  if (config.max_batch() > 0) o.max_batch = config.max_batch();
  g.batch_size = o.max_batch;
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<rollout::CheckpointGenerator> generator,
                        rollout::CheckpointGenerator::Create(g));
  auto judge = std::make_unique<EngineJudge>(&generator->engine(), &generator->tokenizer(), std::move(o));
  judge->owned_ = std::move(generator);
  return judge;
}

int64_t EngineJudge::generate_calls() const {
  absl::MutexLock lock(&mu_);
  return generate_calls_;
}

int EngineJudge::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

void EngineJudge::RunBatch() {
  std::vector<std::shared_ptr<Pending>> batch;
  while (!queue_.empty() && static_cast<int>(batch.size()) < options_.max_batch) {
    batch.push_back(queue_.front());
    queue_.pop_front();
    batch.back()->taken = true;
  }
  std::vector<rollout::GenerationRequest> requests;
  requests.reserve(batch.size());
  for (const auto& p : batch) requests.push_back(p->request);
  running_ = true;
  ++generate_calls_;
  mu_.Unlock();
  absl::StatusOr<std::vector<rollout::RequestOutput>> outputs = engine_->Generate(requests, nullptr);
  mu_.Lock();
  running_ = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    Pending& p = *batch[i];
    p.done = true;
    if (!outputs.ok()) {
      p.reply = absl::InternalError(absl::StrCat("in-process judge: ", outputs.status().message()));
      continue;
    }
    const rollout::RequestOutput& out = (*outputs)[i];
    if (!out.status.ok() || out.completions.empty()) {
      // A refused request (too long for the context, ...) is an infrastructure fault, not a bad verdict.
      p.reply = absl::FailedPreconditionError(
          absl::StrCat("in-process judge refused the request: ",
                       out.status.ok() ? "no completion" : out.status.message()));
      continue;
    }
    std::vector<int32_t> ids(out.completions[0].token_ids().begin(), out.completions[0].token_ids().end());
    if (!ids.empty() && ids.back() == tokenizer_->eos_id()) ids.pop_back();
    p.reply = tokenizer_->Decode(ids);
  }
}

absl::StatusOr<std::string> EngineJudge::Complete(const JudgeRequest& request, const CheckContext& ctx) {
  auto pending = std::make_shared<Pending>();
  std::vector<model::ChatMessage> messages;
  messages.reserve(request.messages.size());
  for (const ChatMessage& m : request.messages) messages.push_back({m.role, m.content});
  rollout::GenerationRequest& r = pending->request;
  r.prompt = model::ApplyChatTemplate(messages, /*add_generation_prompt=*/true);
  r.domain = "genrm";
  if (tokenizer_->bos_id() >= 0) r.prompt_token_ids.push_back(tokenizer_->bos_id());
  for (int32_t id : tokenizer_->Encode(r.prompt)) r.prompt_token_ids.push_back(id);
  r.seed = request.seed;
  r.max_new_tokens = request.max_tokens;
  r.sampling.greedy = true;

  if (ctx.Cancelled()) return absl::CancelledError("in-process judge call cancelled");
  if (ctx.Expired()) return absl::DeadlineExceededError("in-process judge call passed its deadline");
  absl::MutexLock lock(&mu_);
  queue_.push_back(pending);
  while (!pending->done) {
    if (!running_) {
      RunBatch();  // runs the queue's head, which may not include us when it is longer than max_batch
      continue;
    }
    absl::Status give_up;
    if (ctx.Cancelled()) give_up = absl::CancelledError("in-process judge call cancelled");
    if (ctx.Expired()) give_up = absl::DeadlineExceededError("in-process judge call passed its deadline");
    if (!give_up.ok()) {
      if (!pending->taken) queue_.erase(std::find(queue_.begin(), queue_.end(), pending));
      return give_up;
    }
    auto finished_or_idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending->done || !running_; };
    mu_.AwaitWithTimeout(absl::Condition(&finished_or_idle), absl::Milliseconds(20));
  }
  if (ctx.Expired()) return absl::DeadlineExceededError("in-process judge call passed its deadline");
  return pending->reply;
}

}  // namespace m1rl::reward::genrm
