#include "model/hybrid_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/TensorOperators.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/full.h>
#include <ATen/ops/linspace.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/stack.h>
#include <ATen/ops/zeros.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <random>

#include "common/testing/status_matchers.h"
#include "model/head.h"
#include "model/internal/counting_allocator.h"
#include "model/safetensors.h"
#include "model/testing/dense_reference.h"

namespace m1rl::model {
namespace {

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  const double d = (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
  return std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
}

double MaxAbs(const at::Tensor& a) { return a.to(at::kDouble).abs().max().item<double>(); }

std::vector<int32_t> RandomTokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % vocab);
  return t;
}

at::Tensor ToTensor(const std::vector<int32_t>& v) {
  std::vector<int64_t> w(v.begin(), v.end());
  return at::from_blob(w.data(), {static_cast<int64_t>(w.size())}, at::TensorOptions().dtype(at::kLong))
      .clone();
}

// tiny8 (both layer kinds, 4 experts) with a small lightning block so that short tests cross blocks.
ModelConfig SmallBlockTiny8() {
  ModelConfig c = *ModelConfig::Preset("tiny8");
  c.block_size = 16;
  return c;
}

std::unique_ptr<HybridModel> MakeModel(const ModelConfig& c, at::ScalarType dtype, uint64_t seed = 1) {
  auto m = HybridModel::Create(c, dtype, at::kCPU, seed);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(*m);
}

// Logits of every position of one sequence by the training path: [T, V].
at::Tensor TrainingLogits(const HybridModel& m, const std::vector<int32_t>& tokens) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const at::Tensor hidden = m.Hidden(ToTensor(tokens), {0, n});
  return HeadLogits(hidden, m.NamedParameters().back().second.detach(), HeadPrecision::kIeeeFp32);
}

TEST(HybridModelTest, ParametersMatchConfigCountAndHfNames) {
  const ModelConfig c = *ModelConfig::Preset("tiny8");
  auto m = MakeModel(c, at::kFloat);
  EXPECT_EQ(m->NumParameters(), 937920);  // MODEL.md §11
  const auto named = m->NamedParameters();
  EXPECT_EQ(named.front().first, "model.embed_tokens.weight");
  EXPECT_EQ(named.back().first, "lm_head.weight");
  bool saw_lightning = false, saw_softmax = false;
  for (const auto& [name, t] : named) {
    EXPECT_TRUE(t.requires_grad()) << name;
    EXPECT_TRUE(t.is_leaf()) << name;
    if (name == "model.layers.0.self_attn.qkv_proj.weight") {
      saw_lightning = true;
      EXPECT_EQ(t.sizes(), (std::vector<int64_t>{384, 64}));
    }
    if (name == "model.layers.7.self_attn.k_proj.weight") {
      saw_softmax = true;
      EXPECT_EQ(t.sizes(), (std::vector<int64_t>{64, 64}));
    }
    if (name == "model.layers.3.mlp.gate.weight") {
      EXPECT_EQ(t.scalar_type(), at::kFloat);
    }
    if (name == "model.layers.3.mlp.experts.gate_up_proj") {
      EXPECT_EQ(t.sizes(), (std::vector<int64_t>{4, 192, 64}));
    }
  }
  EXPECT_TRUE(saw_lightning && saw_softmax);
  auto bf = MakeModel(c, at::kBFloat16);
  for (const auto& [name, t] : bf->NamedParameters()) {
    if (name.find("mlp.gate.weight") != std::string::npos) {
      EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
    }
  }
}

// Decode equals prefill, float64: step-by-step decoding (one Prefill token, then Step) gives the training
// forward's logits at every position. Both compute the same math in a different order (recurrence vs
// block form, KV cache vs full causal matrix): differences are rounding only, ~1e-15 relative per op over
// 8 layers; bound 1e-9 absolute on logits of magnitude ~1.
TEST(HybridModelTest, DecodeEqualsPrefillFloat64) {
  const ModelConfig c = SmallBlockTiny8();
  auto m = MakeModel(c, at::kDouble, 3);
  const std::vector<int32_t> tokens = RandomTokens(45, c.vocab_size, 4);
  const at::Tensor want = TrainingLogits(*m, tokens);  // [T, V]
  SequenceState s = m->NewSequence();
  at::Tensor got0 = m->Prefill(&s, {tokens[0]}, {});
  EXPECT_LT(MaxAbsDiff(got0, want[0]), 1e-9);
  double worst = 0;
  for (size_t i = 1; i < tokens.size(); ++i) {
    SequenceState* p = &s;
    const at::Tensor got = m->Step({p}, {tokens[i]}, {});
    ASSERT_EQ(got.sizes(), (std::vector<int64_t>{1, c.vocab_size}));
    worst = std::max(worst, MaxAbsDiff(got[0], want[i]));
  }
  EXPECT_LT(worst, 1e-9);
  EXPECT_EQ(s.num_tokens(), 45);
  // Chunked prefill (17 + 20 tokens, crossing lightning blocks of 16) then steps: same logits.
  SequenceState s2 = m->NewSequence();
  m->Prefill(&s2, std::vector<int32_t>(tokens.begin(), tokens.begin() + 17), {});
  const at::Tensor mid = m->Prefill(&s2, std::vector<int32_t>(tokens.begin() + 17, tokens.begin() + 37), {});
  EXPECT_LT(MaxAbsDiff(mid, want[36]), 1e-9);
  SequenceState* p2 = &s2;
  const at::Tensor next = m->Step({p2}, {tokens[37]}, {});
  EXPECT_LT(MaxAbsDiff(next[0], want[37]), 1e-9);
}

// Same in float32 at T = 300 (crosses the default 256 block). Error model: each logit is a K = 64-term
// fp32 dot product of O(1) values after 8 residual layers whose activations differ by summation order
// only; the relative error of one layer is ≲ K·eps32 ≈ 8e-6, amplified ≲ 10× through depth; bound
// 1e-4 · max|logit| (observed well below).
TEST(HybridModelTest, DecodeEqualsPrefillFloat32AcrossBlock) {
  const ModelConfig c = *ModelConfig::Preset("tiny8");
  auto m = MakeModel(c, at::kFloat, 5);
  const std::vector<int32_t> tokens = RandomTokens(300, c.vocab_size, 6);
  const at::Tensor want = TrainingLogits(*m, tokens);
  SequenceState s = m->NewSequence();
  m->Prefill(&s, std::vector<int32_t>(tokens.begin(), tokens.begin() + 250), {});
  double worst = 0;
  for (size_t i = 250; i < tokens.size(); ++i) {
    SequenceState* p = &s;
    worst = std::max(worst, MaxAbsDiff(m->Step({p}, {tokens[i]}, {})[0], want[i]));
  }
  EXPECT_LT(worst, 1e-4 * MaxAbs(want));
}

