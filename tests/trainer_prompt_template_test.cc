// trainer.prompt_template tokenizer: prompts rendered by the chat template of the run's tokenizer
// (tokenizer_config.json beside tokenizer.json, model/jinja.h). An SFT step on a BPE tokenizer: the identity
// template gives the raw prompt's losses bit for bit, a template that adds text changes them, a template
// that raises is an error naming its file, and the character tokenizer (no template) is refused at start.
#include <fstream>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/trainer_test_util.h"
#include "trainer/trainer.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A BPE tokenizer over {a, b, ab} with an end-of-text token, SFT rows over that alphabet, and (when
// `chat_template` is not empty) a tokenizer_config.json holding the template.
config::RunConfig SftConfig(const std::string& dir, config::TrainerConfig::PromptTemplate kind,
                            const std::string& chat_template) {
  std::ofstream(dir + "/tokenizer.json")
      << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
 "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true}]})";
  if (!chat_template.empty()) {
    nlohmann::json tc = {{"chat_template", chat_template}, {"eos_token", "<|endoftext|>"}};
    std::ofstream(dir + "/tokenizer_config.json") << tc.dump();
  }
  {
    std::ofstream data(dir + "/sft.jsonl");
    const std::vector<std::string> prompts = {"ab", "ba", "aab", "bba", "abab", "b", "a", "bab"};
    for (size_t i = 0; i < prompts.size(); ++i) {
      data << "{\"id\":\"s" << i << "\",\"prompt\":\"" << prompts[i] << "\",\"completion\":\"" << prompts[i]
           << "ab\",\"domain\":\"parity\"}\n";
    }
  }
  config::RunConfig c = testutil::TinyRlConfig(dir);
  c.mutable_model()->set_tokenizer(dir + "/tokenizer.json");
  c.mutable_data()->set_train_path(dir + "/sft.jsonl");
  c.mutable_trainer()->set_mode(config::TrainerConfig::MODE_SFT);
  c.mutable_trainer()->set_sft_batch_size(4);
  c.mutable_trainer()->set_steps(1);
  c.mutable_trainer()->set_prompt_template(kind);
  return c;
}

absl::StatusOr<std::vector<double>> FirstStepLosses(const config::RunConfig& cfg) {
  auto comm = MakeSingleRankCommunicator();
  M1RL_ASSIGN_OR_RETURN(auto t, Trainer::Create(cfg, comm.get()));
  M1RL_ASSIGN_OR_RETURN(StepResult r, t->TrainStep());
  return r.losses;
}

TEST(TrainerPromptTemplateTest, IdentityTemplateEqualsTheRawPrompt) {
  testutil::TempDir raw_dir("prompt_raw"), tmpl_dir("prompt_tmpl"), more_dir("prompt_more");
  M1RL_ASSERT_OK_AND_ASSIGN(
      const std::vector<double> raw,
      FirstStepLosses(SftConfig(raw_dir.path(), config::TrainerConfig::PROMPT_TEMPLATE_RAW, "")));
  M1RL_ASSERT_OK_AND_ASSIGN(
      const std::vector<double> identity,
      FirstStepLosses(SftConfig(tmpl_dir.path(), config::TrainerConfig::PROMPT_TEMPLATE_TOKENIZER,
                                "{{ messages[0]['content'] }}")));
  M1RL_ASSERT_OK_AND_ASSIGN(
      const std::vector<double> more,
      FirstStepLosses(SftConfig(more_dir.path(), config::TrainerConfig::PROMPT_TEMPLATE_TOKENIZER,
                                "{% for m in messages %}{{ m.role[:1] }}{{ m.content }}{% endfor %}"
                                "{% if add_generation_prompt %}ab{% endif %}")));
  ASSERT_FALSE(raw.empty());
  EXPECT_EQ(identity, raw);  // same token ids, same bits
  EXPECT_NE(more, raw);
}

TEST(TrainerPromptTemplateTest, ARaisingTemplateIsAnErrorNamingItsFile) {
  testutil::TempDir dir("prompt_raise");
  const config::RunConfig cfg = SftConfig(dir.path(), config::TrainerConfig::PROMPT_TEMPLATE_TOKENIZER,
                                          "{{ raise_exception('only system turns here') }}");
  const absl::Status status = FirstStepLosses(cfg).status();
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              AllOf(HasSubstr("trainer.prompt_template tokenizer"), HasSubstr("tokenizer_config.json"),
                    HasSubstr("only system turns here")));
}

TEST(TrainerPromptTemplateTest, NoTemplateIsRefusedAtStart) {
  testutil::TempDir dir("prompt_none");
  config::RunConfig cfg = SftConfig(dir.path(), config::TrainerConfig::PROMPT_TEMPLATE_TOKENIZER, "");
  auto comm = MakeSingleRankCommunicator();
  const absl::Status missing = Trainer::Create(cfg, comm.get()).status();
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.message()),
              AllOf(HasSubstr("trainer.prompt_template tokenizer"), HasSubstr("tokenizer_config.json")));
  cfg.mutable_model()->set_tokenizer("char");
  EXPECT_THAT(Trainer::Create(cfg, comm.get()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no chat template")));
}

}  // namespace
}  // namespace m1rl::trainer
