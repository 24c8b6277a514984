// Tests for trainer/trainer_config.h: ValidateRunConfig (every module's validation composed, each
// violation named by path), the cross-section rules and the named defaults.
#include "trainer/trainer_config.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "common/config.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// A config that passes ValidateRunConfig; tests break one field at a time.
constexpr char kValidYaml[] = R"(
name: unit
model:
  preset: tiny8
  tokenizer: char
  lm_head_precision: ieee_fp32
rollout:
  n_samples: 8
  temperature: 1.0
  top_p: 1.0
  max_new_tokens: 64
reward:
  mode: in_process
algorithm:
  preset: cispo
  is_weight:
    enabled: true
    eps_high: 4.0
trainer:
  mode: rl
  steps: 10
  prompts_per_step: 4
  minibatches_per_step: 2
  optim:
    lr: 1e-6
    betas: [0.9, 0.95]
    eps: 1e-15
)";

config::RunConfig Valid() {
  absl::StatusOr<config::RunConfig> c = ParseConfigYaml(kValidYaml);
  EXPECT_THAT(c, IsOk());
  return c.ok() ? *c : config::RunConfig();
}

TEST(ValidateRunConfigTest, ValidConfigPasses) { EXPECT_THAT(ValidateRunConfig(Valid()), IsOk()); }

// Applies `override` to the valid config and expects validation to fail with `message`.
void ExpectInvalid(const std::string& override, const std::string& message) {
  config::RunConfig c = Valid();
  ASSERT_THAT(ApplyOverride(&c, override), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), StatusIs(kInvalid, HasSubstr(message))) << override;
}

TEST(ValidateRunConfigTest, RangeErrorsNameThePath) {
  ExpectInvalid("trainer.optim.betas=[0.9, 1.5]", "trainer.optim.betas[1] must be in [0, 1), got 1.5");
  ExpectInvalid("trainer.optim.betas=[-0.1, 0.9]", "trainer.optim.betas[0] must be in [0, 1), got -0.1");
  ExpectInvalid("trainer.optim.betas=[0.9]", "trainer.optim.betas must have 2 entries, got 1");
  ExpectInvalid("trainer.optim.lr=-1", "trainer.optim.lr must be > 0, got -1");
  ExpectInvalid("trainer.optim.lr=0", "trainer.optim.lr must be > 0, got 0");
  ExpectInvalid("trainer.optim.lr=.nan", "trainer.optim.lr must be > 0, got nan");
  ExpectInvalid("trainer.optim.decay_fraction=1.5",
                "trainer.optim.decay_fraction must be in (0, 1], got 1.5");
  ExpectInvalid("trainer.optim.eps=-1", "trainer.optim.eps must be > 0");
  ExpectInvalid("rollout.temperature=-1", "rollout.temperature must be >= 0, got -1");
  ExpectInvalid("rollout.top_p=1.01", "rollout.top_p must be in [0, 1], got 1.01");
  ExpectInvalid("trainer.mode=unspecified", "trainer.mode must be set: rl or sft");
  ExpectInvalid("algorithm.is_weight.eps_high=-4", "algorithm.is_weight.eps_high must be > 0, got -4");
  ExpectInvalid(
      "algorithm.is_weight.max_ratio=5",
      "algorithm.is_weight.eps_high (4) and algorithm.is_weight.max_ratio (5) are mutually exclusive");
  ExpectInvalid("algorithm.overlong={enabled: true, max_len: 60, cache_len: 200}",
                "algorithm.overlong.max_len (60) must be >= algorithm.overlong.cache_len (200)");
  ExpectInvalid("algorithm.repetition={enabled: true, threshold: 1.0, run_length: 3000}",
                "algorithm.repetition.threshold must be in (0, 1), got 1");
  ExpectInvalid("model={preset: '', num_hidden_layers: 2, hidden_size: 8}",
                "model.vocab_size must be >= 1, got 0");
  ExpectInvalid("model.preset=tiny9", "model.preset: unknown");
  ExpectInvalid("model.device=cuda:x", "model.device must be one of cpu, cuda, cuda:N, auto, got \"cuda:x\"");
  // Without init_from the resolved network is checked too (ModelConfig::FromProto).
  ExpectInvalid("model.num_attention_heads=6", "model.num_attention_heads must be a power of two");
  ExpectInvalid("reward.mode=grpc", "reward.address must be host:port when reward.mode is \"grpc\"");
  ExpectInvalid("reward.mode=unspecified", "reward.mode must be set: grpc or in_process");
  ExpectInvalid("algorithm.preset=", "algorithm.preset must be set when trainer.mode is rl");
  ExpectInvalid("trainer.max_unscored_fraction=1.5",
                "trainer.max_unscored_fraction must be in [0, 1], got 1.5");
}

