// The rollout engine: batched generation over a DecodeModel with continuous batching, shared prefill,
// per-sequence seeded sampling, stop rules and memory admission control.
//
//   HybridDecodeModel model(policy.get(), {.head = model::HeadPrecision::kIeeeFp32});
//   EngineOptions opts;  opts.eos_token_ids = {tok->eos_id()};
//   opts.detokenize = [&](const std::vector<int32_t>& ids) { return tok->Decode(ids); };
//   M1RL_ASSIGN_OR_RETURN(auto engine, Engine::Create(&model, opts));
//   M1RL_ASSIGN_OR_RETURN(std::vector<RequestOutput> out,
//                         engine->Generate(requests, [&](const rl::Completion& c) { Send(c); }));
//
// Scheduling. Requests are served FIFO, sample by sample. A request's prompt is prefilled once (in
// chunks of prefill_chunk tokens) and the state is copied for each of its n samples (the last sample
// takes it over without a copy). Every decode step feeds one token to every active sequence in a single
// DecodeModel::Step call; a sequence that stops leaves the batch at once and waiting samples join
// before the next step (continuous batching), up to max_batch_size.
//
// Determinism. Sample j of a request draws from SequenceRng(request.seed, j), one uniform per token,
// so its tokens depend only on (seed, j, prompt, params, weights), not on batch composition or
// scheduling (up to the model's logits being bitwise identical across batch sizes; see
// engine_test's batching-invariance tests).
//
// Stop rules, checked after every sampled token in this order (the first that holds is recorded):
//   EOS (token in eos_token_ids; kept in token_ids) > stop string (a configured string appears in the
//   decoded completion; its tokens are kept, text not trimmed) > REPETITION (algorithms::
//   RepetitionDetector with repetition_threshold / repetition_run_length; the run's last token kept)
//   > LENGTH (max_new_tokens generated) > CONTEXT (prompt + generated == model max_context).
//
// Memory admission. Each active sample reserves DecodeModel::StateBytesAt(its final length bound:
// min(prompt + max_new_tokens, max_context)); a prefilled prompt whose samples are not all admitted yet
// reserves StateBytesAt(prompt). A sample joins only if the reservations stay within
// memory_budget_bytes; otherwise it waits for others to finish (FIFO, never skipped, never dropped).
// When nothing is active the head sample is admitted even if it alone exceeds the budget, so every
// request completes.
//
// Errors. Bad requests (empty prompt, prompt that leaves no room in the context, token ids outside the
// vocabulary, n < 1, max_new_tokens < 1, bad sampling params) fail only their own RequestOutput.status
// (kInvalidArgument naming requests[i].<field>); the others are generated. Generate() itself returns a
// non-OK status only for engine failures: c10::Error from the model or non-finite logits (kInternal,
// naming the step), after which no output is returned.
//
// Slot path (EngineOptions.decode_path; the default on CUDA models with one, rollout/slot_engine.h): the same
// scheduling, stop rules, admission and outputs, with the decode state in device slot pools, sampling, stop
// rules and the repetition counter evaluated on the device, and the step replayed from CUDA graphs. Its
// uniforms are Philox(seed, sample, token index) (kernels/cuda/philox.h) instead of SequenceRng, and it walks
// top-k/top-p candidates in index order: the same distribution, different tokens for the same seed.
//
// Thread safety: none; one Generate() at a time. The DecodeModel is borrowed and must outlive the engine.
#ifndef M1RL_ROLLOUT_ENGINE_H_
#define M1RL_ROLLOUT_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/rl.pb.h"
#include "rollout/decode_model.h"
#include "rollout/sampler.h"

