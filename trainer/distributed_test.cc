#include "trainer/distributed.h"

#include <map>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ReadDistEnvTest, NothingSetIsSingleRank) {
  M1RL_ASSERT_OK_AND_ASSIGN(DistEnv env, ReadDistEnv(MapEnv({})));
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.source, "single");
}

TEST(ReadDistEnvTest, TorchrunContract) {
  M1RL_ASSERT_OK_AND_ASSIGN(DistEnv env, ReadDistEnv(MapEnv({{"RANK", "3"},
                                                             {"WORLD_SIZE", "4"},
                                                             {"LOCAL_RANK", "1"},
                                                             {"MASTER_ADDR", "10.0.0.2"},
                                                             {"MASTER_PORT", "29511"}})));
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.master_addr, "10.0.0.2");
  EXPECT_EQ(env.master_port, 29511);
  EXPECT_EQ(env.source, "torchrun");
}

TEST(ReadDistEnvTest, SlurmVariablesMapOntoTheContract) {
  M1RL_ASSERT_OK_AND_ASSIGN(DistEnv env, ReadDistEnv(MapEnv({{"SLURM_PROCID", "5"},
                                                             {"SLURM_NTASKS", "8"},
                                                             {"SLURM_LOCALID", "1"},
                                                             {"MASTER_ADDR", "node1"},
                                                             {"MASTER_PORT", "1234"}})));
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.source, "slurm");
}

TEST(ReadDistEnvTest, TorchrunWinsOverSlurm) {
  M1RL_ASSERT_OK_AND_ASSIGN(
      DistEnv env, ReadDistEnv(MapEnv(
                       {{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}})));
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.source, "torchrun");
}

TEST(ReadDistEnvTest, ErrorsNameTheVariable) {
  EXPECT_THAT(ReadDistEnv(MapEnv({{"RANK", "x"}, {"WORLD_SIZE", "2"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RANK='x'")));
  EXPECT_THAT(
      ReadDistEnv(MapEnv({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RANK=2 is outside [0, WORLD_SIZE=2)")));
  EXPECT_THAT(ReadDistEnv(MapEnv({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("MASTER_PORT is unset")));
  EXPECT_THAT(ReadDistEnv(MapEnv({{"WORLD_SIZE", "2"}})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("WORLD_SIZE is set but RANK is not")));
}

TEST(CreateCommunicatorTest, RejectsUnknownBackendAndSingleRankNeedsNoNetwork) {
  EXPECT_THAT(CreateCommunicator(DistEnv{}, "mpi", std::chrono::milliseconds(100)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gloo or nccl, got 'mpi'")));
  M1RL_ASSERT_OK_AND_ASSIGN(auto comm, CreateCommunicator(DistEnv{}, "gloo", std::chrono::milliseconds(100)));
  EXPECT_EQ(comm->backend(), "single");
}

}  // namespace
}  // namespace m1rl::trainer