// Batched Step over sequences of different lengths, and Copy() for G samples, equal separate decoding.
TEST(HybridModelTest, BatchedStepAndCopyMatchSingleSequences) {
  const ModelConfig c = SmallBlockTiny8();
  auto m = MakeModel(c, at::kDouble, 7);
  const std::vector<int32_t> a = RandomTokens(20, c.vocab_size, 8);
  const std::vector<int32_t> b = RandomTokens(5, c.vocab_size, 9);
  SequenceState sa = m->NewSequence();
  SequenceState sb = m->NewSequence();
  m->Prefill(&sa, a, {});
  m->Prefill(&sb, b, {});
  SequenceState sa_copy = sa.Copy();
  EXPECT_EQ(sa_copy.num_tokens(), 20);
  EXPECT_EQ(sa_copy.StateBytes(), sa.StateBytes());
  const at::Tensor batched = m->Step({&sa, &sb, &sa_copy}, {11, 12, 13}, {});
  std::vector<int32_t> a11 = a, b12 = b, a13 = a;
  a11.push_back(11);
  b12.push_back(12);
  a13.push_back(13);
  EXPECT_LT(MaxAbsDiff(batched[0], TrainingLogits(*m, a11)[20]), 1e-9);
  EXPECT_LT(MaxAbsDiff(batched[1], TrainingLogits(*m, b12)[5]), 1e-9);
  EXPECT_LT(MaxAbsDiff(batched[2], TrainingLogits(*m, a13)[20]), 1e-9);
  // State size: 7 lightning layers × N_h·d·d fp64 + 1 softmax layer × 2 × N_kv·tokens·d fp64.
  EXPECT_EQ(sb.StateBytes(), 7 * 4 * 32 * 32 * 8 + 2 * 2 * 6 * 32 * 8);
}

// Packed ragged batch equals separate forwards; log-probs and entropy equal the float64 formula on the
// full logits: logp = z_y − logsumexp(z), H = −Σ p log p with z = logits/τ.
TEST(HybridModelTest, PackedForwardMatchesFormulaPerSequence) {
  const ModelConfig c = SmallBlockTiny8();
  auto m = MakeModel(c, at::kDouble, 11);
  const std::vector<std::vector<int32_t>> seqs{RandomTokens(1, 256, 1), RandomTokens(23, 256, 2),
                                               RandomTokens(40, 256, 3)};
  std::vector<int32_t> packed;
  std::vector<int64_t> cu{0};
  for (const auto& s : seqs) {
    packed.insert(packed.end(), s.begin(), s.end());
    cu.push_back(cu.back() + static_cast<int64_t>(s.size()));
  }
  const std::vector<int32_t> targets = RandomTokens(static_cast<int64_t>(packed.size()), 256, 99);
  ForwardOptions opt;
  opt.temperature = 0.7;
  opt.compute_entropy = true;
  opt.head_chunk_size = 37;  // not a divisor of V = 256: exercises a ragged last chunk
  const ForwardOutput out = m->Forward(ToTensor(packed), ToTensor(targets), cu, opt);
  ASSERT_EQ(out.logprobs.sizes(), (std::vector<int64_t>{static_cast<int64_t>(packed.size())}));
  double worst_lp = 0, worst_ent = 0;
  for (size_t b = 0; b < seqs.size(); ++b) {
    const at::Tensor z = TrainingLogits(*m, seqs[b]) / 0.7;  // [n, V] fp64
    const at::Tensor logp_all = z.log_softmax(-1);
    for (int64_t i = 0; i < static_cast<int64_t>(seqs[b].size()); ++i) {
      const int64_t row = cu[b] + i;
      const double want_lp = logp_all[i][targets[row]].item<double>();
      const double want_ent = -(logp_all[i].exp() * logp_all[i]).sum().item<double>();
      worst_lp = std::max(worst_lp, std::abs(out.logprobs[row].item<double>() - want_lp));
      worst_ent = std::max(worst_ent, std::abs(out.entropy[row].item<double>() - want_ent));
    }
  }
  EXPECT_LT(worst_lp, 1e-9);
  EXPECT_LT(worst_ent, 1e-9);
}

// With k = E every router row selects all experts: f_e = 1, Σ_e P_e = 1, so L_aux = E·1 exactly and
// aux_loss = coef·E whatever the weights (MODEL.md §6). With k < E it is in [k·…]: ≥ 1·coef·k·(≥0).
TEST(HybridModelTest, AuxLossHandValue) {
  ModelConfig c = *ModelConfig::Preset("tiny2");
  c.num_local_experts = 2;
  c.num_experts_per_tok = 2;
  auto m = MakeModel(c, at::kDouble, 2);
  const auto toks = RandomTokens(9, 256, 5);
  const ForwardOutput out = m->Forward(ToTensor(toks), ToTensor(toks), {0, 4, 9}, {});
  EXPECT_NEAR(out.aux_loss.item<double>(), 0.001 * 2, 1e-15);
}

