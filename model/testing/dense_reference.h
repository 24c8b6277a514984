// Test-only float64 reference of the dense decoder family (Llama / Qwen2 / Qwen3), written from the
// formulas of transformers' LlamaModel / Qwen2Model / Qwen3Model and sharing no code with HybridModel:
//   x = embed[ids]
//   per layer:  a = rms(x)·g_in;  q = a·Wqᵀ (+bq), k, v likewise;  (Qwen3) q, k = rms per head · g_q, g_k;
//               q, k = q·cos + rotate_half(q)·sin (whole head, θ^(−2i/d));  causal softmax(q·kᵀ/√d)·v per
//               head (query head h reads kv head ⌊h·N_kv/N_h⌋);  x += o·Woᵀ (+bo);
//               m = rms(x)·g_post;  x += (silu(m·Wgᵀ) ⊙ m·Wuᵀ)·Wdᵀ
//   logits = (rms(x)·g_final)·Eᵀ, E = lm_head or (tied) embed.
// Every parameter is read by its Hugging Face name from `weights` (converted to float64). Also the tiny dense
// configs and the parameter randomisation the dense tests share.
#ifndef M1RL_MODEL_TESTING_DENSE_REFERENCE_H_
#define M1RL_MODEL_TESTING_DENSE_REFERENCE_H_

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/hybrid_model.h"

namespace m1rl::model::testing {

// Logits [n, V] float64 of one sequence `tokens` at positions 0..n−1. `inv_freq` [d/2]: RoPE's inverse
// frequencies (the caller's own computation).
inline at::Tensor DenseReferenceLogits(const ModelConfig& c, const std::map<std::string, at::Tensor>& weights,
                                       const std::vector<int32_t>& tokens,
                                       const std::vector<double>& inv_freq) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t heads = c.num_attention_heads, kv_heads = c.num_key_value_heads, d = c.head_dim;
  auto w = [&](const std::string& name) { return weights.at(name).detach().to(at::kDouble); };
  auto has = [&](const std::string& name) { return weights.count(name) > 0; };
  auto rms = [&](const at::Tensor& x, const at::Tensor& g) {
    return x / (x.pow(2).mean(-1, /*keepdim=*/true) + c.rms_norm_eps).sqrt() * g;
  };
  auto linear = [&](const at::Tensor& x, const std::string& name) {
    at::Tensor y = at::matmul(x, w(name + ".weight").t());
    return has(name + ".bias") ? y + w(name + ".bias") : y;
  };
  // cos / sin [n, 1, d] of rotate-half RoPE: angle(p, i) = p·inv_freq[i mod d/2].
  at::Tensor cos = at::empty({n, 1, d}, at::kDouble), sin = at::empty({n, 1, d}, at::kDouble);
  auto cos_a = cos.accessor<double, 3>();
  auto sin_a = sin.accessor<double, 3>();
  for (int64_t p = 0; p < n; ++p) {
    for (int64_t i = 0; i < d; ++i) {
      const double angle = static_cast<double>(p) * inv_freq[static_cast<size_t>(i % (d / 2))];
      cos_a[p][0][i] = std::cos(angle);
      sin_a[p][0][i] = std::sin(angle);
    }
  }
  auto rope = [&](const at::Tensor& x) {  // [n, h, d]
    const at::Tensor rotated = at::cat({-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)}, -1);
    return x * cos + rotated * sin;
  };
  std::vector<int64_t> ids(tokens.begin(), tokens.end());
  const at::Tensor index = at::from_blob(ids.data(), {n}, at::TensorOptions().dtype(at::kLong)).clone();
  at::Tensor x = w("model.embed_tokens.weight").index_select(0, index);
  const at::Tensor causal = at::ones({n, n}, at::kBool).triu(1);
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".";
    const at::Tensor a = rms(x, w(p + "input_layernorm.weight"));
    at::Tensor q = linear(a, p + "self_attn.q_proj").view({n, heads, d});
    at::Tensor k = linear(a, p + "self_attn.k_proj").view({n, kv_heads, d});
    const at::Tensor v = linear(a, p + "self_attn.v_proj").view({n, kv_heads, d});
    if (has(p + "self_attn.q_norm.weight")) {
      q = rms(q, w(p + "self_attn.q_norm.weight"));
      k = rms(k, w(p + "self_attn.k_norm.weight"));
    }
    q = rope(q);
    k = rope(k);
    std::vector<at::Tensor> outs;
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t g = h * kv_heads / heads;
      const at::Tensor kh = k.select(1, g), vh = v.select(1, g);
      at::Tensor scores = at::matmul(q.select(1, h), kh.t()) / std::sqrt(static_cast<double>(d));  // [n, n]
      scores = scores.masked_fill(causal, -std::numeric_limits<double>::infinity());
      outs.push_back(at::matmul(scores.softmax(-1), vh));  // [n, d]
    }
    x = x + linear(at::cat(outs, -1), p + "self_attn.o_proj");
    const at::Tensor m = rms(x, w(p + "post_attention_layernorm.weight"));
    const at::Tensor gate = linear(m, p + "mlp.gate_proj");
    const at::Tensor act = gate / (1.0 + (-gate).exp()) * linear(m, p + "mlp.up_proj");
    x = x + linear(act, p + "mlp.down_proj");
  }
  x = rms(x, w("model.norm.weight"));
  const std::string head = has("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
  return at::matmul(x, w(head).t());
}

// θ^(−2i/d), i < d/2: RoPE's default inverse frequencies.
inline std::vector<double> DefaultInverseFrequencies(double theta, int64_t d) {
  std::vector<double> inv;
  for (int64_t i = 0; i < d / 2; ++i)
    inv.push_back(std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d)));
  return inv;
}

// 2 layers, hidden 32, 4 query heads of 8, 2 kv heads, MLP 48, vocabulary 50.
inline ModelConfig TinyDense(ModelFamily family, bool attention_bias, bool tied) {
  ModelConfig c;
  c.family = family;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.head_dim = 8;
  c.num_key_value_heads = 2;
  c.rotary_dim = 8;
  c.rope_convention = RopeConvention::kHf;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.num_local_experts = 0;
  c.num_experts_per_tok = 0;
  c.attention_bias = attention_bias;
  c.qk_norm = family == ModelFamily::kQwen3;
  c.tie_word_embeddings = tied;
  c.layer_types = {LayerType::kFullAttention, LayerType::kFullAttention};
  return c;
}

// Every parameter redrawn from `seed`: matrices and biases N(0, 0.3²), norm weights 1 + N(0, 0.1²), so that
// biases, norm weights and attention patterns all move the output.
inline void Randomize(const HybridModel& m, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (const auto& [name, p] : m.NamedParameters()) {
    const bool norm = name.find("norm") != std::string::npos;
    const at::Tensor r = at::randn(p.sizes(), gen, at::TensorOptions().dtype(at::kDouble));
    p.copy_(norm ? 1.0 + 0.1 * r : 0.3 * r);
  }
}

inline std::map<std::string, at::Tensor> Named(const HybridModel& m) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, p] : m.NamedParameters()) out[name] = p;
  return out;
}

}  // namespace m1rl::model::testing

#endif  // M1RL_MODEL_TESTING_DENSE_REFERENCE_H_
