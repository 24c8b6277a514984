#include "rollout/slot_engine.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/status_macros.h"
#include "kernels/cuda/sampling_args.h"
#include "rollout/slot_pool.h"

namespace m1rl::rollout {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// One sample holding a slot.
struct Seq {
  size_t request = 0;
  int32_t sample = 0;
  int32_t slot = -1;
  rl::Completion completion;
  Clock::time_point start;
};

// A prefilled prompt with n > 1 samples, some not admitted yet; its state sits in prefix_slot.
struct Group {
  size_t request = 0;
  int32_t next_sample = 0;
  int32_t prefix_slot = -1;
  at::Tensor logits;  // [V] fp32 device: the first token's distribution
};

// A freshly admitted sample and the logits row of its first token.
struct NewSample {
  size_t active_index = 0;
  at::Tensor logits;  // [V] fp32 device
};

rl::StopReason ToStopReason(int32_t code) {
  switch (code) {
    case cuda::kStopEos:
      return rl::STOP_EOS;
    case cuda::kStopRepetition:
      return rl::STOP_REPETITION;
    case cuda::kStopLength:
      return rl::STOP_LENGTH;
    case cuda::kStopContext:
      return rl::STOP_CONTEXT;
    default:
      return rl::STOP_REASON_UNSPECIFIED;
  }
}

// Prompt plus max_new_tokens, capped by the context: the tokens a sample's state may reach.
int64_t FinalLength(const GenerationRequest& r, int64_t max_context) {
  return std::min<int64_t>(static_cast<int64_t>(r.prompt_token_ids.size()) + r.max_new_tokens, max_context);
}

at::Tensor HostInts(const std::vector<int64_t>& v, at::ScalarType dtype) {
  return at::from_blob(const_cast<int64_t*>(v.data()), {static_cast<int64_t>(v.size())},
                       at::TensorOptions().dtype(at::kLong))
      .to(dtype, /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace

// The state of one Generate call on the slot path and its stages: admission (packed prefill of single-sample
// prompts, prefix copies for groups), first tokens sampled from the prefill logits, batched decode steps.
struct SlotRunner::Run {
  Run(SlotRunner* runner, const std::vector<GenerationRequest>& r, std::vector<RequestOutput>* o,
      const Engine::DoneFn& done, const Engine::ProgressFn& progress, GenerationStats* s, int32_t slots)
      : self(*runner),
        options(runner->options_),
        requests(r),
        outputs(*o),
        on_done(done),
        on_progress(progress),
        stats(*s),
        pool(slots, runner->options_.memory_budget_bytes),
        max_context(runner->model_->max_context()) {}

  absl::Status Loop();
  absl::Status AdmitAll();
  bool PrefillBatch();
  bool AdmitFromGroup();
  void NewSeq(size_t request, int32_t sample, int32_t slot, const at::Tensor& logits);
  absl::Status StartFresh();
  at::Tensor WriteFreshSlots();
  absl::Status DecodeStep();
  absl::StatusOr<rl::StopReason> Accept(Seq& seq, int32_t token, float logprob, int32_t code);
  void Finish(Seq& seq, rl::StopReason reason);
  void Report() {
    if (on_progress) on_progress(stats, stats.completions);
  }
  int64_t FinalLen(const GenerationRequest& r) const { return FinalLength(r, max_context); }

  SlotRunner& self;
  const EngineOptions& options;
  const std::vector<GenerationRequest>& requests;
  std::vector<RequestOutput>& outputs;
  const Engine::DoneFn& on_done;
  const Engine::ProgressFn& on_progress;
  GenerationStats& stats;
  SlotPool pool;
  const int64_t max_context;
  std::deque<size_t> queue;
  std::optional<Group> group;
  std::vector<Seq> active;
  std::vector<NewSample> fresh;  // admitted this round, first token not sampled yet
};

SlotRunner::SlotRunner(DecodeModel* model, SlotDecoder* decoder, const EngineOptions& options)
    : model_(model), decoder_(decoder), options_(options), device_(decoder->device()) {
  std::vector<int64_t> eos(options_.eos_token_ids.begin(), options_.eos_token_ids.end());
  eos_ = HostInts(eos, at::kInt).to(device_);
  done_ = std::make_unique<ops::DeviceEvent>(device_);
}

SlotRunner::~SlotRunner() = default;

void SlotRunner::EnsureCapacity(int32_t num_slots, int64_t max_tokens) {
  if (params_.defined() && num_slots_ >= num_slots && max_tokens_ >= max_tokens) return;
  buckets_.clear();  // graphs point into the old pools
  num_slots_ = std::max(num_slots, num_slots_);
  max_tokens_ = std::max(max_tokens, max_tokens_);
  decoder_->AllocateSlots(num_slots_, max_tokens_);
  const auto bytes = at::TensorOptions().dtype(at::kByte).device(device_);
  params_ = at::zeros({num_slots_, static_cast<int64_t>(sizeof(cuda::SlotSamplingParams))}, bytes);
  std::vector<cuda::SlotSamplingState> inactive(num_slots_);  // stop = kStopInactive
  state_ = at::from_blob(inactive.data(), {num_slots_, static_cast<int64_t>(sizeof(cuda::SlotSamplingState))},
                         at::TensorOptions().dtype(at::kByte))
               .to(device_, /*non_blocking=*/false, /*copy=*/true);
  next_token_ = at::zeros({num_slots_}, at::TensorOptions().dtype(at::kLong).device(device_));
  length_ = at::zeros({num_slots_}, at::TensorOptions().dtype(at::kLong).device(device_));
  std::vector<int32_t> sizes;
  for (int32_t b = 1; b < options_.max_batch_size; b *= 2) sizes.push_back(b);
  sizes.push_back(options_.max_batch_size);
  const bool pinned = device_.is_cuda();
  for (int32_t size : sizes) {
    Bucket bucket;
    bucket.size = size;
    const auto i32 = at::TensorOptions().dtype(at::kInt);
    bucket.slots = at::empty({size}, i32.device(device_));
    bucket.slots_host = at::empty({size}, i32.pinned_memory(pinned));
    bucket.out_token = at::empty({size}, i32.device(device_));
    bucket.out_logprob = at::empty({size}, i32.dtype(at::kFloat).device(device_));
    bucket.out_stop = at::empty({size}, i32.device(device_));
    bucket.out_host = at::empty({3, size}, i32.pinned_memory(pinned));
    buckets_.push_back(std::move(bucket));
  }
}

SlotRunner::Bucket& SlotRunner::BucketFor(int32_t batch) {
  for (Bucket& b : buckets_)
    if (b.size >= batch) return b;
  M1RL_CHECK(false) << "batch " << batch << " exceeds max_batch_size " << options_.max_batch_size;
  return buckets_.back();
}

void SlotRunner::StepOnDevice(Bucket& bucket) {
  const at::Tensor tokens = next_token_.index_select(0, bucket.slots);  // [size] int64
  const at::Tensor positions = length_.index_select(0, bucket.slots);   // [size] int64
  const at::Tensor logits = decoder_->StepSlots(bucket.slots, tokens, positions);
  ops::SampleSlots({logits, bucket.slots, params_, state_, eos_, next_token_, length_, bucket.out_token,
                    bucket.out_logprob, bucket.out_stop},
                   options_.repetition_threshold, static_cast<int32_t>(options_.repetition_run_length),
                   /*advance_length=*/1);
}

void SlotRunner::RunStep(Bucket& bucket, GenerationStats* stats) {
  const Clock::time_point t0 = Clock::now();
  bucket.slots.copy_(bucket.slots_host, /*non_blocking=*/true);
  if (!options_.cuda_graphs || !device_.is_cuda()) {
    StepOnDevice(bucket);
    if (stats->graph_note.empty()) {
      stats->graph_note = options_.cuda_graphs ? "not a CUDA device" : "rollout.cuda_graphs is off";
    }
  } else if (!bucket.capture_tried) {
    bucket.capture_tried = true;
    std::string why;
    // The warm-up run inside CaptureDeviceGraph is this step.
    bucket.graph = ops::CaptureDeviceGraph(
        device_, [this, &bucket] { StepOnDevice(bucket); }, &why);
    if (bucket.graph == nullptr) stats->graph_note = absl::StrCat("bucket ", bucket.size, ": ", why);
  } else if (bucket.graph != nullptr) {
    bucket.graph->Replay();
  } else {
    StepOnDevice(bucket);
  }
  bucket.out_host[0].copy_(bucket.out_token, /*non_blocking=*/true);
  bucket.out_host[1].copy_(bucket.out_logprob.view(at::kInt), /*non_blocking=*/true);
  bucket.out_host[2].copy_(bucket.out_stop, /*non_blocking=*/true);
  done_->Record();
  done_->Wait();
  stats->step_ms += MsSince(t0);
}

absl::Status SlotRunner::Generate(const std::vector<GenerationRequest>& requests,
                                  std::vector<RequestOutput>* outputs, const Engine::DoneFn& on_done,
                                  const Engine::ProgressFn& on_progress, GenerationStats* stats) {
  // Slots: max_batch samples, one prompt prefix, one scratch slot for the padding rows of a bucket.
  int64_t max_tokens = 1;
  for (size_t i = 0; i < requests.size(); ++i) {
    if ((*outputs)[i].status.ok())
      max_tokens = std::max(max_tokens, FinalLength(requests[i], model_->max_context()));
  }
  EnsureCapacity(options_.max_batch_size + 2, max_tokens);
  Run run(this, requests, outputs, on_done, on_progress, stats, num_slots_ - 1);
  for (size_t i = 0; i < requests.size(); ++i)
    if ((*outputs)[i].status.ok()) run.queue.push_back(i);
  stats->decode_path = "slots";
  M1RL_RETURN_IF_ERROR(run.Loop());
  M1RL_CHECK_EQ(run.pool.reserved_bytes(), 0);
  stats->admission_waits += run.pool.budget_waits();
  int32_t graphs = 0;
  for (const Bucket& b : buckets_) graphs += b.graph != nullptr ? 1 : 0;
  stats->graphs_captured = graphs;
  if (graphs > 0) stats->decode_path = "slots+graphs";
  stats->model_ms = stats->prefill_ms + stats->step_ms;
  return absl::OkStatus();
}

absl::Status SlotRunner::Run::Loop() {
  while (true) {
    M1RL_RETURN_IF_ERROR(AdmitAll());
    stats.peak_reserved_bytes = std::max(stats.peak_reserved_bytes, pool.peak_reserved_bytes());
    if (active.empty()) {
      if (group.has_value() || !queue.empty()) continue;
      return absl::OkStatus();
    }
    M1RL_RETURN_IF_ERROR(DecodeStep());
  }
}

// Admission until the batch is full or memory says wait; fresh samples get their first token at once, and
// those that stop on it make room for more.
absl::Status SlotRunner::Run::AdmitAll() {
  while (true) {
    while (static_cast<int32_t>(active.size()) < options.max_batch_size &&
           (group.has_value() ? AdmitFromGroup() : (!queue.empty() && PrefillBatch()))) {
    }
    const size_t before = active.size();
    M1RL_RETURN_IF_ERROR(StartFresh());
    if (active.size() == before) return absl::OkStatus();
    Report();
  }
}

// Prefills the next requests from the queue in one packed call; false when none could be admitted.
bool SlotRunner::Run::PrefillBatch() {
  const int64_t budget = options.memory_budget_bytes;
  std::vector<size_t> reqs;
  std::vector<int32_t> slots;
  std::vector<std::vector<int32_t>> prompts;
  int64_t tokens = 0;
  while (!queue.empty()) {
    const GenerationRequest& r = requests[queue.front()];
    const int64_t prompt = static_cast<int64_t>(r.prompt_token_ids.size());
    if (!reqs.empty() && (r.n > 1 || tokens + prompt > options.prefill_chunk)) break;
    if (static_cast<int32_t>(active.size() + reqs.size()) >= options.max_batch_size) break;
    const bool idle = active.empty() && reqs.empty();
    const int64_t sample_bytes = self.model_->StateBytesAt(FinalLen(r));
    const int64_t prefix_bytes = self.model_->StateBytesAt(prompt);
    if (r.n > 1 && budget > 0 && !idle && pool.reserved_bytes() + prefix_bytes + sample_bytes > budget) {
      ++stats.admission_waits;
      break;
    }
    std::optional<int32_t> slot = pool.Acquire(r.n > 1 ? prefix_bytes : sample_bytes, idle || r.n > 1);
    if (!slot.has_value()) break;
    reqs.push_back(queue.front());
    slots.push_back(*slot);
    prompts.push_back(r.prompt_token_ids);
    tokens += prompt;
    queue.pop_front();
    if (r.n > 1) break;
  }
  if (reqs.empty()) return false;
  const Clock::time_point t0 = Clock::now();
  const int32_t vocab = self.model_->vocab_size();
  const at::Tensor logits = self.decoder_->PrefillSlots(slots, prompts);  // [n, V]
  TORCH_CHECK(
      logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(reqs.size()) && logits.size(1) == vocab,
      "expected prefill logits [", reqs.size(), ", ", vocab, "], got ", logits.sizes());
  stats.prefill_ms += MsSince(t0);
  ++stats.prefill_calls;
  stats.prompt_tokens_prefilled += tokens;
  for (size_t i = 0; i < reqs.size(); ++i) {
    if (requests[reqs[i]].n == 1) {
      NewSeq(reqs[i], 0, slots[i], logits[i]);
    } else {
      group = Group{reqs[i], 0, slots[i], logits[i]};
    }
  }
  return true;
}

// Admits one sample of the pending group; false when it must wait.
bool SlotRunner::Run::AdmitFromGroup() {
  Group& g = *group;
  const GenerationRequest& r = requests[g.request];
  const int64_t prompt = static_cast<int64_t>(r.prompt_token_ids.size());
  const int64_t sample_bytes = self.model_->StateBytesAt(FinalLen(r));
  const int64_t budget = options.memory_budget_bytes;
  const bool idle = active.empty();
  int32_t slot = -1;
  if (g.next_sample + 1 == r.n) {  // the last sample takes the prefix slot over
    const int64_t need = sample_bytes - self.model_->StateBytesAt(prompt);
    if (budget > 0 && !idle && pool.reserved_bytes() + need > budget) {
      ++stats.admission_waits;
      return false;
    }
    slot = g.prefix_slot;
    pool.Reserve(slot, sample_bytes);
  } else {
    std::optional<int32_t> s = pool.Acquire(sample_bytes, idle);
    if (!s.has_value()) return false;
    slot = *s;
    self.decoder_->CopySlot(g.prefix_slot, slot, prompt);
  }
  NewSeq(g.request, g.next_sample++, slot, g.logits);
  if (g.next_sample == r.n) group.reset();
  return true;
}

void SlotRunner::Run::NewSeq(size_t request, int32_t sample, int32_t slot, const at::Tensor& logits) {
  const GenerationRequest& r = requests[request];
  Seq seq;
  seq.request = request;
  seq.sample = sample;
  seq.slot = slot;
  seq.start = Clock::now();
  rl::Completion& c = seq.completion;
  c.set_prompt_id(r.prompt_id);
  c.set_sample_index(sample);
  c.set_group_id(r.group_id.empty() ? r.prompt_id : r.group_id);
  c.set_prompt(r.prompt);
  c.set_domain(r.domain);
  c.set_policy_version(options.policy_version);
  c.mutable_prompt_token_ids()->Add(r.prompt_token_ids.begin(), r.prompt_token_ids.end());
  active.push_back(std::move(seq));
  fresh.push_back({active.size() - 1, logits});
}

// Writes the sampling parameters and fresh sampler state of the fresh samples' slots and their prompt
// lengths; returns the slots [k] int64 on the device.
at::Tensor SlotRunner::Run::WriteFreshSlots() {
  const int64_t k = static_cast<int64_t>(fresh.size());
  std::vector<cuda::SlotSamplingParams> params(k);
  std::vector<cuda::SlotSamplingState> state(k);
  std::vector<int64_t> slots(k), lengths(k);
  for (int64_t i = 0; i < k; ++i) {
    const Seq& seq = active[fresh[i].active_index];
    const GenerationRequest& r = requests[seq.request];
    params[i].seed = r.seed;
    params[i].stream = static_cast<uint64_t>(seq.sample);
    params[i].inv_temperature = 1.0 / r.sampling.temperature;
    params[i].top_p = r.sampling.top_p;
    params[i].top_k = r.sampling.top_k;
    params[i].greedy = r.sampling.greedy ? 1 : 0;
    params[i].max_new_tokens = r.max_new_tokens;
    params[i].max_generated =
        static_cast<int32_t>(max_context - static_cast<int64_t>(r.prompt_token_ids.size()));
    state[i].stop = cuda::kStopNone;
    slots[i] = seq.slot;
    lengths[i] = static_cast<int64_t>(r.prompt_token_ids.size());
  }
  const at::Device device = self.device_;
  at::Tensor idx = HostInts(slots, at::kLong).to(device);
  const auto byte_opts = at::TensorOptions().dtype(at::kByte);
  self.params_.index_copy_(
      0, idx,
      at::from_blob(params.data(), {k, static_cast<int64_t>(sizeof(cuda::SlotSamplingParams))}, byte_opts)
          .to(device));
  self.state_.index_copy_(
      0, idx,
      at::from_blob(state.data(), {k, static_cast<int64_t>(sizeof(cuda::SlotSamplingState))}, byte_opts)
          .to(device));
  self.length_.index_copy_(0, idx, HostInts(lengths, at::kLong).to(device));
  return idx;
}

// Samples the fresh samples' first tokens from their prefill logits on the device and accepts them.
absl::Status SlotRunner::Run::StartFresh() {
  if (fresh.empty()) return absl::OkStatus();
  const Clock::time_point t0 = Clock::now();
  const int64_t k = static_cast<int64_t>(fresh.size());
  const at::Tensor slots_dev = WriteFreshSlots().to(at::kInt);
  std::vector<at::Tensor> rows;
  for (const NewSample& f : fresh) rows.push_back(f.logits);
  const auto i32 = at::TensorOptions().dtype(at::kInt).device(self.device_);
  at::Tensor out_token = at::empty({k}, i32), out_stop = at::empty({k}, i32);
  at::Tensor out_logprob = at::empty({k}, i32.dtype(at::kFloat));
  ops::SampleSlots({at::stack(rows, 0).contiguous(), slots_dev, self.params_, self.state_, self.eos_,
                    self.next_token_, self.length_, out_token, out_logprob, out_stop},
                   options.repetition_threshold, static_cast<int32_t>(options.repetition_run_length),
                   /*advance_length=*/0);
  const at::Tensor tok = out_token.cpu(), lp = out_logprob.cpu(), stop = out_stop.cpu();
  stats.prefill_ms += MsSince(t0);
  std::vector<bool> done(active.size(), false);
  for (int64_t i = 0; i < k; ++i) {
    const size_t a = fresh[i].active_index;
    M1RL_ASSIGN_OR_RETURN(
        const rl::StopReason reason,
        Accept(active[a], tok.data_ptr<int32_t>()[i], lp.data_ptr<float>()[i], stop.data_ptr<int32_t>()[i]));
    if (reason != rl::STOP_REASON_UNSPECIFIED) {
      Finish(active[a], reason);
      done[a] = true;
    }
  }
  fresh.clear();
  std::vector<Seq> kept;
  for (size_t a = 0; a < active.size(); ++a)
    if (!done[a]) kept.push_back(std::move(active[a]));
  active = std::move(kept);
  return absl::OkStatus();
}

// One decode step over every active sample at the next bucket size (padding rows aim at the scratch slot).
absl::Status SlotRunner::Run::DecodeStep() {
  const int32_t batch = static_cast<int32_t>(active.size());
  stats.peak_batch_size = std::max(stats.peak_batch_size, batch);
  Bucket& bucket = self.BucketFor(batch);
  const int32_t scratch = self.num_slots_ - 1;
  int32_t* slot_ptr = bucket.slots_host.data_ptr<int32_t>();
  for (int32_t i = 0; i < bucket.size; ++i) slot_ptr[i] = i < batch ? active[i].slot : scratch;
  self.RunStep(bucket, &stats);
  ++stats.decode_steps;
  stats.peak_state_bytes = std::max(stats.peak_state_bytes, self.decoder_->SlotBytes());
  const int32_t* out = bucket.out_host.data_ptr<int32_t>();
  std::vector<Seq> still;
  still.reserve(active.size());
  for (int32_t i = 0; i < batch; ++i) {
    float logprob;
    std::memcpy(&logprob, &out[bucket.size + i], sizeof(float));
    M1RL_ASSIGN_OR_RETURN(const rl::StopReason reason,
                          Accept(active[i], out[i], logprob, out[2 * bucket.size + i]));
    if (reason != rl::STOP_REASON_UNSPECIFIED) {
      Finish(active[i], reason);
    } else {
      still.push_back(std::move(active[i]));
    }
  }
  active = std::move(still);
  Report();
  return absl::OkStatus();
}

// Appends one sampled token; returns the stop reason (UNSPECIFIED = continue) or an engine error.
absl::StatusOr<rl::StopReason> SlotRunner::Run::Accept(Seq& seq, int32_t token, float logprob, int32_t code) {
  rl::Completion& c = seq.completion;
  if (code == cuda::kStopError || token < 0) {
    return absl::InternalError(absl::StrCat("rollout: requests[", seq.request, "] sample ", seq.sample,
                                            " token ", c.token_ids_size(),
                                            ": logits contain NaN or +inf, or are all -inf"));
  }
  c.add_token_ids(token);
  c.add_logprobs(logprob);
  ++stats.generated_tokens;
  const rl::StopReason device_reason = ToStopReason(code);
  if (device_reason == rl::STOP_EOS) return device_reason;
  if (!options.stop_strings.empty()) {
    size_t window = 0;
    for (const std::string& s : options.stop_strings) window = std::max(window, s.size() + 8);
    const int64_t begin = std::max<int64_t>(0, c.token_ids_size() - static_cast<int64_t>(window));
    const std::string tail =
        options.detokenize(std::vector<int32_t>(c.token_ids().begin() + begin, c.token_ids().end()));
    for (const std::string& s : options.stop_strings)
      if (tail.find(s) != std::string::npos) return rl::STOP_STRING;
  }
  return device_reason;
}

void SlotRunner::Run::Finish(Seq& seq, rl::StopReason reason) {
  const GenerationRequest& r = requests[seq.request];
  rl::Completion& c = seq.completion;
  c.set_stop_reason(reason);
  if (options.detokenize) {
    std::vector<int32_t> ids(c.token_ids().begin(), c.token_ids().end());
    if (reason == rl::STOP_EOS) ids.pop_back();
    c.set_text(options.detokenize(ids));
  }
  c.set_generate_ms(MsSince(seq.start));
  ++stats.completions;
  ++stats.stop_counts[reason];
  pool.Release(seq.slot);
  RequestOutput& out = outputs[seq.request];
  // Tokens in the state: the last sampled token is never fed to the model.
  out.state_bytes[seq.sample] =
      self.model_->StateBytesAt(static_cast<int64_t>(r.prompt_token_ids.size()) + c.token_ids_size() - 1);
  if (on_done) on_done(c);
  out.completions[seq.sample] = std::move(c);
}

}  // namespace m1rl::rollout
