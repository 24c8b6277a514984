#include "model/config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "proto/config_model.pb.h"

namespace m1rl::model {
namespace {

using nlohmann::json;

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("model.", std::string(field), " ", std::string(what)));
}

std::vector<LayerType> DefaultSchedule(int64_t num_layers) {
  std::vector<LayerType> types;
  for (int64_t i = 0; i < num_layers; ++i) {
    types.push_back(i % 8 == 7 ? LayerType::kFullAttention : LayerType::kLinearAttention);
  }
  return types;
}

ModelConfig Tiny(int64_t num_layers) {
  ModelConfig c;
  c.vocab_size = 256;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_hidden_layers = num_layers;
  c.num_attention_heads = 4;
  c.head_dim = 32;
  c.num_key_value_heads = 2;
  c.rotary_dim = 16;
  c.rope_theta = 1e7;
  c.num_local_experts = 4;
  c.num_experts_per_tok = 2;
  c.layer_types = num_layers == 2
                      ? std::vector<LayerType>{LayerType::kLinearAttention, LayerType::kFullAttention}
                      : DefaultSchedule(num_layers);
  const double alpha = std::pow(2.0 * static_cast<double>(num_layers), 0.25);
  c.linear_attn_alpha_factor = c.full_attn_alpha_factor = c.mlp_alpha_factor = alpha;
  c.max_position_embeddings = 10240000;
  return c;
}

// A 2-layer dense Qwen2-style network (QKV bias, untied head) for tests and examples.
ModelConfig TinyQwen2() {
  ModelConfig c;
  c.family = ModelFamily::kQwen2;
  c.vocab_size = 256;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.head_dim = 16;
  c.num_key_value_heads = 2;
  c.rotary_dim = 16;
  c.rope_convention = RopeConvention::kHf;
  c.rope_theta = 1e6;
  c.num_local_experts = 0;
  c.num_experts_per_tok = 0;
  c.attention_bias = true;
  c.layer_types = {LayerType::kFullAttention, LayerType::kFullAttention};
  c.max_position_embeddings = 32768;
  return c;
}

ModelConfig MiniMaxM1() {
  ModelConfig c;
  c.vocab_size = 200064;
  c.hidden_size = 6144;
  c.intermediate_size = 9216;
  c.num_hidden_layers = 80;
  c.num_attention_heads = 64;
  c.head_dim = 128;
  c.num_key_value_heads = 8;
  c.rotary_dim = 64;
  c.rope_theta = 1e7;
  c.num_local_experts = 32;
  c.num_experts_per_tok = 2;
  c.layer_types = DefaultSchedule(80);
  const double alpha = 3.5565588200778455;  // (2L)^(1/4), MODEL.md §1
  c.linear_attn_alpha_factor = c.full_attn_alpha_factor = c.mlp_alpha_factor = alpha;
  c.max_position_embeddings = 10240000;
  return c;
}

// Reads an integer key if present. InvalidArgument naming the key when it has the wrong type.
absl::Status ReadInt(const json& j, const char* key, int64_t* out, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return absl::InvalidArgumentError(absl::StrCat("config.json: missing key '", key, "'"));
    return absl::OkStatus();
  }
  if (!it->is_number_integer() && !it->is_number_unsigned()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: key '", key, "' must be an integer, got ", it->dump()));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadDouble(const json& j, const char* key, double* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: key '", key, "' must be a number, got ", it->dump()));
  }
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status ReadTokenId(const json& j, const char* key, int64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (it->is_array()) {  // some configs list several EOS ids; the first is the primary one
    if (it->empty()) return absl::OkStatus();
    if (!(*it)[0].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: key '", key, "' must hold integers"));
    }
    *out = (*it)[0].get<int64_t>();
    return absl::OkStatus();
  }
  return ReadInt(j, key, out, false);
}

}  // namespace

std::string_view LayerTypeName(LayerType type) {
  return type == LayerType::kLinearAttention ? "linear_attention" : "full_attention";
}

absl::StatusOr<LayerType> ParseLayerType(std::string_view name) {
  if (name == "linear_attention") return LayerType::kLinearAttention;
  if (name == "full_attention") return LayerType::kFullAttention;
  return absl::InvalidArgumentError(absl::StrCat(
      "layer type must be 'linear_attention' or 'full_attention', got '", std::string(name), "'"));
}

absl::StatusOr<ModelFamily> ParseModelFamily(std::string_view name) {
  for (const char* minimax : {"minimax", "minimax_m1", "minimax_text_01"}) {
    if (name == minimax) return ModelFamily::kMiniMax;
  }
  if (name == "llama") return ModelFamily::kLlama;
  if (name == "qwen2") return ModelFamily::kQwen2;
  if (name == "qwen3") return ModelFamily::kQwen3;
  return absl::InvalidArgumentError(absl::StrCat(
      "model_type '", std::string(name),
      "' is not supported: m1rl loads the MiniMax hybrid lightning/softmax MoE architecture (model_type "
      "\"minimax\", \"minimax_m1\" or \"minimax_text_01\") and the dense decoder family (\"llama\", "
      "\"qwen2\", \"qwen3\"; MODEL.md)"));
}

std::string_view ModelFamilyName(ModelFamily family) {
  switch (family) {
    case ModelFamily::kLlama:
      return "llama";
    case ModelFamily::kQwen2:
      return "qwen2";
    case ModelFamily::kQwen3:
      return "qwen3";
    case ModelFamily::kMiniMax:
      break;
  }
  return "minimax";
}

absl::StatusOr<HeadPrecision> ParseHeadPrecision(std::string_view name) {
  if (name == "ieee_fp32") return HeadPrecision::kIeeeFp32;
  if (name == "tf32") return HeadPrecision::kTf32;
  if (name == "bf16_fp32_out") return HeadPrecision::kBf16Fp32Out;
  if (name == "bf16") return HeadPrecision::kBf16;
  return absl::InvalidArgumentError(
      absl::StrCat("lm_head_precision must be one of ieee_fp32, tf32, bf16_fp32_out, bf16; got '",
                   std::string(name), "'"));
}

