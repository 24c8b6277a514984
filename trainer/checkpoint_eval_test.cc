#include "trainer/checkpoint_eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "model/config.h"
#include "model/hybrid_model.h"
#include "nlohmann/json.hpp"
#include "reward/service/engine.h"
#include "reward/service/registry.h"
#include "rollout/checkpoint_generator.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Deterministic fake reward for domain "fake": the row's answer is a count c, and sample j of the row is
// CORRECT iff j < c (reward 1, else 0); an answer that is not a count is INVALID_INPUT. So every verdict
// is known in advance whatever the policy writes.
class CountVerifier final : public reward::Verifier {
 public:
  std::string_view domain() const override { return "fake"; }
  std::string_view version() const override { return "count-1"; }
  reward::VerifyOutcome Verify(const reward::VerifyInput& in, const reward::CheckContext&) const override {
    int count = 0, sample = 0;
    const std::string& id = in.item->item_id();  // "<group>/<sample index>" (ScoreItemForRow)
    if (!absl::SimpleAtoi(in.gold, &count))
      return reward::VerifyOutcome::NonOk(rl::INVALID_INPUT, "answer is not a count");
    if (!absl::SimpleAtoi(id.substr(id.rfind('/') + 1), &sample))
      return reward::VerifyOutcome::NonOk(rl::INFRA_ERROR, "item id " + id);
    reward::VerifyOutcome out;
    out.status = rl::OK;
    out.verdict = sample < count ? rl::CORRECT : rl::INCORRECT;
    out.correctness = sample < count ? 1.0 : 0.0;
    return out;
  }
};

std::unique_ptr<reward::RewardClient> CountRewardClient() {
  auto registry = std::make_shared<reward::VerifierRegistry>();
  EXPECT_THAT(registry->Register(std::make_unique<CountVerifier>()), IsOk());
  reward::EngineOptions eo;
  eo.num_workers = 2;
  auto engine = reward::ScoringEngine::Create(registry, eo);
  EXPECT_THAT(engine.status(), IsOk());
  config::RewardConfig rc;
  rc.set_mode(config::RewardConfig::MODE_IN_PROCESS);
  auto client =
      reward::RewardClient::CreateInProcess(rc, std::shared_ptr<reward::ScoringEngine>(std::move(*engine)));
  EXPECT_THAT(client.status(), IsOk());
  return std::move(*client);
}

class CheckpointEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        (std::filesystem::temp_directory_path() / absl::StrCat("m1rl_checkpoint_eval_", ::getpid())).string();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A tiny random-init checkpoint in HF format (char tokenizer vocabulary).
  std::string SaveTinyCheckpoint() {
    std::string ckpt = dir_ + "/ckpt";
    model::ModelConfig c = *model::ModelConfig::Preset("tiny2");
    c.vocab_size = (*model::LoadTokenizer("char"))->vocab_size();
    auto m = model::HybridModel::Create(c, at::kFloat, at::kCPU, 7);
    EXPECT_THAT(m.status(), IsOk());
    EXPECT_THAT((*m)->SaveHf(ckpt), IsOk());
    return ckpt;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
};

