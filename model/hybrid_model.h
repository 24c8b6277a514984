// The MiniMax-M1 policy network (shared/design/MODEL.md): lightning / softmax hybrid attention, top-k MoE
// with an fp32 router, post-norm DeepNorm residuals, untied FP32 LM head. The same layer code runs the dense
// decoder family (Llama / Qwen2 / Qwen3, ModelConfig::family): softmax GQA on every layer with optional QKV
// bias and per-head q/k RMSNorm, pre-norm residuals, a SwiGLU MLP in place of the MoE, tied or untied head.
// One set of weights serves two entry points:
//   (a) Forward(): training forward over packed variable-length sequences (cu_seqlens), returning
//       per-token log-probs of given targets (and entropy) with autograd to every parameter;
//   (b) NewSequence() / Prefill() / Step(): incremental decode with per-sequence state (lightning state
//       [N_h, d, d] fp32 per lightning layer, K/V cache per softmax layer), under no-grad.
//
// Thread safety: a HybridModel may be read (Forward/Prefill/Step) from one thread at a time; distinct
// SequenceStates are independent. Parameters are owned by the model; NamedParameters() returns handles
// that alias them (an optimizer updates them in place).
#ifndef M1RL_MODEL_HYBRID_MODEL_H_
#define M1RL_MODEL_HYBRID_MODEL_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/config.h"

namespace m1rl::model {

struct LayerWeights;  // internal (hybrid_model.cc)

// Numeric formats of a model (ARCHITECTURE.md "On the GPU", MODEL.md §7). `params` is the storage of the
// parameters: what NamedParameters() returns, what an optimizer updates and a checkpoint holds (the master
// weights). `compute` is the dtype of the matmul operands and of the activations between layers.
// Supported: {f32, f32}, {bf16, bf16}, {f64, f64} (uniform) and {f32, bf16}, mixed precision as M1 trains:
//   - every weight matrix is cast to bf16 where a layer uses it, so autograd returns fp32 gradients to
//     the fp32 parameters (the cast's backward widens); AdamW then sees fp32 parameters and gradients;
//   - norm arithmetic, lightning state, softmax and the MoE accumulation stay fp32 (as in uniform bf16);
//   - the router weight is fp32 storage and fp32 compute (MODEL.md §6);
//   - the LM head reads the fp32 master weight and the fp32 final-norm output under
//     ForwardOptions::head / DecodeOptions::head, identically on the training and the decode side.
// The bf16 copies are cached per layer and re-cast only when a parameter changed (tensor version counter:
// any in-place tensor op bumps it, e.g. the optimizer step's write or a checkpoint load's copy_; writes
// through raw data pointers are not seen and are not allowed). Every forward until the next change reuses
// them: decode and old log-probs under no-grad, and the training micro-batches of one optimizer step with
// their recomputed layers under grad mode, where each use enters the autograd graph as a fresh alias of
// the copy whose backward widens the gradient to fp32 exactly as the cast's own backward does (gradients
// are bit-identical to a fresh cast per forward; HybridModel::set_reuse_casts_under_grad).
// Memory: one bf16 copy of every layer matrix (2 bytes per expert/attention/MLP parameter; embedding, LM
// head, router and norms are not copied) stays resident from the first forward on. It takes the place of
// the copies a grad-mode forward without recomputation kept in its graph until backward (next to the
// stale no-grad copies), so the forward/backward peak does not grow; the optimizer step now runs with it
// resident: +2 bytes per layer-matrix parameter there, next to the 16 of fp32 master, gradient and AdamW.
struct ModelPrecision {
  at::ScalarType params = at::kFloat;
  at::ScalarType compute = at::kFloat;