std::string_view HeadPrecisionName(HeadPrecision precision) {
  switch (precision) {
    case HeadPrecision::kIeeeFp32:
      return "ieee_fp32";
    case HeadPrecision::kTf32:
      return "tf32";
    case HeadPrecision::kBf16Fp32Out:
      return "bf16_fp32_out";
    case HeadPrecision::kBf16:
      return "bf16";
  }
  return "unknown";
}

absl::StatusOr<RopeConvention> ParseRopeConvention(std::string_view name) {
  if (name == "m1") return RopeConvention::kM1;
  if (name == "hf") return RopeConvention::kHf;
  return absl::InvalidArgumentError(
      absl::StrCat("rope_convention must be 'm1' or 'hf', got '", std::string(name), "'"));
}

std::string_view RopeConventionName(RopeConvention convention) {
  return convention == RopeConvention::kHf ? "hf" : "m1";
}

std::optional<RopeConvention> RopeConventionFromConfig(const m1rl::config::ModelConfig& proto) {
  switch (proto.rope_convention()) {
    case config::ModelConfig::ROPE_CONVENTION_M1:
      return RopeConvention::kM1;
    case config::ModelConfig::ROPE_CONVENTION_HF:
      return RopeConvention::kHf;
    default:
      return std::nullopt;
  }
}

HeadPrecision HeadPrecisionFromConfig(const m1rl::config::ModelConfig& proto) {
  switch (proto.lm_head_precision()) {
    case config::ModelConfig::HEAD_PRECISION_TF32:
      return HeadPrecision::kTf32;
    case config::ModelConfig::HEAD_PRECISION_BF16_FP32_OUT:
      return HeadPrecision::kBf16Fp32Out;
    case config::ModelConfig::HEAD_PRECISION_BF16:
      return HeadPrecision::kBf16;
    default:
      return HeadPrecision::kIeeeFp32;
  }
}

absl::StatusOr<ModelConfig> ModelConfig::Preset(std::string_view name) {
  std::string_view base = name;
  bool hfparity = false;
  constexpr std::string_view kSuffix = "-hfparity";
  if (base.size() > kSuffix.size() && base.substr(base.size() - kSuffix.size()) == kSuffix) {
    base = base.substr(0, base.size() - kSuffix.size());
    hfparity = true;
  }
  ModelConfig c;
  if (base == "tiny8") {
    c = Tiny(8);
  } else if (base == "tiny2") {
    c = Tiny(2);
  } else if (base == "minimax-m1") {
    c = MiniMaxM1();
  } else if (name == "tiny-qwen2") {
    return TinyQwen2();
  } else {
    return absl::NotFoundError(
        absl::StrCat("model.preset: unknown preset '", std::string(name),
                     "' (known: tiny8, tiny2, minimax-m1, and their -hfparity variants; tiny-qwen2)"));
  }
  if (hfparity) c.rotary_dim = c.head_dim;
  return c;
}

namespace {

// The shape keys every family shares: vocabulary, widths, depth and heads (head_dim defaults to
// hidden / heads, num_key_value_heads to the head count, as transformers does).
absl::Status ReadShape(const json& j, ModelConfig* c) {
  M1RL_RETURN_IF_ERROR(ReadInt(j, "vocab_size", &c->vocab_size, true));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "hidden_size", &c->hidden_size, true));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "intermediate_size", &c->intermediate_size, true));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "num_hidden_layers", &c->num_hidden_layers, true));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "num_attention_heads", &c->num_attention_heads, true));
  c->head_dim = c->num_attention_heads > 0 ? c->hidden_size / c->num_attention_heads : 0;
  M1RL_RETURN_IF_ERROR(ReadInt(j, "head_dim", &c->head_dim, false));
  c->num_key_value_heads = c->num_attention_heads;
  return ReadInt(j, "num_key_value_heads", &c->num_key_value_heads, false);
}

// config.json's `postnorm` as M1's remote code reads it (absent -> false in an M1-format config).
absl::Status CheckPostnorm(const json& j) {
  const auto it = j.find("postnorm");
  if (it != j.end() && !it->is_null() && !it->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: 'postnorm' must be true or false, got ", it->dump()));
  }
  if (it != j.end() && it->is_boolean()) {
    if (it->get<bool>()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        "config.json: postnorm false (pre-norm) cannot be represented (MODEL.md §3)");
  }
  if (const auto types = j.find("attn_type_list"); types != j.end() && !types->is_null()) {
    return absl::InvalidArgumentError(
        "config.json: 'postnorm' is absent from an M1-format config (attn_type_list), so M1's code builds a "
        "pre-norm model (postnorm defaults to false), which cannot be represented (MODEL.md §3); add "
        "\"postnorm\": true if the checkpoint is post-norm, as MiniMax-M1's is");
  }
  return absl::OkStatus();
}

// model_type: the family of the config (absent: MiniMax, as M1's own configs). Checked first, so that an
// unsupported architecture's config fails on its model_type rather than on the first key it lacks.
absl::StatusOr<ModelFamily> ReadModelType(const json& j) {
  const auto it = j.find("model_type");
  if (it == j.end() || it->is_null()) return ModelFamily::kMiniMax;
  absl::StatusOr<ModelFamily> family =
      ParseModelFamily(it->is_string() ? it->get<std::string>() : it->dump());
  if (!family.ok())
    return absl::InvalidArgumentError(absl::StrCat("config.json: ", family.status().message()));
  return *family;
}

absl::Status ReadBool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: key '", key, "' must be true or false, got ", it->dump()));
  }
  *out = it->get<bool>();
  return absl::OkStatus();
}

// RoPE variants other than plain rotate-half with one θ cannot be represented: rope_parameters.rope_type
// (transformers 5.x) or rope_scaling (older configs) naming anything but "default".
absl::Status CheckRopeType(const json& j) {
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat("config.json: '", key, "' must be an object"));
    }
    for (const char* type_key : {"rope_type", "type"}) {
      const auto t = it->find(type_key);
      if (t == it->end() || t->is_null()) continue;
      if (!t->is_string() || t->get<std::string>() != "default") {
        return absl::InvalidArgumentError(absl::StrCat("config.json: ", key, ".", type_key, " ", t->dump(),
                                                       " cannot be represented (only \"default\" RoPE)"));
      }
    }
  }
  return absl::OkStatus();
}

