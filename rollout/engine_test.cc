#include "rollout/engine.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rollout/testing/fake_decode_model.h"

namespace m1rl::rollout {
namespace {

using ::m1rl::rollout::testing::FakeDecodeModel;
using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Next token (last + 1) % V gets logit `a`, every other token 0: p = e^a / (e^a + V - 1).
FakeDecodeModel::LogitsFn Counter(int32_t vocab, float a) {
  return [vocab, a](const std::vector<int32_t>& h, float* z) {
    for (int32_t v = 0; v < vocab; ++v) z[v] = 0.0f;
    z[(h.back() + 1) % vocab] = a;
  };
}

// Pseudo-random logits in [-2, 2) from a hash of the whole history: a non-trivial distribution that
// differs at every position and for every prefix.
FakeDecodeModel::LogitsFn Hashed(int32_t vocab) {
  return [vocab](const std::vector<int32_t>& h, float* z) {
    uint64_t x = 1469598103934665603ULL;
    for (int32_t t : h) x = (x ^ static_cast<uint64_t>(t + 1)) * 1099511628211ULL;
    for (int32_t v = 0; v < vocab; ++v) {
      uint64_t y = (x ^ static_cast<uint64_t>(v) * 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
      y ^= y >> 31;
      z[v] = static_cast<float>(static_cast<double>(y >> 40) / static_cast<double>(1ULL << 24) * 4.0 - 2.0);
    }
  };
}

std::string Letters(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t t : ids) s.push_back(static_cast<char>('a' + t));
  return s;
}

GenerationRequest Request(std::string id, std::vector<int32_t> prompt, int32_t max_new, int32_t n = 1,
                          uint64_t seed = 0) {
  GenerationRequest r;
  r.prompt_id = std::move(id);
  r.prompt_token_ids = std::move(prompt);
  r.max_new_tokens = max_new;
  r.n = n;
  r.seed = seed;
  return r;
}

std::vector<int32_t> Tokens(const rl::Completion& c) { return {c.token_ids().begin(), c.token_ids().end()}; }
std::vector<float> LogProbs(const rl::Completion& c) { return {c.logprobs().begin(), c.logprobs().end()}; }

TEST(EngineTest, GreedyFollowsTheKnownArgmaxAndRecordsItsLogProb) {
  FakeDecodeModel model(8, 100, 0, 1, Counter(8, 5.0f));
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, {}));
  GenerationRequest r = Request("p", {1}, 5);
  r.sampling.greedy = true;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate({r}));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_THAT(out[0].status, IsOk());
  ASSERT_EQ(out[0].completions.size(), 1u);
  const rl::Completion& c = out[0].completions[0];
  EXPECT_THAT(Tokens(c), ElementsAre(2, 3, 4, 5, 6));
  EXPECT_EQ(c.stop_reason(), rl::STOP_LENGTH);
  EXPECT_EQ(c.prompt_id(), "p");
  EXPECT_EQ(c.group_id(), "p");
  EXPECT_THAT(std::vector<int32_t>(c.prompt_token_ids().begin(), c.prompt_token_ids().end()), ElementsAre(1));
  // log p = 5 - log(e^5 + 7) in float64; the float result is one rounding away (|lp| = 0.0067, so
  // < 1e-9), 1e-7 leaves room for exp/log ulps.
  const double expected = 5.0 - std::log(std::exp(5.0) + 7.0);
  ASSERT_EQ(c.logprobs_size(), 5);
  for (float lp : LogProbs(c)) EXPECT_NEAR(lp, expected, 1e-7);
  // Final state holds the prompt and every generated token but the last (never fed): 1 + 4 tokens.
  EXPECT_THAT(out[0].state_bytes, ElementsAre(5));
  EXPECT_EQ(engine->last_stats().generated_tokens, 5);
  EXPECT_EQ(engine->last_stats().decode_steps, 4);
  EXPECT_EQ(engine->last_stats().stop_counts[rl::STOP_LENGTH], 1);
}

TEST(EngineTest, EosStopsAndIsKeptInTokensButNotInText) {
  FakeDecodeModel model(8, 100, 0, 1, Counter(8, 5.0f));
  EngineOptions opts;
  opts.eos_token_ids = {4};
  opts.detokenize = Letters;
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, opts));
  GenerationRequest r = Request("p", {1}, 50);
  r.sampling.greedy = true;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate({r}));
  const rl::Completion& c = out[0].completions[0];
  EXPECT_THAT(Tokens(c), ElementsAre(2, 3, 4));
  EXPECT_EQ(c.stop_reason(), rl::STOP_EOS);
  EXPECT_EQ(c.text(), "cd");
}

