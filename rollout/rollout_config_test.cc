#include "rollout/rollout_config.h"

#include <sstream>
#include <string>

#include "common/logging.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::rollout {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

config::RolloutConfig Minimal() {
  config::RolloutConfig c;
  c.set_n_samples(4);
  c.set_max_new_tokens(128);
  return c;
}

TEST(RolloutConfigTest, ZeroMeansTheDocumentedDefault) {
  M1RL_ASSERT_OK_AND_ASSIGN(SamplingParams p, SamplingParamsFromConfig(Minimal()));
  EXPECT_EQ(p.temperature, 1.0);
  EXPECT_EQ(p.top_p, 1.0);
  EXPECT_EQ(p.top_k, 0);
  EXPECT_FALSE(p.greedy);
  M1RL_ASSERT_OK_AND_ASSIGN(EngineOptions o, EngineOptionsFromConfig(Minimal()));
  EXPECT_EQ(o.max_batch_size, 64);
  EXPECT_EQ(o.prefill_chunk, 2048);
  EXPECT_EQ(o.memory_budget_bytes, 0);
  EXPECT_TRUE(o.stop_strings.empty());
}

// RL compares the samples of a prompt: G >= 2 there, and every violation is listed.
TEST(RolloutConfigTest, RlNeedsTwoSamplesAndAllErrorsAreListed) {
  config::RolloutConfig c = Minimal();
  EXPECT_THAT(ValidateRolloutConfig(c, /*rl=*/true), ::m1rl::testing::IsOk());
  c.set_n_samples(1);
  c.set_top_k(-2);
  EXPECT_THAT(
      ValidateRolloutConfig(c, /*rl=*/true),
      StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr("rollout.n_samples must be >= 2 for RL"),
                                                         HasSubstr("; rollout.top_k must be >= 0, got -2"))));
  c.set_top_k(0);
  EXPECT_THAT(ValidateRolloutConfig(c, /*rl=*/false), ::m1rl::testing::IsOk());
}

TEST(RolloutConfigTest, NamedDefaultsAndBehaviourLogprob) {
  config::RolloutConfig c = Minimal();
  c.set_max_new_tokens(0);
  EXPECT_EQ(MaxNewTokens(c), kDefaultMaxNewTokens);
  EXPECT_EQ(Temperature(c), kDefaultTemperature);
  c.set_max_new_tokens(9);
  c.set_temperature(0.5);
  EXPECT_EQ(MaxNewTokens(c), 9);
  EXPECT_EQ(Temperature(c), 0.5);
  M1RL_ASSERT_OK_AND_ASSIGN(SamplingParams full, SamplingParamsFromConfig(c));
  EXPECT_EQ(full.behaviour_logprob, BehaviourLogprob::kFull);
  c.set_behaviour_logprob(config::RolloutConfig::BEHAVIOUR_LOGPROB_TRUNCATED);
  c.set_top_p(0.9);
  M1RL_ASSERT_OK_AND_ASSIGN(SamplingParams trunc, SamplingParamsFromConfig(c));
  EXPECT_EQ(trunc.behaviour_logprob, BehaviourLogprob::kTruncated);
}

// Issue 12 fix 4: top_p/top_k with behaviour_logprob full warns, once per process; truncated does not.
TEST(RolloutConfigTest, WarnsOnceWhenFullLogprobsMeetTruncatedSampling) {
  std::ostringstream log;
  SetLogSinkForTesting(&log);
  config::RolloutConfig c = Minimal();
  c.set_top_k(5);
  c.set_behaviour_logprob(config::RolloutConfig::BEHAVIOUR_LOGPROB_TRUNCATED);
  ASSERT_THAT(SamplingParamsFromConfig(c), ::m1rl::testing::IsOk());
  EXPECT_EQ(log.str(), "");
  c.set_behaviour_logprob(config::RolloutConfig::BEHAVIOUR_LOGPROB_FULL);
  ASSERT_THAT(SamplingParamsFromConfig(c), ::m1rl::testing::IsOk());
  ASSERT_THAT(SamplingParamsFromConfig(c), ::m1rl::testing::IsOk());
  SetLogSinkForTesting(nullptr);
  const std::string text = log.str();
  EXPECT_THAT(text, HasSubstr("rollout.behaviour_logprob is full"));
  EXPECT_EQ(text.find("rollout.behaviour_logprob is full"), text.rfind("rollout.behaviour_logprob is full"));
}