// Head precisions: operands rounded to bf16 (8 significant bits, unit roundoff u = 2^-8) or TF32 (11,
// u = 2^-11) change each product by ≤ (2u + u²)·|x_i w_i|, so |Δz| ≤ (2u + u²)·Σ_i |x_i||w_i| =: δ per
// logit; log-probs move by ≤ 2δ_max (z_y and logsumexp each by ≤ δ_max).
TEST(HybridModelTest, HeadPrecisionsWithinDerivedBound) {
  const ModelConfig c = *ModelConfig::Preset("tiny2");
  auto m = MakeModel(c, at::kFloat, 13);
  const auto toks = RandomTokens(64, 256, 6);
  const auto targets = RandomTokens(64, 256, 7);
  const at::Tensor hidden = m->Hidden(ToTensor(toks), {0, 64}).detach();
  const at::Tensor w = m->NamedParameters().back().second.detach();
  const double sum_abs =
      (hidden.abs().to(at::kDouble).matmul(w.abs().to(at::kDouble).t())).max().item<double>();
  const at::Tensor ref =
      ChunkedLogProbs(hidden, w, ToTensor(targets), 1.0, HeadPrecision::kIeeeFp32, 0, false).logprobs;
  for (auto [precision, u] : {std::pair{HeadPrecision::kBf16Fp32Out, std::ldexp(1.0, -8)},
                              std::pair{HeadPrecision::kTf32, std::ldexp(1.0, -11)}}) {
    const at::Tensor got = ChunkedLogProbs(hidden, w, ToTensor(targets), 1.0, precision, 0, false).logprobs;
    const double bound = 2 * (2 * u + u * u) * sum_abs + 1e-5;  // + fp32 accumulation slack of the reference
    const double diff = MaxAbsDiff(got, ref);
    EXPECT_LT(diff, bound) << HeadPrecisionName(precision);
    EXPECT_GT(diff, 0.0) << HeadPrecisionName(precision) << " did not round anything";
  }
}

// The chunk plan keeps one [T, c] fp32 tensor ≤ 64 MiB; for M1 (T 4096, V 200,064, H 6144) the formula in
// head.h gives c = 4096 and a forward peak of 3·64 MiB + 96 MiB + 64 KiB.
TEST(HybridModelTest, HeadChunkPlanMemory) {
  EXPECT_EQ(HeadChunkSize(4096, 200064, 4, 0), 4096);
  const HeadPeakBytes p = HeadPeakMemory(4096, 200064, 6144, 4, 4096);
  EXPECT_EQ(p.forward, 3 * (int64_t{64} << 20) + (int64_t{96} << 20) + int64_t{4} * 4096 * 4);
  EXPECT_EQ(p.full_logits, int64_t{4096} * 200064 * 4);
  EXPECT_LT(p.forward * 10, p.full_logits);
}

