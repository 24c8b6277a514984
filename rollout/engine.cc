#include "rollout/engine.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "algorithms/repetition.h"
#include "common/check.h"
#include "common/status_macros.h"
#include "rollout/slot_engine.h"

namespace m1rl::rollout {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A prompt that has been prefilled and whose samples are still being admitted.
struct PendingGroup {
  size_t request = 0;
  int32_t next_sample = 0;
  std::unique_ptr<DecodeState> prefix;
  at::Tensor logits;  // [V] fp32 CPU contiguous: the distribution of the first generated token
  int64_t reserved_bytes = 0;
};

// One active sample.
struct Slot {
  size_t request = 0;
  int32_t sample = 0;
  std::unique_ptr<DecodeState> state;
  SequenceRng rng{0, 0};
  std::optional<algorithms::RepetitionDetector> repetition;
  rl::Completion completion;
  int32_t pending_token = -1;  // last sampled token, not yet fed to the model
  int64_t reserved_bytes = 0;
  Clock::time_point start;
};

// The per-sequence decode loop of one Generate call: FIFO admission under the memory budget (prefill once
// per prompt, the samples copy or take over its prefix), host sampling, stop rules, and one batched
// DecodeModel::Step over every active sequence per iteration.
class PerSequenceRun {
 public:
  PerSequenceRun(DecodeModel* model, const EngineOptions& options, size_t stop_window_tokens,
                 const std::vector<GenerationRequest>& requests, std::deque<size_t> queue,
                 std::vector<RequestOutput>* outputs, const Engine::DoneFn& on_done,
                 const Engine::ProgressFn& on_progress, GenerationStats* stats)
      : model_(model),
        options_(options),
        stop_window_tokens_(stop_window_tokens),
        requests_(requests),
        queue_(std::move(queue)),
        outputs_(*outputs),
        on_done_(on_done),
        on_progress_(on_progress),
        stats_(*stats),
        vocab_(model->vocab_size()),
        max_context_(model->max_context()) {}

  absl::Status Run() {
    while (true) {
      while (static_cast<int32_t>(active_.size()) < options_.max_batch_size &&
             (group_.has_value() || !queue_.empty())) {
        M1RL_ASSIGN_OR_RETURN(const bool admitted, AdmitOne());
        if (!admitted) break;
      }
      if (active_.empty()) {
        if (group_.has_value() || !queue_.empty()) continue;  // admission always proceeds when idle
        break;
      }
      M1RL_RETURN_IF_ERROR(Step());
    }
    M1RL_CHECK_EQ(reserved_, 0);
    return absl::OkStatus();
  }

 private:
  int64_t FinalLenBound(const GenerationRequest& r) const {
    return std::min<int64_t>(static_cast<int64_t>(r.prompt_token_ids.size()) + r.max_new_tokens,
                             max_context_);
  }

  // False (and one more admission wait) when `need` more reserved bytes would exceed the budget; a lone
  // sequence is always admitted.
  bool Fits(int64_t need) {
    const int64_t budget = options_.memory_budget_bytes;
    if (budget > 0 && !active_.empty() && reserved_ + need > budget) {
      ++stats_.admission_waits;
      return false;
    }
    return true;
  }

  // Admits the next sample (FIFO; prefilling its prompt first when it opens a new group). False when the
  // budget makes it wait.
  absl::StatusOr<bool> AdmitOne() {
    const size_t req_index = group_.has_value() ? group_->request : queue_.front();
    const GenerationRequest& r = requests_[req_index];
    const int64_t sample_bytes = model_->StateBytesAt(FinalLenBound(r));
    const Clock::time_point admit_start = Clock::now();
    if (!group_.has_value()) {
      const int64_t prefix_bytes = model_->StateBytesAt(static_cast<int64_t>(r.prompt_token_ids.size()));
      if (!Fits(r.n > 1 ? prefix_bytes + sample_bytes : sample_bytes)) return false;
      queue_.pop_front();
      PrefillGroup(req_index, prefix_bytes);
    } else {
      // The last sample takes the prefix over, so its reservation replaces the prefix's.
      const bool last = group_->next_sample + 1 == r.n;
      if (!Fits(last ? sample_bytes - group_->reserved_bytes : sample_bytes)) return false;
    }
    Slot slot = NewSlot(req_index, admit_start);
    const at::Tensor first_logits = group_->logits;
    if (group_->next_sample == r.n) {
      slot.state = std::move(group_->prefix);
      reserved_ -= group_->reserved_bytes;
      group_.reset();
    } else {
      const Clock::time_point copy_start = Clock::now();
      slot.state = group_->prefix->Copy();
      stats_.model_ms += MsSince(copy_start);
    }
    slot.reserved_bytes = sample_bytes;
    reserved_ += sample_bytes;
    stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, reserved_);
    M1RL_ASSIGN_OR_RETURN(const rl::StopReason reason, SampleInto(slot, first_logits.data_ptr<float>()));
    if (reason != rl::STOP_REASON_UNSPECIFIED) {
      Finish(slot, reason);
      Report();
    } else {
      active_.push_back(std::move(slot));
    }
    return true;
  }

