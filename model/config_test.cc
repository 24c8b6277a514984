#include "model/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "common/testing/status_matchers.h"
#include "proto/config_model.pb.h"

namespace m1rl::model {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// MODEL.md §10: the published numbers, computed there by hand from the shapes.
TEST(ModelConfigTest, MiniMaxM1ParameterCounts) {
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::Preset("minimax-m1"));
  ASSERT_THAT(c.Validate(), IsOk());
  const ParameterCounts p = c.CountParameters();
  EXPECT_EQ(p.lightning_attention_per_layer, 251666432);
  EXPECT_EQ(p.softmax_attention_per_layer, 113246208);
  EXPECT_EQ(p.expert, 169869312);
  EXPECT_EQ(p.moe_per_layer, 5436014592);
  EXPECT_EQ(p.norms_per_layer, 12288);
  EXPECT_EQ(p.embedding, 1229193216);
  EXPECT_EQ(p.lm_head, 1229193216);
  EXPECT_EQ(p.total, 456089655296);
  EXPECT_EQ(p.active, 45944920064);
  EXPECT_EQ(p.active_with_head, 47174113280);
  EXPECT_EQ(c.num_layers_of(LayerType::kFullAttention), 10);
  EXPECT_EQ(c.layer_types[7], LayerType::kFullAttention);
  EXPECT_EQ(c.layer_types[79], LayerType::kFullAttention);
  EXPECT_EQ(c.layer_types[78], LayerType::kLinearAttention);
}

// MODEL.md §11 (matches a transformers save of the same config).
TEST(ModelConfigTest, TinyParameterCounts) {
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig t8, ModelConfig::Preset("tiny8"));
  EXPECT_EQ(t8.CountParameters().total, 937920);
  EXPECT_EQ(t8.CountParameters().active, 610240);
  EXPECT_DOUBLE_EQ(t8.linear_attn_alpha_factor, 2.0);
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig t2, ModelConfig::Preset("tiny2"));
  EXPECT_EQ(t2.CountParameters().total, 246720);
  EXPECT_EQ(t2.CountParameters().active, 140224);
  EXPECT_NEAR(t2.mlp_alpha_factor, 1.41421356, 1e-8);
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig hp, ModelConfig::Preset("tiny8-hfparity"));
  EXPECT_EQ(hp.rotary_dim, 32);
  EXPECT_THAT(ModelConfig::Preset("tiny9").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("tiny9")));
}

// MODEL.md §4.3: s_h = 2^(−8(h+1)/N_h), f_i = 1 − i/(L−1+1e−5) + 1e−5; layer 78 of M1 has f ≈ 0.01267.
TEST(ModelConfigTest, LightningDecay) {
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig t8, ModelConfig::Preset("tiny8"));
  EXPECT_DOUBLE_EQ(t8.LightningDecayRate(0, 0), 0.25 * (1.0 + 1e-5));
  EXPECT_DOUBLE_EQ(t8.LightningDecayRate(0, 3), 0.00390625 * (1.0 + 1e-5));
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig m1, ModelConfig::Preset("minimax-m1"));
  const double s0 = std::pow(2.0, -1.0 / 8.0);
  EXPECT_NEAR(m1.LightningDecayRate(78, 0) / s0, 0.01267, 5e-6);
}

TEST(ModelConfigTest, HfConfigRoundTrip) {
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::Preset("minimax-m1"));
  c.eos_token_id = 200020;
  const nlohmann::json j = c.ToHfConfigJson();
  EXPECT_EQ(j["model_type"], "minimax");
  EXPECT_EQ(j["layer_types"][7], "full_attention");
  EXPECT_DOUBLE_EQ(j["rope_parameters"]["partial_rotary_factor"].get<double>(), 0.5);
  EXPECT_EQ(j["bos_token_id"], nullptr);
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig back, ModelConfig::FromHfConfigJson(j));
  EXPECT_EQ(back.rotary_dim, 64);
  EXPECT_EQ(back.layer_types, c.layer_types);
  EXPECT_DOUBLE_EQ(back.mlp_alpha_factor, c.mlp_alpha_factor);
  EXPECT_EQ(back.eos_token_id, 200020);
  EXPECT_EQ(back.bos_token_id, -1);
  EXPECT_EQ(back.CountParameters().total, c.CountParameters().total);
}