  static ModelPrecision Uniform(at::ScalarType dtype) { return {dtype, dtype}; }
  // The precision a training run uses for `model.dtype` = `dtype`: bf16 means fp32 master weights with
  // bf16 compute; float32 and float64 are uniform.
  static ModelPrecision ForTraining(at::ScalarType dtype) {
    return dtype == at::kBFloat16 ? ModelPrecision{at::kFloat, at::kBFloat16} : Uniform(dtype);
  }
};

struct ForwardOptions {
  double temperature = 1.0;      // log-probs of softmax(logits / temperature); must be > 0
  bool compute_entropy = false;  // also return the entropy of softmax(logits / temperature)
  HeadPrecision head = HeadPrecision::kIeeeFp32;
  int64_t head_chunk_size = 0;  // vocabulary chunk of the head; 0 = auto (see ChunkedLogProbs)
  // Activation recomputation per decoder layer: each layer runs without keeping its autograd graph and is
  // re-run in backward (saved activations drop from all layers' intermediates to one [T, H] input per
  // layer; the cost is a second forward of the layers). Gradients are identical. Only with grad enabled.
  bool recompute_layers = false;
};

struct ForwardOutput {
  at::Tensor logprobs;  // [T] fp32 (fp64 for a float64 model): log softmax(z / temperature)[target]
  at::Tensor entropy;   // [T] same dtype, or undefined unless compute_entropy
  at::Tensor aux_loss;  // [] fp32 (fp64 for a float64 model): router_aux_loss_coef x Switch loss
};

struct DecodeOptions {
  HeadPrecision head = HeadPrecision::kIeeeFp32;
  // Profiling hook of StepSlots (tools/bench_decode): called with a phase name ("embed", "lightning",
  // "softmax", "moe", "head", "end") before each phase's kernels are enqueued. Leave empty in production.
  std::function<void(const char* phase)> on_phase;
};

// Decode state of one sequence. Move-only; Copy() makes an independent deep copy (the G samples of one
// prompt share a prefilled prompt this way). Dropping it frees the memory.
class SequenceState {
 public:
  SequenceState() = default;
  SequenceState(SequenceState&&) = default;
  SequenceState& operator=(SequenceState&&) = default;
  SequenceState(const SequenceState&) = delete;
  SequenceState& operator=(const SequenceState&) = delete;

  SequenceState Copy() const;
  // Tokens appended so far (= RoPE position of the next token).
  int64_t num_tokens() const { return num_tokens_; }
  // Bytes held by the state tensors (lightning states + the used part of the KV caches).
  int64_t StateBytes() const;

 private:
  friend class HybridModel;
  int64_t num_tokens_ = 0;
  std::vector<at::Tensor> lightning_;  // per lightning layer: [N_h, d_k, d_v] fp32 (fp64 for fp64 models)
  std::vector<at::Tensor> keys_;       // per softmax layer: [N_kv, capacity, d] model dtype, after RoPE
  std::vector<at::Tensor> values_;     // per softmax layer: [N_kv, capacity, d] model dtype
};

// Decode pools of the rollout's slot path (ARCHITECTURE.md "On the GPU"): each sequence lives in one fixed
// slot of preallocated tensors, so a decode step over any set of slots is a fixed sequence of kernels that
// reads the slot indices and positions from device memory (no host work, capturable in a CUDA graph).
// Move-only.
struct DecodePool {
  int64_t num_slots = 0;
  int64_t max_tokens = 0;             // KV rows per slot (longest prompt + generation it can hold)
  std::vector<at::Tensor> lightning;  // per lightning layer: [S, N_h, d_k, d_v] fp32 (fp64 for fp64 models)
  std::vector<at::Tensor> keys;       // per softmax layer: [S, max_tokens, N_kv, d] model dtype, after RoPE
  std::vector<at::Tensor> values;     // per softmax layer: [S, max_tokens, N_kv, d] model dtype
  int64_t Bytes() const;
};

class HybridModel {
 public:
  // Random init: every weight matrix and the embedding N(0, 0.02²) from `seed`, norm weights 1.
  // The router weight is always fp32 (fp64 for a float64 model). dtype: kFloat, kBFloat16 or kDouble.
  // InvalidArgument if the config does not Validate() or the dtype is unsupported.
  static absl::StatusOr<std::unique_ptr<HybridModel>> Create(const ModelConfig& config, at::ScalarType dtype,
                                                             at::Device device, uint64_t seed);
  // Same with separate parameter and compute dtypes (ModelPrecision); the random init is the same values
  // (rounded to precision.params) as Create(config, precision.params, ...). InvalidArgument for an
  // unsupported pair, naming model.dtype.
  static absl::StatusOr<std::unique_ptr<HybridModel>> Create(const ModelConfig& config,
                                                             ModelPrecision precision, at::Device device,
                                                             uint64_t seed);

