#include "model/hybrid_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/embedding.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/ones_like.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/silu.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/ops.h"
#include "model/head.h"
#include "model/hf_buffers.h"
#include "model/recompute.h"
#include "model/safetensors.h"

namespace m1rl::model {

struct LayerWeights {
  LayerType type = LayerType::kLinearAttention;
  at::Tensor input_norm;  // [H]
  at::Tensor post_norm;   // [H]
  // Lightning attention.
  at::Tensor qkv;    // [3D, H], head-major q|k|v per head
  at::Tensor gate;   // [D, H]
  at::Tensor out;    // [H, D]
  at::Tensor norm;   // [D]
  at::Tensor decay;  // [N_h] state dtype, s_h·f_i (not a parameter)
  // Softmax attention.
  at::Tensor q_proj;  // [N_h·d, H]
  at::Tensor k_proj;  // [N_kv·d, H]
  at::Tensor v_proj;  // [N_kv·d, H]
  at::Tensor o_proj;  // [H, N_h·d]
  // Dense family only (undefined otherwise): QKV(O) biases, per-head q/k RMSNorm weights.
  at::Tensor q_bias;  // [N_h·d]
  at::Tensor k_bias;  // [N_kv·d]
  at::Tensor v_bias;  // [N_kv·d]
  at::Tensor o_bias;  // [H]
  at::Tensor q_norm;  // [d]
  at::Tensor k_norm;  // [d]
  // Dense family: SwiGLU MLP, down(silu(gate·u) ⊙ up·u).
  at::Tensor mlp_gate;  // [I, H]
  at::Tensor mlp_up;    // [I, H]
  at::Tensor mlp_down;  // [H, I]
  // MoE.
  at::Tensor router;   // [E, H] fp32 (fp64 for fp64 models)
  at::Tensor gate_up;  // [E, 2I, H], w1 rows then w3 rows
  at::Tensor down;     // [E, H, I]
};

struct HybridModel::AuxStats {
  at::Tensor prob_sum;  // [E] Σ over router rows of softmax probs (differentiable)
  at::Tensor counts;    // [E] int64 on the model's device: top-k slots choosing e
  int64_t rows = 0;     // router rows R (tokens × layers)
};

struct HybridModel::Weights {
  at::Tensor embed;  // [V, H]
  std::vector<LayerWeights> layers;
  at::Tensor final_norm;  // [H]
  at::Tensor lm_head;     // [V, H]; the embedding tensor itself under tie_word_embeddings
  at::Tensor inv_freq;    // [r/2] compute dtype, θ^(−2i/r)
};

namespace {

at::ScalarType ComputeDtype(at::ScalarType dtype) { return dtype == at::kDouble ? at::kDouble : at::kFloat; }

// Rotate-half RoPE on the first r dims (MODEL.md §5; r = ModelConfig::rope_dims(), the convention applied),
// positions `pos` [T] (compute dtype).
at::Tensor ApplyRope(const at::Tensor& x,         // [T, heads, d]
                     const at::Tensor& pos,       // [T] compute dtype
                     const at::Tensor& inv_freq,  // [r/2] compute dtype
                     int64_t rotary_dim) {
  if (rotary_dim == 0) return x;
  const int64_t half = rotary_dim / 2;
  const at::ScalarType cdt = inv_freq.scalar_type();
  const at::Tensor angle = pos.view({-1, 1}) * inv_freq.view({1, -1});  // [T, r/2]
  const at::Tensor cos = angle.cos().unsqueeze(1);                      // [T, 1, r/2]
  const at::Tensor sin = angle.sin().unsqueeze(1);
  const at::Tensor xf = x.to(cdt);
  const at::Tensor x1 = xf.narrow(-1, 0, half);
  const at::Tensor x2 = xf.narrow(-1, half, half);
  std::vector<at::Tensor> parts{x1 * cos - x2 * sin, x2 * cos + x1 * sin};
  if (rotary_dim < x.size(-1)) parts.push_back(xf.narrow(-1, rotary_dim, x.size(-1) - rotary_dim));
  return at::cat(parts, -1).to(x.scalar_type());
}

// Causal softmax attention of n new queries at positions p0..p0+n−1 over keys 0..p0+n−1 (GQA).
at::Tensor AttendOne(const at::Tensor& q,  // [n, N_h, d] after RoPE
                     const at::Tensor& k,  // [N_kv, Lk, d] after RoPE, Lk = p0 + n
                     const at::Tensor& v,  // [N_kv, Lk, d]
                     int64_t p0) {
  const int64_t n = q.size(0);
  const int64_t heads = q.size(1);
  const int64_t dim = q.size(2);
  const int64_t kv_heads = k.size(0);
  const int64_t group = heads / kv_heads;
  const int64_t lk = k.size(1);
  const at::ScalarType cdt = ComputeDtype(q.scalar_type());
  // Query head h = kv·group + g uses kv head ⌊h/group⌋.
  const at::Tensor qg = q.view({n, kv_heads, group, dim}).permute({1, 2, 0, 3});  // [N_kv, group, n, d]
  at::Tensor scores =
      ops::BatchedMatmul(qg, k.unsqueeze(1).expand({kv_heads, group, lk, dim}).transpose(-1, -2)).to(cdt) /
      std::sqrt(static_cast<double>(dim));  // [N_kv, group, n, Lk]
  if (n > 1 || lk > p0 + 1) {
    const at::Tensor qi = at::arange(n, scores.options().dtype(at::kLong)).view({n, 1}) + p0;
    const at::Tensor kj = at::arange(lk, scores.options().dtype(at::kLong)).view({1, lk});
    scores = scores.masked_fill(kj > qi, -std::numeric_limits<double>::infinity());
  }
  const at::Tensor probs = scores.softmax(-1).to(v.scalar_type());
  return ops::BatchedMatmul(probs, v.unsqueeze(1).expand({kv_heads, group, lk, dim}))
      .permute({2, 0, 1, 3})
      .reshape({n, heads * dim});  // [n, N_h·d]
}

// Causal softmax attention of whole packed sequences (training forward, no cache) in one padded batch:
// the per-sequence loop of AttendOne costs a dozen tensor ops per sequence, which dominates for many
// short sequences (RL completions). Returns [T, N_h·d], or an undefined tensor when padding would
// waste more than it saves (lengths too uneven); the caller then loops.
at::Tensor AttendPacked(const at::Tensor& q,  // [T, N_h, d] after RoPE
                        const at::Tensor& k,  // [T, N_kv, d] after RoPE
                        const at::Tensor& v,  // [T, N_kv, d]
                        const std::vector<int64_t>& cu_seqlens) {
  const int64_t t = q.size(0), heads = q.size(1), dim = q.size(2), kv_heads = k.size(1);
  const ops::PackedPadding padding = ops::MakePackedPadding(cu_seqlens, q.device());
  const int64_t batch = padding.batch, max_len = padding.max_len;
  // Padded work B·L² per head against the packed Σ n_b²; at most 2x the packed tokens and a bounded
  // score tensor.
  if (batch < 2 || max_len == 0 || batch * max_len > 2 * t ||
      batch * heads * max_len * max_len > (int64_t{1} << 24)) {
    return at::Tensor();
  }
  const int64_t group = heads / kv_heads;
  // Query head h = kv·group + g uses kv head ⌊h/group⌋.
  auto expand_kv = [&](const at::Tensor& x) {  // [B, N_kv, L, d] -> [B, N_h, L, d]
    return x.unsqueeze(2)
        .expand({batch, kv_heads, group, max_len, dim})
        .reshape({batch, heads, max_len, dim});
  };
  const at::Tensor qp = ops::PadPacked(q, padding);  // [B, N_h, L, d]
  const at::Tensor kp = expand_kv(ops::PadPacked(k, padding));
  const at::Tensor vp = expand_kv(ops::PadPacked(v, padding));
  const at::ScalarType cdt = ComputeDtype(q.scalar_type());
  at::Tensor scores =
      ops::BatchedMatmul(qp, kp.transpose(-1, -2)).to(cdt) / std::sqrt(static_cast<double>(dim));
  // Causal mask only: a valid query i < n_b sees keys j <= i, all valid; pad rows are discarded below.
  const at::Tensor pos = at::arange(max_len, scores.options().dtype(at::kLong));
  scores = scores.masked_fill(pos.view({1, max_len}) > pos.view({max_len, 1}),
                              -std::numeric_limits<double>::infinity());
  const at::Tensor probs = scores.softmax(-1).to(v.scalar_type());
  return ops::UnpadPacked(ops::BatchedMatmul(probs, vp), padding);  // [B, N_h, L, d] -> [T, N_h·d]
}

}  // namespace

// One query per sequence over each sequence's KV cache, as a single padded batch: the caches are copied
// into [B, N_kv, L_max, d] (keys past a sequence's length masked), so the per-sequence cost is two
// copies instead of AttendOne's dozen ops.
at::Tensor HybridModel::AttendDecodeBatch(const at::Tensor& q,  // [B, N_h, d] after RoPE
                                          const std::vector<SequenceState*>& seqs, int64_t full_ord,
                                          const std::vector<int64_t>& cache_len) const {
  const int64_t batch = q.size(0), heads = q.size(1), dim = q.size(2);
  const at::Tensor& k0 = seqs[0]->keys_[full_ord];
  const int64_t kv_heads = k0.size(0), group = heads / kv_heads;
  const int64_t max_len = *std::max_element(cache_len.begin(), cache_len.end());
  at::Tensor kp = at::zeros({batch, kv_heads, max_len, dim}, k0.options());
  at::Tensor vp = at::zeros({batch, kv_heads, max_len, dim}, k0.options());
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = cache_len[static_cast<size_t>(b)];
    kp[b].narrow(1, 0, n).copy_(seqs[static_cast<size_t>(b)]->keys_[full_ord].narrow(1, 0, n));
    vp[b].narrow(1, 0, n).copy_(seqs[static_cast<size_t>(b)]->values_[full_ord].narrow(1, 0, n));
  }
  // Query head h = kv·group + g uses kv head ⌊h/group⌋: [B, N_kv, group, d] against [B, N_kv, d, L].
  const at::Tensor qg = q.view({batch, kv_heads, group, dim});
  const at::ScalarType cdt = ComputeDtype(q.scalar_type());
  at::Tensor scores =
      ops::BatchedMatmul(qg, kp.transpose(-1, -2)).to(cdt) / std::sqrt(static_cast<double>(dim));
  at::Tensor lens = at::empty({batch}, at::TensorOptions().dtype(at::kLong));
  std::copy(cache_len.begin(), cache_len.end(), lens.data_ptr<int64_t>());
  const at::Tensor past_end = at::arange(max_len, at::TensorOptions().dtype(at::kLong)).view({1, max_len}) >=
                              lens.view({batch, 1});  // [B, L]
  scores = scores.masked_fill(past_end.to(scores.device()).view({batch, 1, 1, max_len}),
                              -std::numeric_limits<double>::infinity());
  const at::Tensor probs = scores.softmax(-1).to(vp.scalar_type());    // [B, N_kv, group, L]
  return ops::BatchedMatmul(probs, vp).reshape({batch, heads * dim});  // [B, N_h·d]
}

