// RewardClient::Create() with the production registry (links the math and logic verifiers).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "reward/service/client.h"

namespace m1rl::reward {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RewardClientCreateTest, UnknownModeIsRejected) {
  config::RewardConfig c;
  EXPECT_THAT(
      RewardClient::Create(c).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reward.mode must be set: grpc or in_process")));
  c.set_mode(config::RewardConfig::MODE_GRPC);
  EXPECT_THAT(RewardClient::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reward.address must be host:port")));
}

TEST(RewardClientCreateTest, InProcessUsesTheDefaultRegistryAndConfigWeights) {
  config::RewardConfig c;
  c.set_mode(config::RewardConfig::MODE_IN_PROCESS);
  c.set_in_process_workers(1);
  c.set_correctness_weight(1.0);
  c.set_format_weight(0.5);
  c.set_require_think(true);
  auto client = RewardClient::Create(c);
  ASSERT_TRUE(client.ok()) << client.status();
  rl::ScoreItem good;
  good.set_item_id("good");
  good.set_domain("format");
  good.set_response("<think>r</think> 4");
  rl::ScoreItem bad = good;
  bad.set_item_id("bad");
  bad.set_response("4");
  auto results = (*client)->ScoreBatch({good, bad});
  ASSERT_TRUE(results.ok());
  // format domain: correctness = format = 1 when well formed; total = 1.0*1 + 0.5*1.
  EXPECT_EQ((*results)[0].status(), rl::OK);
  EXPECT_DOUBLE_EQ((*results)[0].total(), 1.5);
  EXPECT_EQ((*results)[1].verdict(), rl::INCORRECT);
  EXPECT_DOUBLE_EQ((*results)[1].total(), 0.0);
  auto info = (*client)->GetInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->domains_served(), ::testing::Contains("format"));
}

}  // namespace
}  // namespace m1rl::reward
