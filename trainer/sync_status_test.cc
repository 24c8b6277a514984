#include "trainer/sync_status.h"

#include <string>
#include <thread>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trainer/distributed.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Runs SyncStatus on every rank with the given local statuses; returns each rank's result.
std::vector<absl::Status> SyncAll(std::vector<std::unique_ptr<Communicator>>& comms,
                                  const std::vector<absl::Status>& local) {
  std::vector<absl::Status> out(comms.size());
  std::vector<std::thread> threads;
  for (size_t r = 0; r < comms.size(); ++r)
    threads.emplace_back([&, r] { out[r] = SyncStatus(*comms[r], local[r], "building micro-batches"); });
  for (auto& t : threads) t.join();
  return out;
}

std::vector<std::unique_ptr<Communicator>> InProcessRanks(InProcessGroup& group) {
  std::vector<std::unique_ptr<Communicator>> comms;
  comms.reserve(group.world_size());
  for (int r = 0; r < group.world_size(); ++r) comms.push_back(group.Rank(r));
  return comms;
}

TEST(SyncStatusTest, AllOkIsOkOnEveryRank) {
  InProcessGroup group(3);
  auto comms = InProcessRanks(group);
  for (const absl::Status& s : SyncAll(comms, {absl::OkStatus(), absl::OkStatus(), absl::OkStatus()}))
    EXPECT_THAT(s, IsOk());
}

TEST(SyncStatusTest, FailureOnRankOneIsTheSameErrorOnEveryRank) {
  InProcessGroup group(3);
  auto comms = InProcessRanks(group);
  const std::vector<absl::Status> got =
      SyncAll(comms, {absl::OkStatus(), absl::DataLossError("disk full at /ckpt"), absl::OkStatus()});
  for (const absl::Status& s : got) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                            "building micro-batches: rank 1 failed: disk full at /ckpt"));
  }
}

TEST(SyncStatusTest, SeveralFailuresReportTheLowestRankAndTheCount) {
  InProcessGroup group(3);
  auto comms = InProcessRanks(group);
  const std::vector<absl::Status> got = SyncAll(
      comms, {absl::OkStatus(), absl::InvalidArgumentError("bad prompt"), absl::InternalError("oom")});
  for (const absl::Status& s : got) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                            "building micro-batches: rank 1 failed: bad prompt (2 of 3 ranks failed)"));
  }
}

TEST(SyncStatusTest, LongMessageIsCutAndSaysSo) {
  auto comm = MakeSingleRankCommunicator();
  const std::string long_msg(3 * kSyncStatusMessageBytes, 'x');
  const absl::Status s = SyncStatus(*comm, absl::InternalError(long_msg), "p");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), StartsWith("p: rank 0 failed: xxx"));
  EXPECT_THAT(std::string(s.message()), EndsWith("x [cut]"));
  // "p: rank 0 failed: " (18 bytes) + the carried bytes.
  EXPECT_EQ(s.message().size(), 18u + static_cast<size_t>(kSyncStatusMessageBytes));
}

TEST(SyncStatusTest, GlooRanksAllNameTheFailingRank) {
  if (!GlooAvailable()) GTEST_SKIP() << "this LibTorch build has no Gloo backend";
  std::vector<std::unique_ptr<Communicator>> comms(2);
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      auto c = CreateGlooCommunicatorInProcess(r, 2, "sync_status_test");
      if (c.ok()) comms[r] = std::move(*c);
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_NE(comms[0], nullptr);
  ASSERT_NE(comms[1], nullptr);
  const std::vector<absl::Status> got =
      SyncAll(comms, {absl::OkStatus(), absl::UnavailableError("reward service down")});
  for (const absl::Status& s : got) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("rank 1 failed: reward service down")));
  }
  // The group is still usable: the next phase agrees on OK.
  for (const absl::Status& s : SyncAll(comms, {absl::OkStatus(), absl::OkStatus()})) EXPECT_THAT(s, IsOk());
}

}  // namespace
}  // namespace m1rl::trainer
