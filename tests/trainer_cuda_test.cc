// The trainer on a CUDA device: RL steps with mixed-verdict groups (so the policy loss and the update
// really run) and an SFT step, with every tensor of the update on the model's device. Skips without a
// device.
#include <ATen/Context.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/equal.h>

#include <cmath>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trainer_test_util.h"
#include "trainer/trainer.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;

at::Tensor FlatParamsOnCpu(Trainer& t) {
  std::vector<at::Tensor> v;
  for (const auto& [name, p] : t.policy().NamedParameters())
    v.push_back(p.detach().to(at::kCPU).reshape({-1}));
  return at::cat(v);
}

TEST(TrainerCudaTest, RlStepsWithMixedGroupsUpdateThePolicyOnTheDevice) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  testutil::TempDir dir("cuda_rl");
  config::RunConfig cfg = testutil::TinyRlConfig(dir.path());
  cfg.mutable_model()->set_device("cuda");
  cfg.mutable_trainer()->mutable_checkpoint()->set_dir("");
  auto comm = MakeSingleRankCommunicator();
  M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
  ASSERT_TRUE(t->policy().device().is_cuda());
  const at::Tensor before = FlatParamsOnCpu(*t);
  double mixed_share = 0;
  for (int s = 0; s < 2; ++s) {
    M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
    ASSERT_EQ(r.losses.size(), 2u);  // trainer.minibatches_per_step
    for (double loss : r.losses) EXPECT_TRUE(std::isfinite(loss));
    EXPECT_GT(r.metrics.at("rollout/groups_kept"), 0);
    mixed_share += 1.0 - r.metrics.at("rollout/zero_variance_group_share");
  }
  EXPECT_GT(mixed_share, 0) << "every group had one verdict: no update ran";
  EXPECT_FALSE(at::equal(before, FlatParamsOnCpu(*t)));
}

TEST(TrainerCudaTest, SftStepRunsOnTheDevice) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  testutil::TempDir dir("cuda_sft");
  config::RunConfig cfg = testutil::TinyRlConfig(dir.path());
  cfg.mutable_model()->set_device("cuda");
  cfg.mutable_trainer()->set_mode(config::TrainerConfig::MODE_SFT);
  cfg.mutable_trainer()->set_sft_batch_size(4);
  cfg.mutable_trainer()->mutable_checkpoint()->set_dir("");
  auto comm = MakeSingleRankCommunicator();
  M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
  const at::Tensor before = FlatParamsOnCpu(*t);
  M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
  // Mean NLL of a random tiny policy over 99 tokens: about log(99) = 4.6.
  EXPECT_GT(r.losses[0], 1.0);
  EXPECT_LT(r.losses[0], 10.0);
  EXPECT_FALSE(at::equal(before, FlatParamsOnCpu(*t)));
}

}  // namespace
}  // namespace m1rl::trainer
