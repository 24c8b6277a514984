#include "trainer/checkpoint.h"

#include <dlfcn.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/file.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/config.pb.h"

namespace m1rl::trainer {
namespace {

namespace fs = std::filesystem;
using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string TempRoot(const std::string& name) {
  std::string root =
      (fs::temp_directory_path() / absl::StrCat("m1rl_ckpt_test_", name, "_", ::getpid())).string();
  fs::remove_all(root);
  return root;
}

// The PyTorch wheel's libtorch.so exports its own copy of std::filesystem whose remove_all(path) calls
// through a null pointer; executables must bind libstdc++'s (the link order in cmake/m1rl_deps.cmake ensures
// it).
TEST(CheckpointFilesystemTest, StdFilesystemIsLibstdcxxNotLibTorchsCopy) {
  auto* remove_all = static_cast<std::uintmax_t (*)(const fs::path&)>(&fs::remove_all);
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(remove_all), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  const std::string object = fs::path(info.dli_fname).filename().string();
  EXPECT_THAT(object, Not(StartsWith("libtorch"))) << info.dli_fname;
  EXPECT_THAT(object, Not(StartsWith("libc10"))) << info.dli_fname;
}

TEST(CheckpointManagerTest, SaveKeepsLastKAndOnlyCompleteOnesResume) {
  const std::string root = TempRoot("keep");
  auto comm = MakeSingleRankCommunicator();
  CheckpointManager mgr(root, 2, comm.get());
  for (int step : {1, 2, 3}) {
    M1RL_ASSERT_OK_AND_ASSIGN(std::string dir, mgr.Save(step, [&](const std::string& d) {
      return WriteFileAtomic(d + "/state.txt", std::to_string(step));
    }));
    EXPECT_TRUE(IsCompleteCheckpoint(dir));
  }
  std::vector<std::string> names;
  for (const auto& p : ListCompleteCheckpoints(root)) names.push_back(fs::path(p).filename().string());
  EXPECT_THAT(names, ElementsAre("step_00000002", "step_00000003"));
  // A newer checkpoint without COMPLETE (crash between rename and marker) is never picked.
  fs::create_directories(root + "/step_00000009");
  M1RL_ASSERT_OK_AND_ASSIGN(std::string latest, FindLatestComplete(root));
  EXPECT_EQ(fs::path(latest).filename(), "step_00000003");
  EXPECT_THAT(ResolveResume(root + "/step_00000009", root),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has no COMPLETE marker")));
  // A failing writer leaves no complete step_4.
  EXPECT_THAT(mgr.Save(4, [](const std::string&) { return absl::InternalError("disk full"); }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("disk full")));
  M1RL_ASSERT_OK_AND_ASSIGN(latest, FindLatestComplete(root));
  EXPECT_EQ(fs::path(latest).filename(), "step_00000003");
  // Saving step 9 again replaces the incomplete leftover.
  ASSERT_THAT(mgr.Save(9, [](const std::string& d) { return WriteFileAtomic(d + "/x", "x"); }).status(),
              IsOk());
  EXPECT_TRUE(IsCompleteCheckpoint(root + "/step_00000009"));
  EXPECT_THAT(FindLatestComplete(root + "/nothing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no complete checkpoint")));
  fs::remove_all(root);
}

// A writer failing on rank 1 only fails the save on both ranks with the same error naming rank 1 (before,
// rank 0 waited in the barrier after the writes until the collective timed out).
TEST(CheckpointManagerTest, WriterFailureOnOneRankFailsTheSaveOnEveryRank) {
  const std::string root = TempRoot("rank_fail");
  InProcessGroup group(2);
  std::vector<absl::StatusOr<std::string>> got(2, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r, comm = group.Rank(r)] {
      CheckpointManager mgr(root, 2, comm.get());
      got[r] = mgr.Save(5, [r](const std::string& d) {
        if (r == 1) return absl::InternalError("disk full");
        return WriteFileAtomic(d + "/rank0.txt", "x");
      });
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < 2; ++r) {
    EXPECT_THAT(got[r], StatusIs(absl::StatusCode::kInternal,
                                 "writing checkpoint step_00000005: rank 1 failed: disk full"))
        << "rank " << r;
  }
  EXPECT_FALSE(IsCompleteCheckpoint(root + "/step_00000005"));
  fs::remove_all(root);
}

TEST(CheckpointManagerTest, TwoRanksWriteIntoOneDirectory) {
  const std::string root = TempRoot("ranks");
  InProcessGroup group(2);
  std::vector<absl::Status> status(2);
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      auto comm = group.Rank(r);
      CheckpointManager mgr(root, 0, comm.get());
      status[r] =
          mgr.Save(5,
                   [&](const std::string& d) { return WriteFileAtomic(absl::StrCat(d, "/rank", r), "ok"); })
              .status();
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_THAT(status[0], IsOk());
  ASSERT_THAT(status[1], IsOk());
  EXPECT_TRUE(fs::exists(root + "/step_00000005/rank0"));
  EXPECT_TRUE(fs::exists(root + "/step_00000005/rank1"));
  EXPECT_TRUE(IsCompleteCheckpoint(root + "/step_00000005"));
  fs::remove_all(root);
}

TEST(CheckResumeCompatibleTest, NamesTheFirstDifferingFieldAndHonoursIgnored) {
  config::RunConfig a;
  a.mutable_trainer()->mutable_optim()->set_lr(1e-3);
  a.mutable_trainer()->set_steps(10);
  a.mutable_reward()->set_address("127.0.0.1:1");
  config::RunConfig b = a;
  EXPECT_THAT(CheckResumeCompatible(a, b, {}), IsOk());
  b.mutable_trainer()->set_steps(20);
  b.mutable_reward()->set_address("127.0.0.1:2");
  EXPECT_THAT(CheckResumeCompatible(a, b, {"trainer.steps", "reward.address"}), IsOk());
  b.mutable_trainer()->mutable_optim()->set_lr(2e-3);
  EXPECT_THAT(CheckResumeCompatible(a, b, {"trainer.steps", "reward.address"}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("trainer.optim.lr: checkpoint has 0.001, this run has 0.002")));
  b = a;
  b.mutable_trainer()->mutable_optim()->add_betas(0.9);
  EXPECT_THAT(CheckResumeCompatible(a, b, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("trainer.optim.betas")));
}

}  // namespace
}  // namespace m1rl::trainer