TEST_F(CheckpointEvalTest, CountsAccuracyAndPassAtKByHand) {
  rollout::GeneratorOptions go;
  go.model_dir = SaveTinyCheckpoint();
  go.max_new_tokens = 3;
  go.seed = 11;
  M1RL_ASSERT_OK_AND_ASSIGN(auto gen, rollout::CheckpointGenerator::Create(go));
  // Line 3 is blank: line numbers in problems must still be the file's.
  const std::string data_path =
      WriteFile("data.jsonl",
                "{\"id\":\"a\",\"prompt\":\"1+1\",\"domain\":\"fake/a\",\"answer\":\"0\"}\n"
                "{\"id\":\"b\",\"prompt\":\"2+2\",\"domain\":\"fake/a\",\"answer\":2}\n"
                "\n"
                "{\"id\":\"c\",\"prompt\":\"3+3\",\"domain\":\"fake/b\",\"answer\":\"4\"}\n"
                "{\"id\":\"d\",\"prompt\":\"4+4\",\"domain\":\"fake/b\",\"answer\":\"x\"}\n");
  M1RL_ASSERT_OK_AND_ASSIGN(PromptDataset data, PromptDataset::Load(data_path));
  EXPECT_EQ(data.blank_lines(), 1);
  auto reward = CountRewardClient();
  M1RL_ASSERT_OK_AND_ASSIGN(auto samples, SampleWriter::Open(dir_ + "/samples.jsonl", /*append=*/false));
  CheckpointEvalOptions opts;
  opts.prompt = gen->prompt_options(4);
  opts.samples = samples.get();
  M1RL_ASSERT_OK_AND_ASSIGN(CheckpointEvalResult r,
                            EvaluateCheckpoint(data, gen->tokenizer(), gen->engine(), *reward, opts));
  EXPECT_EQ(r.failed_prompts, 0);
  ASSERT_EQ(r.reports.size(), 3u);  // fake/a, fake/b, all
  // fake/a: c = 0 and c = 2 of n = 4. pass@1 = (0 + 2/4) / 2; pass@2 = (0 + 1 - C(2,2)/C(4,2)) / 2 = 5/12;
  // pass@4 = (0 + 1) / 2.
  const DomainReport& a = r.reports[0];
  EXPECT_EQ(a.domain, "fake/a");
  EXPECT_EQ(a.prompts, 2);
  EXPECT_EQ(a.samples, 8);
  EXPECT_EQ(a.scored, 8);
  EXPECT_EQ(a.correct, 2);
  EXPECT_DOUBLE_EQ(a.accuracy(), 0.25);
  EXPECT_DOUBLE_EQ(a.pass_at.at(1).value, 0.25);
  EXPECT_DOUBLE_EQ(a.pass_at.at(2).value, 5.0 / 12.0);
  EXPECT_DOUBLE_EQ(a.pass_at.at(4).value, 0.5);
  // fake/b: c = 4 of 4; row d is unscored (INVALID_INPUT), counted, and left out of pass@k.
  const DomainReport& b = r.reports[1];
  EXPECT_EQ(b.domain, "fake/b");
  EXPECT_EQ(b.prompts, 2);
  EXPECT_EQ(b.samples, 8);
  EXPECT_EQ(b.scored, 4);
  EXPECT_EQ(b.unscored(), 4);
  EXPECT_DOUBLE_EQ(b.accuracy(), 1.0);
  EXPECT_DOUBLE_EQ(b.pass_at.at(1).value, 1.0);
  EXPECT_EQ(b.pass_at.at(1).prompts, 1);
  // all: 6 correct of 12 scored; pass@k over the 3 prompts with scored samples.
  const DomainReport& all = r.reports[2];
  EXPECT_EQ(all.prompts, 4);
  EXPECT_EQ(all.samples, 16);
  EXPECT_EQ(all.scored, 12);
  EXPECT_EQ(all.correct, 6);
  EXPECT_DOUBLE_EQ(all.accuracy(), 0.5);
  EXPECT_DOUBLE_EQ(all.pass_at.at(1).value, (0.0 + 0.5 + 1.0) / 3);
  EXPECT_DOUBLE_EQ(all.pass_at.at(2).value, (0.0 + 5.0 / 6.0 + 1.0) / 3);
  EXPECT_DOUBLE_EQ(all.pass_at.at(4).value, 2.0 / 3.0);
  EXPECT_THAT(r.problems, ElementsAre(HasSubstr(data_path + ":5: sample 0 unscored: INVALID_INPUT")));

  // Every sample, in dataset order, with its verdict.
  samples.reset();
  std::ifstream in(dir_ + "/samples.jsonl");
  std::vector<std::string> ids, verdicts;
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    ids.push_back(j["id"].get<std::string>() + "/" + std::to_string(j["sample"].get<int>()));
    verdicts.push_back(j["verdict"].get<std::string>());
    EXPECT_FALSE(j.contains("step"));
  }
  ASSERT_EQ(ids.size(), 16u);
  EXPECT_EQ(ids[0], "a/0");
  EXPECT_EQ(ids[5], "b/1");
  EXPECT_EQ(ids[15], "d/3");
  EXPECT_THAT(std::vector<std::string>(verdicts.begin() + 4, verdicts.begin() + 8),
              ElementsAre("CORRECT", "CORRECT", "INCORRECT", "INCORRECT"));
  EXPECT_EQ(verdicts[12], "");  // row d: unscored, no verdict
}

TEST_F(CheckpointEvalTest, MalformedRowNamesFileAndLine) {
  const std::string path = WriteFile("bad.jsonl",
                                     "{\"prompt\":\"1+1\",\"answer\":\"2\"}\n"
                                     "\n"
                                     "{\"prompt\":5,\"answer\":\"2\"}\n");
  EXPECT_THAT(PromptDataset::Load(path).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path + ":3: field 'prompt'")));
}

TEST_F(CheckpointEvalTest, AllUnscoredIsAnOutageNotZeroAccuracy) {
  rollout::GeneratorOptions go;
  go.model_dir = SaveTinyCheckpoint();
  go.max_new_tokens = 2;
  M1RL_ASSERT_OK_AND_ASSIGN(auto gen, rollout::CheckpointGenerator::Create(go));
  const std::string path = WriteFile("x.jsonl", "{\"prompt\":\"1\",\"domain\":\"fake\",\"answer\":\"no\"}\n");
  M1RL_ASSERT_OK_AND_ASSIGN(PromptDataset data, PromptDataset::Load(path));
  auto reward = CountRewardClient();
  CheckpointEvalOptions opts;
  opts.prompt = gen->prompt_options(2);
  EXPECT_THAT(EvaluateCheckpoint(data, gen->tokenizer(), gen->engine(), *reward, opts).status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("all 2 samples unscored")));
}

}  // namespace
}  // namespace m1rl::trainer
