#include "common/config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/rl.pb.h"

namespace m1rl {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// A typical run config (trainer/trainer_config_test.cc validates it).
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

TEST(ParseConfigYamlTest, NestedRepeatedOptionalAndBothKeySpellings) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, ParseConfigYaml(R"(
name: run1
model:
  numHiddenLayers: 2            # JSON name
  layer_types: [linear_attention, full_attention]
  seed: 9000000000              # int64
trainer:
  optim:
    lr: 2.5e-6
    betas: [0.9, 0.95]
reward:
  deadlineMs: 5000
  require_think: true
rollout:
  stop_strings: ["</s>", "\n\n"]
algorithm:
  is_weight:
    eps_high: 4
)"));
  EXPECT_EQ(c.name(), "run1");
  EXPECT_EQ(c.model().num_hidden_layers(), 2);
  EXPECT_THAT(c.model().layer_types(), ElementsAre(config::ModelConfig::LAYER_TYPE_LINEAR_ATTENTION,
                                                   config::ModelConfig::LAYER_TYPE_FULL_ATTENTION));
  EXPECT_EQ(c.model().seed(), 9000000000LL);
  EXPECT_EQ(c.trainer().optim().lr(), 2.5e-6);
  EXPECT_THAT(c.trainer().optim().betas(), ElementsAre(0.9, 0.95));
  EXPECT_EQ(c.reward().deadline_ms(), 5000);
  EXPECT_TRUE(c.reward().require_think());
  EXPECT_THAT(c.rollout().stop_strings(), ElementsAre("</s>", "\n\n"));
  EXPECT_TRUE(c.algorithm().is_weight().has_eps_high());
  EXPECT_EQ(c.algorithm().is_weight().eps_high(), 4.0);
  EXPECT_FALSE(c.algorithm().is_weight().has_eps_low());
  // Every section is present even when not written.
  EXPECT_TRUE(c.has_data());
  EXPECT_TRUE(c.trainer().has_checkpoint());
}

TEST(ParseConfigYamlTest, UnknownKeyNamesFullPathLineAndSuggestion) {
  EXPECT_THAT(
      ParseConfigYaml("trainer:\n  optim:\n    betass: [0.9, 0.95]\n"),
      StatusIs(kInvalid, AllOf(HasSubstr("unknown key trainer.optim.betass"), HasSubstr("line 3, column 5"),
                               HasSubstr("did you mean trainer.optim.betas?"))));
  EXPECT_THAT(ParseConfigYaml("trainr: {}\n"), StatusIs(kInvalid, HasSubstr("unknown key trainr")));
  EXPECT_THAT(
      ParseConfigYaml("model:\n  zzzzzzzz: 1\n"),
      StatusIs(kInvalid, AllOf(HasSubstr("unknown key model.zzzzzzzz"), Not(HasSubstr("did you mean")))));
}