// The convention of MODEL.md §5 a config.json records ("rope_convention"), reconciled with a requested one.
absl::StatusOr<RopeConvention> ReadRopeConvention(const json& j, std::optional<RopeConvention> requested) {
  std::optional<RopeConvention> recorded;
  if (const auto it = j.find("rope_convention"); it != j.end() && !it->is_null()) {
    absl::StatusOr<RopeConvention> parsed =
        it->is_string() ? ParseRopeConvention(it->get<std::string>()) : ParseRopeConvention(it->dump());
    if (!parsed.ok())
      return absl::InvalidArgumentError(absl::StrCat("config.json: ", parsed.status().message()));
    recorded = *parsed;
  }
  if (requested && recorded && *requested != *recorded) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model.rope_convention ", std::string(RopeConventionName(*requested)),
        " contradicts config.json's rope_convention ", std::string(RopeConventionName(*recorded)),
        ": the weights were exported under the other convention (leave model.rope_convention auto)"));
  }
  return requested ? *requested : recorded.value_or(RopeConvention::kM1);
}

// The layer schedule: layer_types (transformers) wins over attn_type_list (M1); neither: the default.
absl::Status ReadLayerSchedule(const json& j, ModelConfig* c) {
  if (auto it = j.find("layer_types"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("config.json: 'layer_types' must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string()) {
        return absl::InvalidArgumentError(absl::StrCat("config.json: layer_types[", i, "] must be a string"));
      }
      auto t = ParseLayerType((*it)[i].get<std::string>());
      if (!t.ok())
        return absl::InvalidArgumentError(
            absl::StrCat("config.json: layer_types[", i, "]: ", t.status().message()));
      c->layer_types.push_back(*t);
    }
  } else if (auto it2 = j.find("attn_type_list"); it2 != j.end() && !it2->is_null()) {
    if (!it2->is_array()) return absl::InvalidArgumentError("config.json: 'attn_type_list' must be a list");
    for (size_t i = 0; i < it2->size(); ++i) {
      const json& v = (*it2)[i];
      if (!v.is_number_integer() || (v.get<int64_t>() != 0 && v.get<int64_t>() != 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat("config.json: attn_type_list[", i, "] must be 0 or 1, got ", v.dump()));
      }
      c->layer_types.push_back(v.get<int64_t>() == 1 ? LayerType::kFullAttention
                                                     : LayerType::kLinearAttention);
    }
  } else {
    c->layer_types = DefaultSchedule(c->num_hidden_layers);
  }
  return absl::OkStatus();
}

// rope_parameters (transformers 5.x) and rope_scaling (4.x) of a dense config: "default" or "llama3" (with
// its four parameters); anything else names the field. rope_parameters.rope_theta, when present, is θ.
absl::Status ReadRopeScaling(const json& j, ModelConfig* c) {
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_object())
      return absl::InvalidArgumentError(absl::StrCat("config.json: '", key, "' must be an object"));
    M1RL_RETURN_IF_ERROR(ReadDouble(*it, "rope_theta", &c->rope_theta));
    std::string type = "default";
    for (const char* type_key : {"rope_type", "type"}) {
      const auto t = it->find(type_key);
      if (t == it->end() || t->is_null()) continue;
      type = t->is_string() ? t->get<std::string>() : t->dump();
      if (type != "default" && type != "llama3") {
        return absl::InvalidArgumentError(absl::StrCat(
            "config.json: ", key, ".", type_key, " \"", type,
            "\" cannot be represented (the dense family implements \"default\" and \"llama3\")"));
      }
    }
    if (type != "llama3") continue;
    RopeScaling& r = c->rope_scaling;
    r.type = "llama3";
    for (auto [name, out] : {std::pair<const char*, double*>{"factor", &r.factor},
                             {"low_freq_factor", &r.low_freq_factor},
                             {"high_freq_factor", &r.high_freq_factor}}) {
      if (!it->contains(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("config.json: ", key, ".", name, " is missing (llama3 RoPE)"));
      }
      M1RL_RETURN_IF_ERROR(ReadDouble(*it, name, out));
    }
    M1RL_RETURN_IF_ERROR(
        ReadInt(*it, "original_max_position_embeddings", &r.original_max_position_embeddings, true));
  }
  return absl::OkStatus();
}

// Keys of a dense config that describe computations this model does not implement, each refused by name.
absl::Status CheckDenseUnsupported(const json& j) {
  if (const auto it = j.find("hidden_act"); it != j.end() && !it->is_null() && *it != "silu") {
    return absl::InvalidArgumentError(absl::StrCat("config.json: hidden_act ", it->dump(),
                                                   " cannot be represented (SwiGLU with silu only)"));
  }
  for (const char* key : {"mlp_bias", "use_sliding_window"}) {
    bool on = false;
    M1RL_RETURN_IF_ERROR(ReadBool(j, key, &on));
    if (on)
      return absl::InvalidArgumentError(absl::StrCat("config.json: ", key, " true cannot be represented"));
  }
  double partial = 1.0;
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "partial_rotary_factor", &partial));
  if (partial != 1.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.json: partial_rotary_factor ", partial,
                     " cannot be represented (the dense family rotates the whole head)"));
  }
  if (const auto it = j.find("layer_types"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("config.json: 'layer_types' must be a list");
    for (size_t i = 0; i < it->size(); ++i) {
      if ((*it)[i] != "full_attention") {
        return absl::InvalidArgumentError(
            absl::StrCat("config.json: layer_types[", i, "] ", (*it)[i].dump(),
                         " cannot be represented (dense: full_attention only)"));
      }
    }
  }
  return absl::OkStatus();
}

