// The rollout engine on the real policy network (tiny8, fp32, CPU) against the training forward.
//
// Tolerances. Decode (recurrent lightning state, KV cache, B rows) and the training forward (block form,
// packed sequences, chunked head) round differently in fp32. Per layer the worst relative error of a
// length-K reduction is K·eps32; with L = 8 layers, the largest reduction K = 128 (D = N_h·d) and the
// DeepNorm α = 2 amplifying the residual, a logit differs by at most
//   tol_z = L·α·K·eps32·(1 + max|z|) = 8·2·128·1.19e-7·(1 + max|z|) = 2.44e-4·(1 + max|z|).
// log softmax(z/T)_i moves by at most |Δz_i|/T + max|Δz|/T, so log-probs agree within 2·tol_z/T.
#include "rollout/hybrid_decode_model.h"

#include <ATen/ops/from_blob.h>
#include <ATen/ops/matmul.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/config.h"
#include "model/hybrid_model.h"
#include "model/testing/dense_reference.h"
#include "rollout/engine.h"

namespace m1rl::rollout {
namespace {

constexpr double kEps32 = 1.1920928955078125e-7;

class HybridEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = model::ModelConfig::Preset("tiny8");
    ASSERT_THAT(config, m1rl::testing::IsOk());
    auto m = model::HybridModel::Create(*config, at::kFloat, at::Device(at::kCPU), 1234);
    ASSERT_THAT(m, m1rl::testing::IsOk());
    policy_ = std::move(*m);
    for (const auto& [name, t] : policy_->NamedParameters()) {
      if (name == "lm_head.weight") lm_head_ = t.detach().to(at::kDouble);
    }
    ASSERT_TRUE(lm_head_.defined());
  }

  // Training-path logits of every position of one sequence, [T, V] float64 from the fp32 hidden state.
  at::Tensor TrainLogits(const std::vector<int32_t>& ids) const {
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    const at::Tensor input =
        at::from_blob(ids64.data(), {static_cast<int64_t>(ids64.size())}, at::kLong).clone();
    const at::Tensor hidden = policy_->Hidden(input, {0, static_cast<int64_t>(ids64.size())});
    return at::matmul(hidden.detach().to(at::kDouble), lm_head_.t());
  }

  static double TolZ(const at::Tensor& logits) {
    const int64_t layers = 8, alpha = 2, k = 128;
    return layers * alpha * k * kEps32 * (1.0 + logits.abs().max().item<double>());
  }

  static std::vector<GenerationRequest> Requests(bool greedy) {
    std::vector<GenerationRequest> rs(2);
    rs[0].prompt_id = "a";
    rs[0].prompt_token_ids = {1, 17, 42, 99, 5, 250};
    rs[1].prompt_id = "b";
    rs[1].prompt_token_ids = {1, 3, 3, 3};
    for (size_t i = 0; i < rs.size(); ++i) {
      rs[i].max_new_tokens = 12;
      rs[i].n = greedy ? 1 : 3;
      rs[i].seed = 100 + i;
      rs[i].sampling.greedy = greedy;
      if (!greedy) {
        rs[i].sampling.temperature = 0.8;
        rs[i].sampling.top_k = 40;
      }
    }
    return rs;
  }

  std::vector<RequestOutput> Run(const std::vector<GenerationRequest>& rs, EngineOptions opts) {
    HybridDecodeModel decode(policy_.get());
    auto engine = Engine::Create(&decode, std::move(opts));
    EXPECT_THAT(engine, m1rl::testing::IsOk());
    auto out = (*engine)->Generate(rs);
    EXPECT_THAT(out, m1rl::testing::IsOk());
    for (const RequestOutput& o : *out) EXPECT_THAT(o.status, m1rl::testing::IsOk());
    return *out;
  }

  std::unique_ptr<model::HybridModel> policy_;
  at::Tensor lm_head_;  // [V, H] float64 copy
};

std::vector<int32_t> FullSequence(const rl::Completion& c) {
  std::vector<int32_t> ids(c.prompt_token_ids().begin(), c.prompt_token_ids().end());
  ids.insert(ids.end(), c.token_ids().begin(), c.token_ids().end());
  return ids;
}

