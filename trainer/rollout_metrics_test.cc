#include "trainer/rollout_metrics.h"

#include <thread>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;

RolloutCounters Example(int64_t k) {
  RolloutCounters c;
  c.completions = 8 * k;
  c.unscored = k;
  c.scored = 6 * k;
  c.correct = 3 * k;
  c.reward_sum = 2.5 * static_cast<double>(k);
  c.length_sum = 40.0 * static_cast<double>(k);
  c.logprob_sum = -10.0 * static_cast<double>(k);
  c.repetition_dropped = k;
  c.groups_dropped = 0;
  c.zero_variance_groups = k;
  c.groups_kept = 2 * k;
  c.generated_tokens = 40 * k;
  c.abs_advantage_sum = 3.0 * static_cast<double>(k);
  c.samples = 6 * k;
  c.masked_tokens_repetition = 5 * k;
  c.stop_counts[rl::STOP_EOS] = 5 * k;
  c.stop_counts[rl::STOP_LENGTH] = 2 * k;
  c.stop_counts[rl::STOP_REPETITION] = k;
  c.length_max = 10.0 * static_cast<double>(k);
  return c;
}

TEST(RolloutCountersTest, PackUnpackRoundTrip) {
  const RolloutCounters c = Example(3);
  const at::Tensor packed = c.PackSums();
  ASSERT_EQ(packed.numel(), RolloutCounters::kNumSums);
  const RolloutCounters back = RolloutCounters::UnpackSums(packed, c.length_max);
  EXPECT_EQ(back.completions, 24);
  EXPECT_EQ(back.unscored, 3);
  EXPECT_EQ(back.correct, 9);
  EXPECT_EQ(back.reward_sum, 7.5);
  EXPECT_EQ(back.samples, 18);
  EXPECT_EQ(back.masked_tokens_repetition, 15);
  EXPECT_EQ(back.logprob_sum, -30.0);
  EXPECT_EQ(back.stop_counts, c.stop_counts);
  EXPECT_EQ(back.ToMetrics(), c.ToMetrics());
}

TEST(RolloutCountersTest, MetricsAreHandRatios) {
  const std::map<std::string, double> m = Example(1).ToMetrics();
  EXPECT_EQ(m.at("rollout/completions"), 8);
  EXPECT_EQ(m.at("rollout/accuracy"), 0.5);                   // 3 / 6
  EXPECT_EQ(m.at("rollout/reward_mean"), 2.5 / 6);            // over scored
  EXPECT_EQ(m.at("rollout/response_length_mean"), 5);         // 40 / 8
  EXPECT_EQ(m.at("rollout/logprob_mean"), -0.25);             // -10 / 40 tokens
  EXPECT_EQ(m.at("rollout/zero_variance_group_share"), 0.5);  // 1 / 2
  EXPECT_EQ(m.at("rollout/abs_advantage_mean"), 0.5);         // 3 / 6
  EXPECT_EQ(m.at("rollout/stop_eos"), 5);
  EXPECT_EQ(m.at("rollout/stop_repetition"), 1);
  EXPECT_EQ(m.count("rollout/stop_reason_unspecified"), 0u);
  const std::map<std::string, double> empty = RolloutCounters{}.ToMetrics();
  EXPECT_EQ(empty.at("rollout/accuracy"), 0);
  EXPECT_EQ(empty.at("rollout/zero_variance_group_share"), 0);
}

TEST(RolloutCountersTest, AllReduceSumsAndTakesTheMaximumLength) {
  InProcessGroup group(2);
  std::vector<std::unique_ptr<Communicator>> comms;
  comms.reserve(2);
  for (int r = 0; r < 2; ++r) comms.push_back(group.Rank(r));
  std::vector<absl::StatusOr<RolloutCounters>> got(2, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] { got[r] = AllReduceRolloutCounters(*comms[r], Example(r + 1)); });
  for (auto& t : threads) t.join();
  for (int r = 0; r < 2; ++r) {
    ASSERT_THAT(got[r].status(), IsOk());
    EXPECT_EQ(got[r]->completions, 24);  // 8 + 16
    EXPECT_EQ(got[r]->correct, 9);       // 3 + 6
    EXPECT_EQ(got[r]->stop_counts[rl::STOP_LENGTH], 6);
    EXPECT_EQ(got[r]->length_max, 20);  // max(10, 20)
  }
}

}  // namespace
}  // namespace m1rl::trainer