TEST(EngineTest, StopStringStopsWhenItAppears) {
  FakeDecodeModel model(8, 100, 0, 1, Counter(8, 5.0f));
  EngineOptions opts;
  opts.stop_strings = {"de", "zz"};
  opts.detokenize = Letters;
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, opts));
  GenerationRequest r = Request("p", {1}, 50);
  r.sampling.greedy = true;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate({r}));
  const rl::Completion& c = out[0].completions[0];
  // c d e: "de" is complete after the third token.
  EXPECT_THAT(Tokens(c), ElementsAre(2, 3, 4));
  EXPECT_EQ(c.stop_reason(), rl::STOP_STRING);
  EXPECT_EQ(c.text(), "cde");
}

TEST(EngineTest, ContextLimitStopsGeneration) {
  FakeDecodeModel model(8, 6, 0, 1, Counter(8, 5.0f));
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, {}));
  GenerationRequest r = Request("p", {1, 2, 3, 4}, 10);
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate({r}));
  ASSERT_THAT(out[0].status, IsOk());
  // 4 prompt tokens + 2 generated fill the 6-token context.
  EXPECT_EQ(out[0].completions[0].token_ids_size(), 2);
  EXPECT_EQ(out[0].completions[0].stop_reason(), rl::STOP_CONTEXT);
}

// Greedy with a known p per generated position: p = 0.995 > 0.99 at "high" positions, 0.9 elsewhere.
FakeDecodeModel::LogitsFn RunPattern(int32_t vocab, size_t prompt_len, std::set<int64_t> low_positions) {
  const float high = static_cast<float>(std::log(0.995 / 0.005 * (vocab - 1)));
  const float low = static_cast<float>(std::log(0.9 / 0.1 * (vocab - 1)));
  return [=](const std::vector<int32_t>& h, float* z) {
    const int64_t next = static_cast<int64_t>(h.size() - prompt_len);  // index of the token to sample
    for (int32_t v = 0; v < vocab; ++v) z[v] = 0.0f;
    z[(h.back() + 1) % vocab] = low_positions.count(next) ? low : high;
  };
}

TEST(EngineTest, RepetitionTruncationFiresAtExactlyTheRunLength) {
  constexpr int64_t kRun = 5;
  // Positions 0, 1 low; 2..5 high (a run of N - 1 = 4); 6 low (break); 7.. high: the run reaches 5 at
  // position 11, so the completion has exactly 12 tokens, the 12th kept.
  FakeDecodeModel model(4, 1000, 0, 1, RunPattern(4, 1, {0, 1, 6}));
  EngineOptions opts;
  opts.repetition_run_length = kRun;
  opts.repetition_threshold = 0.99;
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, opts));
  GenerationRequest r = Request("p", {0}, 100);
  r.sampling.greedy = true;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate({r}));
  const rl::Completion& c = out[0].completions[0];
  EXPECT_EQ(c.stop_reason(), rl::STOP_REPETITION);
  ASSERT_EQ(c.token_ids_size(), 12);
  EXPECT_NEAR(c.logprobs(11), std::log(0.995), 1e-6);
  EXPECT_NEAR(c.logprobs(6), std::log(0.9), 1e-6);

  // One position later in the pattern (break at 7 instead of 6) moves the stop by one: the run of
  // positions 2..6 is 5 long, so it stops after 7 tokens - not at 6.
  FakeDecodeModel model2(4, 1000, 0, 1, RunPattern(4, 1, {0, 1, 7}));
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine2, Engine::Create(&model2, opts));
  M1RL_ASSERT_OK_AND_ASSIGN(auto out2, engine2->Generate({r}));
  EXPECT_EQ(out2[0].completions[0].stop_reason(), rl::STOP_REPETITION);
  EXPECT_EQ(out2[0].completions[0].token_ids_size(), 7);

  // A budget that ends inside the run (11 tokens, run at 4) stops on LENGTH, not REPETITION.
  r.max_new_tokens = 11;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out3, engine->Generate({r}));
  EXPECT_EQ(out3[0].completions[0].stop_reason(), rl::STOP_LENGTH);
  EXPECT_EQ(out3[0].completions[0].token_ids_size(), 11);

  // With truncation off the same request runs to its budget.
  FakeDecodeModel model3(4, 1000, 0, 1, RunPattern(4, 1, {0, 1, 6}));
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine3, Engine::Create(&model3, {}));
  r.max_new_tokens = 30;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out4, engine3->Generate({r}));
  EXPECT_EQ(out4[0].completions[0].stop_reason(), rl::STOP_LENGTH);
  EXPECT_EQ(out4[0].completions[0].token_ids_size(), 30);
}