// An M1 remote-code config: attn_type_list, layernorm_*_alpha, rotary_dim; no transformers keys.
TEST(ModelConfigTest, ReadsM1RemoteCodeKeys) {
  nlohmann::json j = {{"vocab_size", 256},
                      {"hidden_size", 64},
                      {"intermediate_size", 96},
                      {"num_hidden_layers", 2},
                      {"num_attention_heads", 4},
                      {"head_dim", 32},
                      {"num_key_value_heads", 2},
                      {"num_local_experts", 4},
                      {"rotary_dim", 16},
                      {"rope_theta", 10000.0},
                      {"attn_type_list", {0, 1}},
                      {"layernorm_linear_attention_alpha", 3.0},
                      {"layernorm_full_attention_alpha", 5.0},
                      {"layernorm_mlp_alpha", 7.0},
                      {"postnorm", true}};
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::FromHfConfigJson(j));
  EXPECT_EQ(c.layer_types[1], LayerType::kFullAttention);
  EXPECT_DOUBLE_EQ(c.linear_attn_alpha_factor, 3.0);
  EXPECT_DOUBLE_EQ(c.full_attn_alpha_factor, 5.0);
  EXPECT_DOUBLE_EQ(c.mlp_alpha_factor, 7.0);
  EXPECT_EQ(c.rotary_dim, 16);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  // transformers spelling wins when both are present.
  j["mlp_alpha_factor"] = 9.0;
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c2, ModelConfig::FromHfConfigJson(j));
  EXPECT_DOUBLE_EQ(c2.mlp_alpha_factor, 9.0);
}

// M1's remote code defaults postnorm to false (pre-norm): an M1-format config without the key is not this
// (post-norm) model and is refused naming the key; transformers-format configs are post-norm by design.
TEST(ModelConfigTest, M1ConfigWithoutPostnormIsPreNormAndRefused) {
  nlohmann::json j = {{"vocab_size", 256},        {"hidden_size", 64},        {"intermediate_size", 96},
                      {"num_hidden_layers", 2},   {"num_attention_heads", 4}, {"num_local_experts", 4},
                      {"attn_type_list", {0, 1}}, {"postnorm", true}};
  ASSERT_THAT(ModelConfig::FromHfConfigJson(j).status(), IsOk());
  j.erase("postnorm");
  EXPECT_THAT(
      ModelConfig::FromHfConfigJson(j).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("config.json"), HasSubstr("'postnorm' is absent"), HasSubstr("pre-norm"))));
  j["postnorm"] = false;
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("postnorm false")));
  j["postnorm"] = "yes";
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'postnorm' must be true or false")));
  // transformers format (layer_types, no attn_type_list): no postnorm key, post-norm by definition.
  j.erase("postnorm");
  j.erase("attn_type_list");
  j["layer_types"] = {"linear_attention", "full_attention"};
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(), IsOk());
}

