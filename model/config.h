// The policy network's configuration (shared/design/MODEL.md §1, §2, §9, §10, §11).
//
// One struct describes every size of the MiniMax-M1 hybrid network: the tiny test configs, the published
// 456B config and anything in between. It is read from a Hugging Face `config.json` (transformers key
// names and the original M1 remote-code names), from our YAML/proto schema (proto/config_model.proto) or
// from a named preset, and written back as a transformers `config.json`.
//
// Thread safety: plain value type.
#ifndef M1RL_MODEL_CONFIG_H_
#define M1RL_MODEL_CONFIG_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl::config {
class ModelConfig;
}  // namespace m1rl::config

namespace m1rl::model {

// Kind of token mixer of one decoder layer (MODEL.md §2).
enum class LayerType {
  kLinearAttention,  // lightning attention; transformers "linear_attention", M1 attn_type_list 0
  kFullAttention,    // softmax GQA with partial RoPE; transformers "full_attention", M1 attn_type_list 1
};

// The transformers spelling ("linear_attention" / "full_attention").
std::string_view LayerTypeName(LayerType type);
// Accepts the transformers spelling. InvalidArgument naming the value otherwise.
absl::StatusOr<LayerType> ParseLayerType(std::string_view name);

// Arithmetic of the LM head GEMM (MODEL.md §7). On CPU the reduced modes are emulated by rounding the
// operands (tf32: 10 mantissa bits, bf16: 7) and, for kBf16, the output; accumulation is fp32.
enum class HeadPrecision {
  kIeeeFp32,     // "ieee_fp32": fp32 operands, fp32 accumulate; the M1 recipe, default
  kTf32,         // "tf32": operands rounded to TF32, fp32 accumulate and output
  kBf16Fp32Out,  // "bf16_fp32_out": bf16 operands, fp32 accumulate and output
  kBf16,         // "bf16": bf16 operands and bf16-rounded logits (forbidden for RL; kept for measurements)
};

// InvalidArgument naming the value for an unknown spelling (one spelling per value, as above).
absl::StatusOr<HeadPrecision> ParseHeadPrecision(std::string_view name);
// model.lm_head_precision of a run config.
HeadPrecision HeadPrecisionFromConfig(const m1rl::config::ModelConfig& proto);
std::string_view HeadPrecisionName(HeadPrecision precision);

// Which dims of q and k RoPE rotates in the softmax layers (MODEL.md §5, §9). MiniMax-M1's checkpoints were
// trained with the first, transformers 5.x runs every MiniMax checkpoint with the second (its
// MiniMaxRotaryEmbedding ignores partial_rotary_factor and rotary_dim), so the same weights compute different
// functions in the two ecosystems unless rotary_dim = head_dim.
enum class RopeConvention {
  kM1,  // "m1": the first rotary_dim dims, θ^(−2i/rotary_dim): MiniMax-M1's code and vLLM. Default.
  kHf,  // "hf": the whole head, θ^(−2i/head_dim), whatever rotary_dim says: transformers 5.x.
};
absl::StatusOr<RopeConvention> ParseRopeConvention(std::string_view name);  // "m1" | "hf"
std::string_view RopeConventionName(RopeConvention convention);
// model.rope_convention of a run config; nullopt for "auto" (the checkpoint's, else m1).
std::optional<RopeConvention> RopeConventionFromConfig(const m1rl::config::ModelConfig& proto);

// The architecture a config describes (config.json's model_type). kMiniMax is the hybrid lightning/softmax
// MoE network with post-norm DeepNorm residuals; the others are the dense decoder family run through the
// same layer code: softmax GQA on every layer with RoPE over the whole head, pre-norm RMSNorm residuals
// (α = β = 1), a SwiGLU MLP (mlp.gate_proj / up_proj / down_proj) in place of the MoE, and per family:
//   kLlama: q/k/v/o biases iff attention_bias; kQwen2: q/k/v biases always, no o bias;
//   kQwen3: q/k RMSNorm per head (self_attn.q_norm / k_norm over head_dim, before RoPE), q/k/v/o biases iff
//   attention_bias.
enum class ModelFamily { kMiniMax, kLlama, kQwen2, kQwen3 };
// model_type spellings: "minimax" (also "minimax_m1", "minimax_text_01"), "llama", "qwen2", "qwen3".
// InvalidArgument naming the value and the known ones otherwise.
absl::StatusOr<ModelFamily> ParseModelFamily(std::string_view name);
std::string_view ModelFamilyName(ModelFamily family);  // "minimax" | "llama" | "qwen2" | "qwen3"

// RoPE frequency scaling of config.json's rope_scaling / rope_parameters (dense family only): none, or
// Llama 3.1's "llama3" (transformers' _compute_llama3_parameters), which rescales the inverse frequencies.
struct RopeScaling {
  std::string type;  // "" (none) or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// Parameter counts derived from the config alone (no allocation). MODEL.md §10.
struct ParameterCounts {
  int64_t total = 0;                          // every parameter, embedding and head included
  int64_t active = 0;                         // per token, top-k experts only, excluding embedding and head
  int64_t active_with_head = 0;               // active + lm_head
  int64_t embedding = 0;                      // model.embed_tokens.weight
  int64_t lm_head = 0;                        // lm_head.weight
  int64_t lightning_attention_per_layer = 0;  // qkv + gate + out + norm (0 for the dense family)
  int64_t softmax_attention_per_layer = 0;    // q + k + v + o (+ biases, q/k norms of the dense family)
  int64_t expert = 0;                         // one expert (w1 + w2 + w3)
  int64_t moe_per_layer = 0;                  // all experts + router (0 for the dense family)
  int64_t mlp_per_layer = 0;                  // dense family: gate + up + down (0 for MiniMax)
  int64_t norms_per_layer = 0;                // input + post-attention layernorm
};

struct ModelConfig {
  ModelFamily family = ModelFamily::kMiniMax;
  int64_t vocab_size = 0;           // V
  int64_t hidden_size = 0;          // H
  int64_t intermediate_size = 0;    // I, per expert (the dense family: the MLP's)
  int64_t num_hidden_layers = 0;    // L
  int64_t num_attention_heads = 0;  // N_h (lightning and softmax query heads); power of two
  int64_t head_dim = 0;             // d; inner width D = N_h * d (may differ from H)
  int64_t num_key_value_heads = 0;  // N_kv of the softmax layers; divides N_h
  int64_t rotary_dim = 0;           // r <= d, even: RoPE on the first r dims of q and k (under kM1)
  RopeConvention rope_convention = RopeConvention::kM1;
  double rope_theta = 1e7;                // θ
  RopeScaling rope_scaling;               // dense family only
  int64_t num_local_experts = 0;          // E (0 for the dense family)
  int64_t num_experts_per_tok = 2;        // k (0 for the dense family)
  bool attention_bias = false;            // dense: q/k/v_proj.bias (and o_proj.bias unless kQwen2)
  bool qk_norm = false;                   // dense: self_attn.q_norm / k_norm (kQwen3)
  bool tie_word_embeddings = false;       // dense: lm_head is model.embed_tokens (no lm_head.weight)
  double rms_norm_eps = 1e-5;             // input/post/final RMSNorm
  double lightning_norm_eps = 1e-6;       // RMSNorm over D inside lightning attention
  std::vector<LayerType> layer_types;     // size L
  int64_t block_size = 256;               // lightning block (numerics only)
  double linear_attn_alpha_factor = 1.0;  // DeepNorm α, β per mixer type and for the MoE
  double linear_attn_beta_factor = 1.0;
  double full_attn_alpha_factor = 1.0;
  double full_attn_beta_factor = 1.0;
  double mlp_alpha_factor = 1.0;
  double mlp_beta_factor = 1.0;
  double router_aux_loss_coef = 0.001;
  int64_t max_position_embeddings = 10240000;
  int64_t eos_token_id = -1;  // -1: none (JSON null)
  int64_t bos_token_id = -1;
  int64_t pad_token_id = -1;