std::vector<GenerationRequest> MixedRequests() {
  std::vector<GenerationRequest> rs;
  rs.push_back(Request("a", {1, 2, 3}, 12, 3, 11));
  rs.push_back(Request("b", {4}, 7, 2, 22));
  rs.push_back(Request("c", {5, 6, 7, 8, 9}, 15, 3, 33));
  rs[1].sampling.top_k = 5;
  rs[2].sampling.top_p = 0.8;
  rs[2].sampling.temperature = 0.7;
  return rs;
}

TEST(EngineTest, SameSeedSameOutputRegardlessOfBatchComposition) {
  const std::vector<GenerationRequest> rs = MixedRequests();
  EngineOptions opts;
  opts.eos_token_ids = {0};
  auto run = [&](int32_t max_batch, const std::vector<GenerationRequest>& batch) {
    FakeDecodeModel model(16, 100, 0, 1, Hashed(16));
    EngineOptions o = opts;
    o.max_batch_size = max_batch;
    auto engine = Engine::Create(&model, o);
    EXPECT_THAT(engine, IsOk());
    auto out = (*engine)->Generate(batch);
    EXPECT_THAT(out, IsOk());
    return *out;
  };
  const std::vector<RequestOutput> together = run(64, rs);
  const std::vector<RequestOutput> one_at_a_time = run(1, rs);
  const std::vector<RequestOutput> pairs = run(2, {rs[2], rs[0], rs[1]});
  for (size_t i = 0; i < rs.size(); ++i) {
    const std::vector<RequestOutput> alone = run(4, {rs[i]});
    const size_t j = (i + 1) % 3;  // position of rs[i] in the reordered batch
    for (int32_t s = 0; s < rs[i].n; ++s) {
      SCOPED_TRACE(::testing::Message() << "request " << i << " sample " << s);
      const rl::Completion& ref = together[i].completions[s];
      EXPECT_GT(ref.token_ids_size(), 0);
      for (const rl::Completion* other :
           {&one_at_a_time[i].completions[s], &pairs[j].completions[s], &alone[0].completions[s]}) {
        EXPECT_EQ(Tokens(*other), Tokens(ref));
        EXPECT_EQ(LogProbs(*other), LogProbs(ref));
        EXPECT_EQ(other->stop_reason(), ref.stop_reason());
        EXPECT_EQ(other->sample_index(), s);
      }
    }
  }
  // Samples differ from each other (distinct streams) and with the seed. EOS (p ~ 1/16 per token) makes
  // some completions short, so whole groups are compared.
  std::set<std::vector<int32_t>> distinct;
  for (const RequestOutput& o : together) {
    for (const rl::Completion& c : o.completions) distinct.insert(Tokens(c));
  }
  EXPECT_GE(distinct.size(), 6u);
  std::vector<GenerationRequest> reseeded = {rs[0]};
  reseeded[0].seed = 12;
  const std::vector<RequestOutput> other_seed = run(64, reseeded);
  std::vector<std::vector<int32_t>> a, b;
  for (int s = 0; s < rs[0].n; ++s) {
    a.push_back(Tokens(together[0].completions[s]));
    b.push_back(Tokens(other_seed[0].completions[s]));
  }
  EXPECT_NE(a, b);
}

TEST(EngineTest, SamplesOfOnePromptShareOneChunkedPrefill) {
  FakeDecodeModel model(16, 100, 0, 1, Hashed(16));
  EngineOptions opts;
  opts.prefill_chunk = 4;
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, opts));
  GenerationRequest r = Request("p", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 3, 4, 5);
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate({r}));
  ASSERT_EQ(out[0].completions.size(), 4u);
  EXPECT_EQ(model.prefill_calls(), 3);    // 4 + 4 + 2
  EXPECT_EQ(model.prefill_tokens(), 10);  // once, not 4 times
  EXPECT_EQ(model.copies(), 3);           // the last sample takes the prefilled state over
  EXPECT_EQ(engine->last_stats().prompt_tokens_prefilled, 10);
  EXPECT_EQ(model.live_states(), 0);  // every state released
  // Chunking does not change the result: the same request prefilled in one call.
  FakeDecodeModel model1(16, 100, 0, 1, Hashed(16));
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine1, Engine::Create(&model1, {}));
  M1RL_ASSERT_OK_AND_ASSIGN(auto out1, engine1->Generate({r}));
  EXPECT_EQ(model1.prefill_calls(), 1);
  for (int s = 0; s < 4; ++s) EXPECT_EQ(Tokens(out1[0].completions[s]), Tokens(out[0].completions[s]));
}