TEST(ModelConfigTest, BadConfigsNameTheField) {
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::Preset("tiny8"));
  nlohmann::json j = c.ToHfConfigJson();
  j.erase("hidden_size");
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden_size")));
  j = c.ToHfConfigJson();
  j["num_hidden_layers"] = "eight";
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_hidden_layers")));
  j = c.ToHfConfigJson();
  j["layer_types"][3] = "sliding";
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("layer_types[3]")));
  ModelConfig bad = c;
  bad.num_attention_heads = 6;
  EXPECT_THAT(bad.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_attention_heads")));
  bad = c;
  bad.layer_types.pop_back();
  EXPECT_THAT(bad.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.layer_types")));
}

TEST(ModelConfigTest, FromProtoPresetAndOverrides) {
  m1rl::config::ModelConfig p;
  p.set_preset("tiny8");
  p.set_vocab_size(99);
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::FromProto(p));
  EXPECT_EQ(c.vocab_size, 99);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_DOUBLE_EQ(c.mlp_alpha_factor, 2.0);
  p.set_num_hidden_layers(4);  // depth change recomputes the schedule and α = (2·4)^(1/4)
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c4, ModelConfig::FromProto(p));
  EXPECT_EQ(c4.layer_types.size(), 4u);
  EXPECT_NEAR(c4.mlp_alpha_factor, std::pow(8.0, 0.25), 1e-12);
  p.set_lm_head_precision(config::ModelConfig::HEAD_PRECISION_BF16_FP32_OUT);
  EXPECT_EQ(HeadPrecisionFromConfig(p), HeadPrecision::kBf16Fp32Out);
  p.add_layer_types(config::ModelConfig::LAYER_TYPE_FULL_ATTENTION);
  EXPECT_THAT(ModelConfig::FromProto(p).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.layer_types")));
}

// The model section's one validation: ranges and names, and the resolved network without init_from.
TEST(ModelConfigTest, ValidateModelConfigNamesEveryViolation) {
  m1rl::config::ModelConfig p;
  p.set_preset("tiny2");
  EXPECT_THAT(ValidateModelConfig(p), ::m1rl::testing::IsOk());
  p.set_dtype(config::ModelConfig::DTYPE_BFLOAT16);  // valid config; the trainer decides what it trains
  p.set_lm_head_precision(config::ModelConfig::HEAD_PRECISION_BF16);
  EXPECT_THAT(ValidateModelConfig(p), ::m1rl::testing::IsOk());
  p.set_device("tpu");
  p.set_head_chunk_size(-1);
  EXPECT_THAT(ValidateModelConfig(p),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("model.head_chunk_size must be >= 0, got -1"),
                             HasSubstr("model.device must be one of cpu, cuda, cuda:N, auto, got \"tpu\""))));
  p.set_device("cuda:1");
  p.set_head_chunk_size(0);
  p.set_num_attention_heads(3);  // the resolved tiny2 network is checked: heads must be a power of two
  EXPECT_THAT(ValidateModelConfig(p),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model.num_attention_heads must be a power of two")));
  p.set_init_from("/some/hf_dir");  // shapes come from the checkpoint: not resolved here
  EXPECT_THAT(ValidateModelConfig(p), ::m1rl::testing::IsOk());
  p.set_preset("tiny9");
  EXPECT_THAT(ValidateModelConfig(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.preset")));
}

TEST(ModelConfigTest, HeadPrecisionNames) {
  EXPECT_THAT(ParseHeadPrecision("bf16_fp32_out"),
              ::m1rl::testing::IsOkAndHolds(HeadPrecision::kBf16Fp32Out));
  EXPECT_THAT(ParseHeadPrecision("ieee_fp32"), ::m1rl::testing::IsOkAndHolds(HeadPrecision::kIeeeFp32));
  EXPECT_EQ(HeadPrecisionName(HeadPrecision::kTf32), "tf32");
  // One spelling per value: the old aliases are gone.
  EXPECT_THAT(ParseHeadPrecision("bf16_fp32out").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bf16_fp32out")));
  EXPECT_THAT(ParseHeadPrecision("fp32_ieee").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fp32_ieee")));
  EXPECT_THAT(ParseHeadPrecision("fp8").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fp8")));
}

}  // namespace
}  // namespace m1rl::model

namespace m1rl::model {
namespace {

// config.json records the convention and describes what the model computes: under "hf" the rope keys say
// whole head (partial_rotary_factor 1, rotary_dim = head_dim), so transformers, vLLM and m1rl agree.
TEST(RopeConventionTest, RecordedInConfigJsonAndReadBack) {
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::Preset("tiny8"));  // rotary_dim 16 of 32
  nlohmann::json j = c.ToHfConfigJson();
  EXPECT_EQ(j["rope_convention"], "m1");
  EXPECT_EQ(j["rotary_dim"], 16);
  EXPECT_DOUBLE_EQ(j["rope_parameters"]["partial_rotary_factor"].get<double>(), 0.5);
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig back, ModelConfig::FromHfConfigJson(j));
  EXPECT_EQ(back.rope_convention, RopeConvention::kM1);
  EXPECT_EQ(back.rope_dims(), 16);

  c.rope_convention = RopeConvention::kHf;
  j = c.ToHfConfigJson();
  EXPECT_EQ(j["rope_convention"], "hf");
  EXPECT_EQ(j["rotary_dim"], 32);
  EXPECT_DOUBLE_EQ(j["rope_parameters"]["partial_rotary_factor"].get<double>(), 1.0);
  M1RL_ASSERT_OK_AND_ASSIGN(back, ModelConfig::FromHfConfigJson(j));
  EXPECT_EQ(back.rope_convention, RopeConvention::kHf);
  EXPECT_EQ(back.rope_dims(), 32);
  EXPECT_EQ(back.ToHfConfigJson().dump(), j.dump());

  // A transformers config records nothing: m1 unless the run asks for hf (transformers' own reading).
  j = c.ToHfConfigJson();
  j.erase("rope_convention");
  j["rotary_dim"] = 16;
  j["rope_parameters"]["partial_rotary_factor"] = 0.5;
  M1RL_ASSERT_OK_AND_ASSIGN(back, ModelConfig::FromHfConfigJson(j));
  EXPECT_EQ(back.rope_dims(), 16);
  M1RL_ASSERT_OK_AND_ASSIGN(back, ModelConfig::FromHfConfigJson(j, RopeConvention::kHf));
  EXPECT_EQ(back.rope_dims(), 32);
}

TEST(RopeConventionTest, UnrepresentableRopeIsRefusedNamingTheKey) {
  M1RL_ASSERT_OK_AND_ASSIGN(const ModelConfig c, ModelConfig::Preset("tiny8"));
  nlohmann::json j = c.ToHfConfigJson();
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j, RopeConvention::kHf).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("model.rope_convention hf contradicts config.json's rope_convention m1")));
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j, RopeConvention::kM1).status(), IsOk());
  j["rope_convention"] = "neox";
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("config.json"),
                             HasSubstr("rope_convention must be 'm1' or 'hf', got 'neox'"))));
  j = c.ToHfConfigJson();
  j["rope_parameters"]["rope_type"] = "yarn";
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("rope_parameters.rope_type \"yarn\" cannot be represented")));
  j = c.ToHfConfigJson();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("rope_scaling.type \"linear\" cannot be represented")));
  j["rope_scaling"] = nullptr;  // transformers writes null for no scaling
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(), IsOk());
}

