// Fused token sampling over slotted sequences (rollout decode, ARCHITECTURE.md "On the GPU"): one pass per
// decode step samples a token for every row of a [B, V] fp32 logits tensor, records its behaviour log-prob,
// advances the repetition-truncation run counter and evaluates the stop rules, all on the device. Raw
// pointers + stream in, cudaError_t out; no torch/absl (S3). The CPU reference with identical semantics is
// kernels/reference/sampling.h (reference::SampleSlots); the host sampler (rollout/sampler.h) defines the
// distribution both must reproduce.
//
// Per row b (slot s = slots[b]; rows whose slot state has stop != 0 are skipped, out_token[b] = -1):
//   z = logits[b, :] (fp32), s_i = z_i * inv_temperature in float64, w_i = exp(s_i - max s), Z = sum w;
//   candidate set: all tokens, or the top_k by z (ties: lower index), then the smallest prefix of those, in
//   descending order (ties: lower index), whose mass reaches top_p * mass(top_k set);
//   greedy: argmax (lowest index); else u = PhiloxUniform(seed, stream, generated) and the token is the one
//   whose interval, in *token index order* over the candidate set, contains u * mass(candidates). (The host
//   sampler walks the candidates in descending order instead: same distribution, different map from u.)
//   logprob = s_token - max - log Z: the *full* tempered distribution's log-prob (before top-k/top-p), as
//   the training forward computes it. prob = exp(logprob) in float64 feeds the run counter
//   rep_run = prob > repetition_threshold ? rep_run + 1 : 0.
//   Stop, first that holds: EOS (token in eos_ids) > REPETITION (rep_run == run length, if > 0) > LENGTH
//   (generated == max_new_tokens) > CONTEXT (generated == max_generated). NaN/+inf logits or all -inf:
//   kStopError. Then next_token[s] = token, length[s] += advance_length, generated += 1.
#ifndef M1RL_KERNELS_CUDA_SAMPLING_H_
#define M1RL_KERNELS_CUDA_SAMPLING_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/sampling_args.h"

namespace m1rl::cuda {

cudaError_t SampleSlots(const SampleSlotsArgs& args, cudaStream_t stream);

}  // namespace m1rl::cuda

#endif  // M1RL_KERNELS_CUDA_SAMPLING_H_