  // "tiny8", "tiny2", "minimax-m1", and the "-hfparity" variants of each (rotary_dim = head_dim);
  // "tiny-qwen2" (a 2-layer dense Qwen2-style network: QKV bias, untied head). NotFound naming the preset
  // otherwise.
  static absl::StatusOr<ModelConfig> Preset(std::string_view name);

  // Reads a HF config.json. Accepts transformers keys (layer_types, *_alpha_factor, rope_parameters)
  // and M1 remote-code keys (attn_type_list, layernorm_*_alpha/beta, rotary_dim, rope_theta); the
  // transformers key wins when both are present. InvalidArgument naming the key on a missing or
  // ill-typed key, on a model_type other than ParseModelFamily's (naming the field and the value), and
  // on RoPE it cannot represent: rope_parameters.rope_type (or rope_scaling) other than "default" (and, for
  // the dense family, "llama3"). A dense config (llama / qwen2 / qwen3) is read by its own reader: every
  // layer full attention, RoPE over the whole head (convention kHf), α = β = 1; fields it cannot represent
  // (hidden_act other than silu, mlp_bias, sliding windows, partial rotary) are InvalidArgument naming them.
  // The RoPE convention is `requested` if given, else the file's "rope_convention" (written by
  // ToHfConfigJson), else kM1; a `requested` convention that contradicts the file's is InvalidArgument.
  // The result is Validate()d.
  static absl::StatusOr<ModelConfig> FromHfConfigJson(const nlohmann::json& json,
                                                      std::optional<RopeConvention> requested = std::nullopt);

