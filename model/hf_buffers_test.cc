#include "model/hf_buffers.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/ones.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "model/config.h"

namespace m1rl::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// tiny8: N_h 4, L 8, B 256. Expected values from MODEL.md §4.3 in float64 (s_h = 2^(−2(h+1)) for 4 heads,
// f_i = 1 − i/(7 + 1e−5) + 1e−5); the buffers are float32, so each value is within float32 rounding of
// its float64 value, amplified by at most the exponent (≤ 1 + s·f·B < 66) for the exponentials.
TEST(LightningBuffersTest, ValuesAreTheDecayOfTheConfigInTransformersLayout) {
  const ModelConfig c = *ModelConfig::Preset("tiny8");
  const int64_t layer = 3;
  const NamedTensors buffers = LightningBuffers(c, layer);
  ASSERT_EQ(buffers.size(), 4u);
  EXPECT_EQ(buffers[0].first, "model.layers.3.self_attn.slope_rate");
  EXPECT_EQ(buffers[1].first, "model.layers.3.self_attn.query_decay");
  EXPECT_EQ(buffers[2].first, "model.layers.3.self_attn.key_decay");
  EXPECT_EQ(buffers[3].first, "model.layers.3.self_attn.diagonal_decay");
  const at::Tensor slope = buffers[0].second;
  const at::Tensor query = buffers[1].second;
  const at::Tensor key = buffers[2].second;
  const at::Tensor diagonal = buffers[3].second;
  EXPECT_THAT(slope.sizes(), ElementsAre(4, 1, 1));
  EXPECT_THAT(query.sizes(), ElementsAre(4, 256, 1));
  EXPECT_THAT(key.sizes(), ElementsAre(4, 256, 1));
  EXPECT_THAT(diagonal.sizes(), ElementsAre(1, 4, 256, 256));
  for (const auto& [name, t] : buffers) EXPECT_EQ(t.scalar_type(), at::kFloat) << name;

  const double f = 1.0 - 3.0 / (7.0 + 1e-5) + 1e-5;
  const double eps = std::ldexp(1.0, -23);
  const auto s = slope.accessor<float, 3>();
  const auto q = query.accessor<float, 3>();
  const auto k = key.accessor<float, 3>();
  const auto d = diagonal.accessor<float, 4>();
  for (int h = 0; h < 4; ++h) {
    const double rate = std::pow(2.0, -2.0 * (h + 1)) * f;
    EXPECT_NEAR(s[h][0][0], rate, 4 * eps * rate) << h;
    for (int b = 1; b <= 256; ++b) {
      const double bound = 80 * eps;  // relative: exp(x(1+δ)) = exp(x)(1 + xδ), |x| < 66, plus rounding
      EXPECT_NEAR(q[h][b - 1][0], std::exp(-rate * b), bound * std::exp(-rate * b)) << h << " " << b;
      EXPECT_NEAR(k[h][b - 1][0], std::exp(-rate * (256 - b)), bound * std::exp(-rate * (256 - b)));
      for (int col = 1; col <= 256; ++col) {
        const double want = col <= b ? std::exp(-rate * (b - col)) : 0.0;
        ASSERT_NEAR(d[0][h][b - 1][col - 1], want, bound * want) << h << " " << b << " " << col;
      }
    }
  }
}

TEST(LightningBuffersTest, NamesAreRecognisedExactly) {
  EXPECT_TRUE(IsLightningBufferName("model.layers.12.self_attn.slope_rate"));
  EXPECT_TRUE(IsLightningBufferName("model.layers.0.self_attn.diagonal_decay"));
  EXPECT_FALSE(IsLightningBufferName("model.layers.0.self_attn.slope_rate.weight"));
  EXPECT_FALSE(IsLightningBufferName("model.layers.x.self_attn.key_decay"));
  EXPECT_FALSE(IsLightningBufferName("model.layers.0.mlp.query_decay"));
  EXPECT_FALSE(IsLightningBufferName("model.norm.weight"));
}

TEST(LightningBuffersTest, ProblemsNameEachBufferThatDisagreesWithTheConfig) {
  const ModelConfig c = *ModelConfig::Preset("tiny8");
  std::map<std::string, at::Tensor> tensors;
  for (int64_t layer : {0, 6}) {
    for (auto& [name, t] : LightningBuffers(c, layer)) tensors[name] = t.to(at::kBFloat16);
  }
  tensors["model.norm.weight"] = at::ones({64});                // not a buffer: ignored here
  EXPECT_THAT(LightningBufferProblems(c, tensors), IsEmpty());  // bf16 as transformers saves bf16 models

  // Buffers of another depth: the decay of layer 6 of 16 layers is not that of layer 6 of 8.
  ModelConfig deeper = c;
  deeper.num_hidden_layers = 16;
  deeper.layer_types.resize(16, LayerType::kLinearAttention);
  tensors["model.layers.6.self_attn.slope_rate"] = LightningBuffers(deeper, 6)[0].second;
  tensors["model.layers.0.self_attn.key_decay"] = at::ones({4, 128, 1});
  tensors["model.layers.7.self_attn.query_decay"] = at::ones({4, 256, 1});  // layer 7 is softmax
  const std::vector<std::string> problems = LightningBufferProblems(c, tensors);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_THAT(problems[0], HasSubstr("'model.layers.0.self_attn.key_decay' has Float shape [4, 128, 1], "
                                     "expected a floating type of shape [4, 256, 1]"));
  EXPECT_THAT(problems[1], HasSubstr("'model.layers.6.self_attn.slope_rate' differs from the decay"));
  EXPECT_THAT(problems[2], HasSubstr("layer 7 is not a lightning layer"));
}

}  // namespace
}  // namespace m1rl::model
