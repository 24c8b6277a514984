#include "trainer/communicator.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/full.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

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
using ::testing::HasSubstr;

// Runs fn(rank, comm) on `world` threads.
template <typename Fn>
void RunRanks(std::vector<std::unique_ptr<Communicator>>& comms, Fn fn) {
  std::vector<std::thread> threads;
  for (size_t r = 0; r < comms.size(); ++r)
    threads.emplace_back([&, r] { fn(static_cast<int>(r), comms[r].get()); });
  for (auto& t : threads) t.join();
}

void CheckCollectives(std::vector<std::unique_ptr<Communicator>>& comms) {
  const int world = static_cast<int>(comms.size());
  std::vector<at::Tensor> sums(world), mins(world), maxs(world), gathered(world), bcast(world);
  std::vector<absl::Status> status(world);
  RunRanks(comms, [&](int r, Communicator* c) {
    // Rank r contributes [r+1, 10*(r+1)]: sums are integers, exact in fp32.
    at::Tensor x = at::tensor({1.0f * (r + 1), 10.0f * (r + 1)});
    sums[r] = x.clone();
    mins[r] = x.clone();
    maxs[r] = x.clone();
    gathered[r] = at::zeros({2 * world});
    bcast[r] = at::full({3}, static_cast<double>(r));
    absl::Status s = c->AllReduce(sums[r], ReduceOp::kSum);
    if (s.ok()) s = c->AllReduce(mins[r], ReduceOp::kMin);
    if (s.ok()) s = c->AllReduce(maxs[r], ReduceOp::kMax);
    if (s.ok()) s = c->AllGather(x, gathered[r]);
    if (s.ok()) s = c->Broadcast(bcast[r], world - 1);
    if (s.ok()) s = c->Barrier();
    status[r] = s;
  });
  // Hand-derived: sum_{r<W}(r+1) = W(W+1)/2.
  const float tri = world * (world + 1) / 2.0f;
  for (int r = 0; r < world; ++r) {
    ASSERT_THAT(status[r], IsOk());
    EXPECT_EQ(sums[r][0].item<float>(), tri);
    EXPECT_EQ(sums[r][1].item<float>(), 10 * tri);
    EXPECT_EQ(mins[r][0].item<float>(), 1.0f);
    EXPECT_EQ(maxs[r][1].item<float>(), 10.0f * world);
    for (int q = 0; q < world; ++q) {
      EXPECT_EQ(gathered[r][2 * q].item<float>(), q + 1.0f);
      EXPECT_EQ(gathered[r][2 * q + 1].item<float>(), 10.0f * (q + 1));
    }
    EXPECT_EQ(bcast[r][2].item<float>(), world - 1.0f);
  }
}

TEST(InProcessGroupTest, CollectivesMatchHandResults) {
  InProcessGroup group(3);
  std::vector<std::unique_ptr<Communicator>> comms;
  for (int r = 0; r < 3; ++r) comms.push_back(group.Rank(r));
  CheckCollectives(comms);
}

TEST(InProcessGroupTest, DroppedPeerFailsCollectiveWithUnavailable) {
  InProcessGroup group(2);
  auto c0 = group.Rank(0);
  auto c1 = group.Rank(1);
  absl::Status s0;
  std::thread t([&] {
    at::Tensor x = at::tensor({1.0f});
    s0 = c0->AllReduce(x, ReduceOp::kSum);  // rank 1 never arrives
  });
  group.DropPeer(1);
  t.join();
  EXPECT_THAT(s0, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("peer rank 1 is gone")));
}

TEST(SingleRankTest, CollectivesAreIdentity) {
  auto c = MakeSingleRankCommunicator();
  at::Tensor x = at::tensor({2.0f, 3.0f});
  ASSERT_THAT(c->AllReduce(x, ReduceOp::kSum), IsOk());
  EXPECT_EQ(x[1].item<float>(), 3.0f);
  at::Tensor out = at::zeros({2});
  ASSERT_THAT(c->AllGather(x, out), IsOk());
  EXPECT_EQ(out[0].item<float>(), 2.0f);
  EXPECT_THAT(c->Broadcast(x, 1), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("root 1")));
}

TEST(GlooTest, TwoThreadRanksOverHashStoreMatchHandResults) {
  if (!GlooAvailable()) GTEST_SKIP() << "this LibTorch build has no Gloo backend";

  std::vector<std::unique_ptr<Communicator>> comms(2);
  std::vector<absl::Status> status(2);
  std::vector<std::thread> threads;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      auto c = CreateGlooCommunicatorInProcess(r, 2, "communicator_test");
      status[r] = c.status();
      if (c.ok()) comms[r] = std::move(*c);
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_THAT(status[0], IsOk());
  ASSERT_THAT(status[1], IsOk());
  EXPECT_EQ(comms[0]->backend(), "gloo");
  CheckCollectives(comms);
}

}  // namespace
}  // namespace m1rl::trainer
