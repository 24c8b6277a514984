// trainer.stages and data.sources in the RL loop (issue 21): a tiny CPU run with two stages and two
// sources shows the transition, each stage's budget and optimizer override, and the mixture in the step
// metrics; a run resumed in the middle of the second stage continues with that stage's settings and the
// same data order, bit for bit.
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trainer_test_util.h"
#include "trainer/trainer.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;

at::Tensor FlatParams(Trainer& t) {
  std::vector<at::Tensor> v;
  for (const auto& [name, p] : t.policy().NamedParameters()) v.push_back(p.detach().reshape({-1}));
  return at::cat(v).clone();
}

// TinyRlConfig with two sources, "short" (its parity rows) and "long" (64 more parity rows), and two
// stages: "warmup" (budget 4 tokens, only "short", 2 steps) then "main" (budget 8, only "long", lr 5e-4,
// eps_high 2).
config::RunConfig TwoStageConfig(const std::string& dir, int steps) {
  config::RunConfig c = testutil::TinyRlConfig(dir);
  const std::string long_path = dir + "/long.jsonl";
  {
    std::ofstream out(long_path);
    for (int i = 0; i < 64; ++i)
      out << R"({"id":"q)" << i << R"(","prompt":")" << (i * 104729 % 1000) << R"(","answer":"even"})"
          << "\n";
  }
  config::DataConfig* d = c.mutable_data();
  config::DataSourceConfig* s = d->add_sources();
  s->set_name("short");
  s->set_path(d->train_path());
  s->set_wrap(true);
  s->add_per_stage(1);
  s->add_per_stage(0);
  config::DataSourceConfig* l = d->add_sources();
  l->set_name("long");
  l->set_path(long_path);
  l->set_domain("parity");
  l->set_wrap(true);
  l->add_per_stage(0);
  l->add_per_stage(1);
  d->clear_train_path();
  config::TrainerConfig* t = c.mutable_trainer();
  t->set_steps(steps);
  config::StageConfig* warmup = t->add_stages();
  warmup->set_name("warmup");
  warmup->set_max_new_tokens(4);
  warmup->mutable_advance()->set_steps(2);
  config::StageConfig* main = t->add_stages();
  main->set_name("main");
  main->set_max_new_tokens(8);
  main->mutable_overrides()->set_lr(5e-4);
  main->mutable_overrides()->set_eps_high(2.0);
  return c;
}

TEST(TrainerStagesTest, TwoStagesAndTwoSourcesShowInTheStepMetrics) {
  testutil::TempDir dir("stages");
  const config::RunConfig cfg = TwoStageConfig(dir.path(), 4);
  auto comm = MakeSingleRankCommunicator();
  M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
  for (int step = 1; step <= 4; ++step) {
    M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
    const std::map<std::string, double>& m = r.metrics;
    const bool warmup = step <= 2;
    SCOPED_TRACE(::testing::Message() << "step " << step);
    EXPECT_EQ(m.at("stage/index"), warmup ? 0 : 1);
    EXPECT_EQ(m.at("stage/advanced"), step == 2 ? 1 : 0);
    EXPECT_EQ(m.at("data/short/prompts"), warmup ? 4 : 0);  // trainer.prompts_per_step 4
    EXPECT_EQ(m.at("data/long/prompts"), warmup ? 0 : 4);
    EXPECT_EQ(m.at("data/short/weight"), warmup ? 1.0 : 0.0);
    EXPECT_EQ(m.at("data/short/completions"), warmup ? 16 : 0);  // x rollout.n_samples 4
    EXPECT_EQ(m.at("data/long/completions"), warmup ? 0 : 16);
    EXPECT_LE(m.at("rollout/response_length_max"), warmup ? 4 : 8);
    EXPECT_LE(m.at("rollout/response_length_p99"), m.at("rollout/response_length_max"));
    EXPECT_GT(m.at("rollout/response_length_p99"), 0);
    EXPECT_LT(m.at("rollout/logprob_mean"), 0);
    EXPECT_DOUBLE_EQ(m.at("train/lr"), warmup ? 1e-3 : 5e-4);  // constant schedule, no warm-up
  }
  EXPECT_EQ(t->config().rollout().max_new_tokens(), 8);
  EXPECT_EQ(t->config().algorithm().is_weight().eps_high(), 2.0);
}

// 5 steps in one go == 3 steps (one into "main"), checkpoint, resume, 2 steps: the same losses and bits.
TEST(TrainerStagesTest, ResumeInTheSecondStageIsBitIdentical) {
  testutil::TempDir dir("stages_resume");
  config::RunConfig cfg = TwoStageConfig(dir.path(), 5);
  auto comm = MakeSingleRankCommunicator();
  std::vector<double> ref_losses;
  at::Tensor ref_params;
  {
    M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
    for (int s = 0; s < 5; ++s) {
      M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
      if (s >= 3) ref_losses.insert(ref_losses.end(), r.losses.begin(), r.losses.end());
    }
    ref_params = FlatParams(*t);
  }
  cfg.mutable_trainer()->mutable_checkpoint()->set_dir(dir.path() + "/ckpt2");
  {
    M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
    for (int s = 0; s < 3; ++s) ASSERT_THAT(t->TrainStep().status(), IsOk());
    ASSERT_THAT(t->SaveCheckpoint().status(), IsOk());
  }
  M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
  EXPECT_EQ(t->config().rollout().max_new_tokens(), 4);  // a fresh trainer starts in "warmup"
  ASSERT_THAT(t->Resume("auto"), IsOk());
  EXPECT_EQ(t->config().rollout().max_new_tokens(), 8);  // the checkpoint was taken in "main"
  EXPECT_DOUBLE_EQ(t->optimizer().options().lr, 5e-4);
  std::vector<double> losses;
  for (int s = 3; s < 5; ++s) {
    M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
    EXPECT_EQ(r.metrics.at("stage/index"), 1);
    EXPECT_EQ(r.metrics.at("data/long/prompts"), 4);
    losses.insert(losses.end(), r.losses.begin(), r.losses.end());
  }
  EXPECT_EQ(losses, ref_losses);
  EXPECT_TRUE(at::equal(FlatParams(*t), ref_params));
}

}  // namespace
}  // namespace m1rl::trainer
