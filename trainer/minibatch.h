// Minibatches and micro-batches of the RL update (ARCHITECTURE "One RL step", stage 5), as pure functions
// of their inputs: which minibatch each group of completions goes to, how a minibatch is cut into
// micro-batches by token budget, how sequences are packed for the training forward, and the per-token
// tensors of one micro-batch handed to the policy loss.
//
// Thread safety: all functions are pure; RlSample is a plain value.
#ifndef M1RL_TRAINER_MINIBATCH_H_
#define M1RL_TRAINER_MINIBATCH_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <limits>
#include <vector>

namespace m1rl::trainer {

// One completion kept for the update.
struct RlSample {
  int64_t group = 0;                    // local group index (dense, in collection order)
  std::vector<int32_t> prompt;          // [prompt] token ids
  std::vector<int32_t> completion;      // [completion] generated token ids, non-empty
  std::vector<float> rollout_logprobs;  // [completion] behaviour log-probs (l_roll)
  std::vector<uint8_t> loss_mask;       // [completion] v
  double advantage = 0;
  std::vector<float> old_logprobs;  // [completion] l_old (filled before the first update)
  std::vector<float> ref_logprobs;  // [completion] l_ref (only when the KL term needs it, else empty)
};

// ---- minibatch assignment ----

// Padding of the all-gathered group keys (ranks with fewer groups fill their slots with it).
inline constexpr int64_t kNoGroupKey = std::numeric_limits<int64_t>::min();

struct MinibatchAssignment {
  int64_t num_minibatches = 1;        // M = clamp(requested, 1, N) (1 when N = 0)
  std::vector<int64_t> minibatch_of;  // [local groups] in [0, M)
};

// Splits the kept groups of all ranks into minibatches of whole groups. Every group carries a key
// (distinct, >= 0) derived from the global batch only; the keys of all ranks are sorted, and position p
// of N goes to minibatch floor(p * M / N). The split is therefore the same for any world size.
//   gathered_keys: every rank's keys as all-gathered (rank-major, padded with kNoGroupKey);
//   local_keys:    this rank's keys, each present in gathered_keys;
//   requested:     trainer.minibatches_per_step (< 1 means 1).
MinibatchAssignment AssignMinibatches(const std::vector<int64_t>& gathered_keys,
                                      const std::vector<int64_t>& local_keys, int64_t requested);

// Cuts a minibatch's sequences (in order) into micro-batches of whole sequences, starting a new one when
// adding a sequence would exceed `token_budget` positions (a longer sequence gets one of its own);
// token_budget <= 0: one micro-batch. positions[i] = prompt + completion - 1 of sequence i.
// Returns the sequence indices of each micro-batch; empty for an empty minibatch.
std::vector<std::vector<size_t>> SplitMicroBatches(const std::vector<int64_t>& positions,
                                                   int64_t token_budget);

// ---- packing ----

// Sequences (prompt + completion) packed into one training forward: inputs are seq[:-1], targets seq[1:];
// completion token k of sequence i sits at position completion_begin[i] + k.
struct PackedSequences {
  at::Tensor input_ids;                   // [T] int64, on the requested device
  at::Tensor targets;                     // [T] int64, on the requested device
  std::vector<int64_t> cu_seqlens;        // [S+1]
  std::vector<int64_t> completion_begin;  // [S]
};

// REQUIRES: prompts.size() == completions.size(); every prompt non-empty.
PackedSequences PackSequences(const std::vector<const std::vector<int32_t>*>& prompts,
                              const std::vector<const std::vector<int32_t>*>& completions, at::Device device);

// ---- the policy loss's inputs for one micro-batch ----

struct PolicyMicroBatch {
  PackedSequences packed;
  // All [T] on the requested device; 0 / false at prompt positions.
  at::Tensor mask;              // [T] bool, v
  at::Tensor sequence_ids;      // [T] int64, dense ids of the global minibatch
  at::Tensor group_ids;         // [T] int64, dense ids of the global minibatch
  at::Tensor advantages;        // [T] fp32
  at::Tensor old_logprobs;      // [T] fp32, l_old
  at::Tensor rollout_logprobs;  // [T] fp32, l_roll (the behaviour policy's; rollout correction)
  at::Tensor ref_logprobs;      // [T] fp32; undefined unless with_ref
};

// Packs `samples` and lays their per-token values out on the packed positions.
//   sequence_ids[i], group_ids[i]: the global dense ids of samples[i] (every token of it carries them).
// REQUIRES: samples[i]->old_logprobs, rollout_logprobs (and ref_logprobs when with_ref) have
// completion.size() entries.
// Every tensor is built on the host and moved to `device` once.
PolicyMicroBatch BuildPolicyMicroBatch(const std::vector<const RlSample*>& samples,
                                       const std::vector<int64_t>& sequence_ids,
                                       const std::vector<int64_t>& group_ids, bool with_ref,
                                       at::Device device);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_MINIBATCH_H_
