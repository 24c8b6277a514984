#include "model/flops.h"

namespace m1rl::model {

int64_t MatmulParamsPerToken(const ModelConfig& c) {
  const int64_t hidden = c.hidden_size, inner = c.inner_dim();
  const int64_t lightning = 5 * inner * hidden;  // q, k, v, output gate (H -> D) and out (D -> H)
  const int64_t softmax = 2 * inner * hidden + 2 * c.num_key_value_heads * c.head_dim * hidden;  // q, o, k, v
  // MiniMax: the top-k experts and the router; the dense family: one SwiGLU MLP (gate, up, down).
  const int64_t moe =
      c.dense() ? 3 * c.intermediate_size * hidden
                : c.num_experts_per_tok * 3 * c.intermediate_size * hidden + c.num_local_experts * hidden;
  return c.num_layers_of(LayerType::kLinearAttention) * lightning +
         c.num_layers_of(LayerType::kFullAttention) * softmax + c.num_hidden_layers * moe +
         c.vocab_size * hidden;
}

FlopCount ForwardFlops(const ModelConfig& c, const std::vector<int64_t>& lengths) {
  double tokens = 0, causal_pairs = 0;
  for (int64_t n : lengths) {
    tokens += static_cast<double>(n);
    causal_pairs += static_cast<double>(n) * static_cast<double>(n + 1) / 2.0;
  }
  const double heads = static_cast<double>(c.num_attention_heads), d = static_cast<double>(c.head_dim);
  FlopCount f;
  f.matmul = 2.0 * static_cast<double>(MatmulParamsPerToken(c)) * tokens;
  f.softmax =
      static_cast<double>(c.num_layers_of(LayerType::kFullAttention)) * 4.0 * heads * d * causal_pairs;
  f.lightning =
      static_cast<double>(c.num_layers_of(LayerType::kLinearAttention)) * 4.0 * heads * d * d * tokens;
  return f;
}

}  // namespace m1rl::model