TEST(RopeConventionTest, RunConfigSettingMapsOntoTheModel) {
  m1rl::config::ModelConfig p;
  p.set_preset("tiny8");
  EXPECT_EQ(RopeConventionFromConfig(p), std::nullopt);  // auto
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::FromProto(p));
  EXPECT_EQ(c.rope_convention, RopeConvention::kM1);
  p.set_rope_convention(config::ModelConfig::ROPE_CONVENTION_HF);
  EXPECT_EQ(RopeConventionFromConfig(p), RopeConvention::kHf);
  M1RL_ASSERT_OK_AND_ASSIGN(c, ModelConfig::FromProto(p));
  EXPECT_EQ(c.rope_dims(), 32);
  EXPECT_EQ(ParseRopeConvention("hf").value(), RopeConvention::kHf);
  EXPECT_EQ(RopeConventionName(RopeConvention::kM1), "m1");
}

// Abridged config.json files of the three dense families, as transformers writes them: Qwen2.5-0.5B
// (QKV bias, tied head), Llama-3.2-1B (llama3 RoPE scaling, tied head) and Qwen3-0.6B (q/k norm,
// head_dim 128 != hidden / heads).
nlohmann::json Qwen2Json() {
  return {{"architectures", {"Qwen2ForCausalLM"}},
          {"model_type", "qwen2"},
          {"hidden_act", "silu"},
          {"hidden_size", 896},
          {"intermediate_size", 4864},
          {"max_position_embeddings", 32768},
          {"max_window_layers", 21},
          {"num_attention_heads", 14},
          {"num_hidden_layers", 24},
          {"num_key_value_heads", 2},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 1000000.0},
          {"sliding_window", 32768},
          {"tie_word_embeddings", true},
          {"use_sliding_window", false},
          {"bos_token_id", 151643},
          {"eos_token_id", 151643},
          {"vocab_size", 151936}};
}