  // Loads `dir`/config.json and `dir`/model.safetensors (or model.safetensors.index.json + shards).
  // Every expected tensor is checked for presence, shape and a supported dtype (cast to `dtype`); lightning
  // buffers are optional and, when present, must agree with config.json (hf_buffers.h); problems are
  // reported together, each by tensor name (InvalidArgument / NotFound for files).
  static absl::StatusOr<std::unique_ptr<HybridModel>> LoadHf(const std::string& dir, at::ScalarType dtype,
                                                             at::Device device);
  // Same, with the tensors cast to precision.params. `rope_convention`: as ModelConfig::FromHfConfigJson's
  // `requested` (nullopt: the one config.json records, else kM1).
  static absl::StatusOr<std::unique_ptr<HybridModel>> LoadHf(
      const std::string& dir, ModelPrecision precision, at::Device device,
      std::optional<RopeConvention> rope_convention = std::nullopt);

  // Writes `dir`/config.json and `dir`/model.safetensors with the HF tensor names of MODEL.md §9
  // (experts split into w1/w2/w3) and transformers' lightning buffers (model/hf_buffers.h), so transformers
  // reports no missing keys. Creates `dir` if needed. Tensors are stored in the model dtype (float64 models
  // are stored as float32; the router stays fp32).
  absl::Status SaveHf(const std::string& dir) const;
  // Same, sharding into model-0000X-of-0000N.safetensors + index when larger than `max_shard_bytes`.
  absl::Status SaveHf(const std::string& dir, int64_t max_shard_bytes) const;

  HybridModel(HybridModel&&) noexcept;
  HybridModel& operator=(HybridModel&&) noexcept;
  HybridModel(const HybridModel&) = delete;
  HybridModel& operator=(const HybridModel&) = delete;
  ~HybridModel();

  // Parameters under HF names, in a fixed order. The dense family's are all on-disk names (a tied head is not
  // listed: it is model.embed_tokens.weight). The MoE experts use transformers' in-memory fused
  // layout: `model.layers.{i}.mlp.experts.gate_up_proj` [E, 2I, H] (w1 rows then w3 rows) and
  // `model.layers.{i}.mlp.experts.down_proj` [E, H, I]; the router is `model.layers.{i}.mlp.gate.weight`
  // [E, H] fp32. All others have their on-disk names. Leaf tensors with requires_grad.
  std::vector<std::pair<std::string, at::Tensor>> NamedParameters() const;
  std::vector<at::Tensor> Parameters() const;
  int64_t NumParameters() const;

  // Training forward over packed sequences.
  // REQUIRES: input_ids, targets [T] int64 on any device; cu_seqlens non-decreasing, cu_seqlens[0] = 0,
  // back() = T. Positions restart at 0 and lightning state resets at each sequence start.
  // Throws c10::Error on violated requirements (caller bug).
  ForwardOutput Forward(const at::Tensor& input_ids,  // [T] int64
                        const at::Tensor& targets,    // [T] int64
                        const std::vector<int64_t>& cu_seqlens, const ForwardOptions& options) const;

  // The final hidden state after model.norm, [T, H] fp32 (fp64 for float64 models): the input of the
  // FP32 head. If `router_aux` is non-null it receives ForwardOutput::aux_loss.
  // `recompute_layers` as in ForwardOptions.
  at::Tensor Hidden(const at::Tensor& input_ids,  // [T] int64
                    const std::vector<int64_t>& cu_seqlens, at::Tensor* router_aux = nullptr,
                    bool recompute_layers = false) const;