TEST(ParseConfigYamlTest, WrongTypesNameThePath) {
  EXPECT_THAT(ParseConfigYaml("trainer:\n  optim:\n    lr: abc\n"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.lr: expected a number, got \"abc\" (line 3")));
  EXPECT_THAT(ParseConfigYaml("trainer:\n  optim:\n    betas: [0.9, x]\n"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.betas[1]: expected a number, got \"x\"")));
  EXPECT_THAT(ParseConfigYaml("trainer:\n  optim:\n    betas: 0.9\n"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.betas: expected a list, got \"0.9\"")));
  EXPECT_THAT(ParseConfigYaml("trainer: 5\n"),
              StatusIs(kInvalid, HasSubstr("trainer: expected a mapping, got \"5\"")));
  EXPECT_THAT(ParseConfigYaml("trainer:\n  optim:\n    lr: [1]\n"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.lr: expected a number, got a list")));
  EXPECT_THAT(ParseConfigYaml("reward:\n  require_think: yes\n"),
              StatusIs(kInvalid, HasSubstr("reward.require_think: expected true or false, got \"yes\"")));
  EXPECT_THAT(ParseConfigYaml("name: {a: 1}\n"),
              StatusIs(kInvalid, HasSubstr("name: expected a string, got a mapping")));
  EXPECT_THAT(ParseConfigYaml("- a\n- b\n"), StatusIs(kInvalid, HasSubstr("top level must be a mapping")));
  EXPECT_THAT(ParseConfigYaml("trainer: [1, 2\n"), StatusIs(kInvalid, HasSubstr("YAML syntax error (line")));
}

TEST(ParseConfigYamlTest, IntegerRangesAndForms) {
  EXPECT_THAT(ParseConfigYaml("trainer:\n  steps: 3000000000\n"),
              StatusIs(kInvalid, HasSubstr("trainer.steps: 3000000000 is out of range for int32 "
                                           "[-2147483648, 2147483647]")));
  EXPECT_THAT(ParseConfigYaml("trainer:\n  steps: -2147483649\n"),
              StatusIs(kInvalid, HasSubstr("trainer.steps: -2147483649 is out of range for int32")));
  EXPECT_THAT(ParseConfigYaml("trainer:\n  steps: 1.5\n"),
              StatusIs(kInvalid, HasSubstr("trainer.steps: expected an integer, got \"1.5\"")));
  EXPECT_THAT(ParseConfigYaml("model:\n  seed: 9223372036854775808\n"),
              StatusIs(kInvalid, HasSubstr("model.seed: 9223372036854775808 is out of range for int64")));
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, ParseConfigYaml(R"(
trainer: {steps: -2147483648, eval_every: 1e3, log_every: "7", eval_prompts: null}
rollout: {memory_budget_bytes: 8e9, prefill_chunk: +12}
model: {seed: -9223372036854775808}
)"));
  EXPECT_EQ(c.trainer().steps(), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(c.trainer().eval_every(), 1000);
  EXPECT_EQ(c.trainer().log_every(), 7);
  EXPECT_EQ(c.rollout().memory_budget_bytes(), 8000000000LL);
  EXPECT_EQ(c.rollout().prefill_chunk(), 12);
  EXPECT_EQ(c.model().seed(), std::numeric_limits<int64_t>::min());
}

TEST(ParseConfigYamlTest, DoublesAcceptYamlSpecialsAndQuotedNumbers) {
  M1RL_ASSERT_OK_AND_ASSIGN(
      config::RunConfig c,
      ParseConfigYaml("trainer:\n  optim: {lr: \"1e-6\", grad_clip: .inf, min_lr_ratio: .nan, "
                      "weight_decay: -.5, eps: 3}\n"));
  EXPECT_EQ(c.trainer().optim().lr(), 1e-6);
  EXPECT_EQ(c.trainer().optim().grad_clip(), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(c.trainer().optim().min_lr_ratio()));
  EXPECT_EQ(c.trainer().optim().weight_decay(), -0.5);
  EXPECT_EQ(c.trainer().optim().eps(), 3.0);
  EXPECT_THAT(ParseConfigYaml("trainer: {optim: {lr: inf}}\n"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.lr: expected a number, got \"inf\"")));
  EXPECT_THAT(ParseConfigYaml("trainer: {optim: {lr: 0x10}}\n"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.lr")));
}

TEST(ParseConfigYamlTest, FieldGivenTwiceIsAnError) {
  EXPECT_THAT(ParseConfigYaml("reward:\n  deadline_ms: 1\n  deadlineMs: 2\n"),
              StatusIs(kInvalid,
                       HasSubstr("reward.deadline_ms: given twice (as \"deadline_ms\" and \"deadlineMs\")")));
}

TEST(ParseConfigYamlTest, NullClearsAndEmptyDocumentIsDefault) {
  M1RL_ASSERT_OK_AND_ASSIGN(
      config::RunConfig c,
      ParseConfigYaml("rollout:\n  stop_strings:\nalgorithm:\n  is_weight:\n    eps_high: ~\n"));
  EXPECT_EQ(c.rollout().stop_strings_size(), 0);
  EXPECT_FALSE(c.algorithm().is_weight().has_eps_high());
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig empty, ParseConfigYaml(""));
  EXPECT_EQ(empty.name(), "");
  EXPECT_TRUE(empty.has_trainer());
}

// Enums, oneofs, floats and nested repeated messages through the generic entry point, on rl.proto.
TEST(MergeYamlIntoMessageTest, EnumsOneofsFloatsAndRepeatedMessages) {
  rl::ScoreItem item;
  ASSERT_THAT(MergeYamlIntoMessage(R"(
item_id: a
math: {gold: "42", rel_tolerance: 1e-9}
completion:
  stop_reason: STOP_EOS
  token_ids: [1, 2, 3]
  logprobs: [-0.5, 0.1]
)",
                                   &item),
              IsOk());
  EXPECT_EQ(item.math().gold(), "42");
  EXPECT_EQ(item.completion().stop_reason(), rl::STOP_EOS);
  EXPECT_THAT(item.completion().token_ids(), ElementsAre(1, 2, 3));
  EXPECT_THAT(item.completion().logprobs(), ElementsAre(-0.5f, 0.1f));
  rl::Completion c;
  ASSERT_THAT(MergeYamlIntoMessage("stop_reason: 2\n", &c), IsOk());
  EXPECT_EQ(c.stop_reason(), rl::STOP_LENGTH);
  EXPECT_THAT(
      MergeYamlIntoMessage("stop_reason: STOP_EOF\n", &c),
      StatusIs(kInvalid, AllOf(HasSubstr("stop_reason: expected one of STOP_REASON_UNSPECIFIED, STOP_EOS"),
                               HasSubstr("got \"STOP_EOF\""))));
  EXPECT_THAT(MergeYamlIntoMessage("stop_reason: 99\n", &c), StatusIs(kInvalid, HasSubstr("stop_reason")));
  EXPECT_THAT(MergeYamlIntoMessage("logprobs: [0, 1e39]\n", &c),
              StatusIs(kInvalid, HasSubstr("logprobs[1]: 1e39 is out of range for float")));
  EXPECT_THAT(MergeYamlIntoMessage("math: {gold: x}\ngold: y\n", &item),
              StatusIs(kInvalid, HasSubstr("\"math\" and \"gold\" are alternatives (oneof payload)")));
  rl::InfoResponse info;
  ASSERT_THAT(MergeYamlIntoMessage("domains:\n  - {domain: math, correct: 3}\n  - {domain: logic}\n", &info),
              IsOk());
  ASSERT_EQ(info.domains_size(), 2);
  EXPECT_EQ(info.domains(0).correct(), 3);
  EXPECT_EQ(info.domains(1).domain(), "logic");
  EXPECT_THAT(MergeYamlIntoMessage("domains:\n  - {domain: math}\n  - {correct: x}\n", &info),
              StatusIs(kInvalid, HasSubstr("domains[1].correct: expected an integer, got \"x\"")));
}

TEST(ApplyOverrideTest, SetsScalarsListsElementsAndMergesMappings) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, ParseConfigYaml(kValidYaml));
  ASSERT_THAT(ApplyOverride(&c, "trainer.optim.lr=1e-5"), IsOk());
  EXPECT_EQ(c.trainer().optim().lr(), 1e-5);
  ASSERT_THAT(ApplyOverride(&c, "model.layer_types=[linear_attention,full_attention]"), IsOk());
  EXPECT_THAT(c.model().layer_types(), ElementsAre(config::ModelConfig::LAYER_TYPE_LINEAR_ATTENTION,
                                                   config::ModelConfig::LAYER_TYPE_FULL_ATTENTION));
  ASSERT_THAT(ApplyOverride(&c, "trainer.optim.betas[1]=0.99"), IsOk());
  EXPECT_THAT(c.trainer().optim().betas(), ElementsAre(0.9, 0.99));
  ASSERT_THAT(ApplyOverride(&c, "trainer.optim={weight_decay: 0.1}"), IsOk());  // merges
  EXPECT_EQ(c.trainer().optim().weight_decay(), 0.1);
  EXPECT_EQ(c.trainer().optim().lr(), 1e-5);
  ASSERT_THAT(ApplyOverride(&c, "trainer.optim.maxLr=1"), Not(IsOk()));
  ASSERT_THAT(ApplyOverride(&c, "algorithm.isWeight.epsHigh="), IsOk());  // empty value clears
  EXPECT_FALSE(c.algorithm().is_weight().has_eps_high());
  ASSERT_THAT(ApplyOverride(&c, "name=\"true\""), IsOk());
  EXPECT_EQ(c.name(), "true");
  ASSERT_THAT(ApplyOverride(&c, "trainer=null"), IsOk());  // cleared, then re-populated
  EXPECT_TRUE(c.has_trainer());
  EXPECT_TRUE(c.trainer().has_optim());
  EXPECT_EQ(c.trainer().optim().lr(), 0.0);
}

