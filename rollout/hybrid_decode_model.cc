#include "rollout/hybrid_decode_model.h"

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <utility>

#include "common/check.h"

namespace m1rl::rollout {
namespace {

class HybridState final : public DecodeState {
 public:
  explicit HybridState(model::SequenceState state) : state_(std::move(state)) {}
  std::unique_ptr<DecodeState> Copy() const override { return std::make_unique<HybridState>(state_.Copy()); }
  int64_t num_tokens() const override { return state_.num_tokens(); }
  int64_t StateBytes() const override { return state_.StateBytes(); }
  model::SequenceState* Get() { return &state_; }

 private:
  model::SequenceState state_;
};

HybridState* Cast(DecodeState* state) {
  auto* s = dynamic_cast<HybridState*>(state);
  TORCH_CHECK(s != nullptr, "expected a DecodeState created by HybridDecodeModel");
  return s;
}

}  // namespace

HybridDecodeModel::HybridDecodeModel(const model::HybridModel* model, HybridDecodeOptions options)
    : model_(model) {
  M1RL_CHECK(model_ != nullptr);
  decode_options_.head = options.head;
  const int64_t limit = model_->config().max_position_embeddings;
  max_context_ = options.max_context > 0 ? std::min(options.max_context, limit) : limit;
}

int32_t HybridDecodeModel::vocab_size() const { return static_cast<int32_t>(model_->config().vocab_size); }

int64_t HybridDecodeModel::StateBytesAt(int64_t num_tokens) const {
  const model::ModelConfig& c = model_->config();
  const int64_t state_elem = model_->dtype() == at::kDouble ? 8 : 4;
  const int64_t kv_elem = static_cast<int64_t>(c10::elementSize(model_->dtype()));
  const int64_t lightning = c.num_layers_of(model::LayerType::kLinearAttention) * c.num_attention_heads *
                            c.head_dim * c.head_dim * state_elem;
  const int64_t kv = c.num_layers_of(model::LayerType::kFullAttention) * 2 * c.num_key_value_heads *
                     c.head_dim * kv_elem * num_tokens;
  return lightning + kv;
}

std::unique_ptr<DecodeState> HybridDecodeModel::NewSequence() {
  return std::make_unique<HybridState>(model_->NewSequence());
}

at::Tensor HybridDecodeModel::Prefill(DecodeState* state, const std::vector<int32_t>& tokens) {
  return model_->Prefill(Cast(state)->Get(), tokens, decode_options_).to(at::kFloat);
}

at::Tensor HybridDecodeModel::Step(const std::vector<DecodeState*>& states,
                                   const std::vector<int32_t>& tokens) {
  std::vector<model::SequenceState*> seqs;
  seqs.reserve(states.size());
  for (DecodeState* s : states) seqs.push_back(Cast(s)->Get());
  return model_->Step(seqs, tokens, decode_options_).to(at::kFloat);
}

void HybridDecodeModel::AllocateSlots(int32_t num_slots, int64_t max_tokens) {
  pool_ = model::DecodePool();  // free first: the old and new pools need not fit together
  pool_ = model_->NewDecodePool(num_slots, max_tokens);
}

at::Tensor HybridDecodeModel::PrefillSlots(const std::vector<int32_t>& slots,
                                           const std::vector<std::vector<int32_t>>& prompts) {
  return model_->PrefillSlots(&pool_, slots, prompts, decode_options_).to(at::kFloat);
}

void HybridDecodeModel::CopySlot(int32_t src, int32_t dst, int64_t num_tokens) {
  model_->CopySlot(&pool_, src, dst, num_tokens);
}

at::Tensor HybridDecodeModel::StepSlots(const at::Tensor& slots, const at::Tensor& tokens,
                                        const at::Tensor& positions) {
  return model_->StepSlots(&pool_, slots, tokens, positions, decode_options_).to(at::kFloat);
}

}  // namespace m1rl::rollout