// ---- SequenceState ----------------------------------------------------------------------------------------

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
  for (const auto& t : keys_) n += t.size(0) * num_tokens_ * t.size(2) * t.element_size();
  for (const auto& t : values_) n += t.size(0) * num_tokens_ * t.size(2) * t.element_size();
  return n;
}

// ---- construction -----------------------------------------------------------------------------------------

// Compute-dtype copies of the weight matrices, keyed on the parameters' version counters (ComputeWeights).
struct HybridModel::CastCache {
  struct Entry {
    bool valid = false;
    std::vector<int64_t> versions;  // _version() of each master matrix when cast
    LayerWeights weights;
  };
  std::vector<Entry> layers;
  int64_t casts = 0;  // entries (re)built so far
};

HybridModel::HybridModel(const ModelConfig& config, ModelPrecision precision, at::Device device)
    : config_(config),
      dtype_(precision.params),
      compute_dtype_(precision.compute),
      device_(device),
      w_(std::make_unique<Weights>()),
      cast_cache_(std::make_unique<CastCache>()) {}
HybridModel::HybridModel(HybridModel&&) noexcept = default;
HybridModel& HybridModel::operator=(HybridModel&&) noexcept = default;
HybridModel::~HybridModel() = default;

absl::StatusOr<std::unique_ptr<HybridModel>> HybridModel::Create(const ModelConfig& config,
                                                                 at::ScalarType dtype, at::Device device,
                                                                 uint64_t seed) {
  return Create(config, ModelPrecision::Uniform(dtype), device, seed);
}

absl::StatusOr<std::unique_ptr<HybridModel>> HybridModel::Create(const ModelConfig& config,
                                                                 ModelPrecision precision, at::Device device,
                                                                 uint64_t seed) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  const at::ScalarType dtype = precision.params;
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kDouble) {
    return absl::InvalidArgumentError(absl::StrCat("model.dtype must be float32, bfloat16 or float64, got ",
                                                   std::string(c10::toString(dtype))));
  }
  const bool mixed = precision.params == at::kFloat && precision.compute == at::kBFloat16;
  if (precision.compute != precision.params && !mixed) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.dtype: parameters ", std::string(c10::toString(precision.params)),
                     " with compute ", std::string(c10::toString(precision.compute)),
                     " is not supported (uniform float32/bfloat16/float64, or float32 master weights with "
                     "bfloat16 compute)"));
  }
  std::unique_ptr<HybridModel> m(new HybridModel(config, precision, device));
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::ScalarType cdt = ComputeDtype(dtype);
  const auto cpu64 = at::TensorOptions().dtype(at::kDouble);
  auto normal = [&](const std::vector<int64_t>& shape, at::ScalarType t) {
    return (at::randn(shape, gen, cpu64) * 0.02).to(device, t).requires_grad_(true);
  };
  auto ones = [&](int64_t n) {
    return at::ones({n}, at::TensorOptions().dtype(dtype).device(device)).requires_grad_(true);
  };
  auto zeros = [&](int64_t n) {
    return at::zeros({n}, at::TensorOptions().dtype(dtype).device(device)).requires_grad_(true);
  };
  const ModelConfig& c = m->config_;
  const int64_t hd = c.hidden_size, dd = c.inner_dim(), kvd = c.num_key_value_heads * c.head_dim;
  Weights& w = *m->w_;
  w.embed = normal({c.vocab_size, hd}, dtype);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    LayerWeights l;
    l.type = c.layer_types[i];
    l.input_norm = ones(hd);
    if (l.type == LayerType::kLinearAttention) {
      l.qkv = normal({3 * dd, hd}, dtype);
      l.gate = normal({dd, hd}, dtype);
      l.out = normal({hd, dd}, dtype);
      l.norm = ones(dd);
    } else {
      l.q_proj = normal({dd, hd}, dtype);
      l.k_proj = normal({kvd, hd}, dtype);
      l.v_proj = normal({kvd, hd}, dtype);
      l.o_proj = normal({hd, dd}, dtype);
    }
    if (c.attention_bias) {
      l.q_bias = zeros(dd);
      l.k_bias = zeros(kvd);
      l.v_bias = zeros(kvd);
    }
    if (c.o_proj_bias()) l.o_bias = zeros(hd);
    if (c.qk_norm) {
      l.q_norm = ones(c.head_dim);
      l.k_norm = ones(c.head_dim);
    }
    l.post_norm = ones(hd);
    if (c.dense()) {
      l.mlp_gate = normal({c.intermediate_size, hd}, dtype);
      l.mlp_up = normal({c.intermediate_size, hd}, dtype);
      l.mlp_down = normal({hd, c.intermediate_size}, dtype);
    } else {
      l.router = normal({c.num_local_experts, hd}, cdt);
      l.gate_up = normal({c.num_local_experts, 2 * c.intermediate_size, hd}, dtype);
      l.down = normal({c.num_local_experts, hd, c.intermediate_size}, dtype);
    }
    w.layers.push_back(std::move(l));
  }
  w.final_norm = ones(hd);
  w.lm_head = c.tie_word_embeddings ? w.embed : normal({c.vocab_size, hd}, dtype);
  m->InitBuffers();
  return m;
}