TEST(EngineTest, ContinuousBatchingRefillsFreedSlotsAndStreamsCompletions) {
  FakeDecodeModel model(16, 100, 0, 1, [](const std::vector<int32_t>&, float* z) {
    for (int v = 0; v < 16; ++v) z[v] = 0.0f;
  });
  EngineOptions opts;
  opts.max_batch_size = 2;
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, opts));
  std::vector<std::string> finished;
  M1RL_ASSERT_OK_AND_ASSIGN(
      auto out, engine->Generate({Request("A", {1}, 3), Request("B", {1}, 10), Request("C", {1}, 4)},
                                 [&](const rl::Completion& c) { finished.push_back(c.prompt_id()); }));
  // Hand schedule: A and B join (first tokens from their prefills); step 2 finishes A (3 tokens) and C
  // joins; C finishes at step 5 (4 tokens); B runs alone to its 10th token at step 9.
  EXPECT_THAT(model.step_batch_sizes(), ElementsAre(2, 2, 2, 2, 2, 1, 1, 1, 1));
  EXPECT_THAT(finished, ElementsAre("A", "C", "B"));
  EXPECT_EQ(out[0].completions[0].token_ids_size(), 3);
  EXPECT_EQ(out[1].completions[0].token_ids_size(), 10);
  EXPECT_EQ(out[2].completions[0].token_ids_size(), 4);
  EXPECT_EQ(engine->last_stats().peak_batch_size, 2);
  EXPECT_EQ(engine->last_stats().completions, 3);
}

TEST(EngineTest, TinyMemoryBudgetStillCompletesEveryRequest) {
  // Each sequence reserves 1000 + 10 * (prompt + max_new) bytes; the budget is below one sequence.
  auto make = [] { return FakeDecodeModel(16, 100, 1000, 10, Hashed(16)); };
  std::vector<GenerationRequest> rs = MixedRequests();
  FakeDecodeModel unlimited_model = make();
  M1RL_ASSERT_OK_AND_ASSIGN(auto unlimited, Engine::Create(&unlimited_model, {}));
  M1RL_ASSERT_OK_AND_ASSIGN(auto ref, unlimited->Generate(rs));

  FakeDecodeModel tiny_model = make();
  EngineOptions tiny;
  tiny.memory_budget_bytes = 500;
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&tiny_model, tiny));
  int done = 0;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate(rs, [&](const rl::Completion&) { ++done; }));
  EXPECT_EQ(done, 3 + 2 + 3);
  EXPECT_EQ(engine->last_stats().completions, 8);
  EXPECT_EQ(engine->last_stats().peak_batch_size, 1);
  for (size_t i = 0; i < rs.size(); ++i) {
    ASSERT_THAT(out[i].status, IsOk());
    ASSERT_EQ(out[i].completions.size(), static_cast<size_t>(rs[i].n));
    for (int s = 0; s < rs[i].n; ++s) EXPECT_EQ(Tokens(out[i].completions[s]), Tokens(ref[i].completions[s]));
  }
  EXPECT_EQ(tiny_model.live_states(), 0);
}

TEST(EngineTest, MemoryBudgetBoundsConcurrentSequences) {
  // n = 1, prompt 2, max_new 8: each reserves 1000 + 10 * 10 = 1100; a 2200 budget admits two.
  FakeDecodeModel model(16, 100, 1000, 10, Hashed(16));
  EngineOptions opts;
  opts.memory_budget_bytes = 2200;
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, opts));
  std::vector<GenerationRequest> rs;
  for (int i = 0; i < 5; ++i) rs.push_back(Request(std::to_string(i), {1, 2}, 8, 1, i));
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate(rs));
  const GenerationStats& st = engine->last_stats();
  EXPECT_EQ(st.peak_batch_size, 2);
  EXPECT_LE(st.peak_reserved_bytes, 2200);
  EXPECT_GT(st.admission_waits, 0);
  EXPECT_LE(model.peak_live_bytes(), 2200);
  EXPECT_EQ(st.completions, 5);
  for (const RequestOutput& o : out) EXPECT_EQ(o.completions[0].token_ids_size(), 8);
}