TEST_F(HybridEngineTest, GreedyEqualsArgmaxOfTrainingForwardAtEveryStep) {
  const std::vector<RequestOutput> out = Run(Requests(/*greedy=*/true), {});
  int64_t exact = 0, checked = 0;
  for (const RequestOutput& o : out) {
    const rl::Completion& c = o.completions[0];
    ASSERT_EQ(c.token_ids_size(), 12);
    const std::vector<int32_t> ids = FullSequence(c);
    const at::Tensor z = TrainLogits(ids);  // [T, V]
    const double tol = TolZ(z);
    const int64_t prompt = c.prompt_token_ids_size();
    for (int64_t t = 0; t < c.token_ids_size(); ++t) {
      const at::Tensor row = z[prompt - 1 + t];
      const int32_t chosen = c.token_ids(t);
      const int64_t argmax = row.argmax().item<int64_t>();
      const double zmax = row[argmax].item<double>();
      // The decode argmax is an argmax of the training logits up to the logit tolerance...
      EXPECT_GE(row[chosen].item<double>(), zmax - 2 * tol) << "step " << t;
      // ...and exactly it whenever the training top-2 gap exceeds that slack.
      const at::Tensor top2 = std::get<0>(row.topk(2));
      if (top2[0].item<double>() - top2[1].item<double>() > 2 * tol) {
        EXPECT_EQ(chosen, argmax) << "step " << t;
        ++exact;
      }
      ++checked;
    }
  }
  // Random-init tiny8 logits have top-2 gaps of ~1e-2 >> 2·tol_z ~ 6e-4: most steps are decisive.
  EXPECT_GE(exact, checked / 2);
}

// The behaviour log-probs of sampled completions equal the training forward's.
void CheckSampledLogProbs(const model::HybridModel& policy, const at::Tensor& lm_head,
                          const std::vector<GenerationRequest>& rs, const std::vector<RequestOutput>& out);

TEST_F(HybridEngineTest, SampledLogProbsEqualTrainingForwardLogProbs) {
  const std::vector<GenerationRequest> rs = Requests(/*greedy=*/false);
  CheckSampledLogProbs(*policy_, lm_head_, rs, Run(rs, {}));
}

TEST_F(HybridEngineTest, SlotPathSampledLogProbsEqualTrainingForwardLogProbs) {
  const std::vector<GenerationRequest> rs = Requests(/*greedy=*/false);
  EngineOptions opts;
  opts.decode_path = DecodePath::kSlots;
  CheckSampledLogProbs(*policy_, lm_head_, rs, Run(rs, opts));
}

void CheckSampledLogProbs(const model::HybridModel& policy, const at::Tensor& lm_head,
                          const std::vector<GenerationRequest>& rs, const std::vector<RequestOutput>& out) {
  auto train_logits = [&](const std::vector<int32_t>& ids) {
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    const at::Tensor input =
        at::from_blob(ids64.data(), {static_cast<int64_t>(ids64.size())}, at::kLong).clone();
    return at::matmul(policy.Hidden(input, {0, static_cast<int64_t>(ids64.size())}).detach().to(at::kDouble),
                      lm_head.t());
  };
  // One packed training forward over all 6 completions: inputs = prompt + generated[:-1], targets =
  // the next token, temperature 0.8, same head precision (IEEE fp32).
  std::vector<int64_t> inputs, targets, cu{0};
  std::vector<float> recorded;
  std::vector<bool> is_generated;
  double max_abs_z = 0.0;
  for (const RequestOutput& o : out) {
    for (const rl::Completion& c : o.completions) {
      const std::vector<int32_t> ids = FullSequence(c);
      max_abs_z = std::max(max_abs_z, train_logits(ids).abs().max().item<double>());
      const int64_t prompt = c.prompt_token_ids_size();
      for (size_t i = 0; i + 1 < ids.size(); ++i) {
        inputs.push_back(ids[i]);
        targets.push_back(ids[i + 1]);
        const bool gen = static_cast<int64_t>(i) + 1 >= prompt;
        is_generated.push_back(gen);
        if (gen) recorded.push_back(c.logprobs(static_cast<int>(i + 1 - prompt)));
      }
      cu.push_back(static_cast<int64_t>(inputs.size()));
    }
  }
  const int64_t total = static_cast<int64_t>(inputs.size());
  model::ForwardOptions fo;
  fo.temperature = 0.8;
  const model::ForwardOutput fwd =
      policy.Forward(at::from_blob(inputs.data(), {total}, at::kLong).clone(),
                     at::from_blob(targets.data(), {total}, at::kLong).clone(), cu, fo);
  const at::Tensor lp = fwd.logprobs.detach().to(at::kDouble).contiguous();
  const double tol = 2 * (8 * 2 * 128 * kEps32 * (1.0 + max_abs_z)) / 0.8;
  size_t r = 0;
  double worst = 0.0;
  for (int64_t i = 0; i < total; ++i) {
    if (!is_generated[i]) continue;
    const double diff = std::abs(lp[i].item<double>() - recorded[r]);
    worst = std::max(worst, diff);
    EXPECT_LE(diff, tol) << "position " << i << " expected " << lp[i].item<double>() << " got "
                         << recorded[r];
    ++r;
  }
  EXPECT_EQ(r, 6u * 12u);
  EXPECT_EQ(rs.size(), 2u);
  ::testing::Test::RecordProperty("worst_logprob_diff", std::to_string(worst));
}