TEST(RolloutConfigTest, CopiesSetFields) {
  config::RolloutConfig c = Minimal();
  c.set_temperature(0.7);
  c.set_top_p(0.9);
  c.set_top_k(20);
  c.set_greedy(true);
  c.set_max_batch_size(8);
  c.set_memory_budget_bytes(1 << 20);
  c.set_prefill_chunk(512);
  c.add_stop_strings("</answer>");
  M1RL_ASSERT_OK_AND_ASSIGN(SamplingParams p, SamplingParamsFromConfig(c));
  EXPECT_EQ(p.temperature, 0.7);
  EXPECT_EQ(p.top_p, 0.9);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_TRUE(p.greedy);
  M1RL_ASSERT_OK_AND_ASSIGN(EngineOptions o, EngineOptionsFromConfig(c));
  EXPECT_EQ(o.max_batch_size, 8);
  EXPECT_EQ(o.memory_budget_bytes, 1 << 20);
  EXPECT_EQ(o.prefill_chunk, 512);
  EXPECT_THAT(o.stop_strings, ElementsAre("</answer>"));
  EXPECT_EQ(o.decode_path, DecodePath::kAuto);  // defaults: auto, graphs on
  EXPECT_TRUE(o.cuda_graphs);
}

TEST(RolloutConfigTest, DecodePathAndEagerDecodeReachTheEngine) {
  config::RolloutConfig c = Minimal();
  c.set_decode_path(config::RolloutConfig::DECODE_PATH_SLOTS);
  c.set_eager_decode(true);
  M1RL_ASSERT_OK_AND_ASSIGN(EngineOptions o, EngineOptionsFromConfig(c));
  EXPECT_EQ(o.decode_path, DecodePath::kSlots);
  EXPECT_FALSE(o.cuda_graphs);
  c.set_decode_path(config::RolloutConfig::DECODE_PATH_PER_SEQUENCE);
  M1RL_ASSERT_OK_AND_ASSIGN(o, EngineOptionsFromConfig(c));
  EXPECT_EQ(o.decode_path, DecodePath::kPerSequence);
}

TEST(RolloutConfigTest, OutOfRangeValuesNameTheField) {
  config::RolloutConfig c = Minimal();
  c.set_n_samples(-1);
  EXPECT_THAT(EngineOptionsFromConfig(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("rollout.n_samples must be >= 0, got -1")));
  c = Minimal();
  c.set_max_new_tokens(-5);
  EXPECT_THAT(
      SamplingParamsFromConfig(c),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.max_new_tokens must be >= 0, got -5")));
  c = Minimal();
  c.set_temperature(-1);
  EXPECT_THAT(SamplingParamsFromConfig(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("rollout.temperature must be >= 0, got -1")));
  c = Minimal();
  c.set_top_p(1.5);
  EXPECT_THAT(SamplingParamsFromConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.top_p")));
  c = Minimal();
  c.set_max_batch_size(-1);
  EXPECT_THAT(EngineOptionsFromConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.max_batch_size")));
  c = Minimal();
  c.set_memory_budget_bytes(-1);
  EXPECT_THAT(EngineOptionsFromConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.memory_budget_bytes")));
  c = Minimal();
  c.add_stop_strings("");
  EXPECT_THAT(EngineOptionsFromConfig(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("rollout.stop_strings[0] must not be empty")));
}

}  // namespace
}  // namespace m1rl::rollout