  // The dense family: the config.json transformers writes for the family (LlamaForCausalLM, ...).
  // MiniMax: the transformers config.json of MODEL.md §9 (model_type "minimax"), plus rotary_dim,
  // "rope_convention" and the M1 spellings of the schedule and DeepNorm factors so both ecosystems read it
  // correctly. The rope keys (partial_rotary_factor, rotary_dim) describe rope_dims(), what the model
  // computes. `dtype` is the value written as "dtype" ("bfloat16", "float32").
  nlohmann::json ToHfConfigJson(std::string_view dtype = "bfloat16") const;

  // From the run config: the preset (if any) first, then every non-zero/non-empty field overrides.
  // init_from is not read here (HybridModel::LoadHf reads the directory). Result is Validate()d.
  static absl::StatusOr<ModelConfig> FromProto(const m1rl::config::ModelConfig& proto);

  // InvalidArgument naming the field (`model.head_dim must be > 0, got 0`) on any inconsistency.
  absl::Status Validate() const;
  // The family-specific parts of Validate().
  absl::Status ValidateDense() const;
  absl::Status ValidateMiniMaxOnly() const;

  int64_t inner_dim() const { return num_attention_heads * head_dim; }  // D
  // The dense decoder family (pre-norm, SwiGLU MLP, softmax attention only).
  bool dense() const { return family != ModelFamily::kMiniMax; }
  // Dense family: o_proj has a bias (attention_bias, except Qwen2 whose o_proj never has one).
  bool o_proj_bias() const { return attention_bias && family != ModelFamily::kQwen2; }
  // The dims of q and k that RoPE rotates (from dim 0): rotary_dim under kM1, head_dim under kHf.
  int64_t rope_dims() const { return rope_convention == RopeConvention::kHf ? head_dim : rotary_dim; }
  int64_t num_layers_of(LayerType type) const;
  // Ordinal of layer `layer` among the layers of its type (index into per-type state arrays).
  int64_t ordinal_in_type(int64_t layer) const;
  // DeepNorm factors of the mixer of layer `layer`.
  double attn_alpha(int64_t layer) const;
  double attn_beta(int64_t layer) const;

  // RoPE's inverse frequencies [rope_dims()/2]: θ^(−2i/rope_dims()), rescaled under rope_scaling "llama3"
  // (low frequencies divided by factor, a smooth blend between low_freq_factor and high_freq_factor).
  std::vector<double> RopeInverseFrequencies() const;

  // s_h · f_i of MODEL.md §4.3 for lightning layer `layer` (global index), head `head`; λ = exp(−that).
  double LightningDecayRate(int64_t layer, int64_t head) const;

  ParameterCounts CountParameters() const;
};

// The model.* section of a run config, validated once (the one function `m1rl config` and `m1rl train`
// both reach through trainer::ValidateRunConfig): ranges, enum-like strings (model.preset, model.device)
// and, without model.init_from, the resolved network (FromProto). Every violation is reported, each
// naming its path. model.dtype bfloat16 and lm_head_precision bf16 are valid here; whether a run may use
// them is the trainer's decision.
absl::Status ValidateModelConfig(const m1rl::config::ModelConfig& proto);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_CONFIG_H_