// Float64 central differences of L = Σ r·logp + Σ r'·entropy + aux_loss for a sample of elements of every
// parameter tensor of a tiny hybrid model (both layer kinds, MoE, head). h = 1e-6: truncation ~h² and
// cancellation ~eps·|L|/h ≈ 1e-10; tolerance 1e-6·max(1, |g|).
TEST(HybridModelTest, WholeModelGradientMatchesFiniteDifferences) {
  ModelConfig c = *ModelConfig::Preset("tiny2");
  c.block_size = 4;
  c.vocab_size = 32;
  auto m = MakeModel(c, at::kDouble, 17);
  const auto toks = RandomTokens(11, 32, 8);
  const auto targets = RandomTokens(11, 32, 9);
  const std::vector<int64_t> cu{0, 5, 11};
  const at::Tensor r1 = at::randn({11}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor r2 = at::randn({11}, at::TensorOptions().dtype(at::kDouble));
  ForwardOptions opt;
  opt.compute_entropy = true;
  opt.temperature = 1.3;
  opt.head_chunk_size = 7;
  auto loss = [&] {
    const ForwardOutput o = m->Forward(ToTensor(toks), ToTensor(targets), cu, opt);
    return (o.logprobs * r1).sum() + (o.entropy * r2).sum() + o.aux_loss * 10.0;
  };
  loss().backward();
  const double h = 1e-6;
  std::mt19937 rng(3);
  int checked = 0;
  for (auto& [name, p] : m->NamedParameters()) {
    const at::Tensor g = p.grad();
    ASSERT_TRUE(g.defined()) << name;
    for (int s = 0; s < 3; ++s) {
      const int64_t i = static_cast<int64_t>(rng() % p.numel());
      at::Tensor flat = p.detach().view({-1});
      const double orig = flat[i].item<double>();
      double lp, lm;
      {
        at::NoGradGuard ng;
        flat[i] = orig + h;
        lp = loss().item<double>();
        flat[i] = orig - h;
        lm = loss().item<double>();
        flat[i] = orig;
      }
      const double numeric = (lp - lm) / (2 * h);
      const double analytic = g.view({-1})[i].item<double>();
      EXPECT_NEAR(analytic, numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}

}  // namespace
}  // namespace m1rl::model

namespace m1rl::model {
namespace {

// A bfloat16 model runs both entry points and agrees with the float32 model holding the same (bf16-valued)
// weights: activations are rounded to bf16 (u = 2^-8) between ops, so per-token log-probs move by a few
// u·|logit| ≈ 1e-2 over 8 layers; bound 0.1 nats, and decode equals prefill within the same bound.
TEST(HybridModelTest, Bfloat16ModelTracksFloat32) {
  const ModelConfig c = *ModelConfig::Preset("tiny8");
  auto bf = MakeModel(c, at::kBFloat16, 23);
  auto f32 = MakeModel(c, at::kFloat, 23);
  {
    at::NoGradGuard ng;
    auto src = bf->NamedParameters();
    auto dst = f32->NamedParameters();
    for (size_t i = 0; i < src.size(); ++i) dst[i].second.copy_(src[i].second);
  }
  const auto toks = RandomTokens(40, 256, 31);
  const auto targets = RandomTokens(40, 256, 32);
  const ForwardOutput a = bf->Forward(ToTensor(toks), ToTensor(targets), {0, 15, 40}, {});
  const ForwardOutput b = f32->Forward(ToTensor(toks), ToTensor(targets), {0, 15, 40}, {});
  EXPECT_EQ(a.logprobs.scalar_type(), at::kFloat);
  EXPECT_LT(MaxAbsDiff(a.logprobs, b.logprobs), 0.1);
  SequenceState s = bf->NewSequence();
  const at::Tensor last = bf->Prefill(&s, std::vector<int32_t>(toks.begin(), toks.begin() + 15), {});
  EXPECT_EQ(last.scalar_type(), at::kFloat);
  const at::Tensor want = TrainingLogits(*f32, std::vector<int32_t>(toks.begin(), toks.begin() + 15))[14];
  EXPECT_LT(MaxAbsDiff(last, want), 0.1 * std::max(1.0, MaxAbs(want)));
}

}  // namespace
}  // namespace m1rl::model

namespace m1rl::model {
namespace {

using internal::ScopedCountingAllocator;

constexpr ModelPrecision kMixed{at::kFloat, at::kBFloat16};

std::unique_ptr<HybridModel> MakeMixed(const ModelConfig& c, uint64_t seed) {
  auto m = HybridModel::Create(c, kMixed, at::kCPU, seed);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(*m);
}

// Copies `src`'s parameters into `dst` (same config), casting to dst's dtype.
void CopyParameters(const HybridModel& src, HybridModel* dst) {
  at::NoGradGuard ng;
  const auto s = src.NamedParameters();
  const auto d = dst->NamedParameters();
  ASSERT_EQ(s.size(), d.size());
  for (size_t i = 0; i < s.size(); ++i) d[i].second.copy_(s[i].second);
}

TEST(MixedPrecisionTest, UnsupportedPairIsRejectedNamingTheField) {
  EXPECT_THAT(
      HybridModel::Create(*ModelConfig::Preset("tiny2"), ModelPrecision{at::kBFloat16, at::kFloat}, at::kCPU,
                          1)
          .status(),
      ::m1rl::testing::StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("model.dtype")));
  EXPECT_EQ(ModelPrecision::ForTraining(at::kBFloat16).params, at::kFloat);
  EXPECT_EQ(ModelPrecision::ForTraining(at::kBFloat16).compute, at::kBFloat16);
  EXPECT_EQ(ModelPrecision::ForTraining(at::kFloat).compute, at::kFloat);
}

// Reference: the uniform-bf16 model (its own code path, tested against fp32 above). With bf16-valued fp32
// masters, casting them to bf16 where used is exact, so the mixed model must compute bit for bit what the
// uniform bf16 model holding the same values computes (router fp32 in both). Checked with grad (cached
// casts, then fresh casts) and without.
TEST(MixedPrecisionTest, EqualsUniformBf16OnBf16ValuedMasters) {
  const ModelConfig c = SmallBlockTiny8();
  auto mixed = MakeMixed(c, 41);
  {
    at::NoGradGuard ng;
    for (auto& [name, p] : mixed->NamedParameters()) {
      if (p.dim() == 1) p.add_(at::randn(p.sizes(), p.options()) * 0.1);  // norms away from 1
      p.copy_(p.to(at::kBFloat16).to(at::kFloat));
    }
  }
  auto uniform = MakeModel(c, at::kBFloat16, 41);
  CopyParameters(*mixed, uniform.get());
  EXPECT_EQ(mixed->dtype(), at::kFloat);
  EXPECT_EQ(mixed->compute_dtype(), at::kBFloat16);
  const auto toks = RandomTokens(70, 256, 3);
  const std::vector<int64_t> cu{0, 30, 70};
  const at::Tensor want = uniform->Hidden(ToTensor(toks), cu).detach();
  const at::Tensor with_grad = mixed->Hidden(ToTensor(toks), cu);
  EXPECT_TRUE(with_grad.requires_grad());
  EXPECT_EQ(MaxAbsDiff(with_grad.detach(), want), 0.0);
  mixed->set_reuse_casts_under_grad(false);
  EXPECT_EQ(MaxAbsDiff(mixed->Hidden(ToTensor(toks), cu).detach(), want), 0.0);
  at::NoGradGuard ng;
  EXPECT_EQ(MaxAbsDiff(mixed->Hidden(ToTensor(toks), cu), want), 0.0);
}

// The no-grad cast cache follows in-place parameter updates (an optimizer step bumps the version counter):
// after the update the cached path equals the fresh-cast path (grad mode without the cache) and differs
// from before.
TEST(MixedPrecisionTest, CastCacheFollowsInPlaceUpdates) {
  auto m = MakeMixed(SmallBlockTiny8(), 5);
  const auto toks = RandomTokens(33, 256, 4);
  at::Tensor before;
  {
    at::NoGradGuard ng;
    before = m->Hidden(ToTensor(toks), {0, 33});
    for (auto& [name, p] : m->NamedParameters()) {
      if (p.dim() >= 2) p.mul_(1.25);
    }
  }
  at::Tensor cached;
  {
    at::NoGradGuard ng;
    cached = m->Hidden(ToTensor(toks), {0, 33});
  }
  m->set_reuse_casts_under_grad(false);
  const at::Tensor fresh = m->Hidden(ToTensor(toks), {0, 33}).detach();
  EXPECT_EQ(MaxAbsDiff(cached, fresh), 0.0);
  EXPECT_GT(MaxAbsDiff(cached, before), 1e-3);
}

// Mean NLL of `targets` plus the aux loss; backward when `backward`.
double StepLoss(const HybridModel& m, const std::vector<int32_t>& toks, const std::vector<int32_t>& targets,
                const std::vector<int64_t>& cu, bool recompute = false) {
  ForwardOptions opt;
  opt.recompute_layers = recompute;
  const ForwardOutput out = m.Forward(ToTensor(toks), ToTensor(targets), cu, opt);
  const at::Tensor loss = -out.logprobs.mean() + out.aux_loss;
  loss.backward();
  return loss.item<double>();
}

void SgdStep(const HybridModel& m, double lr) {
  at::NoGradGuard ng;
  for (const at::Tensor& p : m.Parameters()) {
    p.add_(p.grad(), -lr);
    p.mutable_grad() = at::Tensor();
  }
}

// bf16 compute, fp32 masters: parameters and gradients stay fp32 and the loss tracks the fp32 run over five
// SGD steps from the same init on one batch. Bound: every GEMM operand and every inter-op activation is
// rounded once to bf16 (u = 2^-8 = 3.9e-3); the post-norm RMSNorms rescale each layer's output, so the
// relative error of the final hidden state grows at most additively, ≤ 3u per layer (two operands + the
// rounded output) over L = 8 layers: 24u ≈ 0.094 relative. A logit moves by ≤ 0.094·|z|, a log-prob by
// twice the largest logit move, so |Δ loss| ≤ 2·0.094·max|z| + 1e-4 (fp32 slack). The steps' parameter
// drift adds gradient differences of the same relative size times lr·|g|, which stays below that bound
// for lr = 0.5 and 5 steps (the assertion covers it: the bound is re-evaluated at each step's max|z|).
TEST(MixedPrecisionTest, LossTracksFloat32AndMastersStayFp32) {
  const ModelConfig c = SmallBlockTiny8();
  auto f32 = MakeModel(c, at::kFloat, 9);
  auto mixed = MakeMixed(c, 9);
  const auto toks = RandomTokens(64, 256, 10);
  const auto targets = RandomTokens(64, 256, 11);
  const std::vector<int64_t> cu{0, 24, 64};
  const double u = std::ldexp(1.0, -8);
  double first = 0, last = 0;
  for (int step = 0; step < 5; ++step) {
    const at::Tensor logits = TrainingLogits(*f32, toks);
    const double bound = 2 * (3 * u * c.num_hidden_layers) * MaxAbs(logits) + 1e-4;
    const double lf = StepLoss(*f32, toks, targets, cu);
    const double lm = StepLoss(*mixed, toks, targets, cu);
    std::printf("step %d: fp32 loss %.6f, bf16-compute loss %.6f, |diff| %.2e, bound %.2e\n", step, lf, lm,
                std::abs(lf - lm), bound);
    EXPECT_LT(std::abs(lf - lm), bound) << "step " << step;
    for (const auto& [name, p] : mixed->NamedParameters()) {
      ASSERT_EQ(p.scalar_type(), at::kFloat) << name;
      ASSERT_TRUE(p.grad().defined()) << name;
      ASSERT_EQ(p.grad().scalar_type(), at::kFloat) << name;
    }
    if (step == 0) first = lm;
    last = lm;
    SgdStep(*f32, 0.5);
    SgdStep(*mixed, 0.5);
  }
  EXPECT_LT(last, first - 0.01);  // it trains
}

struct GradRun {
  at::Tensor logprobs;
  std::vector<at::Tensor> grads;
  int64_t saved_bytes = 0;  // bytes alive after the forward, before backward (graph + outputs)
};

GradRun RunForGrads(const HybridModel& m, bool recompute, const std::vector<int32_t>& toks,
                    const std::vector<int32_t>& targets, const std::vector<int64_t>& cu) {
  GradRun r;
  for (const at::Tensor& p : m.Parameters()) p.mutable_grad() = at::Tensor();
  ForwardOptions opt;
  opt.recompute_layers = recompute;
  ForwardOutput out;
  {
    ScopedCountingAllocator counting;
    const int64_t base = counting->live();
    out = m.Forward(ToTensor(toks), ToTensor(targets), cu, opt);
    r.saved_bytes = counting->live() - base;
  }
  (-(out.logprobs * at::linspace(0.5, 1.5, out.logprobs.size(0), out.logprobs.options())).sum() +
   out.aux_loss * 10.0)
      .backward();
  r.logprobs = out.logprobs.detach();
  for (const at::Tensor& p : m.Parameters()) r.grads.push_back(p.grad().clone());
  return r;
}

// Recomputation re-runs the same ops on the same saved layer inputs, so values and gradients are
// bit-identical (fp32 and mixed bf16); what stays alive between forward and backward drops from every
// layer's intermediates (qkv [T, 3D], experts' [n, 2I], scores, ...) to one [T, H] input per layer.
TEST(RecomputeTest, GradientsIdenticalAndFewerSavedBytes) {
  const ModelConfig c = SmallBlockTiny8();
  const auto toks = RandomTokens(200, 256, 12);
  const auto targets = RandomTokens(200, 256, 13);
  const std::vector<int64_t> cu{0, 90, 200};
  for (bool mixed : {false, true}) {
    auto m = mixed ? MakeMixed(c, 14) : MakeModel(c, at::kFloat, 14);
    const GradRun plain = RunForGrads(*m, false, toks, targets, cu);
    const GradRun rec = RunForGrads(*m, true, toks, targets, cu);
    EXPECT_EQ(MaxAbsDiff(plain.logprobs, rec.logprobs), 0.0) << "mixed " << mixed;
    const auto named = m->NamedParameters();
    for (size_t i = 0; i < named.size(); ++i) {
      EXPECT_EQ(MaxAbsDiff(plain.grads[i], rec.grads[i]), 0.0) << named[i].first << " mixed " << mixed;
      EXPECT_EQ(rec.grads[i].scalar_type(), at::kFloat);
    }
    std::printf("mixed=%d: bytes alive after forward %ld without recompute, %ld with\n", mixed ? 1 : 0,
                static_cast<long>(plain.saved_bytes), static_cast<long>(rec.saved_bytes));
    // Per layer at least qkv [T, 3D] fp32 is saved without recompute; with it, the input [T, H] plus the
    // router sums. 3D = 384 vs H = 64 columns: a factor 6 on that tensor alone.
    EXPECT_LT(rec.saved_bytes * 3, plain.saved_bytes) << "mixed " << mixed;
  }
}

}  // namespace
}  // namespace m1rl::model

namespace m1rl::model {
namespace {

// The RoPE convention (config.h RopeConvention): "hf" rotates the whole head with θ^(−2i/d) whatever
// rotary_dim says, i.e. it computes what "m1" computes with rotary_dim = head_dim, on the training forward,
// the sequence decode (Prefill/Step) and the slot decode (PrefillSlots/StepSlots). Same seed, same weights.
TEST(RopeConventionTest, HfRotatesTheWholeHeadOnEveryPath) {
  ModelConfig partial = *ModelConfig::Preset("tiny2");  // rotary_dim 16 of head_dim 32
  partial.block_size = 16;
  ModelConfig hf = partial;
  hf.rope_convention = RopeConvention::kHf;
  ModelConfig whole = partial;
  whole.rotary_dim = whole.head_dim;
  ASSERT_EQ(hf.rope_dims(), 32);
  ASSERT_EQ(partial.rope_dims(), 16);
  auto m_hf = MakeModel(hf, at::kDouble, 5);
  auto m_whole = MakeModel(whole, at::kDouble, 5);
  auto m_partial = MakeModel(partial, at::kDouble, 5);
  const std::vector<int32_t> tokens = RandomTokens(40, hf.vocab_size, 6);
  const at::Tensor want = TrainingLogits(*m_whole, tokens);
  EXPECT_LT(MaxAbsDiff(TrainingLogits(*m_hf, tokens), want), 1e-12);
  // The convention matters: rotating 16 of 32 dims is another function (positions up to 39). The N(0, 0.02²)
  // init keeps scores small, so logits move by ~1e-4, far above the 1e-12 of the equality above.
  EXPECT_GT(MaxAbsDiff(TrainingLogits(*m_partial, tokens), want), 1e-6);

  SequenceState s = m_hf->NewSequence();
  m_hf->Prefill(&s, std::vector<int32_t>(tokens.begin(), tokens.begin() + 30), {});
  DecodePool pool = m_hf->NewDecodePool(/*num_slots=*/2, /*max_tokens=*/64);
  m_hf->PrefillSlots(&pool, {1}, {std::vector<int32_t>(tokens.begin(), tokens.begin() + 30)}, {});
  const auto longs = at::TensorOptions().dtype(at::kLong);
  for (int64_t i = 30; i < 40; ++i) {
    SequenceState* p = &s;
    EXPECT_LT(MaxAbsDiff(m_hf->Step({p}, {tokens[i]}, {})[0], want[i]), 1e-9) << i;
    const at::Tensor slot = at::full({1}, 1, at::TensorOptions().dtype(at::kInt));
    const at::Tensor logits =
        m_hf->StepSlots(&pool, slot, at::full({1}, tokens[i], longs), at::full({1}, i, longs), {});
    EXPECT_LT(MaxAbsDiff(logits[0], want[i]), 1e-9) << i;
  }
}

// ---- dense family
// -------------------------------------------------------------------------------------------

using testing::Named;
using testing::Randomize;
using testing::TinyDense;

struct DenseCase {
  const char* name;
  ModelFamily family;
  bool attention_bias;
  bool tied;
};

const DenseCase kDenseCases[] = {
    {"qwen2 (qkv bias, untied)", ModelFamily::kQwen2, true, false},
    {"qwen3 (q/k norm, tied)", ModelFamily::kQwen3, false, true},
    {"qwen3 (q/k norm, qkvo bias, untied)", ModelFamily::kQwen3, true, false},
    {"llama (no bias, tied)", ModelFamily::kLlama, false, true},
};

// Log-probs of the training forward (fp32 and fp64 models, two packed sequences) against the float64
// reference written from the formulas (model/testing/dense_reference.h).
TEST(DenseModelTest, ForwardMatchesFloat64Reference) {
  for (const DenseCase& k : kDenseCases) {
    SCOPED_TRACE(k.name);
    const ModelConfig c = TinyDense(k.family, k.attention_bias, k.tied);
    ASSERT_THAT(c.Validate(), m1rl::testing::IsOk());
    auto m32 = MakeModel(c, at::kFloat, 3);
    Randomize(*m32, 17);
    auto m64 = MakeModel(c, at::kDouble, 3);
    {
      at::NoGradGuard no_grad;
      const auto src = m32->NamedParameters();
      const auto dst = m64->NamedParameters();
      ASSERT_EQ(src.size(), dst.size());
      for (size_t i = 0; i < src.size(); ++i) dst[i].second.copy_(src[i].second);
    }
    const std::vector<std::vector<int32_t>> seqs{RandomTokens(13, 50, 5), RandomTokens(6, 50, 7)};
    std::vector<int32_t> packed, targets;
    std::vector<int64_t> cu{0};
    std::vector<double> want;
    for (size_t b = 0; b < seqs.size(); ++b) {
      const std::vector<int32_t> tgt = RandomTokens(static_cast<int64_t>(seqs[b].size()), 50, 40 + b);
      const at::Tensor logp =
          testing::DenseReferenceLogits(c, Named(*m32), seqs[b], testing::DefaultInverseFrequencies(1e4, 8))
              .log_softmax(-1);
      for (size_t i = 0; i < seqs[b].size(); ++i) want.push_back(logp[i][tgt[i]].item<double>());
      packed.insert(packed.end(), seqs[b].begin(), seqs[b].end());
      targets.insert(targets.end(), tgt.begin(), tgt.end());
      cu.push_back(cu.back() + static_cast<int64_t>(seqs[b].size()));
    }
    const at::Tensor want_t = at::from_blob(want.data(), {static_cast<int64_t>(want.size())}, at::kDouble);
    // The reference is not degenerate: log-probs spread well away from uniform (−log 50 = −3.9).
    EXPECT_GT(want_t.max().item<double>() - want_t.min().item<double>(), 1.0);
    const ForwardOutput o32 = m32->Forward(ToTensor(packed), ToTensor(targets), cu, {});
    const ForwardOutput o64 = m64->Forward(ToTensor(packed), ToTensor(targets), cu, {});
    EXPECT_LT(MaxAbsDiff(o32.logprobs, want_t), 1e-5);
    EXPECT_LT(MaxAbsDiff(o64.logprobs, want_t), 1e-10);
    EXPECT_EQ(o64.aux_loss.item<double>(), 0.0);  // no router
  }
}

// llama3 RoPE scaling reaches the attention: head_dim 8 at θ = 10⁴ has frequencies 1, 0.1, 0.01, 0.001
// (wavelengths 6.3, 63, 628, 6283); with original_max_position_embeddings 16, low_freq_factor 1 and
// high_freq_factor 4 the first is blended with s = (16/2π − 1)/3 and the other three are divided by 8.
TEST(DenseModelTest, Llama3RopeScalingMatchesTheReference) {
  ModelConfig c = TinyDense(ModelFamily::kLlama, true, false);
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 16};
  auto m = MakeModel(c, at::kDouble, 3);
  Randomize(*m, 23);
  const double s = (16.0 / (2.0 * M_PI) - 1.0) / 3.0;
  const std::vector<double> inv{(1.0 - s) / 8.0 + s, 0.1 / 8.0, 0.01 / 8.0, 0.001 / 8.0};
  const std::vector<int32_t> tokens = RandomTokens(30, 50, 8);
  const at::Tensor want = testing::DenseReferenceLogits(c, Named(*m), tokens, inv);
  EXPECT_LT(MaxAbsDiff(TrainingLogits(*m, tokens), want), 1e-10);
  // Unscaled frequencies give another function.
  EXPECT_GT(MaxAbsDiff(testing::DenseReferenceLogits(c, Named(*m), tokens,
                                                     testing::DefaultInverseFrequencies(1e4, 8)),
                       want),
            1e-3);
}

// Decode (Prefill + Step, and the slot path's PrefillSlots + StepSlots) gives the reference logits.
TEST(DenseModelTest, DecodePathsMatchTheReference) {
  for (const DenseCase& k : kDenseCases) {
    SCOPED_TRACE(k.name);
    const ModelConfig c = TinyDense(k.family, k.attention_bias, k.tied);
    auto m = MakeModel(c, at::kDouble, 3);
    Randomize(*m, 29);
    const std::vector<int32_t> tokens = RandomTokens(20, 50, 9);
    const at::Tensor want =
        testing::DenseReferenceLogits(c, Named(*m), tokens, testing::DefaultInverseFrequencies(1e4, 8));
    const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 12);
    SequenceState seq = m->NewSequence();
    EXPECT_LT(MaxAbsDiff(m->Prefill(&seq, prompt, {}), want[11]), 1e-10);
    DecodePool pool = m->NewDecodePool(/*num_slots=*/3, /*max_tokens=*/32);
    EXPECT_LT(MaxAbsDiff(m->PrefillSlots(&pool, {2}, {prompt}, {})[0], want[11]), 1e-10);
    const auto longs = at::TensorOptions().dtype(at::kLong);
    for (int64_t i = 12; i < 20; ++i) {
      SequenceState* p = &seq;
      EXPECT_LT(MaxAbsDiff(m->Step({p}, {tokens[i]}, {})[0], want[i]), 1e-10) << i;
      const at::Tensor logits = m->StepSlots(&pool, at::full({1}, 2, at::TensorOptions().dtype(at::kInt)),
                                             at::full({1}, tokens[i], longs), at::full({1}, i, longs), {});
      EXPECT_LT(MaxAbsDiff(logits[0], want[i]), 1e-10) << i;
    }
  }
}

// SaveHf writes transformers' tensor names (biases, q/k norms, gate/up/down_proj; no lm_head.weight when
// tied) and the family's config.json; LoadHf reads them back bit for bit.
TEST(DenseModelTest, HfSaveLoadUsesTransformersNames) {
  for (const DenseCase& k : kDenseCases) {
    SCOPED_TRACE(k.name);
    const ModelConfig c = TinyDense(k.family, k.attention_bias, k.tied);
    auto m = MakeModel(c, at::kFloat, 3);
    Randomize(*m, 31);
    const std::string dir =
        (std::filesystem::temp_directory_path() / ("m1rl_dense_hf_" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir);
    ASSERT_THAT(m->SaveHf(dir), m1rl::testing::IsOk());
    M1RL_ASSERT_OK_AND_ASSIGN(auto files, ReadSafetensorsDir(dir));
    EXPECT_EQ(files.count("lm_head.weight"), k.tied ? 0u : 1u);
    EXPECT_EQ(files.count("model.layers.1.self_attn.q_proj.bias"), k.attention_bias ? 1u : 0u);
    EXPECT_EQ(files.count("model.layers.1.self_attn.o_proj.bias"),
              k.attention_bias && k.family != ModelFamily::kQwen2 ? 1u : 0u);
    EXPECT_EQ(files.count("model.layers.0.self_attn.k_norm.weight"),
              k.family == ModelFamily::kQwen3 ? 1u : 0u);
    EXPECT_EQ(files.at("model.layers.0.mlp.gate_proj.weight").sizes(), (std::vector<int64_t>{48, 32}));
    EXPECT_EQ(files.at("model.layers.0.mlp.down_proj.weight").sizes(), (std::vector<int64_t>{32, 48}));
    EXPECT_EQ(files.size(), m->NamedParameters().size());
    M1RL_ASSERT_OK_AND_ASSIGN(auto loaded, HybridModel::LoadHf(dir, at::kFloat, at::kCPU));
    EXPECT_EQ(loaded->config().family, k.family);
    EXPECT_EQ(loaded->config().tie_word_embeddings, k.tied);
    const auto a = m->NamedParameters();
    const auto b = loaded->NamedParameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << a[i].first;
    }
    std::filesystem::remove_all(dir);
  }
}

// A tied head is the embedding: one parameter, whose gradient sums the lookup's and the head's.
TEST(DenseModelTest, TiedHeadIsOneParameter) {
  const ModelConfig c = TinyDense(ModelFamily::kQwen2, true, true);
  auto m = MakeModel(c, at::kDouble, 3);
  Randomize(*m, 37);
  const auto params = m->NamedParameters();
  EXPECT_EQ(
      std::count_if(params.begin(), params.end(), [](const auto& p) { return p.first == "lm_head.weight"; }),
      0);
  EXPECT_EQ(m->NumParameters(), c.CountParameters().total);
  // The gradient of Σ log-probs w.r.t. one embedding row that never appears in the input is the head's
  // alone: Σ_t (1[y_t = r] − p_t(r)) · x_t, x_t the final hidden state.
  const std::vector<int32_t> tokens{3, 9, 4, 1, 7};
  const std::vector<int32_t> targets{9, 4, 1, 7, 3};
  const ForwardOutput out = m->Forward(ToTensor(tokens), ToTensor(targets), {0, 5}, {});
  out.logprobs.sum().backward();
  const at::Tensor hidden = m->Hidden(ToTensor(tokens), {0, 5}).detach();
  const at::Tensor embed = params.front().second;
  const at::Tensor probs = at::matmul(hidden, embed.detach().t()).softmax(-1);
  const int64_t row = 20;  // not an input token
  at::Tensor want = at::zeros({c.hidden_size}, at::kDouble);
  for (int64_t t = 0; t < 5; ++t) want += ((targets[t] == row ? 1.0 : 0.0) - probs[t][row]) * hidden[t];
  EXPECT_LT(MaxAbsDiff(embed.grad()[row], want), 1e-10);
}

// Mixed precision (fp32 masters, bf16 compute) and activation recomputation reach the dense layers too:
// recomputation is bit-identical, every master (biases and q/k norms included) gets a non-zero fp32
// gradient, and the bf16 forward tracks fp32 (log-probs of magnitude ~4 through two layers of bf16
// operands with these N(0, 0.3²) weights; measured max |Δ| 0.06, bound 0.2).
TEST(DenseModelTest, MixedPrecisionAndRecompute) {
  const ModelConfig c = TinyDense(ModelFamily::kQwen3, true, true);
  auto fp32 = MakeModel(c, at::kFloat, 3);
  Randomize(*fp32, 43);
  auto mixed = MakeMixed(c, 3);
  CopyParameters(*fp32, mixed.get());
  const auto toks = RandomTokens(40, 50, 12);
  const auto targets = RandomTokens(40, 50, 13);
  const std::vector<int64_t> cu{0, 15, 40};
  const GradRun want = RunForGrads(*fp32, false, toks, targets, cu);
  for (const HybridModel* m : {fp32.get(), mixed.get()}) {
    const GradRun plain = RunForGrads(*m, false, toks, targets, cu);
    const GradRun rec = RunForGrads(*m, true, toks, targets, cu);
    EXPECT_EQ(MaxAbsDiff(plain.logprobs, rec.logprobs), 0.0);
    const auto named = m->NamedParameters();
    for (size_t i = 0; i < named.size(); ++i) {
      EXPECT_EQ(MaxAbsDiff(plain.grads[i], rec.grads[i]), 0.0) << named[i].first;
      EXPECT_EQ(plain.grads[i].scalar_type(), at::kFloat) << named[i].first;
      EXPECT_GT(MaxAbs(plain.grads[i]), 0.0) << named[i].first;
    }
    std::printf("dense %s: max abs log-prob diff to fp32 %.3g\n", m == fp32.get() ? "fp32" : "mixed bf16",
                MaxAbsDiff(plain.logprobs, want.logprobs));
    EXPECT_LT(MaxAbsDiff(plain.logprobs, want.logprobs), m == fp32.get() ? 1e-12 : 0.2);
  }
}

// ---- the cast cache under grad mode (ModelPrecision) ----------------------------------------------------

// Two micro-batches of forward + backward accumulating into the masters' .grad, as the trainer runs them
// between optimizer steps. Returns every master's gradient (NamedParameters order).
std::vector<at::Tensor> TwoMicroBatchGrads(const HybridModel& m, bool recompute) {
  for (const at::Tensor& p : m.Parameters()) p.mutable_grad() = at::Tensor();
  const int64_t vocab = m.config().vocab_size;
  StepLoss(m, RandomTokens(50, vocab, 21), RandomTokens(50, vocab, 22), {0, 20, 50}, recompute);
  StepLoss(m, RandomTokens(37, vocab, 23), RandomTokens(37, vocab, 24), {0, 37}, recompute);
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : m.Parameters()) out.push_back(p.grad().clone());
  return out;
}