// A Llama / Qwen2 / Qwen3 config.json (transformers key names and defaults).
absl::StatusOr<ModelConfig> ReadDenseHfConfig(const json& j, ModelFamily family) {
  M1RL_RETURN_IF_ERROR(CheckDenseUnsupported(j));
  ModelConfig c;
  c.family = family;
  c.num_local_experts = 0;
  c.num_experts_per_tok = 0;
  c.rope_theta = 10000.0;  // transformers' default for the three families
  c.max_position_embeddings = family == ModelFamily::kLlama ? 2048 : 32768;
  M1RL_RETURN_IF_ERROR(ReadShape(j, &c));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "rms_norm_eps", &c.rms_norm_eps));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "max_position_embeddings", &c.max_position_embeddings, false));
  M1RL_RETURN_IF_ERROR(ReadTokenId(j, "eos_token_id", &c.eos_token_id));
  M1RL_RETURN_IF_ERROR(ReadTokenId(j, "bos_token_id", &c.bos_token_id));
  M1RL_RETURN_IF_ERROR(ReadTokenId(j, "pad_token_id", &c.pad_token_id));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "rope_theta", &c.rope_theta));
  M1RL_RETURN_IF_ERROR(ReadRopeScaling(j, &c));
  M1RL_RETURN_IF_ERROR(ReadBool(j, "tie_word_embeddings", &c.tie_word_embeddings));
  M1RL_RETURN_IF_ERROR(ReadBool(j, "attention_bias", &c.attention_bias));
  if (family == ModelFamily::kQwen2) c.attention_bias = true;  // Qwen2Attention: q/k/v bias always
  c.qk_norm = family == ModelFamily::kQwen3;
  c.rotary_dim = c.head_dim;
  c.rope_convention = RopeConvention::kHf;  // the whole head (= kM1 here: rotary_dim = head_dim)
  c.layer_types.assign(static_cast<size_t>(std::max<int64_t>(c.num_hidden_layers, 0)),
                       LayerType::kFullAttention);
  M1RL_RETURN_IF_ERROR(c.Validate());
  return c;
}

// config.json of the dense family as transformers writes it (the keys its config classes define).
json DenseHfConfigJson(const ModelConfig& c, std::string_view dtype) {
  json j;
  const char* arch = c.family == ModelFamily::kLlama   ? "LlamaForCausalLM"
                     : c.family == ModelFamily::kQwen2 ? "Qwen2ForCausalLM"
                                                       : "Qwen3ForCausalLM";
  j["architectures"] = json::array({arch});
  j["model_type"] = std::string(ModelFamilyName(c.family));
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["initializer_range"] = 0.02;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["use_cache"] = true;
  auto id = [](int64_t v) { return v < 0 ? json(nullptr) : json(v); };
  j["pad_token_id"] = id(c.pad_token_id);
  j["bos_token_id"] = id(c.bos_token_id);
  j["eos_token_id"] = id(c.eos_token_id);
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_dropout"] = 0.0;
  if (c.family != ModelFamily::kQwen2) j["attention_bias"] = c.attention_bias;
  if (c.family == ModelFamily::kLlama) j["mlp_bias"] = false;
  if (c.family != ModelFamily::kLlama) {
    j["use_sliding_window"] = false;
    j["sliding_window"] = nullptr;
    j["max_window_layers"] = c.num_hidden_layers;
  }
  json rope = {{"rope_type", "default"}, {"rope_theta", c.rope_theta}};
  if (c.rope_scaling.type == "llama3") {
    rope = {{"rope_type", "llama3"},
            {"rope_theta", c.rope_theta},
            {"factor", c.rope_scaling.factor},
            {"low_freq_factor", c.rope_scaling.low_freq_factor},
            {"high_freq_factor", c.rope_scaling.high_freq_factor},
            {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  j["rope_parameters"] = rope;     // transformers 5.x
  j["rope_theta"] = c.rope_theta;  // 4.x
  j["rope_scaling"] = c.rope_scaling.type.empty() ? json(nullptr) : rope;
  j["dtype"] = std::string(dtype);
  return j;
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromHfConfigJson(const json& j,
                                                          std::optional<RopeConvention> requested) {
  if (!j.is_object()) return absl::InvalidArgumentError("config.json: top level must be an object");
  M1RL_ASSIGN_OR_RETURN(const ModelFamily family, ReadModelType(j));
  if (family != ModelFamily::kMiniMax) return ReadDenseHfConfig(j, family);
  M1RL_RETURN_IF_ERROR(CheckRopeType(j));
  ModelConfig c;
  M1RL_ASSIGN_OR_RETURN(c.rope_convention, ReadRopeConvention(j, requested));
  M1RL_RETURN_IF_ERROR(ReadShape(j, &c));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "num_local_experts", &c.num_local_experts, true));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "num_experts_per_tok", &c.num_experts_per_tok, false));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "rms_norm_eps", &c.rms_norm_eps));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "block_size", &c.block_size, false));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "router_aux_loss_coef", &c.router_aux_loss_coef));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "max_position_embeddings", &c.max_position_embeddings, false));
  M1RL_RETURN_IF_ERROR(ReadTokenId(j, "eos_token_id", &c.eos_token_id));
  M1RL_RETURN_IF_ERROR(ReadTokenId(j, "bos_token_id", &c.bos_token_id));
  M1RL_RETURN_IF_ERROR(ReadTokenId(j, "pad_token_id", &c.pad_token_id));
  if (auto it = j.find("tie_word_embeddings"); it != j.end() && it->is_boolean() && it->get<bool>()) {
    return absl::InvalidArgumentError(
        "config.json: tie_word_embeddings true is not MiniMax-M1 (untied head)");
  }

  // RoPE: transformers rope_parameters {rope_theta, partial_rotary_factor}; M1 rope_theta + rotary_dim.
  c.rotary_dim = c.head_dim;
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "rope_theta", &c.rope_theta));
  double partial = 0.0;
  if (auto it = j.find("rope_parameters"); it != j.end() && it->is_object()) {
    M1RL_RETURN_IF_ERROR(ReadDouble(*it, "rope_theta", &c.rope_theta));
    M1RL_RETURN_IF_ERROR(ReadDouble(*it, "partial_rotary_factor", &partial));
  }
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "partial_rotary_factor", &partial));
  if (partial > 0.0)
    c.rotary_dim = static_cast<int64_t>(std::llround(partial * static_cast<double>(c.head_dim)));
  M1RL_RETURN_IF_ERROR(ReadInt(j, "rotary_dim", &c.rotary_dim, false));

  M1RL_RETURN_IF_ERROR(ReadLayerSchedule(j, &c));

  // Residual placement. This model is M1's post-norm DeepNorm (MODEL.md §3). transformers' MiniMax is always
  // post-norm, but M1's remote code reads `postnorm` with default false: an M1-format config
  // (attn_type_list) without the key describes a pre-norm model, which cannot be represented here.
  M1RL_RETURN_IF_ERROR(CheckPostnorm(j));
  // DeepNorm: M1 names first, transformers names override (transformers wins when both exist).
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "layernorm_linear_attention_alpha", &c.linear_attn_alpha_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "layernorm_linear_attention_beta", &c.linear_attn_beta_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "layernorm_full_attention_alpha", &c.full_attn_alpha_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "layernorm_full_attention_beta", &c.full_attn_beta_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "layernorm_mlp_alpha", &c.mlp_alpha_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "layernorm_mlp_beta", &c.mlp_beta_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "linear_attn_alpha_factor", &c.linear_attn_alpha_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "linear_attn_beta_factor", &c.linear_attn_beta_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "full_attn_alpha_factor", &c.full_attn_alpha_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "full_attn_beta_factor", &c.full_attn_beta_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "mlp_alpha_factor", &c.mlp_alpha_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "mlp_beta_factor", &c.mlp_beta_factor));
  M1RL_RETURN_IF_ERROR(ReadDouble(j, "lightning_norm_eps", &c.lightning_norm_eps));
  M1RL_RETURN_IF_ERROR(c.Validate());
  return c;
}

