// Plain types of the fused slot sampler (kernels/cuda/sampling.h), shared by the CUDA launcher and the CPU
// reference (kernels/reference/sampling.h); no CUDA header, so CPU-only builds use them too.
#ifndef M1RL_KERNELS_CUDA_SAMPLING_ARGS_H_
#define M1RL_KERNELS_CUDA_SAMPLING_ARGS_H_

#include <cstdint>

namespace m1rl::cuda {

// Stop codes written to SlotSamplingState::stop and out_stop.
enum SlotStop : int32_t {
  kStopNone = 0,
  kStopEos = 1,
  kStopRepetition = 2,
  kStopLength = 3,
  kStopContext = 4,
  kStopError = 5,     // non-finite logits
  kStopInactive = 6,  // slot not in use (host-set; rows of such slots are skipped)
};

// Set by the host when a sequence takes a slot; read-only on the device.
struct SlotSamplingParams {
  uint64_t seed = 0;
  uint64_t stream = 0;           // the sample index within its request
  double inv_temperature = 1.0;  // 1 / temperature, as the host sampler computes it
  double top_p = 1.0;            // (0, 1]; 1 = off
  int32_t top_k = 0;             // 0 = off
  int32_t greedy = 0;
  int32_t max_new_tokens = 1;  // LENGTH stop
  int32_t max_generated = 1;   // CONTEXT stop: max_context - prompt tokens
};

// Per-slot running state, updated by the sampler; the host writes it at admission (all zero, stop 0).
struct SlotSamplingState {
  int32_t generated = 0;
  int32_t rep_run = 0;
  int32_t stop = kStopInactive;
  int32_t pad = 0;
};

struct SampleSlotsArgs {
  const float* logits = nullptr;  // [batch, logits_row_stride] fp32, first `vocab` columns used
  int64_t batch = 0;
  int64_t vocab = 0;
  int64_t logits_row_stride = 0;
  const int32_t* slots = nullptr;              // [batch]
  const SlotSamplingParams* params = nullptr;  // [num_slots]
  SlotSamplingState* state = nullptr;          // [num_slots]
  const int32_t* eos_ids = nullptr;            // [num_eos]
  int32_t num_eos = 0;
  double repetition_threshold = 0.99;
  int32_t repetition_run_length = 0;  // 0 = off
  int64_t* next_token = nullptr;      // [num_slots] the sampled token (the next decode input)
  int64_t* length = nullptr;          // [num_slots] tokens in the model state; += advance_length
  int32_t advance_length = 1;         // 1 after a decode step, 0 after prefill
  int32_t* out_token = nullptr;       // [batch] token, or -1 for a skipped row
  float* out_logprob = nullptr;       // [batch]
  int32_t* out_stop = nullptr;        // [batch] SlotStop
};

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_SAMPLING_ARGS_H_