TEST(ApplyOverrideTest, ErrorsQuoteTheAssignmentAndNameThePath) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, ParseConfigYaml(kValidYaml));
  EXPECT_THAT(ApplyOverride(&c, "trainer.optim.lrr=1"),
              StatusIs(kInvalid, AllOf(HasSubstr("--set trainer.optim.lrr=1: unknown key trainer.optim.lrr"),
                                       HasSubstr("did you mean trainer.optim.lr?"))));
  EXPECT_THAT(ApplyOverride(&c, "trainer.optim.lr=abc"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.lr: expected a number, got \"abc\"")));
  EXPECT_THAT(
      ApplyOverride(&c, "trainer.optim.betas[5]=0.5"),
      StatusIs(kInvalid, HasSubstr("trainer.optim.betas[5]: index out of range (the list has 2 elements)")));
  EXPECT_THAT(ApplyOverride(&c, "trainer.optim.betas=[0.9, x]"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.betas[1]: expected a number")));
  EXPECT_THAT(ApplyOverride(&c, "trainer.optim.lr.x=1"),
              StatusIs(kInvalid, HasSubstr("trainer.optim.lr is a double, not a message")));
  EXPECT_THAT(ApplyOverride(&c, "trainer.steps[0]=1"),
              StatusIs(kInvalid, HasSubstr("trainer.steps is not a list")));
  EXPECT_THAT(ApplyOverride(&c, "lr"), StatusIs(kInvalid, HasSubstr("expected path=value, got \"lr\"")));
  EXPECT_THAT(ApplyOverride(&c, "trainer..lr=1"), StatusIs(kInvalid, HasSubstr("empty path segment")));
  EXPECT_THAT(ApplyOverride(&c, "model.layer_types=[a, b"),
              StatusIs(kInvalid, HasSubstr("YAML syntax error")));
  EXPECT_THAT(ApplyOverride(&c, "trainer.steps=3000000000"),
              StatusIs(kInvalid, HasSubstr("trainer.steps: 3000000000 is out of range for int32")));
  // Failed overrides left the earlier values alone.
  EXPECT_EQ(c.trainer().optim().lr(), 1e-6);
}

void ExpectRoundTrip(const config::RunConfig& c) {
  const std::string yaml = DumpConfigYaml(c);
  absl::StatusOr<config::RunConfig> back = ParseConfigYaml(yaml);
  ASSERT_THAT(back, IsOk()) << yaml;
  std::string diff;
  MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(c, *back)) << diff << "\n" << yaml;
  EXPECT_EQ(c.SerializeAsString(), back->SerializeAsString());
  EXPECT_EQ(DumpConfigYaml(*back), yaml);
}

