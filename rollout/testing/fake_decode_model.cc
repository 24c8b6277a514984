#include "rollout/testing/fake_decode_model.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <utility>

#include "common/check.h"

namespace m1rl::rollout::testing {

class FakeDecodeModel::State final : public DecodeState {
 public:
  State(const FakeDecodeModel* model, std::shared_ptr<int64_t> copies, std::shared_ptr<int64_t> live,
        std::shared_ptr<int64_t> peak_live)
      : model_(model), copies_(std::move(copies)), live_(std::move(live)), peak_live_(std::move(peak_live)) {
    ++*live_;
    *peak_live_ = std::max(*peak_live_, *live_);
  }
  ~State() override { --*live_; }

  std::unique_ptr<DecodeState> Copy() const override {
    ++*copies_;
    auto copy = std::make_unique<State>(model_, copies_, live_, peak_live_);
    copy->history = history;
    return copy;
  }
  int64_t num_tokens() const override { return static_cast<int64_t>(history.size()); }
  int64_t StateBytes() const override { return model_->StateBytesAt(num_tokens()); }

  std::vector<int32_t> history;

 private:
  const FakeDecodeModel* model_;
  std::shared_ptr<int64_t> copies_;
  std::shared_ptr<int64_t> live_;
  std::shared_ptr<int64_t> peak_live_;
};

FakeDecodeModel::FakeDecodeModel(int32_t vocab_size, int64_t max_context, int64_t fixed_bytes,
                                 int64_t bytes_per_token, LogitsFn logits_fn)
    : vocab_size_(vocab_size),
      max_context_(max_context),
      fixed_bytes_(fixed_bytes),
      bytes_per_token_(bytes_per_token),
      logits_fn_(std::move(logits_fn)) {}

std::unique_ptr<DecodeState> FakeDecodeModel::NewSequence() {
  return std::make_unique<State>(this, copies_, live_, peak_live_);
}

at::Tensor FakeDecodeModel::Prefill(DecodeState* state, const std::vector<int32_t>& tokens) {
  M1RL_CHECK(!tokens.empty());
  auto* s = static_cast<State*>(state);
  ++prefill_calls_;
  prefill_tokens_ += static_cast<int64_t>(tokens.size());
  for (int32_t t : tokens) {
    M1RL_CHECK(t >= 0 && t < vocab_size_) << "token " << t;
    s->history.push_back(t);
  }
  M1RL_CHECK_LE(s->num_tokens(), max_context_);
  at::Tensor out = at::empty({vocab_size_}, at::kFloat);
  logits_fn_(s->history, out.data_ptr<float>());
  return out;
}

at::Tensor FakeDecodeModel::Step(const std::vector<DecodeState*>& states,
                                 const std::vector<int32_t>& tokens) {
  M1RL_CHECK_EQ(states.size(), tokens.size());
  M1RL_CHECK(!states.empty());
  step_batch_sizes_.push_back(static_cast<int64_t>(states.size()));
  const int64_t batch = static_cast<int64_t>(states.size());
  at::Tensor out = at::empty({batch, vocab_size_}, at::kFloat);
  float* data = out.data_ptr<float>();
  int64_t bytes = 0;
  for (int64_t b = 0; b < batch; ++b) {
    auto* s = static_cast<State*>(states[b]);
    M1RL_CHECK(tokens[b] >= 0 && tokens[b] < vocab_size_) << "token " << tokens[b];
    s->history.push_back(tokens[b]);
    M1RL_CHECK_LE(s->num_tokens(), max_context_);
    logits_fn_(s->history, data + b * vocab_size_);
    bytes += s->StateBytes();
  }
  peak_live_bytes_ = std::max(peak_live_bytes_, bytes);
  return out;
}

}  // namespace m1rl::rollout::testing