TEST_F(HybridEngineTest, ContinuousBatchingEqualsOneAtATime) {
  const std::vector<GenerationRequest> rs = Requests(/*greedy=*/false);
  EngineOptions batched;
  batched.max_batch_size = 64;
  EngineOptions single;
  single.max_batch_size = 1;
  EngineOptions chunked_tight;  // chunked prefill and a budget of one sequence at a time
  chunked_tight.prefill_chunk = 2;
  chunked_tight.memory_budget_bytes = 1;
  const std::vector<RequestOutput> a = Run(rs, batched);
  const std::vector<RequestOutput> b = Run(rs, single);
  const std::vector<RequestOutput> c = Run(rs, chunked_tight);
  for (size_t i = 0; i < rs.size(); ++i) {
    for (int s = 0; s < rs[i].n; ++s) {
      SCOPED_TRACE(::testing::Message() << "request " << i << " sample " << s);
      for (const std::vector<RequestOutput>* other : {&b, &c}) {
        const rl::Completion& x = a[i].completions[s];
        const rl::Completion& y = (*other)[i].completions[s];
        // Tokens are identical: per-sequence streams, and logit differences (ulps, from the batch
        // shape of the GEMMs) would have to straddle a sampling boundary to change a draw.
        ASSERT_EQ(std::vector<int32_t>(x.token_ids().begin(), x.token_ids().end()),
                  std::vector<int32_t>(y.token_ids().begin(), y.token_ids().end()));
        for (int t = 0; t < x.logprobs_size(); ++t) EXPECT_NEAR(x.logprobs(t), y.logprobs(t), 1e-4) << t;
      }
    }
  }
}

TEST_F(HybridEngineTest, StateBytesFollowMemoryFormula) {
  HybridDecodeModel decode(policy_.get());
  // tiny8: 7 lightning layers x N_h 4 x d 32 x d 32 x 4 bytes = 114688, constant; 1 softmax layer of
  // K and V with N_kv 2 x d 32 fp32 per token = 512 bytes per token.
  EXPECT_EQ(decode.StateBytesAt(0), 114688);
  EXPECT_EQ(decode.StateBytesAt(10), 114688 + 10 * 512);
  std::unique_ptr<DecodeState> s = decode.NewSequence();
  EXPECT_EQ(s->StateBytes(), 114688);
  const at::Tensor logits = decode.Prefill(s.get(), {1, 2, 3});
  EXPECT_EQ(logits.sizes(), at::IntArrayRef({256}));
  EXPECT_EQ(s->num_tokens(), 3);
  EXPECT_EQ(s->StateBytes(), decode.StateBytesAt(3));
  std::unique_ptr<DecodeState> copy = s->Copy();
  std::unique_ptr<DecodeState> other = decode.NewSequence();
  decode.Prefill(other.get(), {4});
  const at::Tensor step = decode.Step({s.get(), copy.get(), other.get()}, {7, 7, 8});
  EXPECT_EQ(step.sizes(), at::IntArrayRef({3, 256}));
  EXPECT_EQ(step.scalar_type(), at::kFloat);
  // The copy is independent and identical: same history, same logits (bitwise: same computation).
  EXPECT_TRUE(step[0].equal(step[1]));
  EXPECT_EQ(copy->StateBytes(), decode.StateBytesAt(4));
  EXPECT_EQ(other->StateBytes(), decode.StateBytesAt(2));
  EXPECT_EQ(decode.vocab_size(), 256);
  HybridDecodeModel limited(policy_.get(), {.max_context = 64});
  EXPECT_EQ(limited.max_context(), 64);
}