json ModelConfig::ToHfConfigJson(std::string_view dtype) const {
  if (dense()) return DenseHfConfigJson(*this, dtype);
  json j;
  j["architectures"] = json::array({"MiniMaxForCausalLM"});
  j["model_type"] = "minimax";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = max_position_embeddings;
  j["initializer_range"] = 0.02;
  j["rms_norm_eps"] = rms_norm_eps;
  j["use_cache"] = true;
  auto id = [](int64_t v) { return v < 0 ? json(nullptr) : json(v); };
  j["pad_token_id"] = id(pad_token_id);
  j["bos_token_id"] = id(bos_token_id);
  j["eos_token_id"] = id(eos_token_id);
  j["tie_word_embeddings"] = false;
  j["sliding_window"] = nullptr;
  j["attention_dropout"] = 0.0;
  j["num_experts_per_tok"] = num_experts_per_tok;
  j["num_local_experts"] = num_local_experts;
  j["output_router_logits"] = false;
  j["router_aux_loss_coef"] = router_aux_loss_coef;
  j["router_jitter_noise"] = 0.0;
  j["shared_intermediate_size"] = 0;
  j["rope_parameters"] = {
      {"rope_type", "default"},
      {"rope_theta", rope_theta},
      {"partial_rotary_factor", static_cast<double>(rope_dims()) / static_cast<double>(head_dim)}};
  j["rope_theta"] = rope_theta;
  j["rotary_dim"] = rope_dims();
  j["rope_convention"] = std::string(RopeConventionName(rope_convention));
  json types = json::array();
  json attn_types = json::array();
  for (LayerType t : layer_types) {
    types.push_back(std::string(LayerTypeName(t)));
    attn_types.push_back(t == LayerType::kFullAttention ? 1 : 0);
  }
  j["layer_types"] = types;
  j["attn_type_list"] = attn_types;
  j["block_size"] = block_size;
  j["linear_attn_alpha_factor"] = linear_attn_alpha_factor;
  j["linear_attn_beta_factor"] = linear_attn_beta_factor;
  j["full_attn_alpha_factor"] = full_attn_alpha_factor;
  j["full_attn_beta_factor"] = full_attn_beta_factor;
  j["mlp_alpha_factor"] = mlp_alpha_factor;
  j["mlp_beta_factor"] = mlp_beta_factor;
  j["postnorm"] = true;
  j["layernorm_linear_attention_alpha"] = linear_attn_alpha_factor;
  j["layernorm_linear_attention_beta"] = linear_attn_beta_factor;
  j["layernorm_full_attention_alpha"] = full_attn_alpha_factor;
  j["layernorm_full_attention_beta"] = full_attn_beta_factor;
  j["layernorm_mlp_alpha"] = mlp_alpha_factor;
  j["layernorm_mlp_beta"] = mlp_beta_factor;
  j["lightning_norm_eps"] = lightning_norm_eps;
  j["dtype"] = std::string(dtype);
  return j;
}