  // A fresh empty decode state.
  SequenceState NewSequence() const;
  // Appends `tokens` (non-empty) to `seq` (callable repeatedly: chunked prefill) and returns the raw
  // logits of the last appended position, [V] fp32 (fp64 for float64 models).
  at::Tensor Prefill(SequenceState* seq, const std::vector<int32_t>& tokens,
                     const DecodeOptions& options) const;
  // Appends tokens[b] to *seqs[b] for each b and returns raw logits [B, V] fp32 (fp64 for float64 models).
  at::Tensor Step(const std::vector<SequenceState*>& seqs, const std::vector<int32_t>& tokens,
                  const DecodeOptions& options) const;

  // ---- slot path (DecodePool) ----
  // Zero-initialised pools for `num_slots` sequences of at most `max_tokens` tokens each.
  DecodePool NewDecodePool(int64_t num_slots, int64_t max_tokens) const;
  // Prefills prompts[i] (non-empty, fresh sequences) into slots[i] (distinct) in one packed forward and
  // returns the raw logits of each prompt's last position, [n, V] fp32 (fp64 for float64 models). Slot states
  // are overwritten; prompts must fit max_tokens. Synchronises with the host (prefill is not graph-captured).
  at::Tensor PrefillSlots(DecodePool* pool, const std::vector<int32_t>& slots,
                          const std::vector<std::vector<int32_t>>& prompts,
                          const DecodeOptions& options) const;
  // Copies slot `src`'s lightning states and first `num_tokens` KV rows into slot `dst` (sample forking).
  void CopySlot(DecodePool* pool, int32_t src, int32_t dst, int64_t num_tokens) const;
  // One decode step: token tokens[b] at position positions[b] appended to slot slots[b], for every b. Returns
  // raw logits [B, V] fp32 (fp64 for float64 models) on the model's device. REQUIRES positions[b] <
  // max_tokens; slots distinct except rows aimed at a scratch slot whose contents are never used. Reads all
  // indices from device tensors and never synchronises with the host on CUDA (bf16 MoE through the grouped
  // GEMM), so it can run under CUDA-graph capture.
  at::Tensor StepSlots(DecodePool* pool,
                       const at::Tensor& slots,      // [B] int32, model device
                       const at::Tensor& tokens,     // [B] int64, model device
                       const at::Tensor& positions,  // [B] int64, model device
                       const DecodeOptions& options) const;

  const ModelConfig& config() const { return config_; }
  at::Device device() const { return device_; }
  // The parameter (master weight) dtype, ModelPrecision::params.
  at::ScalarType dtype() const { return dtype_; }
  // ModelPrecision::compute: the dtype of matmul operands and activations.
  at::ScalarType compute_dtype() const { return compute_dtype_; }

  // Mixed precision: whether grad-mode forwards use the cached compute-dtype copies of the weight matrices
  // (ModelPrecision; default true). false casts the masters afresh in every grad-mode forward (the cast in
  // the graph), which computes the same values and gradients: tools/bench_mfu --cast_cache 0 times that
  // cost; tests compare the two paths. No-grad forwards always use the cache.
  void set_reuse_casts_under_grad(bool reuse) { reuse_casts_under_grad_ = reuse; }
  // Casts of a layer's matrices into the cache so far (0 for uniform precision): one per layer each time
  // its masters changed and the layer ran again (tools/bench_mfu reports it per timed iteration).
  int64_t num_cached_casts() const;

