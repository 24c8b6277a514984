#include "model/hf_buffers.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/abs.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/exp.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/pow.h>
#include <ATen/ops/where.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace m1rl::model {
namespace {

constexpr std::string_view kLayerPrefix = "model.layers.";
constexpr std::string_view kAttnInfix = ".self_attn.";

// Relative tolerance of a buffer stored in `dtype` (see LightningBufferProblems).
double RelativeTolerance(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16:
      return std::ldexp(1.0, -8);
    case at::kHalf:
      return std::ldexp(1.0, -10);
    default:
      return std::ldexp(1.0, -20);
  }
}

std::string ShapeString(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

}  // namespace

NamedTensors LightningBuffers(const ModelConfig& config, int64_t layer) {
  // transformers MiniMaxLightningAttention.get_slope_rate / decay_factors, op for op (float32 default dtype):
  //   base = 1 / (2 ** (8 / N_h)); rate = base ** (arange(N_h) + 1) * factor; rate = rate[:, None, None]
  //   factor = 1 - layer_idx / (num_hidden_layers - 1 + 1e-5) + 1e-5
  //   r = arange(B) + 1
  //   query_decay = exp(-rate * r[:, None]);  key_decay = exp(-rate * (B - r[:, None]))
  //   diag = rate * (r[:, None] - r[None, :])[None, None]; diagonal_decay = exp(where(diag >= 0, -diag,
  //   -inf))
  const auto longs = at::TensorOptions().dtype(at::kLong);
  const double heads = static_cast<double>(config.num_attention_heads);
  const double base = 1.0 / std::pow(2.0, 8.0 / heads);
  const at::Tensor exponent = at::arange(config.num_attention_heads, longs) + 1;
  const double factor =
      1.0 - static_cast<double>(layer) / (static_cast<double>(config.num_hidden_layers - 1) + 1e-5) + 1e-5;
  const at::Tensor rate = (at::pow(base, exponent) * factor).view({-1, 1, 1});  // [N_h, 1, 1] fp32
  const int64_t block = config.block_size;
  const at::Tensor r = at::arange(block, longs) + 1;  // [B]
  const at::Tensor query_decay = at::exp(-rate * r.view({-1, 1}));
  const at::Tensor key_decay = at::exp(-rate * (block - r.view({-1, 1})));
  const at::Tensor diag = rate * (r.view({-1, 1}) - r.view({1, -1})).view({1, 1, block, block});
  const at::Tensor diagonal_decay =
      at::exp(at::where(diag >= 0, -diag, at::full_like(diag, -std::numeric_limits<double>::infinity())));
  const std::string prefix = absl::StrCat(std::string(kLayerPrefix), layer, std::string(kAttnInfix));
  return {{prefix + std::string(kLightningBufferNames[0]), rate},
          {prefix + std::string(kLightningBufferNames[1]), query_decay},
          {prefix + std::string(kLightningBufferNames[2]), key_decay},
          {prefix + std::string(kLightningBufferNames[3]), diagonal_decay}};
}

namespace {

// The layer index of a buffer name, or -1 if `name` is not one.
int64_t BufferLayer(std::string_view name) {
  if (name.substr(0, kLayerPrefix.size()) != kLayerPrefix) return -1;
  const std::string_view rest = name.substr(kLayerPrefix.size());
  const size_t dot = rest.find(kAttnInfix);
  if (dot == std::string_view::npos) return -1;
  int64_t layer = 0;
  if (!absl::SimpleAtoi(std::string(rest.substr(0, dot)), &layer) || layer < 0) return -1;
  const std::string_view buffer = rest.substr(dot + kAttnInfix.size());
  for (std::string_view b : kLightningBufferNames) {
    if (buffer == b) return layer;
  }
  return -1;
}

}  // namespace

bool IsLightningBufferName(std::string_view name) { return BufferLayer(name) >= 0; }

std::vector<std::string> LightningBufferProblems(const ModelConfig& config,
                                                 const std::map<std::string, at::Tensor>& tensors) {
  std::vector<std::string> problems;
  std::map<int64_t, std::map<std::string, at::Tensor>> expected;  // per layer, computed once
  for (const auto& [name, got] : tensors) {
    const int64_t layer = BufferLayer(name);
    if (layer < 0) continue;
    if (layer >= config.num_hidden_layers || config.layer_types[layer] != LayerType::kLinearAttention) {
      problems.push_back(absl::StrCat("unexpected tensor '", name, "' (layer ", layer,
                                      " is not a lightning layer of this config)"));
      continue;
    }
    if (!expected.count(layer)) {
      for (auto& [n, t] : LightningBuffers(config, layer)) expected[layer][n] = t;
    }
    const at::Tensor& want = expected[layer].at(name);
    if (!at::isFloatingType(got.scalar_type()) || got.sizes() != want.sizes()) {
      problems.push_back(
          absl::StrCat("buffer '", name, "' has ", std::string(c10::toString(got.scalar_type())), " shape ",
                       ShapeString(got), ", expected a floating type of shape ", ShapeString(want)));
      continue;
    }
    // Relative error against the config's value; a floor of 1e-30 absorbs float32 denormals flushed to 0.
    const at::Tensor err = at::abs(got.to(at::kDouble) - want.to(at::kDouble));
    const at::Tensor bound = at::abs(want.to(at::kDouble)) * RelativeTolerance(got.scalar_type()) + 1e-30;
    if ((err > bound).any().item<bool>()) {
      problems.push_back(absl::StrCat("buffer '", name,
                                      "' differs from the decay of config.json (max |error| ",
                                      err.max().item<double>(), "); transformers would run another decay"));
    }
  }
  return problems;
}

}  // namespace m1rl::model