namespace {

void SetIfNonZero(int64_t v, int64_t* out) {
  if (v != 0) *out = v;
}
void SetIfNonZero(double v, double* out) {
  if (v != 0.0) *out = v;
}

// The proto fields both families read over `c` (0 keeps the preset's or the default value): shape, θ, norm
// epsilon, context length and the expert counts (which Validate requires to stay 0 for the dense family).
void OverrideCommonFields(const m1rl::config::ModelConfig& p, ModelConfig* c) {
  SetIfNonZero(p.vocab_size(), &c->vocab_size);
  SetIfNonZero(p.hidden_size(), &c->hidden_size);
  SetIfNonZero(p.intermediate_size(), &c->intermediate_size);
  SetIfNonZero(p.num_hidden_layers(), &c->num_hidden_layers);
  SetIfNonZero(p.num_attention_heads(), &c->num_attention_heads);
  SetIfNonZero(p.head_dim(), &c->head_dim);
  SetIfNonZero(p.num_key_value_heads(), &c->num_key_value_heads);
  SetIfNonZero(p.rope_theta(), &c->rope_theta);
  SetIfNonZero(p.rms_norm_eps(), &c->rms_norm_eps);
  SetIfNonZero(p.max_position_embeddings(), &c->max_position_embeddings);
  SetIfNonZero(p.num_local_experts(), &c->num_local_experts);
  SetIfNonZero(p.num_experts_per_tok(), &c->num_experts_per_tok);
}

// FromProto for the dense family: `c` holds the family (and the preset, if any); fields override.
absl::StatusOr<ModelConfig> DenseFromProto(const m1rl::config::ModelConfig& p, ModelConfig c) {
  c.num_local_experts = 0;  // the defaults are MiniMax's
  c.num_experts_per_tok = 0;
  OverrideCommonFields(p, &c);
  c.rotary_dim = c.head_dim;
  SetIfNonZero(p.rotary_dim(), &c.rotary_dim);  // must equal head_dim (Validate)
  c.rope_convention = RopeConvention::kHf;
  c.attention_bias = c.attention_bias || p.attention_bias() || c.family == ModelFamily::kQwen2;
  c.qk_norm = c.qk_norm || p.qk_norm() || c.family == ModelFamily::kQwen3;
  c.tie_word_embeddings = c.tie_word_embeddings || p.tie_word_embeddings();
  c.layer_types.assign(static_cast<size_t>(std::max<int64_t>(c.num_hidden_layers, 0)),
                       LayerType::kFullAttention);
  for (int i = 0; i < p.layer_types_size() && i < static_cast<int>(c.layer_types.size()); ++i) {
    if (p.layer_types(i) == config::ModelConfig::LAYER_TYPE_LINEAR_ATTENTION)
      c.layer_types[i] = LayerType::kLinearAttention;  // refused by Validate, naming the field
  }
  M1RL_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromProto(const m1rl::config::ModelConfig& p) {
  ModelConfig c;
  if (!p.preset().empty()) {
    M1RL_ASSIGN_OR_RETURN(c, Preset(p.preset()));
  }
  if (!p.family().empty()) {
    absl::StatusOr<ModelFamily> family = ParseModelFamily(p.family());
    if (!family.ok()) return Invalid("family", absl::StrCat(": ", family.status().message()));
    if (p.preset().empty()) {
      c.family = *family;
    } else if (*family != c.family) {
      return Invalid("family",
                     absl::StrCat("'", p.family(), "' contradicts model.preset '", p.preset(), "'"));
    }
  }
  if (c.dense()) return DenseFromProto(p, std::move(c));
  const int64_t old_layers = c.num_hidden_layers;
  OverrideCommonFields(p, &c);
  SetIfNonZero(p.rotary_dim(), &c.rotary_dim);
  c.rope_convention = RopeConventionFromConfig(p).value_or(RopeConvention::kM1);
  SetIfNonZero(p.lightning_norm_eps(), &c.lightning_norm_eps);
  SetIfNonZero(p.block_size(), &c.block_size);
  SetIfNonZero(p.router_aux_loss_coef(), &c.router_aux_loss_coef);
  if (p.layer_types_size() > 0) {
    c.layer_types.clear();
    for (int i = 0; i < p.layer_types_size(); ++i) {
      c.layer_types.push_back(p.layer_types(i) == config::ModelConfig::LAYER_TYPE_FULL_ATTENTION
                                  ? LayerType::kFullAttention
                                  : LayerType::kLinearAttention);
    }
  } else if (c.layer_types.empty() || c.num_hidden_layers != old_layers) {
    c.layer_types = DefaultSchedule(c.num_hidden_layers);
  }
  if (p.preset().empty() || c.num_hidden_layers != old_layers) {
    // DeepNorm α = (2L)^(1/4) for a custom depth (MODEL.md §1).
    const double alpha = std::pow(2.0 * static_cast<double>(c.num_hidden_layers), 0.25);
    c.linear_attn_alpha_factor = c.full_attn_alpha_factor = c.mlp_alpha_factor = alpha;
  }
  // Dense-family settings on a MiniMax config: refused by Validate, naming the field.
  c.attention_bias = p.attention_bias();
  c.qk_norm = p.qk_norm();
  c.tie_word_embeddings = p.tie_word_embeddings();
  M1RL_RETURN_IF_ERROR(c.Validate());
  return c;
}

absl::Status ModelConfig::Validate() const {
  auto positive = [](std::string_view field, int64_t v) -> absl::Status {
    if (v <= 0) return Invalid(field, absl::StrCat("must be > 0, got ", v));
    return absl::OkStatus();
  };
  M1RL_RETURN_IF_ERROR(positive("vocab_size", vocab_size));
  M1RL_RETURN_IF_ERROR(positive("hidden_size", hidden_size));
  M1RL_RETURN_IF_ERROR(positive("intermediate_size", intermediate_size));
  M1RL_RETURN_IF_ERROR(positive("num_hidden_layers", num_hidden_layers));
  M1RL_RETURN_IF_ERROR(positive("num_attention_heads", num_attention_heads));
  M1RL_RETURN_IF_ERROR(positive("head_dim", head_dim));
  M1RL_RETURN_IF_ERROR(positive("num_key_value_heads", num_key_value_heads));
  if (dense()) {
    M1RL_RETURN_IF_ERROR(ValidateDense());
  } else {
    M1RL_RETURN_IF_ERROR(positive("num_local_experts", num_local_experts));
    M1RL_RETURN_IF_ERROR(positive("num_experts_per_tok", num_experts_per_tok));
    M1RL_RETURN_IF_ERROR(ValidateMiniMaxOnly());
  }
  M1RL_RETURN_IF_ERROR(positive("block_size", block_size));
  M1RL_RETURN_IF_ERROR(positive("max_position_embeddings", max_position_embeddings));
  if (!dense() && (num_attention_heads & (num_attention_heads - 1)) != 0) {
    return Invalid(
        "num_attention_heads",
        absl::StrCat("must be a power of two (lightning decay recipe), got ", num_attention_heads));
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    return Invalid("num_key_value_heads", absl::StrCat("must divide num_attention_heads ",
                                                       num_attention_heads, ", got ", num_key_value_heads));
  }
  if (rotary_dim < 0 || rotary_dim > head_dim || rotary_dim % 2 != 0) {
    return Invalid("rotary_dim",
                   absl::StrCat("must be even and in [0, head_dim=", head_dim, "], got ", rotary_dim));
  }
  if (num_experts_per_tok > num_local_experts) {
    return Invalid("num_experts_per_tok", absl::StrCat("must be <= num_local_experts ", num_local_experts,
                                                       ", got ", num_experts_per_tok));
  }
  if (static_cast<int64_t>(layer_types.size()) != num_hidden_layers) {
    return Invalid("layer_types", absl::StrCat("must have num_hidden_layers=", num_hidden_layers,
                                               " entries, got ", layer_types.size()));
  }
  if (!(rope_theta > 0)) return Invalid("rope_theta", absl::StrCat("must be > 0, got ", rope_theta));
  if (!(rms_norm_eps > 0)) return Invalid("rms_norm_eps", absl::StrCat("must be > 0, got ", rms_norm_eps));
  if (!(lightning_norm_eps > 0))
    return Invalid("lightning_norm_eps", absl::StrCat("must be > 0, got ", lightning_norm_eps));
  if (router_aux_loss_coef < 0) {
    return Invalid("router_aux_loss_coef", absl::StrCat("must be >= 0, got ", router_aux_loss_coef));
  }
  for (auto [name, v] : {std::pair<const char*, int64_t>{"eos_token_id", eos_token_id},
                         {"bos_token_id", bos_token_id},
                         {"pad_token_id", pad_token_id}}) {
    if (v >= vocab_size) return Invalid(name, absl::StrCat("must be < vocab_size ", vocab_size, ", got ", v));
  }
  return absl::OkStatus();
}

absl::Status ModelConfig::ValidateDense() const {
  const std::string family_name(ModelFamilyName(family));
  if (num_local_experts != 0 || num_experts_per_tok != 0) {
    return Invalid(num_local_experts != 0 ? "num_local_experts" : "num_experts_per_tok",
                   absl::StrCat("must be 0 for the dense family (", family_name, "), got ",
                                std::max(num_local_experts, num_experts_per_tok)));
  }
  for (size_t i = 0; i < layer_types.size(); ++i) {
    if (layer_types[i] != LayerType::kFullAttention) {
      return Invalid("layer_types", absl::StrCat("[", i, "] must be full_attention for the dense family (",
                                                 family_name, ")"));
    }
  }
  if (rotary_dim != head_dim) {
    return Invalid("rotary_dim", absl::StrCat("must equal head_dim ", head_dim, " for the dense family (",
                                              family_name, "), got ", rotary_dim));
  }
  for (double f : {linear_attn_alpha_factor, linear_attn_beta_factor, full_attn_alpha_factor,
                   full_attn_beta_factor, mlp_alpha_factor, mlp_beta_factor}) {
    if (f != 1.0)
      return Invalid("full_attn_alpha_factor", "and the other DeepNorm factors must be 1 (dense: pre-norm)");
  }
  if (!rope_scaling.type.empty() && rope_scaling.type != "llama3") {
    return Invalid("rope_scaling",
                   absl::StrCat("type must be empty or llama3, got '", rope_scaling.type, "'"));
  }
  if (rope_scaling.type == "llama3" && !(rope_scaling.factor > 0 && rope_scaling.low_freq_factor > 0 &&
                                         rope_scaling.high_freq_factor > rope_scaling.low_freq_factor &&
                                         rope_scaling.original_max_position_embeddings > 0)) {
    return Invalid("rope_scaling",
                   "llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                   "original_max_position_embeddings > 0");
  }
  return absl::OkStatus();
}

absl::Status ModelConfig::ValidateMiniMaxOnly() const {
  if (attention_bias || qk_norm || tie_word_embeddings) {
    return Invalid(attention_bias ? "attention_bias"
                   : qk_norm      ? "qk_norm"
                                  : "tie_word_embeddings",
                   "is a dense-family setting (model.family llama / qwen2 / qwen3), not MiniMax's");
  }
  if (!rope_scaling.type.empty()) return Invalid("rope_scaling", "is not supported for MiniMax");
  return absl::OkStatus();
}

int64_t ModelConfig::num_layers_of(LayerType type) const {
  int64_t n = 0;
  for (LayerType t : layer_types) n += (t == type);
  return n;
}

int64_t ModelConfig::ordinal_in_type(int64_t layer) const {
  int64_t n = 0;
  for (int64_t i = 0; i < layer; ++i) n += (layer_types[i] == layer_types[layer]);
  return n;
}

double ModelConfig::attn_alpha(int64_t layer) const {
  return layer_types[layer] == LayerType::kLinearAttention ? linear_attn_alpha_factor
                                                           : full_attn_alpha_factor;
}

double ModelConfig::attn_beta(int64_t layer) const {
  return layer_types[layer] == LayerType::kLinearAttention ? linear_attn_beta_factor : full_attn_beta_factor;
}

std::vector<double> ModelConfig::RopeInverseFrequencies() const {
  const int64_t half = rope_dims() / 2;
  std::vector<double> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv[i] = std::pow(rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(rope_dims()));
  if (rope_scaling.type != "llama3") return inv;
  // transformers' _compute_llama3_parameters.
  const RopeScaling& r = rope_scaling;
  const double old_len = static_cast<double>(r.original_max_position_embeddings);
  const double low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
  for (double& f : inv) {
    const double wavelen = 2.0 * M_PI / f;
    if (wavelen > low_wavelen) {
      f /= r.factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth =
          (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
      f = (1.0 - smooth) * f / r.factor + smooth * f;
    }
  }
  return inv;
}

double ModelConfig::LightningDecayRate(int64_t layer, int64_t head) const {
  // s_h = 2^(−8(h+1)/N_h); f_i = 1 − i/(L−1+1e−5) + 1e−5 (transformers form), MODEL.md §4.3.
  const double s =
      std::pow(2.0, -8.0 * static_cast<double>(head + 1) / static_cast<double>(num_attention_heads));
  const double f =
      1.0 - static_cast<double>(layer) / (static_cast<double>(num_hidden_layers - 1) + 1e-5) + 1e-5;
  return s * f;
}

ParameterCounts ModelConfig::CountParameters() const {
  ParameterCounts p;
  const int64_t d_inner = inner_dim();
  p.embedding = vocab_size * hidden_size;
  p.lm_head = vocab_size * hidden_size;
  p.lightning_attention_per_layer =
      3 * d_inner * hidden_size + d_inner * hidden_size + hidden_size * d_inner + d_inner;
  p.softmax_attention_per_layer =
      2 * d_inner * hidden_size + 2 * num_key_value_heads * head_dim * hidden_size;
  p.expert = 3 * intermediate_size * hidden_size;
  p.moe_per_layer = num_local_experts * p.expert + num_local_experts * hidden_size;
  p.norms_per_layer = 2 * hidden_size;
  const int64_t n_lin = num_layers_of(LayerType::kLinearAttention);
  const int64_t n_full = num_layers_of(LayerType::kFullAttention);
  const int64_t attn = n_lin * p.lightning_attention_per_layer + n_full * p.softmax_attention_per_layer;
  if (dense()) {
    const int64_t kv_dim = num_key_value_heads * head_dim;
    p.lm_head = tie_word_embeddings ? 0 : vocab_size * hidden_size;
    p.softmax_attention_per_layer += (attention_bias ? d_inner + 2 * kv_dim : 0) +
                                     (o_proj_bias() ? hidden_size : 0) + (qk_norm ? 2 * head_dim : 0);
    p.lightning_attention_per_layer = 0;
    p.expert = 0;
    p.moe_per_layer = 0;
    p.mlp_per_layer = 3 * intermediate_size * hidden_size;
    const int64_t layers =
        num_hidden_layers * (p.softmax_attention_per_layer + p.mlp_per_layer + p.norms_per_layer);
    p.total = p.embedding + p.lm_head + hidden_size /*final norm*/ + layers;
    p.active = layers + hidden_size;
    p.active_with_head = p.active + vocab_size * hidden_size;  // the head GEMM, tied or not
    return p;
  }
  p.total = p.embedding + p.lm_head + hidden_size /*final norm*/ + attn +
            num_hidden_layers * (p.moe_per_layer + p.norms_per_layer);
  p.active = attn + hidden_size +
             num_hidden_layers *
                 (num_experts_per_tok * p.expert + num_local_experts * hidden_size + p.norms_per_layer);
  p.active_with_head = p.active + p.lm_head;
  return p;
}

namespace {

void CheckModelRanges(const config::ModelConfig& m, FieldChecker& c) {
  const bool from_fields = m.preset().empty() && m.init_from().empty();
  const int64_t min_dim = from_fields ? 1 : 0;  // 0 = "from the preset / checkpoint"
  c.AtLeast(m.vocab_size(), min_dim, "model.vocab_size");
  c.AtLeast(m.hidden_size(), min_dim, "model.hidden_size");
  c.AtLeast(m.intermediate_size(), min_dim, "model.intermediate_size");
  c.AtLeast(m.num_hidden_layers(), min_dim, "model.num_hidden_layers");
  c.AtLeast(m.num_attention_heads(), min_dim, "model.num_attention_heads");
  c.AtLeast(m.head_dim(), min_dim, "model.head_dim");
  c.AtLeast(m.num_key_value_heads(), min_dim, "model.num_key_value_heads");
  const bool dense = !m.family().empty() && m.family() != "minimax";
  c.AtLeast(m.num_local_experts(), dense ? 0 : min_dim, "model.num_local_experts");
  c.AtLeast(m.num_experts_per_tok(), dense ? 0 : min_dim, "model.num_experts_per_tok");
  c.AtLeast(m.rotary_dim(), 0, "model.rotary_dim");
  c.AtLeast(m.block_size(), 0, "model.block_size");
  c.AtLeast(m.max_position_embeddings(), 0, "model.max_position_embeddings");
  c.AtLeast(m.head_chunk_size(), 0, "model.head_chunk_size");
  c.NonNegative(m.rope_theta(), "model.rope_theta");
  c.NonNegative(m.rms_norm_eps(), "model.rms_norm_eps");
  c.NonNegative(m.lightning_norm_eps(), "model.lightning_norm_eps");
  c.NonNegative(m.router_aux_loss_coef(), "model.router_aux_loss_coef");
  c.NonNegative(m.init_std(), "model.init_std");
  if (m.layer_types_size() > 0 && m.num_hidden_layers() > 0 &&
      m.layer_types_size() != m.num_hidden_layers()) {
    c.Add("model.layer_types", absl::StrCat(" must have model.num_hidden_layers (", m.num_hidden_layers(),
                                            ") entries, got ", m.layer_types_size()));
  }
}

}  // namespace

absl::Status ValidateModelConfig(const m1rl::config::ModelConfig& m) {
  FieldChecker c;
  if (!m.preset().empty()) {
    absl::StatusOr<ModelConfig> preset = ModelConfig::Preset(m.preset());
    if (!preset.ok()) c.Add("model.preset", absl::StrCat(": ", preset.status().message()));
  }
  CheckModelRanges(m, c);
  const std::string& dev = m.device();
  const bool cuda_n = dev.size() > 5 && dev.rfind("cuda:", 0) == 0 &&
                      std::all_of(dev.begin() + 5, dev.end(),
                                  [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
  if (!cuda_n && !dev.empty() && dev != "cpu" && dev != "cuda" && dev != "auto") {
    c.Add("model.device", absl::StrCat(" must be one of cpu, cuda, cuda:N, auto, got \"", dev, "\""));
  }
  // Without a checkpoint the network is built from these fields: check the resolved shapes too.
  if (!m.family().empty() && !ParseModelFamily(m.family()).ok()) {
    c.Add("model.family",
          absl::StrCat(" must be one of minimax, llama, qwen2, qwen3, got \"", m.family(), "\""));
  }
  if (m.init_from().empty() && c.Result().ok()) c.Merge(ModelConfig::FromProto(m).status());
  return c.Result();
}

}  // namespace m1rl::model