void HybridModel::InitBuffers() {
  const at::ScalarType cdt = ComputeDtype(dtype_);
  const auto opts = at::TensorOptions().dtype(cdt).device(device_);
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    if (config_.layer_types[i] != LayerType::kLinearAttention) continue;
    std::vector<double> rates;
    for (int64_t h = 0; h < config_.num_attention_heads; ++h)
      rates.push_back(config_.LightningDecayRate(i, h));
    w_->layers[i].decay = at::from_blob(rates.data(), {static_cast<int64_t>(rates.size())},
                                        at::TensorOptions().dtype(at::kDouble))
                              .to(opts, /*non_blocking=*/false, /*copy=*/true);
  }
  std::vector<double> inv = config_.RopeInverseFrequencies();
  const int64_t half = static_cast<int64_t>(inv.size());
  w_->inv_freq = at::from_blob(inv.data(), {half}, at::TensorOptions().dtype(at::kDouble))
                     .to(opts, /*non_blocking=*/false, /*copy=*/true);
}

// ---- parameters -------------------------------------------------------------------------------------------

std::vector<std::pair<std::string, at::Tensor>> HybridModel::NamedParameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.emplace_back("model.embed_tokens.weight", w_->embed);
  for (size_t i = 0; i < w_->layers.size(); ++i) {
    const LayerWeights& l = w_->layers[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    out.emplace_back(p + "input_layernorm.weight", l.input_norm);
    if (l.type == LayerType::kLinearAttention) {
      out.emplace_back(p + "self_attn.qkv_proj.weight", l.qkv);
      out.emplace_back(p + "self_attn.output_gate.weight", l.gate);
      out.emplace_back(p + "self_attn.out_proj.weight", l.out);
      out.emplace_back(p + "self_attn.norm.weight", l.norm);
    } else {
      out.emplace_back(p + "self_attn.q_proj.weight", l.q_proj);
      out.emplace_back(p + "self_attn.k_proj.weight", l.k_proj);
      out.emplace_back(p + "self_attn.v_proj.weight", l.v_proj);
      out.emplace_back(p + "self_attn.o_proj.weight", l.o_proj);
    }
    for (auto [name, t] : {std::pair<const char*, const at::Tensor*>{"self_attn.q_proj.bias", &l.q_bias},
                           {"self_attn.k_proj.bias", &l.k_bias},
                           {"self_attn.v_proj.bias", &l.v_bias},
                           {"self_attn.o_proj.bias", &l.o_bias},
                           {"self_attn.q_norm.weight", &l.q_norm},
                           {"self_attn.k_norm.weight", &l.k_norm}}) {
      if (t->defined()) out.emplace_back(p + name, *t);
    }
    out.emplace_back(p + "post_attention_layernorm.weight", l.post_norm);
    if (config_.dense()) {
      out.emplace_back(p + "mlp.gate_proj.weight", l.mlp_gate);
      out.emplace_back(p + "mlp.up_proj.weight", l.mlp_up);
      out.emplace_back(p + "mlp.down_proj.weight", l.mlp_down);
    } else {
      out.emplace_back(p + "mlp.gate.weight", l.router);
      out.emplace_back(p + "mlp.experts.gate_up_proj", l.gate_up);
      out.emplace_back(p + "mlp.experts.down_proj", l.down);
    }
  }
  out.emplace_back("model.norm.weight", w_->final_norm);
  // A tied head is model.embed_tokens.weight (listed once, so an optimizer updates it once).
  if (!config_.tie_word_embeddings) out.emplace_back("lm_head.weight", w_->lm_head);
  return out;
}

std::vector<at::Tensor> HybridModel::Parameters() const {
  std::vector<at::Tensor> out;
  for (auto& [name, t] : NamedParameters()) out.push_back(t);
  return out;
}

int64_t HybridModel::NumParameters() const {
  int64_t n = 0;
  for (auto& [name, t] : NamedParameters()) n += t.numel();
  return n;
}

// ---- HF checkpoint IO ---------------------------------------------------------------------------------

// On-disk HF tensors (MODEL.md §9) as detached views into the parameters: experts split into w1/w3/w2.
std::vector<std::pair<std::string, at::Tensor>> HybridModel::HfViews() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  const int64_t inter = config_.intermediate_size;
  for (const auto& [name, param] : NamedParameters()) {
    const at::Tensor p = param.detach();
    const size_t pos = name.find("mlp.");
    if (pos == std::string::npos || config_.dense()) {  // the dense MLP has its on-disk names
      out.emplace_back(name, p);
      continue;
    }
    const std::string prefix = name.substr(0, pos) + "block_sparse_moe.";
    if (name.substr(pos) == "mlp.gate.weight") {
      out.emplace_back(prefix + "gate.weight", p);
    } else if (name.substr(pos) == "mlp.experts.gate_up_proj") {
      for (int64_t e = 0; e < p.size(0); ++e) {
        out.emplace_back(absl::StrCat(prefix, "experts.", e, ".w1.weight"), p[e].narrow(0, 0, inter));
        out.emplace_back(absl::StrCat(prefix, "experts.", e, ".w3.weight"), p[e].narrow(0, inter, inter));
      }
    } else {  // mlp.experts.down_proj
      for (int64_t e = 0; e < p.size(0); ++e)
        out.emplace_back(absl::StrCat(prefix, "experts.", e, ".w2.weight"), p[e]);
    }
  }
  return out;
}

absl::Status HybridModel::SaveHf(const std::string& dir) const { return SaveHf(dir, int64_t{5} << 30); }