TEST(EngineTest, BadRequestsFailPerItemOthersComplete) {
  FakeDecodeModel model(8, 10, 0, 1, Counter(8, 5.0f));
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, {}));
  std::vector<GenerationRequest> rs;
  rs.push_back(Request("ok0", {1}, 3));
  rs.push_back(Request("empty", {}, 3));
  rs.push_back(Request("long", {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 3));
  rs.push_back(Request("vocab", {1, 8}, 3));
  rs.push_back(Request("negative", {-1}, 3));
  rs.push_back(Request("n0", {1}, 3, 0));
  rs.push_back(Request("budget0", {1}, 0));
  rs.push_back(Request("temp", {1}, 3));
  rs.back().sampling.temperature = 0.0;
  rs.push_back(Request("ok1", {2}, 3, 2));
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, engine->Generate(rs));
  ASSERT_EQ(out.size(), rs.size());
  EXPECT_THAT(out[0].status, IsOk());
  EXPECT_THAT(out[1].status, StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("requests[1].prompt_token_ids is empty")));
  EXPECT_THAT(out[2].status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requests[2].prompt_token_ids has 10 tokens; the context holds 10")));
  EXPECT_THAT(out[3].status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("requests[3].prompt_token_ids[1] = 8 is outside the vocabulary [0, 8)")));
  EXPECT_THAT(out[4].status, StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("requests[4].prompt_token_ids[0] = -1 is outside")));
  EXPECT_THAT(out[5].status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("requests[5].n must be >= 1, got 0")));
  EXPECT_THAT(out[6].status, StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("requests[6].max_new_tokens must be >= 1, got 0")));
  EXPECT_THAT(out[7].status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("requests[7].sampling.temperature")));
  for (size_t i = 1; i <= 7; ++i) EXPECT_TRUE(out[i].completions.empty()) << i;
  EXPECT_THAT(out[8].status, IsOk());
  EXPECT_EQ(out[0].completions.size(), 1u);
  EXPECT_EQ(out[8].completions.size(), 2u);
  EXPECT_EQ(engine->last_stats().completions, 3);
}

TEST(EngineTest, NonFiniteLogitsFailTheCallNamingTheSequence) {
  FakeDecodeModel model(4, 100, 0, 1, [](const std::vector<int32_t>& h, float* z) {
    for (int v = 0; v < 4; ++v) z[v] = h.size() >= 3 ? std::nanf("") : 0.0f;
  });
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, {}));
  EXPECT_THAT(
      engine->Generate({Request("p", {1, 2}, 5)}),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("requests[0] sample 0 token 1: logit 0 is nan")));
}

TEST(EngineTest, ModelExceptionsBecomeInternalErrors) {
  FakeDecodeModel model(4, 100, 0, 1, [](const std::vector<int32_t>& h, float* z) {
    TORCH_CHECK(h.size() < 3, "expected a short history, got ", h.size());
    for (int v = 0; v < 4; ++v) z[v] = 0.0f;
  });
  M1RL_ASSERT_OK_AND_ASSIGN(auto engine, Engine::Create(&model, {}));
  EXPECT_THAT(
      engine->Generate({Request("p", {1, 2}, 5)}),
      StatusIs(
          absl::StatusCode::kInternal,
          HasSubstr("model failed at decode step 0 (prefill calls 1): expected a short history, got 3")));
}

TEST(EngineTest, CreateRejectsBadOptionsNamingThem) {
  FakeDecodeModel model(8, 100, 0, 1, Counter(8, 1.0f));
  EngineOptions o;
  o.max_batch_size = 0;
  EXPECT_THAT(Engine::Create(&model, o), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("rollout.max_batch_size must be >= 1, got 0")));
  o = {};
  o.prefill_chunk = 0;
  EXPECT_THAT(Engine::Create(&model, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.prefill_chunk")));
  o = {};
  o.eos_token_ids = {8};
  EXPECT_THAT(Engine::Create(&model, o), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("rollout.eos_token_ids[0] = 8 is outside")));
  o = {};
  o.stop_strings = {"x"};
  EXPECT_THAT(Engine::Create(&model, o), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  HasSubstr("rollout.stop_strings need a detokenizer")));
  o.detokenize = Letters;
  o.stop_strings = {""};
  EXPECT_THAT(Engine::Create(&model, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.stop_strings[0] is empty")));
  o = {};
  o.repetition_threshold = 1.0;
  EXPECT_THAT(Engine::Create(&model, o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("rollout.repetition_threshold must be in [0, 1)")));
  o = {};
  o.memory_budget_bytes = -1;
  EXPECT_THAT(Engine::Create(&model, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.memory_budget_bytes")));
}

}  // namespace
}  // namespace m1rl::rollout