TEST(DumpConfigYamlTest, LoadOfDumpEqualsOriginal) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, ParseConfigYaml(kValidYaml));
  ExpectRoundTrip(c);
  // Values that stress the text form: shortest round-trip doubles, extremes, strings YAML would retype.
  c.set_name("true");
  c.mutable_model()->set_preset("");
  c.mutable_model()->set_init_from(" leading space");
  c.mutable_model()->set_device("null");
  c.mutable_model()->set_tokenizer("1e5");
  c.mutable_model()->set_dtype(config::ModelConfig::DTYPE_FLOAT64);
  c.mutable_model()->set_seed(std::numeric_limits<int64_t>::min());
  c.mutable_model()->set_rope_theta(0.1);
  c.mutable_model()->set_init_std(1.0 / 3.0);
  c.mutable_model()->set_rms_norm_eps(5e-324);
  c.mutable_trainer()->mutable_optim()->set_grad_clip(std::numeric_limits<double>::infinity());
  c.mutable_trainer()->mutable_optim()->set_weight_decay(-std::numeric_limits<double>::max());
  c.mutable_rollout()->add_stop_strings("a: b");
  c.mutable_rollout()->add_stop_strings("[x]");
  c.mutable_rollout()->add_stop_strings("line\nbreak");
  c.mutable_algorithm()->mutable_is_weight()->set_eps_low(0.0);  // set to zero: presence kept
  ExpectRoundTrip(c);
}

