// A DecodeModel whose logits are a pure function of each sequence's token history, for engine tests:
// the next-token distribution is known in closed form, states are plain token lists, and every call is
// counted so tests can check shared prefill, batching and memory use.
#ifndef M1RL_ROLLOUT_TESTING_FAKE_DECODE_MODEL_H_
#define M1RL_ROLLOUT_TESTING_FAKE_DECODE_MODEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "rollout/decode_model.h"

namespace m1rl::rollout::testing {

class FakeDecodeModel final : public DecodeModel {
 public:
  // Fills `logits` ([V] fp32) for the next token after `history` (prompt + generated so far).
  using LogitsFn = std::function<void(const std::vector<int32_t>& history, float* logits)>;

  // State bytes of a sequence of n tokens: fixed_bytes + bytes_per_token * n.
  FakeDecodeModel(int32_t vocab_size, int64_t max_context, int64_t fixed_bytes, int64_t bytes_per_token,
                  LogitsFn logits_fn);

  int32_t vocab_size() const override { return vocab_size_; }
  int64_t max_context() const override { return max_context_; }
  int64_t StateBytesAt(int64_t num_tokens) const override {
    return fixed_bytes_ + bytes_per_token_ * num_tokens;
  }
  std::unique_ptr<DecodeState> NewSequence() override;
  at::Tensor Prefill(DecodeState* state, const std::vector<int32_t>& tokens) override;  // [V] fp32
  at::Tensor Step(const std::vector<DecodeState*>& states,
                  const std::vector<int32_t>& tokens) override;  // [B, V] fp32

  // Counters.
  int64_t prefill_calls() const { return prefill_calls_; }
  int64_t prefill_tokens() const { return prefill_tokens_; }
  const std::vector<int64_t>& step_batch_sizes() const { return step_batch_sizes_; }
  int64_t copies() const { return *copies_; }
  int64_t live_states() const { return *live_; }
  int64_t peak_live_states() const { return *peak_live_; }
  // Sum of StateBytes() of live states, maximised over Step calls.
  int64_t peak_live_bytes() const { return peak_live_bytes_; }

 private:
  class State;
  int32_t vocab_size_;
  int64_t max_context_;
  int64_t fixed_bytes_;
  int64_t bytes_per_token_;
  LogitsFn logits_fn_;
  int64_t prefill_calls_ = 0;
  int64_t prefill_tokens_ = 0;
  std::vector<int64_t> step_batch_sizes_;
  std::shared_ptr<int64_t> copies_ = std::make_shared<int64_t>(0);
  std::shared_ptr<int64_t> live_ = std::make_shared<int64_t>(0);
  std::shared_ptr<int64_t> peak_live_ = std::make_shared<int64_t>(0);
  int64_t peak_live_bytes_ = 0;
};

}  // namespace m1rl::rollout::testing

#endif  // M1RL_ROLLOUT_TESTING_FAKE_DECODE_MODEL_H_