  // Prefills requests_[req_index]'s prompt in chunks into a new group holding its first-token logits.
  void PrefillGroup(size_t req_index, int64_t prefix_bytes) {
    PendingGroup g;
    g.request = req_index;
    const Clock::time_point prefill_start = Clock::now();
    g.prefix = model_->NewSequence();
    at::Tensor logits;
    const std::vector<int32_t>& ids = requests_[req_index].prompt_token_ids;
    for (size_t begin = 0; begin < ids.size(); begin += options_.prefill_chunk) {
      const size_t end = std::min(ids.size(), begin + static_cast<size_t>(options_.prefill_chunk));
      logits = model_->Prefill(g.prefix.get(), std::vector<int32_t>(ids.begin() + begin, ids.begin() + end));
      ++stats_.prefill_calls;
    }
    stats_.prompt_tokens_prefilled += static_cast<int64_t>(ids.size());
    g.logits = logits.to(at::kCPU, at::kFloat).contiguous();
    TORCH_CHECK(g.logits.numel() == vocab_, "expected prefill logits [", vocab_, "], got ", g.logits.sizes());
    stats_.model_ms += MsSince(prefill_start);
    g.reserved_bytes = prefix_bytes;
    reserved_ += prefix_bytes;
    group_ = std::move(g);
  }

  // The group's next sample: its RNG stream, repetition detector and completion header.
  Slot NewSlot(size_t req_index, Clock::time_point admit_start) {
    const GenerationRequest& r = requests_[req_index];
    Slot slot;
    slot.request = req_index;
    slot.sample = group_->next_sample++;
    slot.start = admit_start;
    slot.rng = SequenceRng(r.seed, static_cast<uint64_t>(slot.sample));
    if (options_.repetition_run_length > 0) {
      slot.repetition.emplace(options_.repetition_threshold, options_.repetition_run_length);
    }
    rl::Completion& c = slot.completion;
    c.set_prompt_id(r.prompt_id);
    c.set_sample_index(slot.sample);
    c.set_group_id(r.group_id.empty() ? r.prompt_id : r.group_id);
    c.set_prompt(r.prompt);
    c.set_domain(r.domain);
    c.set_policy_version(options_.policy_version);
    c.mutable_prompt_token_ids()->Add(r.prompt_token_ids.begin(), r.prompt_token_ids.end());
    return slot;
  }