nlohmann::json LlamaJson() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"attention_bias", false},
          {"bos_token_id", 128000},
          {"eos_token_id", {128001, 128008, 128009}},
          {"head_dim", 64},
          {"hidden_act", "silu"},
          {"hidden_size", 2048},
          {"intermediate_size", 8192},
          {"max_position_embeddings", 131072},
          {"mlp_bias", false},
          {"num_attention_heads", 32},
          {"num_hidden_layers", 16},
          {"num_key_value_heads", 8},
          {"rms_norm_eps", 1e-5},
          {"rope_scaling",
           {{"factor", 32.0},
            {"high_freq_factor", 4.0},
            {"low_freq_factor", 1.0},
            {"original_max_position_embeddings", 8192},
            {"rope_type", "llama3"}}},
          {"rope_theta", 500000.0},
          {"tie_word_embeddings", true},
          {"vocab_size", 128256}};
}

nlohmann::json Qwen3Json() {
  return {{"architectures", {"Qwen3ForCausalLM"}},
          {"model_type", "qwen3"},
          {"attention_bias", false},
          {"head_dim", 128},
          {"hidden_act", "silu"},
          {"hidden_size", 1024},
          {"intermediate_size", 3072},
          {"max_position_embeddings", 40960},
          {"num_attention_heads", 16},
          {"num_hidden_layers", 28},
          {"num_key_value_heads", 8},
          {"rms_norm_eps", 1e-6},
          {"rope_scaling", nullptr},
          {"rope_theta", 1000000},
          {"tie_word_embeddings", true},
          {"use_sliding_window", false},
          {"vocab_size", 151936}};
}

TEST(DenseConfigTest, Qwen2ConfigParses) {
  M1RL_ASSERT_OK_AND_ASSIGN(const ModelConfig c, ModelConfig::FromHfConfigJson(Qwen2Json()));
  EXPECT_EQ(c.family, ModelFamily::kQwen2);
  EXPECT_TRUE(c.dense());
  EXPECT_EQ(c.hidden_size, 896);
  EXPECT_EQ(c.intermediate_size, 4864);
  EXPECT_EQ(c.num_hidden_layers, 24);
  EXPECT_EQ(c.num_attention_heads, 14);  // not a power of two: fine without lightning layers
  EXPECT_EQ(c.head_dim, 64);             // 896 / 14
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.rotary_dim, 64);
  EXPECT_EQ(c.rope_dims(), 64);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_TRUE(c.attention_bias);  // Qwen2: q/k/v bias always
  EXPECT_FALSE(c.o_proj_bias());
  EXPECT_FALSE(c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.num_local_experts, 0);
  EXPECT_EQ(c.num_layers_of(LayerType::kFullAttention), 24);
  EXPECT_EQ(c.eos_token_id, 151643);
  EXPECT_TRUE(c.rope_scaling.type.empty());
  // Qwen2.5-0.5B has 494,032,768 parameters (its model card: 0.49B), the tied head counted once.
  const ParameterCounts p = c.CountParameters();
  EXPECT_EQ(p.lm_head, 0);
  EXPECT_EQ(p.mlp_per_layer, 3 * 4864 * 896);
  // attention: q 896·896 + k, v 128·896 each + o 896·896 + biases 896 + 2·128.
  EXPECT_EQ(p.softmax_attention_per_layer, 2 * 896 * 896 + 2 * 128 * 896 + 896 + 2 * 128);
  EXPECT_EQ(p.total, 494032768);
}

