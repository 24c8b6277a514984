#include "model/hybrid_model.h"

namespace m1rl::model {

struct HybridModel::Weights {};

SequenceState SequenceState::Copy() const {
  SequenceState s;
  s.num_tokens_ = num_tokens_;
  for (const auto& t : lightning_) s.lightning_.push_back(t.clone());
  for (const auto& t : keys_) s.keys_.push_back(t.clone());
  for (const auto& t : values_) s.values_.push_back(t.clone());
  return s;
}

int64_t SequenceState::StateBytes() const {
  int64_t n = 0;
  for (const auto& t : lightning_) n += t.numel() * t.element_size();
  for (const auto& t : keys_) n += t.numel() * t.element_size();
  for (const auto& t : values_) n += t.numel() * t.element_size();
  return n;
}

HybridModel::HybridModel(const ModelConfig& config, at::ScalarType dtype, at::Device device)
    : config_(config), dtype_(dtype), device_(device), w_(std::make_unique<Weights>()) {}
HybridModel::HybridModel(HybridModel&&) noexcept = default;
HybridModel& HybridModel::operator=(HybridModel&&) noexcept = default;
HybridModel::~HybridModel() = default;

absl::StatusOr<std::unique_ptr<HybridModel>> HybridModel::Create(const ModelConfig&, at::ScalarType, at::Device,
                                                                 uint64_t) {
  return absl::UnimplementedError("HybridModel::Create: landing in the next model/ commit");
}
absl::StatusOr<std::unique_ptr<HybridModel>> HybridModel::LoadHf(const std::string&, at::ScalarType, at::Device) {
  return absl::UnimplementedError("HybridModel::LoadHf: landing in the next model/ commit");
}
absl::Status HybridModel::SaveHf(const std::string&) const {
  return absl::UnimplementedError("HybridModel::SaveHf: landing in the next model/ commit");
}
std::vector<std::pair<std::string, at::Tensor>> HybridModel::NamedParameters() const { return {}; }
std::vector<at::Tensor> HybridModel::Parameters() const { return {}; }
int64_t HybridModel::NumParameters() const { return 0; }
ForwardOutput HybridModel::Forward(const at::Tensor&, const at::Tensor&, const std::vector<int64_t>&,
                                   const ForwardOptions&) const {
  return {};
}
at::Tensor HybridModel::Hidden(const at::Tensor&, const std::vector<int64_t>&, at::Tensor*) const { return {}; }
SequenceState HybridModel::NewSequence() const { return {}; }
at::Tensor HybridModel::Prefill(SequenceState*, const std::vector<int32_t>&, const DecodeOptions&) const { return {}; }
at::Tensor HybridModel::Step(const std::vector<SequenceState*>&, const std::vector<int32_t>&,
                             const DecodeOptions&) const {
  return {};
}

}  // namespace m1rl::model