  // One batched decode step over every active sequence, then sampling and stop rules per sequence.
  absl::Status Step() {
    stats_.peak_batch_size = std::max<int32_t>(stats_.peak_batch_size, static_cast<int32_t>(active_.size()));
    std::vector<DecodeState*> states;
    std::vector<int32_t> tokens;
    states.reserve(active_.size());
    tokens.reserve(active_.size());
    for (Slot& s : active_) {
      states.push_back(s.state.get());
      tokens.push_back(s.pending_token);
    }
    const Clock::time_point step_start = Clock::now();
    const at::Tensor logits = model_->Step(states, tokens).to(at::kCPU, at::kFloat).contiguous();
    stats_.model_ms += MsSince(step_start);
    ++stats_.decode_steps;
    TORCH_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(active_.size()) &&
                    logits.size(1) == vocab_,
                "expected step logits [", active_.size(), ", ", vocab_, "], got ", logits.sizes());
    int64_t live_bytes = group_.has_value() ? group_->prefix->StateBytes() : 0;
    for (const Slot& s : active_) live_bytes += s.state->StateBytes();
    stats_.peak_state_bytes = std::max(stats_.peak_state_bytes, live_bytes);
    const float* data = logits.data_ptr<float>();
    std::vector<Slot> still_active;
    still_active.reserve(active_.size());
    for (size_t b = 0; b < active_.size(); ++b) {
      Slot& slot = active_[b];
      M1RL_ASSIGN_OR_RETURN(const rl::StopReason reason, SampleInto(slot, data + b * vocab_));
      if (reason != rl::STOP_REASON_UNSPECIFIED) {
        Finish(slot, reason);
      } else {
        still_active.push_back(std::move(slot));
      }
    }
    active_ = std::move(still_active);
    Report();
    return absl::OkStatus();
  }

  absl::StatusOr<rl::StopReason> SampleInto(Slot& slot, const float* row) {
    const GenerationRequest& r = requests_[slot.request];
    absl::StatusOr<SampledToken> sampled = SampleToken(row, vocab_, r.sampling, &slot.rng, &scratch_);
    if (!sampled.ok()) {
      return absl::InternalError(absl::StrCat("rollout: requests[", slot.request, "] sample ", slot.sample,
                                              " token ", slot.completion.token_ids_size(), ": ",
                                              sampled.status().message()));
    }
    slot.pending_token = sampled->token;
    return AcceptToken(slot, *sampled);
  }

  // Appends a sampled token to the slot's completion and returns the stop reason if it must stop.
  rl::StopReason AcceptToken(Slot& slot, const SampledToken& sampled) {
    const GenerationRequest& r = requests_[slot.request];
    rl::Completion& c = slot.completion;
    c.add_token_ids(sampled.token);
    c.add_logprobs(sampled.logprob);
    ++stats_.generated_tokens;
    const int64_t generated = c.token_ids_size();
    if (std::find(options_.eos_token_ids.begin(), options_.eos_token_ids.end(), sampled.token) !=
        options_.eos_token_ids.end()) {
      return rl::STOP_EOS;
    }
    if (stop_window_tokens_ > 0) {
      const int64_t begin = std::max<int64_t>(0, generated - static_cast<int64_t>(stop_window_tokens_));
      const std::string tail =
          options_.detokenize(std::vector<int32_t>(c.token_ids().begin() + begin, c.token_ids().end()));
      for (const std::string& s : options_.stop_strings) {
        if (tail.find(s) != std::string::npos) return rl::STOP_STRING;
      }
    }
    if (slot.repetition.has_value() && slot.repetition->ObserveSampledToken(sampled.prob))
      return rl::STOP_REPETITION;
    if (generated >= r.max_new_tokens) return rl::STOP_LENGTH;
    if (static_cast<int64_t>(r.prompt_token_ids.size()) + generated >= max_context_) return rl::STOP_CONTEXT;
    return rl::STOP_REASON_UNSPECIFIED;
  }

  void Finish(Slot& slot, rl::StopReason reason) {
    rl::Completion& c = slot.completion;
    c.set_stop_reason(reason);
    if (options_.detokenize) {
      std::vector<int32_t> ids(c.token_ids().begin(), c.token_ids().end());
      if (reason == rl::STOP_EOS) ids.pop_back();  // the EOS token is kept in token_ids, not rendered
      c.set_text(options_.detokenize(ids));
    }
    c.set_generate_ms(MsSince(slot.start));
    ++stats_.completions;
    ++stats_.stop_counts[reason];
    reserved_ -= slot.reserved_bytes;
    RequestOutput& out = outputs_[slot.request];
    out.state_bytes[slot.sample] = slot.state->StateBytes();
    slot.state.reset();
    if (on_done_) on_done_(c);
    out.completions[slot.sample] = std::move(c);
  }

  void Report() {
    if (on_progress_) on_progress_(stats_, stats_.completions);
  }

  DecodeModel* const model_;
  const EngineOptions& options_;
  const size_t stop_window_tokens_;
  const std::vector<GenerationRequest>& requests_;
  std::deque<size_t> queue_;  // validated requests not yet prefilled, FIFO
  std::vector<RequestOutput>& outputs_;
  const Engine::DoneFn& on_done_;
  const Engine::ProgressFn& on_progress_;
  GenerationStats& stats_;
  const int32_t vocab_;
  const int64_t max_context_;
  std::optional<PendingGroup> group_;  // the prompt whose samples are being admitted
  std::vector<Slot> active_;
  int64_t reserved_ = 0;  // bytes reserved by the group's prefix and the active samples
  std::vector<double> scratch_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(DecodeModel* model, EngineOptions options) {
  M1RL_CHECK(model != nullptr);
  if (options.max_batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.max_batch_size must be >= 1, got ", options.max_batch_size));
  }
  if (options.memory_budget_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.memory_budget_bytes must be >= 0, got ", options.memory_budget_bytes));
  }
  if (options.prefill_chunk < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.prefill_chunk must be >= 1, got ", options.prefill_chunk));
  }
  for (size_t i = 0; i < options.eos_token_ids.size(); ++i) {
    const int32_t id = options.eos_token_ids[i];
    if (id < 0 || id >= model->vocab_size()) {
      return absl::InvalidArgumentError(absl::StrCat("rollout.eos_token_ids[", i, "] = ", id,
                                                     " is outside the vocabulary [0, ", model->vocab_size(),
                                                     ")"));
    }
  }
  for (size_t i = 0; i < options.stop_strings.size(); ++i) {
    if (options.stop_strings[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("rollout.stop_strings[", i, "] is empty"));
    }
  }
  if (!options.stop_strings.empty() && !options.detokenize) {
    return absl::InvalidArgumentError("rollout.stop_strings need a detokenizer (EngineOptions.detokenize)");
  }
  if (options.decode_path == DecodePath::kSlots && model->slot_decoder() == nullptr) {
    return absl::InvalidArgumentError("rollout.decode_path is slots but the model has no slot decoder");
  }
  if (options.repetition_run_length < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.repetition_run_length must be >= 0, got ", options.repetition_run_length));
  }
  if (!(options.repetition_threshold >= 0.0 && options.repetition_threshold < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rollout.repetition_threshold must be in [0, 1), got ", options.repetition_threshold));
  }
  return std::unique_ptr<Engine>(new Engine(model, std::move(options)));
}

Engine::Engine(DecodeModel* model, EngineOptions options) : model_(model), options_(std::move(options)) {
  // A stop string of L bytes spans at most L tokens when every token renders to >= 1 byte; the slack
  // covers tokens that render to nothing (padding, unknown ids) and a split UTF-8 character at the
  // window's start.
  size_t longest = 0;
  for (const std::string& s : options_.stop_strings) longest = std::max(longest, s.size());
  stop_window_tokens_ = longest == 0 ? 0 : longest + 8;
}

Engine::~Engine() = default;

bool Engine::UseSlots() const {
  if (options_.decode_path == DecodePath::kPerSequence) return false;
  SlotDecoder* decoder = model_->slot_decoder();
  if (decoder == nullptr) return false;
  return options_.decode_path == DecodePath::kSlots || decoder->device().is_cuda();
}

absl::Status Engine::ValidateRequest(const GenerationRequest& r, const std::string& field) const {
  if (r.prompt_token_ids.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".prompt_token_ids is empty"));
  }
  const int64_t prompt_len = static_cast<int64_t>(r.prompt_token_ids.size());
  if (prompt_len >= model_->max_context()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".prompt_token_ids has ", prompt_len, " tokens; the context holds ", model_->max_context(),
        " so at most ", model_->max_context() - 1, " leave room to generate"));
  }
  const int32_t vocab = model_->vocab_size();
  for (size_t i = 0; i < r.prompt_token_ids.size(); ++i) {
    const int32_t id = r.prompt_token_ids[i];
    if (id < 0 || id >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".prompt_token_ids[", i, "] = ", id,
                                                     " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (r.n < 1) return absl::InvalidArgumentError(absl::StrCat(field, ".n must be >= 1, got ", r.n));
  if (r.max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".max_new_tokens must be >= 1, got ", r.max_new_tokens));
  }
  return ValidateSamplingParams(r.sampling, absl::StrCat(field, ".sampling"));
}