absl::Status HybridModel::SaveHf(const std::string& dir, int64_t max_shard_bytes) const {
  const at::ScalarType storage = dtype_ == at::kDouble ? at::kFloat : dtype_;
  std::map<std::string, int64_t> lightning_norms;  // name of a lightning layer's last tensor -> layer
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    if (config_.layer_types[i] == LayerType::kLinearAttention)
      lightning_norms[absl::StrCat("model.layers.", i, ".self_attn.norm.weight")] = i;
  }
  NamedTensors tensors;
  for (const auto& [name, view] : HfViews()) {
    // The fp32 router stays fp32 on disk (transformers casts on load).
    const at::ScalarType t = view.scalar_type() == at::kDouble ? at::kFloat : view.scalar_type();
    tensors.emplace_back(name, view.to(at::kCPU).to(storage == at::kBFloat16 ? t : storage).contiguous());
    // transformers' lightning buffers, in the model dtype as its save_pretrained writes them (hf_buffers.h).
    if (auto it = lightning_norms.find(name); it != lightning_norms.end()) {
      for (auto& [buffer, value] : LightningBuffers(config_, it->second))
        tensors.emplace_back(buffer, value.to(storage).contiguous());
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("SaveHf: cannot create '", dir, "': ", ec.message()));
  M1RL_RETURN_IF_ERROR(WriteSafetensorsDir(dir, tensors, max_shard_bytes));
  std::ofstream out(dir + "/config.json", std::ios::trunc);
  out << config_.ToHfConfigJson(storage == at::kBFloat16 ? "bfloat16" : "float32").dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("SaveHf: error writing '", dir, "/config.json'"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HybridModel>> HybridModel::LoadHf(const std::string& dir, at::ScalarType dtype,
                                                                 at::Device device) {
  return LoadHf(dir, ModelPrecision::Uniform(dtype), device);
}

absl::StatusOr<std::unique_ptr<HybridModel>> HybridModel::LoadHf(
    const std::string& dir, ModelPrecision precision, at::Device device,
    std::optional<RopeConvention> rope_convention) {
  const std::string config_path = dir + "/config.json";
  std::ifstream in(config_path);
  if (!in) return absl::NotFoundError(absl::StrCat("LoadHf: cannot open '", config_path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return absl::InvalidArgumentError(absl::StrCat("LoadHf: '", config_path, "' is not valid JSON"));
  absl::StatusOr<ModelConfig> config = ModelConfig::FromHfConfigJson(j, rope_convention);
  if (!config.ok()) {
    return absl::Status(config.status().code(), absl::StrCat(config_path, ": ", config.status().message()));
  }
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<HybridModel> model, Create(*config, precision, device, /*seed=*/0));
  M1RL_ASSIGN_OR_RETURN(auto tensors, ReadSafetensorsDir(dir));
  std::vector<std::string> problems;
  const auto views = model->HfViews();
  std::set<std::string> expected;
  for (const auto& [name, view] : views) {
    expected.insert(name);
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      problems.push_back(absl::StrCat("missing tensor '", name, "'"));
      continue;
    }
    const at::Tensor& t = it->second;
    if (!at::isFloatingType(t.scalar_type())) {
      problems.push_back(absl::StrCat("tensor '", name, "' has dtype ",
                                      std::string(c10::toString(t.scalar_type())),
                                      ", expected a floating type"));
    } else if (t.sizes() != view.sizes()) {
      std::ostringstream got, want;
      got << t.sizes();
      want << view.sizes();
      problems.push_back(
          absl::StrCat("tensor '", name, "' has shape ", got.str(), ", expected ", want.str()));
    }
  }
  for (const auto& [name, t] : tensors) {
    // Some checkpoints of tied models store the head too; transformers ignores it, and so does this loader.
    const bool tied_head = config->tie_word_embeddings && name == "lm_head.weight";
    if (!expected.count(name) && !IsLightningBufferName(name) && !tied_head)
      problems.push_back(absl::StrCat("unexpected tensor '", name, "'"));
  }
  // transformers' lightning buffers are optional (M1 checkpoints have none); the model recomputes the decay
  // from the config, so any present must agree with it (hf_buffers.h).
  for (std::string& p : LightningBufferProblems(*config, tensors)) problems.push_back(std::move(p));
  if (!problems.empty()) {
    std::string msg = absl::StrCat("LoadHf '", dir, "': ", problems.size(), " problem(s): ");
    for (size_t i = 0; i < problems.size(); ++i) absl::StrAppend(&msg, i ? "; " : "", problems[i]);
    return absl::InvalidArgumentError(msg);
  }
  at::NoGradGuard no_grad;
  for (const auto& [name, view] : views) {
    at::Tensor dst = view;
    dst.copy_(tensors.at(name));
  }
  return model;
}

// ---- compute weights, recomputation -------------------------------------------------------------------

namespace {

// The weight matrices of a layer (the tensors mixed precision casts), as pointers into `l`.
std::vector<at::Tensor*> Matrices(LayerWeights& l) {
  std::vector<at::Tensor*> out;
  for (at::Tensor* t :
       {&l.qkv, &l.gate, &l.out, &l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_up, &l.down, &l.q_bias,
        &l.k_bias, &l.v_bias, &l.o_bias, &l.mlp_gate, &l.mlp_up, &l.mlp_down}) {
    if (t->defined()) out.push_back(t);
  }
  return out;
}

// Every parameter of a layer (norms, matrices, router), i.e. what its forward differentiates through.
std::vector<at::Tensor> LayerParams(const LayerWeights& l) {
  std::vector<at::Tensor> out;
  for (const at::Tensor* t :
       {&l.input_norm, &l.post_norm, &l.qkv,    &l.gate,     &l.out,    &l.norm,    &l.q_proj, &l.k_proj,
        &l.v_proj,     &l.o_proj,    &l.router, &l.gate_up,  &l.down,   &l.q_bias,  &l.k_bias, &l.v_bias,
        &l.o_bias,     &l.q_norm,    &l.k_norm, &l.mlp_gate, &l.mlp_up, &l.mlp_down}) {
    if (t->defined()) out.push_back(*t);
  }
  return out;
}

// `master` with its matrices cast to `dtype`; norms (fp32 arithmetic anyway), router (fp32 by design) and
// decay as they are. Under grad mode each cast is in the graph (its backward widens to the master's dtype).
LayerWeights CastMatrices(const LayerWeights& master, at::ScalarType dtype) {
  LayerWeights c = master;
  for (at::Tensor* t : Matrices(c)) *t = t->to(dtype);
  return c;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A cached cast of a master matrix as a node of the graph: forward returns a fresh alias of `cached` (the
// master cast to the compute dtype; each graph gets its own autograd meta, the cache tensor none), backward
// returns grad.to(master dtype), what the cast's own backward (ToCopyBackward) returns. An fp32 master's
// gradient is widened by ops::WidenToFloat: the same values, by one vectorised kernel for a bf16 CUDA
// gradient instead of LibTorch's unvectorised casting copy.
class CachedCastFunction : public torch::autograd::Function<CachedCastFunction> {
 public:
  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& master, const at::Tensor& cached) {
    ctx->saved_data["dtype"] = master.scalar_type();
    return cached.detach();
  }

  // NOLINTNEXTLINE(readability-identifier-naming): torch::autograd::Function requires forward/backward
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const at::ScalarType dtype = ctx->saved_data["dtype"].toScalarType();
    const at::Tensor& g = grad_outputs[0];
    if (!g.defined()) return {at::Tensor(), at::Tensor()};
    return {dtype == at::kFloat ? ops::WidenToFloat(g) : g.to(dtype), at::Tensor()};
  }
};

}  // namespace

int64_t HybridModel::num_cached_casts() const { return cast_cache_->casts; }

const LayerWeights& HybridModel::CachedLayer(size_t layer) const {
  const LayerWeights& master = w_->layers[layer];
  LayerWeights probe = master;
  std::vector<int64_t> versions;
  for (const at::Tensor* t : Matrices(probe)) versions.push_back(t->_version());
  if (cast_cache_->layers.size() != w_->layers.size()) cast_cache_->layers.resize(w_->layers.size());
  CastCache::Entry& e = cast_cache_->layers[layer];
  if (!e.valid || e.versions != versions) {
    e = CastCache::Entry();  // frees the stale copy before the new one is made
    at::NoGradGuard no_grad;
    e.weights = CastMatrices(master, compute_dtype_);
    e.valid = true;
    e.versions = std::move(versions);
    ++cast_cache_->casts;
  }
  return e.weights;
}

LayerWeights HybridModel::ComputeWeights(size_t layer) const {
  const LayerWeights& master = w_->layers[layer];
  if (compute_dtype_ == dtype_) return master;
  if (!at::GradMode::is_enabled()) return CachedLayer(layer);
  if (!reuse_casts_under_grad_) return CastMatrices(master, compute_dtype_);
  LayerWeights out = CachedLayer(layer);
  LayerWeights masters = master;
  const std::vector<at::Tensor*> cached = Matrices(out);
  const std::vector<at::Tensor*> from = Matrices(masters);
  for (size_t i = 0; i < cached.size(); ++i) *cached[i] = CachedCastFunction::apply(*from[i], *cached[i]);
  return out;
}

at::Tensor HybridModel::RecomputedLayer(const at::Tensor& h, size_t layer,
                                        const std::vector<int64_t>& cu_seqlens, const at::Tensor& pos,
                                        AuxStats* aux) const {
  const int64_t num_experts = config_.num_local_experts;
  // The layer's outputs: h' [T, H], its router Σ probs [E] (differentiable, feeds the aux loss) and its
  // top-k counts [E] int64. Routing is recomputed from the same saved input, so the counts repeat exactly.
  RecomputeFn fn = [this, layer, cu_seqlens, pos, num_experts](const std::vector<at::Tensor>& in) {
    AuxStats local;
    at::Tensor out = RunLayerRange(in[0], layer, layer + 1, cu_seqlens, pos, nullptr, false, &local);
    at::Tensor counts =
        local.counts.defined() ? local.counts : at::zeros({num_experts}, pos.options().dtype(at::kLong));
    at::Tensor prob_sum = local.prob_sum.defined() ? local.prob_sum : at::zeros({num_experts}, pos.options());
    return std::vector<at::Tensor>{out, prob_sum, counts};
  };
  const std::vector<at::Tensor> r = RunWithRecompute(fn, {h}, LayerParams(w_->layers[layer]));
  if (aux != nullptr) {
    aux->prob_sum = aux->prob_sum.defined() ? aux->prob_sum + r[1] : r[1];
    aux->counts = aux->counts.defined() ? aux->counts + r[2] : r[2];
    aux->rows += h.size(0);
  }
  return r[0];
}

// ---- layers -----------------------------------------------------------------------------------------------

// Lightning attention mixer (MODEL.md §4). `states` [B, N_h, d, d] is the initial state (undefined: zeros)
// and receives the final state when non-null. `decode` uses the one-token recurrence (B tokens, one each).
at::Tensor HybridModel::LightningMixer(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                                       const std::vector<int64_t>& cu_seqlens, at::Tensor* states,
                                       bool decode) const {
  const int64_t t = u.size(0);
  const int64_t heads = config_.num_attention_heads;
  const int64_t dim = config_.head_dim;
  const at::Tensor a = at::silu(ops::Linear(u, l.qkv)).view({t, heads, 3, dim});  // SiLU on the fused output
  const at::Tensor q = a.select(2, 0);
  const at::Tensor k = a.select(2, 1);
  const at::Tensor v = a.select(2, 2);
  at::Tensor o;  // [T, N_h, d]
  if (decode) {
    o = ops::LightningDecode(q, k, v, l.decay, *states);
  } else {
    ops::LightningOutput r = ops::LightningAttention(
        q, k, v, l.decay, cu_seqlens, states != nullptr ? *states : at::Tensor(), config_.block_size);
    o = r.out;
    if (states != nullptr) *states = r.final_state;
  }
  // sigmoid(gate) ⊙ RmsNorm(o): the tensor ops on the CPU; one fused kernel each way on CUDA.
  const at::Tensor gated =
      ops::ResidualRmsNorm(o.reshape({t, heads * dim}), at::Tensor(), 1.0, 1.0, l.norm,
                           config_.lightning_norm_eps, ops::Linear(u, l.gate), compute_dtype_);
  return ops::Linear(gated, l.out);
}

// Top-k MoE (MODEL.md §6). Adds this layer's Σ softmax probs [E] and top-k counts [E] to the aux stats.
at::Tensor HybridModel::MoE(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                            AuxStats* aux) const {
  const int64_t t = u.size(0);
  const int64_t top_k = config_.num_experts_per_tok;
  const at::Tensor logits = ops::Linear(u.to(l.router.scalar_type()), l.router);  // [T, E] fp32
  const at::Tensor probs = logits.softmax(-1);
  // Stable descending sort: ties go to the lower expert index.
  const at::Tensor top_idx =
      std::get<1>(probs.sort(/*stable=*/true, -1, /*descending=*/true)).narrow(1, 0, top_k);
  const at::Tensor top_p = probs.gather(1, top_idx);                                  // [T, k]
  const at::Tensor weights = (top_p / top_p.sum(-1, true)).to(ComputeDtype(dtype_));  // [T, k]
  at::Tensor out;
  if (!ops::GroupedMoe(u, top_idx, weights, l.gate_up, l.down, &out)) out = MoeLoop(l, u, top_idx, weights);
  if (aux != nullptr) {
    const at::Tensor flat = top_idx.reshape({t * top_k});
    const at::Tensor counts =
        at::zeros({config_.num_local_experts}, flat.options()).scatter_add_(0, flat, at::ones_like(flat));
    const at::Tensor psum = probs.sum(0);  // [E]
    aux->prob_sum = aux->prob_sum.defined() ? aux->prob_sum + psum : psum;
    aux->counts = aux->counts.defined() ? aux->counts + counts : counts;
    aux->rows += t;
  }
  return out.to(compute_dtype_);
}

// The experts one at a time over slots grouped on the host (sizes are tiny next to the GEMMs): the CPU path
// and the fallback of ops::GroupedMoe. Returns [T, H] in ComputeDtype(dtype_).
at::Tensor HybridModel::MoeLoop(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                                const at::Tensor& top_idx,                   // [T, k] int64
                                const at::Tensor& weights) const {           // [T, k]
  const int64_t t = u.size(0);
  const int64_t top_k = top_idx.size(1);
  const at::ScalarType cdt = ComputeDtype(dtype_);
  const at::Tensor idx_cpu = top_idx.to(at::kCPU).contiguous();
  const int64_t* ip = idx_cpu.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> slots(static_cast<size_t>(config_.num_local_experts));
  for (int64_t s = 0; s < t * top_k; ++s) slots[ip[s]].push_back(s);
  at::Tensor out = at::zeros({t, config_.hidden_size}, u.options().dtype(cdt));
  const at::Tensor flat_w = weights.reshape({t * top_k});
  for (size_t e = 0; e < slots.size(); ++e) {
    const int64_t n = static_cast<int64_t>(slots[e].size());
    if (n == 0) continue;
    std::vector<int64_t> toks(n);
    for (int64_t j = 0; j < n; ++j) toks[j] = slots[e][j] / top_k;
    const at::Tensor tok_t = at::from_blob(toks.data(), {n}, at::TensorOptions().dtype(at::kLong))
                                 .to(u.device(), /*non_blocking=*/false, /*copy=*/true);
    const at::Tensor slot_t = at::from_blob(slots[e].data(), {n}, at::TensorOptions().dtype(at::kLong))
                                  .to(u.device(), /*non_blocking=*/false, /*copy=*/true);
    const at::Tensor x = u.index_select(0, tok_t);                                   // [n, H]
    const at::Tensor h = ops::Linear(x, l.gate_up[static_cast<int64_t>(e)]);         // [n, 2I]
    const at::Tensor act = ops::SwiGlu(h);                                           // [n, I]
    const at::Tensor y = ops::Linear(act, l.down[static_cast<int64_t>(e)]).to(cdt);  // [n, H]
    out = out.index_add(0, tok_t, y * flat_w.index_select(0, slot_t).unsqueeze(1));
  }
  return out;
}

at::Tensor HybridModel::RunLayers(const at::Tensor& input_ids,  // [T] int64
                                  const std::vector<int64_t>& cu_seqlens, const at::Tensor& positions,  // [T]
                                  std::vector<SequenceState*>* seqs, bool decode, AuxStats* aux,
                                  bool recompute_layers) const {
  // The lookup reads the master embedding; only the T gathered rows are cast. at::embedding, not
  // index_select: on CUDA index_select's backward adds repeated rows with atomics (run-to-run different
  // bits in the embedding gradient), embedding's backward sorts and sums segments in a fixed order.
  at::Tensor h = at::embedding(w_->embed, input_ids.to(device_)).to(compute_dtype_);  // [T, H]
  const at::Tensor pos = positions.to(device_).to(ComputeDtype(dtype_));
  if (recompute_layers && seqs == nullptr && at::GradMode::is_enabled()) {
    for (size_t i = 0; i < w_->layers.size(); ++i) h = RecomputedLayer(h, i, cu_seqlens, pos, aux);
  } else {
    h = RunLayerRange(h, 0, w_->layers.size(), cu_seqlens, pos, seqs, decode, aux);
  }
  // The final-norm output feeding the FP32 head stays in the compute dtype (MODEL.md §7).
  return ops::RmsNorm(h, w_->final_norm, config_.rms_norm_eps, ComputeDtype(dtype_));
}

// Softmax (GQA) attention mixer of full-attention layer `full_ord` (MODEL.md §5): packed sequences through
// AttendPacked or one sequence at a time; with `seqs`, keys and values append to each sequence's cache, and
// a decode step of one token per sequence attends over all caches in one padded batch.
at::Tensor HybridModel::SoftmaxMixer(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                                     const std::vector<int64_t>& cu_seqlens,
                                     const at::Tensor& pos,  // [T]
                                     std::vector<SequenceState*>* seqs, bool decode, int64_t full_ord) const {
  const int64_t batch = static_cast<int64_t>(cu_seqlens.size()) - 1;
  const int64_t kv = config_.num_key_value_heads, dim = config_.head_dim;
  const auto [q, k, v] = SoftmaxQkv(l, u, pos);
  std::vector<at::Tensor> outs;
  if (seqs == nullptr) {
    at::Tensor packed = AttendPacked(q, k, v, cu_seqlens);
    if (packed.defined()) outs.push_back(packed);
  }
  const bool batched = !outs.empty();
  // One new token per sequence (decode): attend over all caches in one padded batch.
  bool decode_batch = seqs != nullptr && decode && batch >= 2;
  for (int64_t b = 0; b < batch && decode_batch; ++b) decode_batch = cu_seqlens[b + 1] - cu_seqlens[b] == 1;
  std::vector<int64_t> cache_len;
  for (int64_t b = 0; b < batch && !batched; ++b) {
    const int64_t s0 = cu_seqlens[b], n = cu_seqlens[b + 1] - cu_seqlens[b];
    if (n == 0) continue;
    const at::Tensor kb = k.narrow(0, s0, n).permute({1, 0, 2});  // [N_kv, n, d]
    const at::Tensor vb = v.narrow(0, s0, n).permute({1, 0, 2});
    if (seqs == nullptr) {
      at::Tensor o;
      if (!ops::FusedCausalAttention(q.narrow(0, s0, n), k.narrow(0, s0, n), v.narrow(0, s0, n), &o)) {
        o = AttendOne(q.narrow(0, s0, n), kb, vb, 0);
      }
      outs.push_back(o);
      continue;
    }
    SequenceState* s = (*seqs)[b];
    const int64_t p0 = s->num_tokens_;
    at::Tensor& kc = s->keys_[full_ord];
    at::Tensor& vc = s->values_[full_ord];
    if (kc.size(1) < p0 + n) {  // grow by doubling: amortised O(1) copies per token
      const int64_t cap = std::max<int64_t>({2 * kc.size(1), p0 + n, 16});
      at::Tensor nk = at::empty({kv, cap, dim}, kc.options());
      at::Tensor nv = at::empty({kv, cap, dim}, vc.options());
      nk.narrow(1, 0, p0).copy_(kc.narrow(1, 0, p0));
      nv.narrow(1, 0, p0).copy_(vc.narrow(1, 0, p0));
      kc = nk;
      vc = nv;
    }
    kc.narrow(1, p0, n).copy_(kb);
    vc.narrow(1, p0, n).copy_(vb);
    if (decode_batch) {
      cache_len.push_back(p0 + n);
      continue;
    }
    outs.push_back(AttendOne(q.narrow(0, s0, n), kc.narrow(1, 0, p0 + n), vc.narrow(1, 0, p0 + n), p0));
  }
  if (decode_batch) outs.push_back(AttendDecodeBatch(q, *seqs, full_ord, cache_len));
  return OutProj(l, at::cat(outs, 0));
}

// The projections of a softmax layer (MODEL.md §5): q, k, v (+ the dense family's biases), its per-head q/k
// RMSNorm over head_dim (Qwen3), then RoPE on q and k.
HybridModel::Qkv HybridModel::SoftmaxQkv(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                                         const at::Tensor& pos) const {               // [T]
  const int64_t t = u.size(0), dim = config_.head_dim;
  auto project = [&](const at::Tensor& w, const at::Tensor& bias, const at::Tensor& norm, int64_t heads) {
    at::Tensor x = ops::Linear(u, w);
    if (bias.defined()) x = x + bias;
    x = x.view({t, heads, dim});
    if (!norm.defined()) return x;
    return ops::RmsNorm(x.reshape({t * heads, dim}), norm, config_.rms_norm_eps, x.scalar_type())
        .view({t, heads, dim});
  };
  Qkv r;
  r.q = ApplyRope(project(l.q_proj, l.q_bias, l.q_norm, config_.num_attention_heads), pos, w_->inv_freq,
                  config_.rope_dims());
  r.k = ApplyRope(project(l.k_proj, l.k_bias, l.k_norm, config_.num_key_value_heads), pos, w_->inv_freq,
                  config_.rope_dims());
  r.v = project(l.v_proj, l.v_bias, at::Tensor(), config_.num_key_value_heads);
  return r;
}

// o_proj of a softmax layer on the attention output [T, N_h·d] (+ the dense family's o bias).
at::Tensor HybridModel::OutProj(const LayerWeights& l, const at::Tensor& att) const {
  const at::Tensor out = ops::Linear(att, l.o_proj);
  return l.o_bias.defined() ? out + l.o_bias : out;
}

// The feed-forward block of a layer on u [T, H]: the dense family's SwiGLU MLP, else the MoE (which adds its
// router statistics to `aux`).
at::Tensor HybridModel::FeedForward(const LayerWeights& l, const at::Tensor& u, AuxStats* aux) const {
  if (!l.mlp_down.defined()) return MoE(l, u, aux);
  const at::Tensor act = at::silu(ops::Linear(u, l.mlp_gate)) * ops::Linear(u, l.mlp_up);
  return ops::Linear(act, l.mlp_down).to(compute_dtype_);
}

at::Tensor HybridModel::RunLayerRange(at::Tensor h,  // [T, H]
                                      size_t begin, size_t end, const std::vector<int64_t>& cu_seqlens,
                                      const at::Tensor& pos,  // [T]
                                      std::vector<SequenceState*>* seqs, bool decode, AuxStats* aux) const {
  const int64_t batch = static_cast<int64_t>(cu_seqlens.size()) - 1;
  int64_t lin_ord = 0;  // ordinals of layer `begin` within its type
  int64_t full_ord = 0;
  for (size_t i = 0; i < begin; ++i)
    ++(w_->layers[i].type == LayerType::kLinearAttention ? lin_ord : full_ord);
  // The normed input of layer i: layer `begin` norms h; each later layer's comes fused with the residual sum
  // that produces its h (the range's last sum stays plain: the next range, e.g. RecomputedLayer's next layer,
  // or the final norm starts from h).
  at::Tensor u;
  if (begin < end) u = ops::RmsNorm(h, w_->layers[begin].input_norm, config_.rms_norm_eps, compute_dtype_);
  for (size_t i = begin; i < end; ++i) {
    const LayerWeights l = ComputeWeights(i);
    at::Tensor mixed;
    if (l.type == LayerType::kLinearAttention) {
      if (seqs != nullptr) {
        std::vector<at::Tensor> st;
        for (SequenceState* s : *seqs) st.push_back(s->lightning_[lin_ord]);
        at::Tensor states = at::stack(st, 0);  // [B, N_h, d, d]
        mixed = LightningMixer(l, u, cu_seqlens, &states, decode);
        for (int64_t b = 0; b < batch; ++b) (*seqs)[b]->lightning_[lin_ord] = states[b].clone();
      } else {
        mixed = LightningMixer(l, u, cu_seqlens, nullptr, false);
      }
      ++lin_ord;
    } else {
      mixed = SoftmaxMixer(l, u, cu_seqlens, pos, seqs, decode, full_ord++);
    }
    // MiniMax's post-norm DeepNorm adds each block to its normed input (α, β); the dense family's pre-norm
    // adds it to the residual stream h (α = β = 1, Validate()).
    // Each residual sum feeding a norm is one fused op (ops::ResidualRmsNormWithSum: h1 = a·α + mixed·β, then
    // its norm), which also returns the sum (the dense family's residual stream).
    const bool pre_norm = config_.dense();
    const ops::ResidualNormOutput post =
        ops::ResidualRmsNormWithSum(pre_norm ? h : u, mixed, config_.attn_alpha(i), config_.attn_beta(i),
                                    l.post_norm, config_.rms_norm_eps, at::Tensor(), compute_dtype_);
    const at::Tensor& u2 = post.normed;
    const at::Tensor& stream = pre_norm ? post.sum : u2;
    const at::Tensor ff = FeedForward(l, u2, aux);
    if (i + 1 < end) {
      const ops::ResidualNormOutput next = ops::ResidualRmsNormWithSum(
          stream, ff, config_.mlp_alpha_factor, config_.mlp_beta_factor, w_->layers[i + 1].input_norm,
          config_.rms_norm_eps, at::Tensor(), compute_dtype_);
      u = next.normed;
      h = next.sum;
    } else {
      h = stream * config_.mlp_alpha_factor + ff * config_.mlp_beta_factor;
    }
  }
  return h;
}

namespace {

at::Tensor PackedPositions(const std::vector<int64_t>& cu_seqlens) {
  const int64_t t = cu_seqlens.back();
  at::Tensor pos = at::empty({t}, at::TensorOptions().dtype(at::kLong));
  int64_t* p = pos.data_ptr<int64_t>();
  for (size_t b = 0; b + 1 < cu_seqlens.size(); ++b) {
    for (int64_t i = cu_seqlens[b]; i < cu_seqlens[b + 1]; ++i) p[i] = i - cu_seqlens[b];
  }
  return pos;
}

void CheckCuSeqlens(const std::vector<int64_t>& cu_seqlens, int64_t t) {
  TORCH_CHECK(cu_seqlens.size() >= 2 && cu_seqlens.front() == 0 && cu_seqlens.back() == t,
              "Forward: cu_seqlens must run from 0 to T=", t);
  for (size_t i = 1; i < cu_seqlens.size(); ++i) {
    TORCH_CHECK(cu_seqlens[i] >= cu_seqlens[i - 1], "Forward: cu_seqlens must be non-decreasing at ", i);
  }
}

}  // namespace

at::Tensor HybridModel::Hidden(const at::Tensor& input_ids, const std::vector<int64_t>& cu_seqlens,
                               at::Tensor* router_aux, bool recompute_layers) const {
  TORCH_CHECK(input_ids.dim() == 1, "Forward: expected input_ids [T], got ", input_ids.sizes());
  CheckCuSeqlens(cu_seqlens, input_ids.size(0));
  AuxStats aux;
  at::Tensor hidden = RunLayers(input_ids.to(at::kLong), cu_seqlens, PackedPositions(cu_seqlens), nullptr,
                                false, &aux, recompute_layers);
  if (router_aux != nullptr) {
    // Switch loss over the router rows of all layers: E·Σ_e f_e·P_e, f = slots/R, P = mean prob.
    const at::ScalarType cdt = ComputeDtype(dtype_);
    if (aux.rows == 0) {
      *router_aux = at::zeros({}, at::TensorOptions().dtype(cdt).device(device_));
    } else {
      const double r = static_cast<double>(aux.rows);
      const at::Tensor ft = (aux.counts.to(at::kDouble) / r).to(aux.prob_sum.scalar_type());
      *router_aux = ((ft * (aux.prob_sum / r)).sum() * static_cast<double>(config_.num_local_experts) *
                     config_.router_aux_loss_coef)
                        .to(cdt);
    }
  }
  return hidden;
}

ForwardOutput HybridModel::Forward(const at::Tensor& input_ids, const at::Tensor& targets,
                                   const std::vector<int64_t>& cu_seqlens,
                                   const ForwardOptions& options) const {
  TORCH_CHECK(targets.dim() == 1 && targets.size(0) == input_ids.size(0), "Forward: expected targets [",
              input_ids.size(0), "], got ", targets.sizes());
  TORCH_CHECK(options.temperature > 0, "Forward: temperature must be > 0, got ", options.temperature);
  ForwardOutput out;
  const at::Tensor hidden = Hidden(input_ids, cu_seqlens, &out.aux_loss, options.recompute_layers);
  HeadOutput head =
      ChunkedLogProbs(hidden, w_->lm_head, targets.to(device_).to(at::kLong), 1.0 / options.temperature,
                      options.head, options.head_chunk_size, options.compute_entropy);
  out.logprobs = head.logprobs;
  if (options.compute_entropy) out.entropy = head.entropy;
  return out;
}

// ---- decode -----------------------------------------------------------------------------------------------

SequenceState HybridModel::NewSequence() const {
  SequenceState s;
  const at::ScalarType cdt = ComputeDtype(dtype_);
  const int64_t heads = config_.num_attention_heads, dim = config_.head_dim, kv = config_.num_key_value_heads;
  for (LayerType t : config_.layer_types) {
    if (t == LayerType::kLinearAttention) {
      s.lightning_.push_back(at::zeros({heads, dim, dim}, at::TensorOptions().dtype(cdt).device(device_)));
    } else {
      s.keys_.push_back(at::empty({kv, 0, dim}, at::TensorOptions().dtype(compute_dtype_).device(device_)));
      s.values_.push_back(at::empty({kv, 0, dim}, at::TensorOptions().dtype(compute_dtype_).device(device_)));
    }
  }
  return s;
}

at::Tensor HybridModel::Prefill(SequenceState* seq, const std::vector<int32_t>& tokens,
                                const DecodeOptions& options) const {
  TORCH_CHECK(seq != nullptr && !tokens.empty(), "Prefill: needs a sequence and at least one token");
  at::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(tokens.size());
  at::Tensor ids = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  at::Tensor pos = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(tokens[i] >= 0 && tokens[i] < config_.vocab_size, "Prefill: token ", tokens[i],
                " out of range");
    ids.data_ptr<int64_t>()[i] = tokens[i];
    pos.data_ptr<int64_t>()[i] = seq->num_tokens_ + i;
  }
  std::vector<SequenceState*> seqs{seq};
  const at::Tensor hidden = RunLayers(ids, {0, n}, pos, &seqs, /*decode=*/false, nullptr);
  seq->num_tokens_ += n;
  return HeadLogits(hidden.narrow(0, n - 1, 1), w_->lm_head, options.head)[0];
}

at::Tensor HybridModel::Step(const std::vector<SequenceState*>& seqs, const std::vector<int32_t>& tokens,
                             const DecodeOptions& options) const {
  TORCH_CHECK(!seqs.empty() && seqs.size() == tokens.size(), "Step: expected one token per sequence, got ",
              tokens.size(), " tokens for ", seqs.size(), " sequences");
  at::NoGradGuard no_grad;
  const int64_t b = static_cast<int64_t>(seqs.size());
  at::Tensor ids = at::empty({b}, at::TensorOptions().dtype(at::kLong));
  at::Tensor pos = at::empty({b}, at::TensorOptions().dtype(at::kLong));
  std::vector<int64_t> cu(b + 1);
  for (int64_t i = 0; i < b; ++i) {
    TORCH_CHECK(seqs[i] != nullptr, "Step: null sequence ", i);
    TORCH_CHECK(tokens[i] >= 0 && tokens[i] < config_.vocab_size, "Step: token ", tokens[i], " out of range");
    ids.data_ptr<int64_t>()[i] = tokens[i];
    pos.data_ptr<int64_t>()[i] = seqs[i]->num_tokens_;
    cu[i + 1] = i + 1;
  }
  std::vector<SequenceState*> mutable_seqs = seqs;
  const at::Tensor hidden = RunLayers(ids, cu, pos, &mutable_seqs, /*decode=*/true, nullptr);
  for (SequenceState* s : seqs) s->num_tokens_ += 1;
  return HeadLogits(hidden, w_->lm_head, options.head);
}

// ---- slot path
// ----------------------------------------------------------------------------------------------

int64_t DecodePool::Bytes() const {
  int64_t n = 0;
  for (const auto* list : {&lightning, &keys, &values}) {
    for (const at::Tensor& t : *list) n += t.numel() * static_cast<int64_t>(t.element_size());
  }
  return n;
}

DecodePool HybridModel::NewDecodePool(int64_t num_slots, int64_t max_tokens) const {
  TORCH_CHECK(num_slots >= 1 && max_tokens >= 1, "NewDecodePool: need >= 1 slot and token, got ", num_slots,
              " and ", max_tokens);
  DecodePool pool;
  pool.num_slots = num_slots;
  pool.max_tokens = max_tokens;
  const int64_t heads = config_.num_attention_heads, dim = config_.head_dim, kv = config_.num_key_value_heads;
  const auto state_opts = at::TensorOptions().dtype(ComputeDtype(dtype_)).device(device_);
  const auto kv_opts = at::TensorOptions().dtype(dtype_).device(device_);
  for (LayerType t : config_.layer_types) {
    if (t == LayerType::kLinearAttention) {
      pool.lightning.push_back(at::zeros({num_slots, heads, dim, dim}, state_opts));
    } else {
      pool.keys.push_back(at::zeros({num_slots, max_tokens, kv, dim}, kv_opts));
      pool.values.push_back(at::zeros({num_slots, max_tokens, kv, dim}, kv_opts));
    }
  }
  return pool;
}

at::Tensor HybridModel::PrefillSlots(DecodePool* pool, const std::vector<int32_t>& slots,
                                     const std::vector<std::vector<int32_t>>& prompts,
                                     const DecodeOptions& options) const {
  TORCH_CHECK(pool != nullptr && !slots.empty() && slots.size() == prompts.size(),
              "PrefillSlots: expected one slot per prompt, got ", slots.size(), " slots for ", prompts.size(),
              " prompts");
  at::NoGradGuard no_grad;
  std::vector<int64_t> cu{0}, ids_v, pos_v, last;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t n = static_cast<int64_t>(prompts[i].size());
    TORCH_CHECK(n >= 1 && n <= pool->max_tokens, "PrefillSlots: prompt ", i, " has ", n,
                " tokens; the pool holds 1..", pool->max_tokens);
    TORCH_CHECK(slots[i] >= 0 && slots[i] < pool->num_slots, "PrefillSlots: slot ", slots[i],
                " out of range");
    for (int64_t j = 0; j < n; ++j) {
      const int32_t tok = prompts[i][j];
      TORCH_CHECK(tok >= 0 && tok < config_.vocab_size, "PrefillSlots: token ", tok, " out of range");
      ids_v.push_back(tok);
      pos_v.push_back(j);
    }
    cu.push_back(cu.back() + n);
    last.push_back(cu.back() - 1);
  }
  auto host = [](std::vector<int64_t>& v) {
    return at::from_blob(v.data(), {static_cast<int64_t>(v.size())}, at::TensorOptions().dtype(at::kLong))
        .clone();
  };
  std::vector<SequenceState> states;
  std::vector<SequenceState*> seqs;
  states.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) states.push_back(NewSequence());
  for (SequenceState& st : states) seqs.push_back(&st);
  const at::Tensor hidden = RunLayers(host(ids_v), cu, host(pos_v), &seqs, /*decode=*/false, nullptr);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t slot = slots[i], n = static_cast<int64_t>(prompts[i].size());
    for (size_t l = 0; l < pool->lightning.size(); ++l)
      pool->lightning[l][slot].copy_(states[i].lightning_[l]);
    for (size_t f = 0; f < pool->keys.size(); ++f) {
      pool->keys[f][slot].narrow(0, 0, n).copy_(states[i].keys_[f].narrow(1, 0, n).permute({1, 0, 2}));
      pool->values[f][slot].narrow(0, 0, n).copy_(states[i].values_[f].narrow(1, 0, n).permute({1, 0, 2}));
    }
  }
  const at::Tensor rows = hidden.index_select(0, host(last).to(device_));
  return HeadLogits(rows, w_->lm_head, options.head);
}