// Grad-mode forwards read the layers' bf16 copies made once per master version; the gradient reaching each
// fp32 master is bit for bit the one of a fresh cast in every forward (the cast's own backward), over two
// accumulating micro-batches, with and without recomputation, for the hybrid MoE model and a dense one
// (biases, q/k norms). The copies are made once: L casts for both micro-batches and the recomputed layers.
TEST(CastCacheTest, GradientsBitEqualToAFreshCastPerForward) {
  for (const ModelConfig& c : {SmallBlockTiny8(), TinyDense(ModelFamily::kQwen3, true, false)}) {
    for (bool recompute : {false, true}) {
      auto cached = MakeMixed(c, 7);
      auto fresh = MakeMixed(c, 7);
      fresh->set_reuse_casts_under_grad(false);
      const std::vector<at::Tensor> want = TwoMicroBatchGrads(*fresh, recompute);
      const std::vector<at::Tensor> got = TwoMicroBatchGrads(*cached, recompute);
      const auto named = cached->NamedParameters();
      ASSERT_EQ(got.size(), want.size());
      double largest = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].scalar_type(), at::kFloat) << named[i].first;
        EXPECT_TRUE(at::equal(got[i], want[i]))
            << named[i].first << " recompute " << recompute << ": max |diff| " << MaxAbsDiff(got[i], want[i]);
        largest = std::max(largest, MaxAbs(want[i]));
      }
      EXPECT_GT(largest, 0.0);
      EXPECT_EQ(cached->num_cached_casts(), c.num_hidden_layers) << "recompute " << recompute;
      // The uncached path still uses the cache where no-grad forwards run: recomputation's first pass.
      EXPECT_EQ(fresh->num_cached_casts(), recompute ? c.num_hidden_layers : 0);
    }
  }
}