TEST(DenseConfigTest, Llama3ConfigParsesWithLlama3RopeScaling) {
  M1RL_ASSERT_OK_AND_ASSIGN(const ModelConfig c, ModelConfig::FromHfConfigJson(LlamaJson()));
  EXPECT_EQ(c.family, ModelFamily::kLlama);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_id, 128001);  // the first of the list
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 32.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  // Llama-3.2-1B: 1,235,814,400 parameters.
  EXPECT_EQ(c.CountParameters().total, 1235814400);
  // The llama3 frequencies by hand: wavelengths above 8192 (low-frequency, dim pair i with
  // 2π·θ^(2i/64) > 8192) divided by 32; below 8192/4 = 2048 unchanged; in between blended with
  // s = (8192/λ − 1)/(4 − 1).
  const std::vector<double> inv = c.RopeInverseFrequencies();
  ASSERT_EQ(inv.size(), 32u);
  for (size_t i = 0; i < inv.size(); ++i) {
    const double f = std::pow(500000.0, -2.0 * static_cast<double>(i) / 64.0);
    const double wavelen = 2.0 * M_PI / f;
    double want = f;
    if (wavelen > 8192.0) {
      want = f / 32.0;
    } else if (wavelen >= 2048.0) {
      const double s = (8192.0 / wavelen - 1.0) / 3.0;
      want = (1.0 - s) * f / 32.0 + s * f;
    }
    EXPECT_DOUBLE_EQ(inv[i], want) << i;
  }
  EXPECT_DOUBLE_EQ(inv[0], 1.0);                                // highest frequency: untouched
  EXPECT_LT(inv[31], std::pow(500000.0, -62.0 / 64.0) / 31.9);  // lowest: divided by 32
}

TEST(DenseConfigTest, Qwen3ConfigParsesWithQkNorm) {
  M1RL_ASSERT_OK_AND_ASSIGN(const ModelConfig c, ModelConfig::FromHfConfigJson(Qwen3Json()));
  EXPECT_EQ(c.family, ModelFamily::kQwen3);
  EXPECT_EQ(c.head_dim, 128);  // the key, not 1024 / 16
  EXPECT_EQ(c.inner_dim(), 2048);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);  // an integer in the file
  // Qwen3-0.6B: 596,049,920 parameters.
  EXPECT_EQ(c.CountParameters().total, 596049920);
}

// config.json -> ModelConfig -> config.json is a fixed point, and the family's keys are those transformers
// reads.
TEST(DenseConfigTest, HfConfigRoundTripIsStable) {
  for (const nlohmann::json& src : {Qwen2Json(), LlamaJson(), Qwen3Json()}) {
    M1RL_ASSERT_OK_AND_ASSIGN(const ModelConfig c, ModelConfig::FromHfConfigJson(src));
    const nlohmann::json j = c.ToHfConfigJson("bfloat16");
    EXPECT_EQ(j["model_type"], src["model_type"]);
    EXPECT_EQ(j["architectures"], src["architectures"]);
    EXPECT_EQ(j["tie_word_embeddings"], true);
    EXPECT_EQ(j.count("num_local_experts"), 0u);
    M1RL_ASSERT_OK_AND_ASSIGN(const ModelConfig back, ModelConfig::FromHfConfigJson(j));
    EXPECT_EQ(back.ToHfConfigJson("bfloat16").dump(), j.dump()) << src["model_type"];
    EXPECT_EQ(back.rope_scaling.type, c.rope_scaling.type);
    EXPECT_EQ(back.attention_bias, c.attention_bias);
    EXPECT_EQ(back.qk_norm, c.qk_norm);
  }
}