absl::StatusOr<std::vector<RequestOutput>> Engine::Generate(const std::vector<GenerationRequest>& requests,
                                                            const DoneFn& on_done,
                                                            const ProgressFn& on_progress) {
  stats_ = GenerationStats{};
  try {
    return GenerateImpl(requests, on_done, on_progress);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("rollout: model failed at decode step ", stats_.decode_steps,
                                            " (prefill calls ", stats_.prefill_calls,
                                            "): ", e.what_without_backtrace()));
  }
}

absl::StatusOr<std::vector<RequestOutput>> Engine::GenerateImpl(
    const std::vector<GenerationRequest>& requests, const DoneFn& on_done, const ProgressFn& on_progress) {
  const Clock::time_point t0 = Clock::now();
  std::vector<RequestOutput> outputs(requests.size());
  std::deque<size_t> queue;
  for (size_t i = 0; i < requests.size(); ++i) {
    outputs[i].status = ValidateRequest(requests[i], absl::StrCat("requests[", i, "]"));
    if (!outputs[i].status.ok()) continue;
    outputs[i].completions.resize(requests[i].n);
    outputs[i].state_bytes.assign(requests[i].n, 0);
    queue.push_back(i);
  }
  stats_.requests = static_cast<int64_t>(requests.size());
  if (UseSlots()) {
    if (slot_runner_ == nullptr) {
      slot_runner_ = std::make_unique<SlotRunner>(model_, model_->slot_decoder(), options_);
    }
    M1RL_RETURN_IF_ERROR(slot_runner_->Generate(requests, &outputs, on_done, on_progress, &stats_));
  } else {
    PerSequenceRun run(model_, options_, stop_window_tokens_, requests, std::move(queue), &outputs, on_done,
                       on_progress, &stats_);
    M1RL_RETURN_IF_ERROR(run.Run());
  }
  stats_.wall_ms = MsSince(t0);
  return outputs;
}

}  // namespace m1rl::rollout