void HybridModel::CopySlot(DecodePool* pool, int32_t src, int32_t dst, int64_t num_tokens) const {
  TORCH_CHECK(pool != nullptr && src >= 0 && dst >= 0 && src < pool->num_slots && dst < pool->num_slots &&
                  num_tokens >= 0 && num_tokens <= pool->max_tokens,
              "CopySlot: bad slots ", src, " -> ", dst, " or length ", num_tokens);
  at::NoGradGuard no_grad;
  for (at::Tensor& t : pool->lightning) t[dst].copy_(t[src]);
  for (auto* list : {&pool->keys, &pool->values}) {
    for (at::Tensor& t : *list) t[dst].narrow(0, 0, num_tokens).copy_(t[src].narrow(0, 0, num_tokens));
  }
}

at::Tensor HybridModel::StepSlots(DecodePool* pool, const at::Tensor& slots, const at::Tensor& tokens,
                                  const at::Tensor& positions, const DecodeOptions& options) const {
  TORCH_CHECK(pool != nullptr && slots.dim() == 1 && tokens.sizes() == slots.sizes() &&
                  positions.sizes() == slots.sizes(),
              "StepSlots: expected slots, tokens, positions [B], got ", slots.sizes(), ", ", tokens.sizes(),
              ", ", positions.sizes());
  at::NoGradGuard no_grad;
  const int64_t b = slots.size(0);
  const int64_t heads = config_.num_attention_heads, dim = config_.head_dim;
  auto mark = [&options](const char* phase) {
    if (options.on_phase) options.on_phase(phase);
  };
  mark("embed");
  const at::Tensor pos = positions.to(ComputeDtype(dtype_));
  // Each layer's residual sum feeds only the next RMSNorm, so the sum and the norm run as one fused op
  // (ops::ResidualRmsNorm): `u` is the normed input of layer i, (res_a, res_b) the pending residual terms.
  // The dense family (pre-norm) keeps its residual stream `h` and normalises it.
  const bool pre_norm = config_.dense();
  at::Tensor h = w_->embed.index_select(0, tokens);
  at::Tensor u = ops::ResidualRmsNorm(h, at::Tensor(), 1.0, 1.0, w_->layers[0].input_norm,
                                      config_.rms_norm_eps, at::Tensor(), dtype_);
  auto residual_norm = [&](const at::Tensor& normed, const at::Tensor& delta, double alpha, double beta,
                           const at::Tensor& weight, at::ScalarType out_dtype) {
    if (!pre_norm) {
      return ops::ResidualRmsNorm(normed, delta, alpha, beta, weight, config_.rms_norm_eps, at::Tensor(),
                                  out_dtype);
    }
    h = h + delta.to(h.scalar_type());
    return ops::ResidualRmsNorm(h, at::Tensor(), 1.0, 1.0, weight, config_.rms_norm_eps, at::Tensor(),
                                out_dtype);
  };
  size_t lin_ord = 0, full_ord = 0;
  for (size_t i = 0; i < w_->layers.size(); ++i) {
    const LayerWeights& l = w_->layers[i];
    at::Tensor mixed;
    mark(l.type == LayerType::kLinearAttention ? "lightning" : "softmax");
    if (l.type == LayerType::kLinearAttention) {
      const at::Tensor a = at::silu(ops::Linear(u, l.qkv)).view({b, heads, 3, dim});
      const at::Tensor o = ops::LightningDecodeSlots(a.select(2, 0), a.select(2, 1), a.select(2, 2), l.decay,
                                                     pool->lightning[lin_ord++], slots);  // [B, N_h, d]
      const at::Tensor gated =
          ops::ResidualRmsNorm(o.reshape({b, heads * dim}), at::Tensor(), 1.0, 1.0, l.norm,
                               config_.lightning_norm_eps, ops::Linear(u, l.gate), dtype_);
      mixed = ops::Linear(gated, l.out);
    } else {
      const auto [q, k, v] = SoftmaxQkv(l, u, pos);
      ops::KvCacheAppend(k, v, pool->keys[full_ord], pool->values[full_ord], slots, positions);
      const at::Tensor att = ops::DecodeAttention(q, pool->keys[full_ord], pool->values[full_ord], slots,
                                                  positions, 1.0 / std::sqrt(static_cast<double>(dim)));
      ++full_ord;
      mixed = OutProj(l, att.reshape({b, heads * dim}));
    }
    const at::Tensor u2 =
        residual_norm(u, mixed, config_.attn_alpha(i), config_.attn_beta(i), l.post_norm, dtype_);
    at::Tensor moe;
    mark("moe");
    // The MoE through the CUDA routing kernels where it can; the dense MLP, or the MoE elsewhere, as in
    // training.
    if (l.mlp_down.defined() ||
        !ops::CudaMoe(u2, l.router, l.gate_up, l.down, config_.num_experts_per_tok, &moe)) {
      moe = FeedForward(l, u2, nullptr);
    }
    const bool last = i + 1 == w_->layers.size();
    if (last) mark("head");
    // The final norm's output feeding the FP32 head stays in the compute dtype (MODEL.md §7).
    u = residual_norm(u2, moe, config_.mlp_alpha_factor, config_.mlp_beta_factor,
                      last ? w_->final_norm : w_->layers[i + 1].input_norm,
                      last ? ComputeDtype(dtype_) : dtype_);
  }
  at::Tensor logits = HeadLogits(u, w_->lm_head, options.head);
  mark("end");
  return logits;
}

}  // namespace m1rl::model