// ---- slot path (device-resident pools, fused sampler) on CPU ----

std::vector<int32_t> Tokens(const rl::Completion& c) {
  return std::vector<int32_t>(c.token_ids().begin(), c.token_ids().end());
}

TEST_F(HybridEngineTest, SlotPathGreedyEqualsPerSequencePath) {
  const std::vector<GenerationRequest> rs = Requests(/*greedy=*/true);
  EngineOptions slots;
  slots.decode_path = DecodePath::kSlots;
  const std::vector<RequestOutput> a = Run(rs, {});
  const std::vector<RequestOutput> b = Run(rs, slots);
  for (size_t i = 0; i < rs.size(); ++i) {
    const rl::Completion& x = a[i].completions[0];
    const rl::Completion& y = b[i].completions[0];
    // Same model function; the slot path's attention sums in another order (fp32 ulps), far below the
    // random-init top-2 gaps (~1e-2).
    EXPECT_EQ(Tokens(x), Tokens(y)) << i;
    for (int t = 0; t < x.logprobs_size(); ++t) EXPECT_NEAR(x.logprobs(t), y.logprobs(t), 1e-4) << t;
    EXPECT_EQ(y.stop_reason(), rl::STOP_LENGTH);
    EXPECT_EQ(a[i].state_bytes[0], b[i].state_bytes[0]);
  }
}

TEST_F(HybridEngineTest, SlotPathFinishingSequenceFreesItsSlotForAWaitingOne) {
  // Four requests, two slots: request 0 stops first (3 tokens) and request 2 takes its slot mid-batch, and so
  // on. Every sequence's tokens depend only on its own seed and history, so they equal a run with room for
  // all.
  std::vector<GenerationRequest> rs(4);
  const int32_t lengths[4] = {3, 9, 5, 4};
  for (int i = 0; i < 4; ++i) {
    rs[i].prompt_id = std::to_string(i);
    rs[i].prompt_token_ids = {1, 7 + i, 9, 200 - i};
    rs[i].max_new_tokens = lengths[i];
    rs[i].seed = 50 + i;
    rs[i].sampling.temperature = 0.9;
  }
  EngineOptions two;
  two.decode_path = DecodePath::kSlots;
  two.max_batch_size = 2;
  EngineOptions all = two;
  all.max_batch_size = 64;
  HybridDecodeModel decode(policy_.get());
  auto engine = Engine::Create(&decode, two);
  ASSERT_THAT(engine, m1rl::testing::IsOk());
  std::vector<std::string> finish_order;
  auto out = (*engine)->Generate(rs, [&](const rl::Completion& c) { finish_order.push_back(c.prompt_id()); });
  ASSERT_THAT(out, m1rl::testing::IsOk());
  const GenerationStats& st = (*engine)->last_stats();
  EXPECT_EQ(st.peak_batch_size, 2);
  EXPECT_EQ(st.completions, 4);
  EXPECT_EQ(st.generated_tokens, 3 + 9 + 5 + 4);
  EXPECT_EQ(st.decode_path, "slots");
  // The first token comes from the prefill, each further one from a decode step: request 0 ends at step 2 and
  // request 2 joins, ending at step 2 + 4 = 6 when request 3 joins (ends at 6 + 3 = 9); request 1 ends at 8.
  EXPECT_EQ(finish_order, std::vector<std::string>({"0", "2", "1", "3"}));
  const std::vector<RequestOutput> ref = Run(rs, all);
  for (int i = 0; i < 4; ++i) {
    const rl::Completion& c = (*out)[i].completions[0];
    EXPECT_EQ(c.token_ids_size(), lengths[i]);
    EXPECT_EQ(c.stop_reason(), rl::STOP_LENGTH);
    EXPECT_EQ(Tokens(c), Tokens(ref[i].completions[0])) << i;
  }
}

