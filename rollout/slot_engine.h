// The slot path of Engine::Generate (engine.h has the contract): continuous batching over a SlotDecoder's
// device-resident pools.
//
// Per Generate: requests are admitted FIFO into slots (SlotPool: free slots and the memory budget, reserving
// StateBytesAt(final length bound) per sample as the per-sequence path does). Consecutive single-sample
// requests are prefilled together in one packed PrefillSlots call (up to prefill_chunk prompt tokens); a
// request with n > 1 is prefilled alone into a prefix slot that its samples copy (the last takes it over).
// First tokens are sampled from the prefill logits on the device. Each decode step is then: gather the
// slots' pending tokens and positions, StepSlots, the fused sampler (token, behaviour log-prob, repetition
// counter, EOS/length/repetition/context stops), all on the device; the host copies back only the [B] new
// tokens, log-probs and stop codes (pinned buffers, one event) and, when stop strings are configured,
// detokenizes the tail. The step for batch size B runs at the next bucket size (1, 2, 4, ..., max_batch_size)
// with padding rows aimed at a scratch slot, and is captured once per bucket as a CUDA graph and replayed;
// where capture fails the step runs eagerly and stats.graph_note says why.
//
// Pools are sized max_batch_size + 2 slots (one prompt prefix, one scratch) by the longest final length of
// the call, kept across calls while large enough (graphs stay valid while the weights are updated in place).
#ifndef M1RL_ROLLOUT_SLOT_ENGINE_H_
#define M1RL_ROLLOUT_SLOT_ENGINE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/ops.h"
#include "rollout/decode_model.h"
#include "rollout/engine.h"

namespace m1rl::rollout {

class SlotRunner {
 public:
  SlotRunner(DecodeModel* model, SlotDecoder* decoder, const EngineOptions& options);
  ~SlotRunner();

  // `outputs` holds one entry per request with status set by validation and completions/state_bytes sized for
  // valid ones; valid requests are generated into it.
  absl::Status Generate(const std::vector<GenerationRequest>& requests, std::vector<RequestOutput>* outputs,
                        const Engine::DoneFn& on_done, const Engine::ProgressFn& on_progress,
                        GenerationStats* stats);

 private:
  struct Bucket {
    int32_t size = 0;
    at::Tensor slots;                             // [size] int32 device
    at::Tensor slots_host;                        // [size] int32 (pinned on CUDA)
    at::Tensor out_token, out_logprob, out_stop;  // [size] device
    at::Tensor out_host;                          // [3, size] int32 host: token, logprob bits, stop
    bool capture_tried = false;
    std::unique_ptr<ops::DeviceGraph> graph;
  };
  struct Run;

  void EnsureCapacity(int32_t num_slots, int64_t max_tokens);
  Bucket& BucketFor(int32_t batch);
  void StepOnDevice(Bucket& bucket);
  // Runs one decode step for the first `batch` rows of bucket.slots_host and leaves the outputs in out_host.
  void RunStep(Bucket& bucket, GenerationStats* stats);

  DecodeModel* model_;
  SlotDecoder* decoder_;
  EngineOptions options_;
  at::Device device_;
  int32_t num_slots_ = 0;  // incl. prefix and scratch slots
  int64_t max_tokens_ = 0;
  at::Tensor params_;      // [S, sizeof(SlotSamplingParams)] uint8 device
  at::Tensor state_;       // [S, sizeof(SlotSamplingState)] uint8 device
  at::Tensor next_token_;  // [S] int64 device
  at::Tensor length_;      // [S] int64 device
  at::Tensor eos_;         // [n_eos] int32 device
  std::vector<Bucket> buckets_;
  std::unique_ptr<ops::DeviceEvent> done_;
};

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_SLOT_ENGINE_H_
