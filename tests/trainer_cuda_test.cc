// The trainer on a CUDA device: RL steps with mixed-verdict groups (so the policy loss and the update
// really run) and an SFT step, with every tensor of the update on the model's device; the train/infer
// agreement with the FP32 head; bf16 compute over FP32 masters; a bit-identical resume. Skips without a
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
  for (int s = 0; s < 3; ++s) {
    M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
    ASSERT_EQ(r.losses.size(), 2u);  // trainer.minibatches_per_step
    for (double loss : r.losses) EXPECT_TRUE(std::isfinite(loss));
    EXPECT_GT(r.metrics.at("rollout/groups_kept"), 0);
    mixed_share += 1.0 - r.metrics.at("rollout/zero_variance_group_share");
    // Train/infer agreement with the FP32 head (M1 Fig. 3): rollout decode vs the trainer's recompute.
    EXPECT_GE(r.metrics.at("mismatch/pearson"), 0.99) << "step " << s + 1;
    EXPECT_GT(r.metrics.at("mismatch/num_tokens"), 0);
    EXPECT_TRUE(std::isfinite(r.metrics.at("mismatch/mean_entropy")));
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

// model.dtype bfloat16 on CUDA: bf16 compute, the parameters (master weights) stay fp32 and move.
TEST(TrainerCudaTest, Bf16ComputeKeepsFp32MastersOnTheDevice) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  testutil::TempDir dir("cuda_bf16");
  config::RunConfig cfg = testutil::TinyRlConfig(dir.path());
  cfg.mutable_model()->set_device("cuda");
  cfg.mutable_model()->set_dtype(config::ModelConfig::DTYPE_BFLOAT16);
  cfg.mutable_model()->set_recompute_layers(true);
  cfg.mutable_trainer()->mutable_checkpoint()->set_dir("");
  auto comm = MakeSingleRankCommunicator();
  M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
  EXPECT_EQ(t->policy().compute_dtype(), at::kBFloat16);
  const at::Tensor before = FlatParamsOnCpu(*t);
  for (int s = 0; s < 2; ++s) {
    M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
    for (double loss : r.losses) EXPECT_TRUE(std::isfinite(loss));
  }
  for (const auto& [name, p] : t->policy().NamedParameters()) {
    EXPECT_EQ(p.scalar_type(), at::kFloat) << name;
    EXPECT_TRUE(p.device().is_cuda()) << name;
  }
  EXPECT_FALSE(at::equal(before, FlatParamsOnCpu(*t)));
}

// Two fresh runs of the same config give the same bits on CUDA (the premise of a bit-identical resume: if
// this fails, a kernel or LibTorch op is run-to-run nondeterministic, not the checkpoint).
TEST(TrainerCudaTest, TwoFreshRunsAreBitIdentical) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  testutil::TempDir dir("cuda_repeat");
  config::RunConfig cfg = testutil::TinyRlConfig(dir.path());
  cfg.mutable_model()->set_device("cuda");
  cfg.mutable_trainer()->mutable_checkpoint()->set_dir("");
  auto comm = MakeSingleRankCommunicator();
  std::vector<std::vector<double>> losses(2);
  std::vector<at::Tensor> params(2);
  for (int run = 0; run < 2; ++run) {
    M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
    for (int s = 0; s < 3; ++s) {
      M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
      losses[run].insert(losses[run].end(), r.losses.begin(), r.losses.end());
    }
    params[run] = FlatParamsOnCpu(*t);
  }
  EXPECT_EQ(losses[0], losses[1]);
  EXPECT_TRUE(at::equal(params[0], params[1]));
}

// A resume on CUDA continues bit for bit: 3 steps in one go == 1 step, checkpoint, resume, 2 steps.
// (Sampling draws from counter-based streams of trainer.seed and the step, not from the CUDA generator,
// so the checkpoint's data cursor and optimizer state are the whole state.)
TEST(TrainerCudaTest, ResumeIsBitIdentical) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  testutil::TempDir dir("cuda_resume");
  config::RunConfig cfg = testutil::TinyRlConfig(dir.path());
  cfg.mutable_model()->set_device("cuda");
  cfg.mutable_trainer()->set_steps(3);
  auto comm = MakeSingleRankCommunicator();
  std::vector<double> ref_losses;
  at::Tensor ref_params;
  {
    M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
    for (int s = 0; s < 3; ++s) {
      M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
      if (s >= 1) ref_losses.insert(ref_losses.end(), r.losses.begin(), r.losses.end());
    }
    ref_params = FlatParamsOnCpu(*t);
  }
  cfg.mutable_trainer()->mutable_checkpoint()->set_dir(dir.path() + "/ckpt2");
  at::Tensor saved_params;
  {
    M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
    ASSERT_THAT(t->TrainStep().status(), IsOk());
    ASSERT_THAT(t->SaveCheckpoint().status(), IsOk());
    saved_params = FlatParamsOnCpu(*t);
  }
  M1RL_ASSERT_OK_AND_ASSIGN(auto t, Trainer::Create(cfg, comm.get(), testutil::MakeParityRewardClient()));
  ASSERT_THAT(t->Resume("auto"), IsOk());
  // The restore itself is exact; a difference below then comes from the steps, not the checkpoint.
  EXPECT_TRUE(at::equal(FlatParamsOnCpu(*t), saved_params));
  std::vector<double> losses;
  for (int s = 1; s < 3; ++s) {
    M1RL_ASSERT_OK_AND_ASSIGN(StepResult r, t->TrainStep());
    losses.insert(losses.end(), r.losses.begin(), r.losses.end());
  }
  EXPECT_EQ(losses, ref_losses);
  EXPECT_TRUE(at::equal(FlatParamsOnCpu(*t), ref_params));
}

}  // namespace
}  // namespace m1rl::trainer