namespace m1rl::rollout {

// Which decode loop Generate runs. kAuto: the slot path when the model has one and lives on a CUDA device,
// else per sequence.
enum class DecodePath { kAuto, kPerSequence, kSlots };

struct EngineOptions {
  int32_t max_batch_size = 64;      // sequences decoded together (>= 1)
  int64_t memory_budget_bytes = 0;  // state bytes of all active sequences; 0 = unlimited
  int32_t prefill_chunk = 2048;     // tokens per Prefill call (>= 1)
  std::vector<int32_t> eos_token_ids;
  std::vector<std::string> stop_strings;  // non-empty strings; require `detokenize`
  int64_t repetition_run_length = 0;      // N of ALGORITHMS.md §6; 0 = repetition truncation off
  double repetition_threshold = 0.99;     // τ in [0, 1)
  // Ids -> text for Completion.text and stop strings. May be empty (text left empty) when there are
  // no stop strings.
  std::function<std::string(const std::vector<int32_t>&)> detokenize;
  int64_t policy_version = 0;  // copied into every Completion
  DecodePath decode_path = DecodePath::kAuto;
  bool cuda_graphs = true;  // slot path: replay the decode step from CUDA graphs per batch-size bucket
};

struct GenerationRequest {
  std::string prompt_id;  // copied into the completions
  std::string group_id;   // empty: prompt_id
  std::string prompt;     // text, for bookkeeping only (prompt_token_ids is what runs)
  std::string domain;
  std::vector<int32_t> prompt_token_ids;  // non-empty, ids in [0, V)
  int32_t n = 1;                          // samples (G)
  uint64_t seed = 0;                      // sample j draws from SequenceRng(seed, j)
  int32_t max_new_tokens = 256;           // >= 1
  SamplingParams sampling;
};

struct RequestOutput {
  absl::Status status;                      // per-request validation result
  std::vector<rl::Completion> completions;  // n completions in sample_index order when status is OK
  std::vector<int64_t> state_bytes;         // [n] DecodeState::StateBytes() at each completion's end
};

struct GenerationStats {
  int64_t requests = 0;
  int64_t completions = 0;
  int64_t prompt_tokens_prefilled = 0;  // once per request (shared by its samples)
  int64_t generated_tokens = 0;
  int64_t decode_steps = 0;   // Step() calls
  int64_t prefill_calls = 0;  // Prefill() calls (chunks)
  int32_t peak_batch_size = 0;
  int64_t peak_reserved_bytes = 0;  // admission-control reservations
  int64_t peak_state_bytes = 0;     // measured StateBytes() of live states, sampled after each step
  int64_t admission_waits = 0;      // times the head sample waited for memory with a batch slot free
  double wall_ms = 0.0;
  double model_ms = 0.0;  // inside DecodeModel Prefill/Step/Copy (incl. the logits copy)
  int64_t stop_counts[rl::StopReason_ARRAYSIZE] = {};  // by rl::StopReason
  // Slot path only.
  std::string decode_path = "per_sequence";  // "per_sequence", "slots" (eager) or "slots+graphs"
  int32_t graphs_captured = 0;               // batch-size buckets replayed from CUDA graphs
  std::string graph_note;                    // why the step ran eagerly, when it did
  double prefill_ms = 0.0;                   // host wall time in PrefillSlots + first-token sampling
  double step_ms = 0.0;                      // host wall time from step launch to its outputs on the host
};

class SlotRunner;  // rollout/slot_engine.h

class Engine {
 public:
  // Called after every decode step and every finished completion with running totals.
  using ProgressFn = std::function<void(const GenerationStats&, int64_t completions_total)>;
  using DoneFn = std::function<void(const rl::Completion&)>;

  // kInvalidArgument naming the option (rollout.max_batch_size, ...) when options are out of range.
  // `model` is borrowed.
  static absl::StatusOr<std::unique_ptr<Engine>> Create(DecodeModel* model, EngineOptions options);
  ~Engine();

  // Generates n completions for each request. `on_done` (may be null) receives each completion as soon
  // as it finishes, in finishing order, before Generate returns. Returns one RequestOutput per request,
  // same order. See the file comment for errors.
  absl::StatusOr<std::vector<RequestOutput>> Generate(const std::vector<GenerationRequest>& requests,
                                                      const DoneFn& on_done = nullptr,
                                                      const ProgressFn& on_progress = nullptr);

  // Statistics of the last Generate() call.
  const GenerationStats& last_stats() const { return stats_; }
  const EngineOptions& options() const { return options_; }

  // Checks one request against the model (vocabulary, context) and value ranges; kInvalidArgument
  // naming `field` (e.g. "requests[3]") on failure.
  absl::Status ValidateRequest(const GenerationRequest& request, const std::string& field) const;

 private:
  Engine(DecodeModel* model, EngineOptions options);
  bool UseSlots() const;
  absl::StatusOr<std::vector<RequestOutput>> GenerateImpl(const std::vector<GenerationRequest>& requests,
                                                          const DoneFn& on_done,
                                                          const ProgressFn& on_progress);

  DecodeModel* model_;
  EngineOptions options_;
  size_t stop_window_tokens_ = 0;  // tokens decoded for the stop-string check
  GenerationStats stats_;
  std::unique_ptr<SlotRunner> slot_runner_;  // created on the first slot-path Generate
};

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_ENGINE_H_