// An unsupported architecture fails on its model_type, naming the field, not on a key it lacks; RoPE or
// other settings the dense family does not implement name their field.
TEST(DenseConfigTest, UnsupportedSettingsAreRefusedNamingTheField) {
  nlohmann::json mixtral = Qwen2Json();
  mixtral["model_type"] = "mixtral";
  EXPECT_THAT(ModelConfig::FromHfConfigJson(mixtral).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("config.json: model_type 'mixtral' is not supported"),
                             HasSubstr("qwen3"), ::testing::Not(HasSubstr("num_local_experts")))));
  nlohmann::json yarn = LlamaJson();
  yarn["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_THAT(ModelConfig::FromHfConfigJson(yarn).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rope_scaling.rope_type \"yarn\"")));
  nlohmann::json dynamic = Qwen2Json();
  dynamic["rope_parameters"] = {{"type", "dynamic"}, {"factor", 2.0}};
  EXPECT_THAT(ModelConfig::FromHfConfigJson(dynamic).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rope_parameters.type \"dynamic\"")));
  nlohmann::json no_factor = LlamaJson();
  no_factor["rope_scaling"].erase("low_freq_factor");
  EXPECT_THAT(ModelConfig::FromHfConfigJson(no_factor).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rope_scaling.low_freq_factor")));
  nlohmann::json sliding = Qwen2Json();
  sliding["use_sliding_window"] = true;
  EXPECT_THAT(ModelConfig::FromHfConfigJson(sliding).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("use_sliding_window")));
  nlohmann::json gelu = Qwen3Json();
  gelu["hidden_act"] = "gelu";
  EXPECT_THAT(ModelConfig::FromHfConfigJson(gelu).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hidden_act")));
  nlohmann::json mlp_bias = LlamaJson();
  mlp_bias["mlp_bias"] = true;
  EXPECT_THAT(ModelConfig::FromHfConfigJson(mlp_bias).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mlp_bias")));
  // MiniMax keeps refusing RoPE scaling; its spellings still load.
  M1RL_ASSERT_OK_AND_ASSIGN(const ModelConfig c, ModelConfig::Preset("tiny2"));
  nlohmann::json j = c.ToHfConfigJson();
  for (const char* type : {"minimax", "minimax_m1", "minimax_text_01"}) {
    j["model_type"] = type;
    EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(), IsOk()) << type;
  }
  j["rope_scaling"] = {{"rope_type", "llama3"}};
  EXPECT_THAT(ModelConfig::FromHfConfigJson(j).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rope_scaling.rope_type")));
}

// The run config's model.family (and the tiny-qwen2 preset) build dense configs; settings of one family on
// the other are refused naming the field.
TEST(DenseConfigTest, RunConfigFamilyAndPreset) {
  config::ModelConfig p;
  p.set_family("qwen3");
  p.set_vocab_size(100);
  p.set_hidden_size(32);
  p.set_intermediate_size(48);
  p.set_num_hidden_layers(2);
  p.set_num_attention_heads(6);
  p.set_head_dim(8);
  p.set_num_key_value_heads(2);
  p.set_tie_word_embeddings(true);
  EXPECT_THAT(ValidateModelConfig(p), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(ModelConfig c, ModelConfig::FromProto(p));
  EXPECT_EQ(c.family, ModelFamily::kQwen3);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.rotary_dim, 8);
  EXPECT_EQ(c.num_layers_of(LayerType::kFullAttention), 2);
  EXPECT_DOUBLE_EQ(c.mlp_alpha_factor, 1.0);
  p.set_num_local_experts(4);
  EXPECT_THAT(ModelConfig::FromProto(p).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.num_local_experts must be 0")));
  p.set_num_local_experts(0);
  p.set_family("gpt2");
  EXPECT_THAT(ValidateModelConfig(p),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.family")));

  config::ModelConfig minimax;
  minimax.set_preset("tiny2");
  minimax.set_qk_norm(true);
  EXPECT_THAT(ModelConfig::FromProto(minimax).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.qk_norm")));

  config::ModelConfig preset;
  preset.set_preset("tiny-qwen2");
  M1RL_ASSERT_OK_AND_ASSIGN(c, ModelConfig::FromProto(preset));
  EXPECT_EQ(c.family, ModelFamily::kQwen2);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  preset.set_family("llama");
  EXPECT_THAT(ModelConfig::FromProto(preset).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.family")));
}

}  // namespace
}  // namespace m1rl::model