// One rule per field, in one place: RL needs G >= 2 (group advantages); `m1rl config` used to accept 1
// while the trainer refused it.
TEST(ValidateRunConfigTest, RlNeedsTwoSamplesPerPrompt) {
  ExpectInvalid("rollout.n_samples=1", "rollout.n_samples must be >= 2 for RL");
  config::RunConfig sft = Valid();
  ASSERT_THAT(ApplyOverride(&sft, "trainer={mode: sft, sft_batch_size: 4}"), IsOk());
  ASSERT_THAT(ApplyOverride(&sft, "rollout.n_samples=0"), IsOk());
  EXPECT_THAT(ValidateRunConfig(sft), IsOk());
}

// model.dtype bfloat16 validates (configs/minimax_m1.yaml); the trainer alone decides whether it can
// train it (Trainer::Create).
TEST(ValidateRunConfigTest, Bfloat16WeightsValidate) {
  config::RunConfig c = Valid();
  ASSERT_THAT(ApplyOverride(&c, "model.dtype=bfloat16"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), IsOk());
}

// Fix 3 of issue 12: RL with the bf16 LM head is refused unless model.allow_bf16_head.
TEST(ValidateRunConfigTest, RlWithBf16HeadNeedsAllowBf16Head) {
  config::RunConfig c = Valid();
  ASSERT_THAT(ApplyOverride(&c, "model.lm_head_precision=bf16"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), StatusIs(kInvalid, AllOf(HasSubstr("model.lm_head_precision bf16"),
                                                             HasSubstr("model.allow_bf16_head"))));
  ASSERT_THAT(ApplyOverride(&c, "model.allow_bf16_head=true"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), IsOk());
  // SFT with the bf16 head is a measurement choice, not an RL mismatch.
  ASSERT_THAT(ApplyOverride(&c, "model.allow_bf16_head=false"), IsOk());
  ASSERT_THAT(ApplyOverride(&c, "trainer={mode: sft, sft_batch_size: 4}"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), IsOk());
  // The other reduced heads keep fp32 logits: allowed.
  ASSERT_THAT(ApplyOverride(&c, "trainer.mode=rl"), IsOk());
  ASSERT_THAT(ApplyOverride(&c, "model.lm_head_precision=bf16_fp32_out"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), IsOk());
}

// Fix 2 of issue 12 through the run config: L_max follows rollout.max_new_tokens; above it is an error
// naming both fields.
TEST(ValidateRunConfigTest, OverlongMaxLenAboveTheBudgetNamesBothFields) {
  ExpectInvalid("algorithm.overlong.max_len=20480",
                "algorithm.overlong.max_len (20480) must be <= rollout.max_new_tokens (64)");
  config::RunConfig c = Valid();
  ASSERT_THAT(ApplyOverride(&c, "rollout.max_new_tokens=0"), IsOk());  // the default budget, 256
  ASSERT_THAT(ApplyOverride(&c, "algorithm.overlong.max_len=300"), IsOk());
  EXPECT_THAT(
      ValidateRunConfig(c),
      StatusIs(kInvalid,
               HasSubstr("algorithm.overlong.max_len (300) must be <= rollout.max_new_tokens (256)")));
}

