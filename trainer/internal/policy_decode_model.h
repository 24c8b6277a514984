// Adapts model::HybridModel to the rollout engine's DecodeModel seam (colocated generation: the engine
// decodes with the very weights the trainer updates). The model is borrowed.
#ifndef M1RL_TRAINER_INTERNAL_POLICY_DECODE_MODEL_H_
#define M1RL_TRAINER_INTERNAL_POLICY_DECODE_MODEL_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "model/hybrid_model.h"
#include "rollout/decode_model.h"

namespace m1rl::trainer::internal {

class PolicyDecodeState final : public rollout::DecodeState {
 public:
  explicit PolicyDecodeState(model::SequenceState state) : state_(std::move(state)) {}
  std::unique_ptr<rollout::DecodeState> Copy() const override {
    return std::make_unique<PolicyDecodeState>(state_.Copy());
  }
  int64_t num_tokens() const override { return state_.num_tokens(); }
  int64_t StateBytes() const override { return state_.StateBytes(); }
  model::SequenceState* state() { return &state_; }

 private:
  model::SequenceState state_;
};

class PolicyDecodeModel final : public rollout::DecodeModel {
 public:
  PolicyDecodeModel(const model::HybridModel* model, model::DecodeOptions options) : model_(model), options_(options) {}

  int32_t vocab_size() const override { return static_cast<int32_t>(model_->config().vocab_size); }
  int64_t max_context() const override { return model_->config().max_position_embeddings; }
  int64_t StateBytesAt(int64_t num_tokens) const override {
    const model::ModelConfig& c = model_->config();
    int64_t bytes = 0;
    for (model::LayerType t : c.layer_types) {
      if (t == model::LayerType::kFullAttention) {
        bytes += 2 * c.num_key_value_heads * num_tokens * c.head_dim * 4;
      } else {
        bytes += c.num_attention_heads * c.head_dim * c.head_dim * 4;
      }
    }
    return bytes;
  }
  std::unique_ptr<rollout::DecodeState> NewSequence() override {
    return std::make_unique<PolicyDecodeState>(model_->NewSequence());
  }
  at::Tensor Prefill(rollout::DecodeState* state, const std::vector<int32_t>& tokens) override {
    return model_->Prefill(static_cast<PolicyDecodeState*>(state)->state(), tokens, options_);
  }
  at::Tensor Step(const std::vector<rollout::DecodeState*>& states, const std::vector<int32_t>& tokens) override {
    std::vector<model::SequenceState*> seqs;
    seqs.reserve(states.size());
    for (rollout::DecodeState* s : states) seqs.push_back(static_cast<PolicyDecodeState*>(s)->state());
    return model_->Step(seqs, tokens, options_);
  }

 private:
  const model::HybridModel* model_;
  model::DecodeOptions options_;
};

}  // namespace m1rl::trainer::internal

#endif  // M1RL_TRAINER_INTERNAL_POLICY_DECODE_MODEL_H_
