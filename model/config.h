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

// Parameter counts derived from the config alone (no allocation). MODEL.md §10.
struct ParameterCounts {
  int64_t total = 0;                          // every parameter, embedding and head included
  int64_t active = 0;                         // per token, top-k experts only, excluding embedding and head
  int64_t active_with_head = 0;               // active + lm_head
  int64_t embedding = 0;                      // model.embed_tokens.weight
  int64_t lm_head = 0;                        // lm_head.weight
  int64_t lightning_attention_per_layer = 0;  // qkv + gate + out + norm
  int64_t softmax_attention_per_layer = 0;    // q + k + v + o
  int64_t expert = 0;                         // one expert (w1 + w2 + w3)
  int64_t moe_per_layer = 0;                  // all experts + router
  int64_t norms_per_layer = 0;                // input + post-attention layernorm
};

struct ModelConfig {
  int64_t vocab_size = 0;           // V
  int64_t hidden_size = 0;          // H
  int64_t intermediate_size = 0;    // I, per expert
  int64_t num_hidden_layers = 0;    // L
  int64_t num_attention_heads = 0;  // N_h (lightning and softmax query heads); power of two
  int64_t head_dim = 0;             // d; inner width D = N_h * d (may differ from H)
  int64_t num_key_value_heads = 0;  // N_kv of the softmax layers; divides N_h
  int64_t rotary_dim = 0;           // r <= d, even: RoPE on the first r dims of q and k (under kM1)
  RopeConvention rope_convention = RopeConvention::kM1;
  double rope_theta = 1e7;                // θ
  int64_t num_local_experts = 0;          // E
  int64_t num_experts_per_tok = 2;        // k
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

  // "tiny8", "tiny2", "minimax-m1", and the "-hfparity" variants of each (rotary_dim = head_dim).
  // NotFound naming the preset otherwise.
  static absl::StatusOr<ModelConfig> Preset(std::string_view name);

  // Reads a HF config.json. Accepts transformers keys (layer_types, *_alpha_factor, rope_parameters)
  // and M1 remote-code keys (attn_type_list, layernorm_*_alpha/beta, rotary_dim, rope_theta); the
  // transformers key wins when both are present. InvalidArgument naming the key on a missing or
  // ill-typed key, on a model_type other than "minimax" / "minimax_m1" (naming the field and the value), and
  // on RoPE it cannot represent: rope_parameters.rope_type (or rope_scaling) other than "default".
  // The RoPE convention is `requested` if given, else the file's "rope_convention" (written by
  // ToHfConfigJson), else kM1; a `requested` convention that contradicts the file's is InvalidArgument.
  // The result is Validate()d.
  static absl::StatusOr<ModelConfig> FromHfConfigJson(const nlohmann::json& json,
                                                      std::optional<RopeConvention> requested = std::nullopt);

  // The transformers config.json of MODEL.md §9 (model_type "minimax"), plus rotary_dim, "rope_convention"
  // and the M1 spellings of the schedule and DeepNorm factors so both ecosystems read it correctly. The rope
  // keys (partial_rotary_factor, rotary_dim) describe rope_dims(), what the model computes.
  // `dtype` is the value written as "dtype" ("bfloat16", "float32").
  nlohmann::json ToHfConfigJson(std::string_view dtype = "bfloat16") const;

  // From the run config: the preset (if any) first, then every non-zero/non-empty field overrides.
  // init_from is not read here (HybridModel::LoadHf reads the directory). Result is Validate()d.
  static absl::StatusOr<ModelConfig> FromProto(const m1rl::config::ModelConfig& proto);

  // InvalidArgument naming the field (`model.head_dim must be > 0, got 0`) on any inconsistency.
  absl::Status Validate() const;

  int64_t inner_dim() const { return num_attention_heads * head_dim; }  // D
  // The dims of q and k that RoPE rotates (from dim 0): rotary_dim under kM1, head_dim under kHf.
  int64_t rope_dims() const { return rope_convention == RopeConvention::kHf ? head_dim : rotary_dim; }
  int64_t num_layers_of(LayerType type) const;
  // Ordinal of layer `layer` among the layers of its type (index into per-type state arrays).
  int64_t ordinal_in_type(int64_t layer) const;
  // DeepNorm factors of the mixer of layer `layer`.
  double attn_alpha(int64_t layer) const;
  double attn_beta(int64_t layer) const;

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