// algorithm.* fields are optional: unset means "the preset's value".
TEST(ValidateRunConfigTest, UnsetAlgorithmFieldsAreThePresets) {
  config::RunConfig c = Valid();
  ASSERT_THAT(ApplyOverride(&c, "algorithm.repetition={enabled: true}"), IsOk());
  ASSERT_THAT(ApplyOverride(&c, "algorithm.overlong={enabled: true, cache_len: 16}"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), IsOk());
  // A value written as 0 is checked, not taken for "unset".
  ASSERT_THAT(ApplyOverride(&c, "algorithm.repetition.run_length=0"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c),
              StatusIs(kInvalid, HasSubstr("algorithm.repetition.run_length must be >= 1, got 0")));
}

TEST(ValidateRunConfigTest, ReportsEveryViolation) {
  config::RunConfig c = Valid();
  ASSERT_THAT(ApplyOverride(&c, "trainer.optim.lr=-1"), IsOk());
  ASSERT_THAT(ApplyOverride(&c, "rollout.top_p=2"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c),
              StatusIs(kInvalid, AllOf(HasSubstr("rollout.top_p must be in [0, 1], got 2; "),
                                       HasSubstr("trainer.optim.lr must be > 0, got -1"))));
  ASSERT_THAT(ApplyOverride(&c, "model.device=cuda:3"), IsOk());
  EXPECT_THAT(ValidateRunConfig(c), StatusIs(kInvalid, Not(HasSubstr("model.device"))));
}

TEST(TrainerConfigTest, NamedDefaults) {
  config::RunConfig c = Valid();
  EXPECT_EQ(MaxUnscoredFraction(c.trainer()), kDefaultMaxUnscoredFraction);
  EXPECT_EQ(DistTimeoutSeconds(c.trainer()), kDefaultDistTimeoutS);
  EXPECT_EQ(EvalPrompts(c.trainer()), kDefaultEvalPrompts);
  EXPECT_EQ(EvalMaxNewTokens(c), 64);  // rollout.max_new_tokens
  EXPECT_EQ(BackendName(c), "gloo");
  c.mutable_model()->set_device("cuda:1");
  EXPECT_EQ(BackendName(c), "nccl");
  c.mutable_trainer()->set_backend(config::TrainerConfig::BACKEND_GLOO);
  EXPECT_EQ(BackendName(c), "gloo");
  c.mutable_trainer()->set_max_unscored_fraction(0.25);
  c.mutable_trainer()->set_eval_max_new_tokens(7);
  EXPECT_EQ(MaxUnscoredFraction(c.trainer()), 0.25);
  EXPECT_EQ(EvalMaxNewTokens(c), 7);
}

TEST(TrainerConfigTest, SamplePromptsPerStep) {
  config::RunConfig c = Valid();
  EXPECT_EQ(SamplePromptsPerStep(c.trainer()), kDefaultSamplePromptsPerStep);
  c.mutable_trainer()->set_sample_prompts_per_step(5);
  EXPECT_EQ(SamplePromptsPerStep(c.trainer()), 5);
  c.mutable_trainer()->set_sample_prompts_per_step(-1);
  EXPECT_EQ(SamplePromptsPerStep(c.trainer()), 0);
  EXPECT_THAT(ValidateRunConfig(c), IsOk());
  c.mutable_trainer()->set_sample_prompts_per_step(-2);
  EXPECT_THAT(ValidateRunConfig(c),
              StatusIs(kInvalid, HasSubstr("trainer.sample_prompts_per_step must be >= -1, got -2")));
}

TEST(LoadRunConfigTest, ValidatesAfterOverridesNamingTheFile) {
  const std::string dir = ::testing::TempDir() + "/m1rl_trainer_config_test_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/ok.yaml";
  std::ofstream(path) << kValidYaml;
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, LoadRunConfig(path, {"rollout.n_samples=16"}));
  EXPECT_EQ(c.rollout().n_samples(), 16);
  EXPECT_THAT(LoadRunConfig(path, {"trainer.optim.betas=[0.9, 1.5]"}),
              StatusIs(kInvalid, AllOf(HasSubstr(path), HasSubstr("after --set overrides"),
                                       HasSubstr("trainer.optim.betas[1] must be in [0, 1), got 1.5"))));
  EXPECT_THAT(LoadRunConfig("/no/such/config.yaml"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/no/such/config.yaml")));
}

}  // namespace
}  // namespace m1rl::trainer