TEST_F(HybridEngineTest, SlotPathBatchingAndBudgetDoNotChangeSamples) {
  const std::vector<GenerationRequest> rs = Requests(/*greedy=*/false);  // n = 3: prefix slot + copies
  EngineOptions batched;
  batched.decode_path = DecodePath::kSlots;
  EngineOptions single = batched;
  single.max_batch_size = 1;
  EngineOptions tight = batched;
  tight.memory_budget_bytes = 1;
  const std::vector<RequestOutput> a = Run(rs, batched);
  for (const EngineOptions& o : {single, tight}) {
    const std::vector<RequestOutput> b = Run(rs, o);
    for (size_t i = 0; i < rs.size(); ++i) {
      for (int s = 0; s < rs[i].n; ++s) {
        EXPECT_EQ(Tokens(a[i].completions[s]), Tokens(b[i].completions[s])) << i << " " << s;
        EXPECT_EQ(a[i].completions[s].sample_index(), s);
      }
    }
  }
  // Samples of one prompt differ (distinct Philox streams).
  EXPECT_NE(Tokens(a[0].completions[0]), Tokens(a[0].completions[1]));
}

TEST_F(HybridEngineTest, SlotPathRepetitionCounterStopsAtN) {
  // threshold 0: every sampled token has p > 0 and extends the run, so each completion stops at exactly N.
  std::vector<GenerationRequest> rs = Requests(/*greedy=*/false);
  for (auto& r : rs) r.max_new_tokens = 50;
  EngineOptions opts;
  opts.decode_path = DecodePath::kSlots;
  opts.repetition_threshold = 0.0;
  opts.repetition_run_length = 5;
  const std::vector<RequestOutput> out = Run(rs, opts);
  for (const RequestOutput& o : out) {
    for (const rl::Completion& c : o.completions) {
      EXPECT_EQ(c.token_ids_size(), 5);
      EXPECT_EQ(c.stop_reason(), rl::STOP_REPETITION);
    }
  }
}

// A dense Qwen3-style policy (q/k norm, qkvo bias, tied head) generates greedily through the engine, on the
// per-sequence and the slot path: every generated token is the argmax of the float64 reference forward
// (model/testing/dense_reference.h) over the prompt and the tokens before it.
TEST(DenseEngineTest, GreedyTokensAreTheReferenceArgmax) {
  const model::ModelConfig c = model::testing::TinyDense(model::ModelFamily::kQwen3, true, true);
  auto m = model::HybridModel::Create(c, at::kFloat, at::Device(at::kCPU), 3);
  ASSERT_THAT(m, m1rl::testing::IsOk());
  model::testing::Randomize(**m, 41);
  const auto weights = model::testing::Named(**m);
  for (DecodePath path : {DecodePath::kPerSequence, DecodePath::kSlots}) {
    SCOPED_TRACE(path == DecodePath::kSlots ? "slots" : "per sequence");
    std::vector<GenerationRequest> rs(2);
    rs[0].prompt_token_ids = {1, 17, 42, 9, 5};
    rs[1].prompt_token_ids = {3, 3};
    for (size_t i = 0; i < rs.size(); ++i) {
      rs[i].prompt_id = std::to_string(i);
      rs[i].max_new_tokens = 6;
      rs[i].sampling.greedy = true;
    }
    HybridDecodeModel decode(m->get());
    EngineOptions opts;
    opts.decode_path = path;
    auto engine = Engine::Create(&decode, opts);
    ASSERT_THAT(engine, m1rl::testing::IsOk());
    auto out = (*engine)->Generate(rs);
    ASSERT_THAT(out, m1rl::testing::IsOk());
    int64_t decisive = 0;
    for (const RequestOutput& o : *out) {
      ASSERT_THAT(o.status, m1rl::testing::IsOk());
      const rl::Completion& comp = o.completions[0];
      ASSERT_EQ(comp.token_ids_size(), 6);
      const std::vector<int32_t> ids = FullSequence(comp);
      const at::Tensor z = model::testing::DenseReferenceLogits(
          c, weights, ids, model::testing::DefaultInverseFrequencies(c.rope_theta, c.head_dim));
      const int64_t prompt = comp.prompt_token_ids_size();
      for (int64_t t = 0; t < comp.token_ids_size(); ++t) {
        const at::Tensor row = z[prompt - 1 + t];
        const at::Tensor top2 = std::get<0>(row.topk(2));
        // fp32 decode against the float64 reference: logits agree to ~1e-5, far inside these gaps.
        if (top2[0].item<double>() - top2[1].item<double>() > 1e-4) ++decisive;
        EXPECT_EQ(comp.token_ids(t), row.argmax().item<int64_t>()) << "step " << t;
      }
    }
    EXPECT_GE(decisive, 10);
  }
}

}  // namespace
}  // namespace m1rl::rollout
