// The persistent buffers transformers' MiniMax lightning attention registers (MODEL.md §9):
// `model.layers.{i}.self_attn.{slope_rate, query_decay, key_decay, diagonal_decay}` of every lightning layer.
// They are functions of the config alone (the decay of MODEL.md §4.3). An export writes them so that
// transformers reports no missing keys; a load checks any that a checkpoint carries against these values
// (a checkpoint whose buffers disagree with its config would run a different decay in transformers).
//
// Thread safety: pure functions.
#ifndef M1RL_MODEL_HF_BUFFERS_H_
#define M1RL_MODEL_HF_BUFFERS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"

namespace m1rl::model {

// The four buffer names, in the order LightningBuffers returns them.
inline constexpr std::string_view kLightningBufferNames[] = {"slope_rate", "query_decay", "key_decay",
                                                             "diagonal_decay"};

// The buffers of lightning layer `layer` as transformers 5.x computes them at construction, float32 CPU, with
// the same ATen operations in the same order (so the values are those of a transformers save before its cast
// to the model dtype), under names "model.layers.{layer}.self_attn.<name>":
//   slope_rate     [N_h, 1, 1]          s_h · f_i
//   query_decay    [N_h, B, 1]          exp(−s_h f_i · b),       b = 1..B (B = block_size)
//   key_decay      [N_h, B, 1]          exp(−s_h f_i · (B − b))
//   diagonal_decay [1, N_h, B, B]       exp(−s_h f_i · (b − c)) for b ≥ c, else 0
// REQUIRES: config.layer_types[layer] is kLinearAttention.
NamedTensors LightningBuffers(const ModelConfig& config, int64_t layer);

// True for a tensor name "model.layers.{i}.self_attn.<one of kLightningBufferNames>".
bool IsLightningBufferName(std::string_view name);

// Checks every buffer-named tensor (IsLightningBufferName) of a checkpoint against LightningBuffers of
// `config`: its layer must be a lightning layer, its shape the one above and its values equal within the
// rounding of its dtype (relative 2^−8 for bf16, as transformers saves bf16 models; 2^−20 for fp32, a few
// ulps of libm differences). Returns one problem per bad tensor, naming it; empty when all agree. Other
// names are ignored.
std::vector<std::string> LightningBufferProblems(const ModelConfig& config,
                                                 const std::map<std::string, at::Tensor>& tensors);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_HF_BUFFERS_H_
