// The seam between the rollout engine and a policy network: incremental decode over per-sequence
// states. HybridDecodeModel (hybrid_decode_model.h) adapts model::HybridModel to it; tests plug fakes
// whose next-token probabilities are known in closed form.
//
// Thread safety: none; the engine calls one method at a time. Methods may throw c10::Error (LibTorch
// failures); the engine catches them at its boundary (S16).
#ifndef M1RL_ROLLOUT_DECODE_MODEL_H_
#define M1RL_ROLLOUT_DECODE_MODEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace m1rl::rollout {

// The decode state of one sequence (KV cache, recurrent state, position). Move-only ownership through
// unique_ptr; Copy() is the explicit deep copy used to fork the G samples of one prompt after one
// shared prefill.
class DecodeState {
 public:
  virtual ~DecodeState() = default;
  virtual std::unique_ptr<DecodeState> Copy() const = 0;
  // Tokens appended so far (= the next position).
  virtual int64_t num_tokens() const = 0;
  // Bytes of device memory this state holds now.
  virtual int64_t StateBytes() const = 0;
};

// The slot path (ARCHITECTURE.md "On the GPU"): sequences live in fixed slots of device-resident pools; a
// decode step names its slots, tokens and positions with device tensors and returns device logits, so the
// engine's step loop (rollout/slot_engine.h) never copies logits or state to the host.
class SlotDecoder {
 public:
  virtual ~SlotDecoder() = default;
  virtual at::Device device() const = 0;
  // (Re)allocates the pools for `num_slots` sequences of at most `max_tokens` tokens; frees the previous
  // ones.
  virtual void AllocateSlots(int32_t num_slots, int64_t max_tokens) = 0;
  virtual void FreeSlots() = 0;
  // Device bytes held by the pools.
  virtual int64_t SlotBytes() const = 0;
  // Fresh sequences: prompts[i] into slots[i]; returns the last-position logits [n, V] fp32 on device().
  virtual at::Tensor PrefillSlots(const std::vector<int32_t>& slots,
                                  const std::vector<std::vector<int32_t>>& prompts) = 0;
  virtual void CopySlot(int32_t src, int32_t dst, int64_t num_tokens) = 0;
  // One token per row; [B] device tensors (slots int32, tokens and positions int64). Returns [B, V] fp32 on
  // device(), without synchronising with the host.
  virtual at::Tensor StepSlots(const at::Tensor& slots, const at::Tensor& tokens,
                               const at::Tensor& positions) = 0;
};

class DecodeModel {
 public:
  virtual ~DecodeModel() = default;

  virtual int32_t vocab_size() const = 0;
  // Longest sequence (prompt + generated tokens) the model can hold.
  virtual int64_t max_context() const = 0;
  // Upper bound on StateBytes() of a state holding `num_tokens` tokens; admission control reserves
  // this for a sequence's final length. Must be non-decreasing in num_tokens.
  virtual int64_t StateBytesAt(int64_t num_tokens) const = 0;

  // A fresh, empty state.
  virtual std::unique_ptr<DecodeState> NewSequence() = 0;
  // Appends `tokens` (non-empty, ids in [0, vocab_size)) to `state` and returns the fp32 logits of the
  // last appended position, [V] fp32 on any device. Callable repeatedly (chunked prefill).
  virtual at::Tensor Prefill(DecodeState* state, const std::vector<int32_t>& tokens) = 0;
  // Appends tokens[i] to states[i] for every i (one batched step; states distinct, same size as
  // tokens) and returns the raw fp32 logits of the new positions, [B, V] fp32.
  virtual at::Tensor Step(const std::vector<DecodeState*>& states, const std::vector<int32_t>& tokens) = 0;
  // The slot path of this model, or null when it has none (the engine then decodes per sequence).
  virtual SlotDecoder* slot_decoder() { return nullptr; }
};

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_DECODE_MODEL_H_
