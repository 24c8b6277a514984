// DecodeModel over model::HybridModel: the thin adapter that lets the rollout engine drive the policy
// network's incremental decode (model/hybrid_model.h) with a chosen LM-head precision.
//
// The rollout head precision and temperature must equal the trainer's (MODEL.md §7): the caller passes
// the run config's values here and to the engine's SamplingParams.
//
// Thread safety: none (the engine calls one method at a time). The HybridModel is borrowed and must
// outlive the adapter and every state it created; weights may change between Generate calls (the
// trainer updates them in place), never during one.
#ifndef M1RL_ROLLOUT_HYBRID_DECODE_MODEL_H_
#define M1RL_ROLLOUT_HYBRID_DECODE_MODEL_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "model/config.h"
#include "model/hybrid_model.h"
#include "rollout/decode_model.h"

namespace m1rl::rollout {

struct HybridDecodeOptions {
  model::HeadPrecision head = model::HeadPrecision::kIeeeFp32;
  // Context limit in tokens; 0 = the config's max_position_embeddings. Larger values are clamped to it.
  int64_t max_context = 0;
};

class HybridDecodeModel final : public DecodeModel, public SlotDecoder {
 public:
  HybridDecodeModel(const model::HybridModel* model, HybridDecodeOptions options = {});

  int32_t vocab_size() const override;
  int64_t max_context() const override { return max_context_; }
  // MODEL.md §8: per lightning layer N_h·d·d state values (fp32; fp64 for float64 models), per softmax
  // layer K and V of N_kv·d values per token in the model dtype.
  int64_t StateBytesAt(int64_t num_tokens) const override;
  std::unique_ptr<DecodeState> NewSequence() override;
  at::Tensor Prefill(DecodeState* state, const std::vector<int32_t>& tokens) override;  // [V] fp32
  at::Tensor Step(const std::vector<DecodeState*>& states,
                  const std::vector<int32_t>& tokens) override;  // [B, V] fp32
  SlotDecoder* slot_decoder() override { return this; }

  // SlotDecoder over a model::DecodePool owned by this adapter.
  at::Device device() const override { return model_->device(); }
  void AllocateSlots(int32_t num_slots, int64_t max_tokens) override;
  void FreeSlots() override { pool_ = model::DecodePool(); }
  int64_t SlotBytes() const override { return pool_.Bytes(); }
  at::Tensor PrefillSlots(const std::vector<int32_t>& slots,
                          const std::vector<std::vector<int32_t>>& prompts) override;  // [n, V] fp32
  void CopySlot(int32_t src, int32_t dst, int64_t num_tokens) override;
  at::Tensor StepSlots(const at::Tensor& slots, const at::Tensor& tokens,
                       const at::Tensor& positions) override;  // [B, V] fp32

 private:
  const model::HybridModel* model_;
  model::DecodeOptions decode_options_;
  int64_t max_context_;
  model::DecodePool pool_;
};

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_HYBRID_DECODE_MODEL_H_