 private:
  struct Weights;
  struct AuxStats;
  struct CastCache;
  HybridModel(const ModelConfig& config, ModelPrecision precision, at::Device device);
  // Layer `layer`'s weights as the layer computes with them: the parameters themselves when compute and
  // parameter dtypes agree, else the matrices cast to the compute dtype: the cached copies (CachedLayer),
  // under grad mode each behind a node that hands the gradient to its master.
  LayerWeights ComputeWeights(size_t layer) const;
  // The cache entry of `layer`: its matrices cast to the compute dtype from the masters' current versions
  // (re-cast when a version moved), its other tensors the masters themselves. No autograd history.
  const LayerWeights& CachedLayer(size_t layer) const;
  // Decoder layers [begin, end) on h [T, H] compute dtype; the loop body of RunLayers.
  at::Tensor RunLayerRange(at::Tensor h,  // [T, H] compute dtype
                           size_t begin, size_t end, const std::vector<int64_t>& cu_seqlens,
                           const at::Tensor& pos,  // [T] compute dtype (fp32/fp64)
                           std::vector<SequenceState*>* seqs, bool decode, AuxStats* aux) const;
  // One decoder layer of the training forward under activation recomputation (ForwardOptions).
  at::Tensor RecomputedLayer(const at::Tensor& h,  // [T, H] compute dtype
                             size_t layer, const std::vector<int64_t>& cu_seqlens,
                             const at::Tensor& pos,  // [T]
                             AuxStats* aux) const;
  void InitBuffers();
  std::vector<std::pair<std::string, at::Tensor>> HfViews() const;
  at::Tensor LightningMixer(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                            const std::vector<int64_t>& cu_seqlens, at::Tensor* states, bool decode) const;
  at::Tensor SoftmaxMixer(const LayerWeights& l, const at::Tensor& u,                     // [T, H]
                          const std::vector<int64_t>& cu_seqlens, const at::Tensor& pos,  // [T]
                          std::vector<SequenceState*>* seqs, bool decode, int64_t full_ord) const;
  struct Qkv {
    at::Tensor q;  // [T, N_h, d] after RoPE
    at::Tensor k;  // [T, N_kv, d] after RoPE
    at::Tensor v;  // [T, N_kv, d]
  };
  Qkv SoftmaxQkv(const LayerWeights& l, const at::Tensor& u,               // [T, H]
                 const at::Tensor& pos) const;                             // [T]
  at::Tensor OutProj(const LayerWeights& l, const at::Tensor& att) const;  // [T, N_h·d] -> [T, H]
  at::Tensor FeedForward(const LayerWeights& l, const at::Tensor& u,       // [T, H]
                         AuxStats* aux) const;
  at::Tensor MoE(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                 AuxStats* aux) const;
  at::Tensor MoeLoop(const LayerWeights& l, const at::Tensor& u,  // [T, H]
                     const at::Tensor& top_idx,                   // [T, k] int64
                     const at::Tensor& weights) const;            // [T, k]
  // Softmax attention of one new token per sequence over its KV cache (layer full_ord), batched.
  at::Tensor AttendDecodeBatch(const at::Tensor& q,  // [B, N_h, d] after RoPE, one token per sequence
                               const std::vector<SequenceState*>& seqs, int64_t full_ord,
                               const std::vector<int64_t>& cache_len) const;  // [B] keys incl. the new one
  // Embedding, all layers, final norm: [T, H] compute dtype. With `seqs` (one per cu_seqlens segment) the
  // lightning states and KV caches are read and updated; `decode` selects the one-token recurrence.
  at::Tensor RunLayers(const at::Tensor& input_ids,  // [T] int64
                       const std::vector<int64_t>& cu_seqlens,
                       const at::Tensor& positions,  // [T] int64
                       std::vector<SequenceState*>* seqs, bool decode, AuxStats* aux,
                       bool recompute_layers = false) const;

  ModelConfig config_;
  at::ScalarType dtype_;
  at::ScalarType compute_dtype_;
  at::Device device_;
  std::unique_ptr<Weights> w_;
  std::unique_ptr<CastCache> cast_cache_;  // compute-dtype layer matrices (mixed precision only)
  bool reuse_casts_under_grad_ = true;
};

}  // namespace m1rl::model

#endif  // M1RL_MODEL_HYBRID_MODEL_H_