// The copies follow the masters: not rebuilt for the second micro-batch, the recomputed layers or more
// forwards at the same version; rebuilt once after an optimizer-style in-place update and after a
// checkpoint-style copy_ into the masters (trainer/policy.cc), where the rebuilt copies are the new masters
// cast: the forward equals, bit for bit, that of a model casting afresh from the same masters. No-grad and
// grad-mode forwards share the one cache.
TEST(CastCacheTest, RebuiltOnlyWhenTheMastersChange) {
  const ModelConfig c = SmallBlockTiny8();
  const int64_t layers = c.num_hidden_layers;
  auto m = MakeMixed(c, 8);
  auto fresh = MakeMixed(c, 8);
  fresh->set_reuse_casts_under_grad(false);
  const auto toks = RandomTokens(60, 256, 25);
  const std::vector<int64_t> cu{0, 25, 60};
  auto hidden = [&](const HybridModel& model) { return model.Hidden(ToTensor(toks), cu).detach(); };
  EXPECT_EQ(m->num_cached_casts(), 0);
  TwoMicroBatchGrads(*m, true);
  EXPECT_EQ(m->num_cached_casts(), layers);
  const at::Tensor before = hidden(*m);
  EXPECT_TRUE(at::equal(before, hidden(*fresh)));
  EXPECT_EQ(m->num_cached_casts(), layers);

  SgdStep(*m, 0.5);  // in place, as AdamW
  CopyParameters(*m, fresh.get());
  const at::Tensor stepped = hidden(*m);
  EXPECT_EQ(m->num_cached_casts(), 2 * layers);
  EXPECT_TRUE(at::equal(stepped, hidden(*fresh)));
  EXPECT_GT(MaxAbsDiff(stepped, before), 1e-3);

  auto other = MakeMixed(c, 9);
  {
    at::NoGradGuard ng;
    const std::vector<at::Tensor> dst = m->Parameters();
    const std::vector<at::Tensor> src = other->Parameters();
    for (size_t i = 0; i < dst.size(); ++i) dst[i].detach().copy_(src[i]);  // as LoadPolicy does
    EXPECT_TRUE(at::equal(hidden(*m), hidden(*other)));                     // no-grad: the cache rebuilt
  }
  EXPECT_EQ(m->num_cached_casts(), 3 * layers);
  CopyParameters(*m, fresh.get());
  EXPECT_TRUE(at::equal(hidden(*m), hidden(*fresh)));  // grad mode reuses the no-grad forward's copies
  EXPECT_EQ(m->num_cached_casts(), 3 * layers);
}

}  // namespace
}  // namespace m1rl::model