TEST(DumpConfigYamlTest, ShowsEverySectionAndOmitsUnsetOptionals) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, ParseConfigYaml(kValidYaml));
  const std::string yaml = DumpConfigYaml(c);
  EXPECT_THAT(yaml, HasSubstr("betas: [0.9, 0.95]"));
  EXPECT_THAT(yaml, HasSubstr("lr: 1e-06"));
  EXPECT_THAT(yaml, HasSubstr("eps_high: 4.0"));
  // is_weight.eps_low and max_ratio are unset optionals: absent from the dump.
  EXPECT_THAT(yaml, HasSubstr("  is_weight:\n    enabled: true\n    eps_high: 4.0\n  trust_region: {}\n"));
  EXPECT_THAT(yaml, HasSubstr("checkpoint:"));  // never written in kValidYaml
  EXPECT_THAT(yaml, HasSubstr("\ndata:"));
  EXPECT_THAT(yaml, HasSubstr("\n  kl: {}\n"));  // every field optional and unset
}

// The enum naming rule (common/config.h): value name minus the enum's UPPER_SNAKE prefix, lower-cased;
// one spelling per value, errors list the allowed names.
TEST(EnumYamlNamesTest, ParseAndDumpUseTheReadableNames) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c, ParseConfigYaml(R"(
model: {dtype: bfloat16, lm_head_precision: bf16_fp32_out, layer_types: [full_attention]}
trainer: {mode: sft, prompt_template: raw, backend: nccl, optim: {schedule: wsd}}
reward: {mode: in_process}
rollout: {behaviour_logprob: truncated}
algorithm: {preset: dapo, loss_agg: seq_mean_token_sum_norm, kl: {estimator: k3},
            advantage: {estimator: rloo, std_kind: population}, repetition: {policy: fail_mask_run},
            dynamic_sampling: {on_exhausted: train_partial}, ratio_denominator: rollout}
)"));
  EXPECT_EQ(c.model().dtype(), config::ModelConfig::DTYPE_BFLOAT16);
  EXPECT_EQ(c.model().lm_head_precision(), config::ModelConfig::HEAD_PRECISION_BF16_FP32_OUT);
  EXPECT_THAT(c.model().layer_types(), ElementsAre(config::ModelConfig::LAYER_TYPE_FULL_ATTENTION));
  EXPECT_EQ(c.trainer().mode(), config::TrainerConfig::MODE_SFT);
  EXPECT_EQ(c.trainer().prompt_template(), config::TrainerConfig::PROMPT_TEMPLATE_RAW);
  EXPECT_EQ(c.trainer().backend(), config::TrainerConfig::BACKEND_NCCL);
  EXPECT_EQ(c.trainer().optim().schedule(), config::OptimConfig::SCHEDULE_WSD);
  EXPECT_EQ(c.reward().mode(), config::RewardConfig::MODE_IN_PROCESS);
  EXPECT_EQ(c.rollout().behaviour_logprob(), config::RolloutConfig::BEHAVIOUR_LOGPROB_TRUNCATED);
  EXPECT_EQ(c.algorithm().preset(), config::AlgorithmConfig::PRESET_DAPO);
  EXPECT_EQ(c.algorithm().loss_agg(), config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_SUM_NORM);
  EXPECT_EQ(c.algorithm().kl().estimator(), config::KlConfig::ESTIMATOR_K3);
  EXPECT_EQ(c.algorithm().advantage().estimator(), config::AdvantageConfig::ESTIMATOR_RLOO);
  EXPECT_EQ(c.algorithm().advantage().std_kind(), config::AdvantageConfig::STD_KIND_POPULATION);
  EXPECT_EQ(c.algorithm().repetition().policy(), config::RepetitionConfig::POLICY_FAIL_MASK_RUN);
  EXPECT_EQ(c.algorithm().dynamic_sampling().on_exhausted(),
            config::DynamicSamplingConfig::ON_EXHAUSTED_TRAIN_PARTIAL);
  EXPECT_EQ(c.algorithm().ratio_denominator(), config::AlgorithmConfig::RATIO_DENOMINATOR_ROLLOUT);
  const std::string yaml = DumpConfigYaml(c);
  EXPECT_THAT(yaml, HasSubstr("  dtype: bfloat16\n  lm_head_precision: bf16_fp32_out\n"));
  EXPECT_THAT(yaml, HasSubstr("layer_types: [full_attention]"));
  EXPECT_THAT(yaml, HasSubstr("  mode: sft\n"));
  EXPECT_THAT(yaml, HasSubstr("schedule: wsd"));
  EXPECT_THAT(yaml, HasSubstr("behaviour_logprob: truncated"));
  EXPECT_THAT(yaml, HasSubstr("preset: dapo"));
  EXPECT_EQ(YamlName(config::ModelConfig::HEAD_PRECISION_IEEE_FP32), "ieee_fp32");
  EXPECT_EQ(YamlName(config::TrainerConfig::MODE_RL), "rl");
}

