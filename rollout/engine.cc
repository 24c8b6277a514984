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
  const int32_t vocab = model_->vocab_size();
  const int64_t max_context = model_->max_context();
  const int64_t budget = options_.memory_budget_bytes;
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
    stats_.wall_ms = MsSince(t0);
    return outputs;
  }

  std::optional<PendingGroup> group;
  std::vector<Slot> active;
  int64_t reserved = 0;
  std::vector<double> scratch;

  auto final_len_bound = [&](const GenerationRequest& r) {
    return std::min<int64_t>(static_cast<int64_t>(r.prompt_token_ids.size()) + r.max_new_tokens, max_context);
  };

  // Appends a sampled token to the slot's completion and returns the stop reason if it must stop.
  auto accept_token = [&](Slot& slot, const SampledToken& sampled) -> rl::StopReason {
    const GenerationRequest& r = requests[slot.request];
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
    if (static_cast<int64_t>(r.prompt_token_ids.size()) + generated >= max_context) return rl::STOP_CONTEXT;
    return rl::STOP_REASON_UNSPECIFIED;
  };

  auto finish = [&](Slot& slot, rl::StopReason reason) {
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
    reserved -= slot.reserved_bytes;
    RequestOutput& out = outputs[slot.request];
    out.state_bytes[slot.sample] = slot.state->StateBytes();
    slot.state.reset();
    if (on_done) on_done(c);
    out.completions[slot.sample] = std::move(c);
  };

  auto sample_into = [&](Slot& slot, const float* row) -> absl::StatusOr<rl::StopReason> {
    const GenerationRequest& r = requests[slot.request];
    absl::StatusOr<SampledToken> sampled = SampleToken(row, vocab, r.sampling, &slot.rng, &scratch);
    if (!sampled.ok()) {
      return absl::InternalError(absl::StrCat("rollout: requests[", slot.request, "] sample ", slot.sample,
                                              " token ", slot.completion.token_ids_size(), ": ",
                                              sampled.status().message()));
    }
    slot.pending_token = sampled->token;
    return accept_token(slot, *sampled);
  };

  auto report = [&]() {
    if (on_progress) on_progress(stats_, stats_.completions);
  };

  while (true) {
    // Admission: fill free batch slots FIFO while the memory reservations allow.
    while (static_cast<int32_t>(active.size()) < options_.max_batch_size &&
           (group.has_value() || !queue.empty())) {
      const size_t req_index = group.has_value() ? group->request : queue.front();
      const GenerationRequest& r = requests[req_index];
      const int64_t sample_bytes = model_->StateBytesAt(final_len_bound(r));
      const Clock::time_point admit_start = Clock::now();
      if (!group.has_value()) {
        const int64_t prefix_bytes = model_->StateBytesAt(static_cast<int64_t>(r.prompt_token_ids.size()));
        const int64_t need = r.n > 1 ? prefix_bytes + sample_bytes : sample_bytes;
        if (budget > 0 && !active.empty() && reserved + need > budget) {
          ++stats_.admission_waits;
          break;
        }
        queue.pop_front();
        PendingGroup g;
        g.request = req_index;
        const Clock::time_point prefill_start = Clock::now();
        g.prefix = model_->NewSequence();
        at::Tensor logits;
        const std::vector<int32_t>& ids = r.prompt_token_ids;
        for (size_t begin = 0; begin < ids.size(); begin += options_.prefill_chunk) {
          const size_t end = std::min(ids.size(), begin + static_cast<size_t>(options_.prefill_chunk));
          logits =
              model_->Prefill(g.prefix.get(), std::vector<int32_t>(ids.begin() + begin, ids.begin() + end));
          ++stats_.prefill_calls;
        }
        stats_.prompt_tokens_prefilled += static_cast<int64_t>(ids.size());
        g.logits = logits.to(at::kCPU, at::kFloat).contiguous();
        TORCH_CHECK(g.logits.numel() == vocab, "expected prefill logits [", vocab, "], got ",
                    g.logits.sizes());
        stats_.model_ms += MsSince(prefill_start);
        g.reserved_bytes = prefix_bytes;
        reserved += prefix_bytes;
        group = std::move(g);
      } else {
        // The last sample takes the prefix over, so its reservation replaces the prefix's.
        const bool last = group->next_sample + 1 == r.n;
        const int64_t need = last ? sample_bytes - group->reserved_bytes : sample_bytes;
        if (budget > 0 && !active.empty() && reserved + need > budget) {
          ++stats_.admission_waits;
          break;
        }
      }
      Slot slot;
      slot.request = req_index;
      slot.sample = group->next_sample++;
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
      const at::Tensor first_logits = group->logits;
      if (group->next_sample == r.n) {
        slot.state = std::move(group->prefix);
        reserved -= group->reserved_bytes;
        group.reset();
      } else {
        const Clock::time_point copy_start = Clock::now();
        slot.state = group->prefix->Copy();
        stats_.model_ms += MsSince(copy_start);
      }
      slot.reserved_bytes = sample_bytes;
      reserved += sample_bytes;
      stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, reserved);
      M1RL_ASSIGN_OR_RETURN(const rl::StopReason reason, sample_into(slot, first_logits.data_ptr<float>()));
      if (reason != rl::STOP_REASON_UNSPECIFIED) {
        finish(slot, reason);
        report();
      } else {
        active.push_back(std::move(slot));
      }
    }
    if (active.empty()) {
      if (group.has_value() || !queue.empty()) continue;  // admission always proceeds when idle
      break;
    }

    // One batched decode step over every active sequence.
    stats_.peak_batch_size = std::max<int32_t>(stats_.peak_batch_size, static_cast<int32_t>(active.size()));
    std::vector<DecodeState*> states;
    std::vector<int32_t> tokens;
    states.reserve(active.size());
    tokens.reserve(active.size());
    for (Slot& s : active) {
      states.push_back(s.state.get());
      tokens.push_back(s.pending_token);
    }
    const Clock::time_point step_start = Clock::now();
    const at::Tensor logits = model_->Step(states, tokens).to(at::kCPU, at::kFloat).contiguous();
    stats_.model_ms += MsSince(step_start);
    ++stats_.decode_steps;
    TORCH_CHECK(
        logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(active.size()) && logits.size(1) == vocab,
        "expected step logits [", active.size(), ", ", vocab, "], got ", logits.sizes());
    int64_t live_bytes = group.has_value() ? group->prefix->StateBytes() : 0;
    for (const Slot& s : active) live_bytes += s.state->StateBytes();
    stats_.peak_state_bytes = std::max(stats_.peak_state_bytes, live_bytes);
    const float* data = logits.data_ptr<float>();
    std::vector<Slot> still_active;
    still_active.reserve(active.size());
    for (size_t b = 0; b < active.size(); ++b) {
      Slot& slot = active[b];
      M1RL_ASSIGN_OR_RETURN(const rl::StopReason reason, sample_into(slot, data + b * vocab));
      if (reason != rl::STOP_REASON_UNSPECIFIED) {
        finish(slot, reason);
      } else {
        still_active.push_back(std::move(slot));
      }
    }
    active = std::move(still_active);
    report();
  }
  M1RL_CHECK_EQ(reserved, 0);
  stats_.wall_ms = MsSince(t0);
  return outputs;
}

}  // namespace m1rl::rollout