TEST(EnumYamlNamesTest, OneSpellingPerValueAndErrorsListTheNames) {
  EXPECT_THAT(ParseConfigYaml("model: {lm_head_precision: fp16}\n"),
              StatusIs(kInvalid, AllOf(HasSubstr("model.lm_head_precision: expected one of ieee_fp32, tf32, "
                                                 "bf16_fp32_out, bf16, got \"fp16\""),
                                       HasSubstr("line 1"))));
  // The old aliases, the proto value names and numbers are not spellings.
  for (const char* bad : {"fp32_ieee", "bf16_fp32out", "HEAD_PRECISION_TF32", "1", "IEEE_FP32"}) {
    EXPECT_THAT(ParseConfigYaml(absl::StrCat("model: {lm_head_precision: ", bad, "}\n")),
                StatusIs(kInvalid, HasSubstr("model.lm_head_precision: expected one of")))
        << bad;
  }
  EXPECT_THAT(
      ParseConfigYaml("trainer: {mode: ppo}\n"),
      StatusIs(kInvalid, HasSubstr("trainer.mode: expected one of unspecified, rl, sft, got \"ppo\"")));
  EXPECT_THAT(ParseConfigYaml("model: {layer_types: [linear_attention, softmax]}\n"),
              StatusIs(kInvalid, HasSubstr("model.layer_types[1]: expected one of linear_attention, "
                                           "full_attention, got \"softmax\"")));
  EXPECT_THAT(ParseConfigYaml("algorithm: {kl: {estimator: k4}}\n"),
              StatusIs(kInvalid, HasSubstr("algorithm.kl.estimator: expected one of none, k1, k2, k3")));
  config::RunConfig c;
  EXPECT_THAT(
      ApplyOverride(&c, "trainer.backend=mpi"),
      StatusIs(kInvalid, HasSubstr("trainer.backend: expected one of auto, gloo, nccl, got \"mpi\"")));
}

class LoadConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string dir = ::testing::TempDir() + "/m1rl_config_test_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(LoadConfigTest, ParsesAndApplysOverrides) {
  const std::string path = Write("ok.yaml", kValidYaml);
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c,
                            LoadConfig(path, {"trainer.optim.lr=3e-6", "rollout.n_samples=16"}));
  EXPECT_EQ(c.trainer().optim().lr(), 3e-6);
  EXPECT_EQ(c.rollout().n_samples(), 16);
  EXPECT_THAT(
      LoadConfig(path, {"trainer.optim.betass=[1]"}),
      StatusIs(kInvalid, HasSubstr("--set trainer.optim.betass=[1]: unknown key trainer.optim.betass")));
}

TEST_F(LoadConfigTest, FileErrorsNameTheFile) {
  const std::string bad = Write("bad.yaml", "trainer:\n  optim:\n    lr: abc\n");
  EXPECT_THAT(LoadConfig(bad), StatusIs(kInvalid, HasSubstr(bad + ": trainer.optim.lr: expected a number")));
  EXPECT_THAT(LoadConfig("/no/such/config.yaml"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/no/such/config.yaml")));
}

}  // namespace
}  // namespace m1rl
