// Domain "code" through the reward service: the in-process client and a gRPC server with the registry
// AddSandboxedVerifiers builds from reward.code / reward.sandbox.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "proto/rl.grpc.pb.h"
#include "reward/service/client.h"
#include "reward/service/engine.h"
#include "reward/service/sandboxed_registry.h"
#include "reward/service/server.h"
#include "reward/service/testing/grpc_harness.h"

namespace m1rl::reward {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

config::RewardConfig CodeConfig() {
  config::RewardConfig c;
  c.set_mode(config::RewardConfig::MODE_IN_PROCESS);
  c.set_in_process_workers(2);
  c.mutable_code()->set_enabled(true);
  c.mutable_sandbox()->set_slots(2);
  return c;
}

rl::ScoreItem AddItem(const std::string& id, const std::string& program) {
  rl::ScoreItem item;
  item.set_item_id(id);
  item.set_domain("code");
  item.set_response("```python\n" + program + "\n```");
  rl::CodePayload* code = item.mutable_code();
  code->set_language(rl::CodePayload::PYTHON3);
  rl::CodeTest* t = code->add_tests();
  t->set_stdin("2 3\n");
  t->set_expected("5\n");
  return item;
}

TEST(CodeDomainTest, InProcessClientScoresCodeAndReportsSandboxProtections) {
  auto client = RewardClient::Create(CodeConfig());
  ASSERT_TRUE(client.ok()) << client.status();
  auto results = (*client)->ScoreBatch({AddItem("right", "a, b = map(int, input().split())\nprint(a + b)"),
                                        AddItem("wrong", "print(6)"), AddItem("none", "")});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].status(), rl::OK);
  EXPECT_EQ((*results)[0].verdict(), rl::CORRECT);
  EXPECT_DOUBLE_EQ((*results)[0].total(), 1.0);
  EXPECT_EQ((*results)[0].verifier_version(), "code-1");
  EXPECT_EQ((*results)[1].verdict(), rl::INCORRECT);
  EXPECT_DOUBLE_EQ((*results)[1].total(), 0.0);
  EXPECT_EQ((*results)[1].details(), "0/1 accepted: 0=WRONG_ANSWER(token 1: expected '5', got '6')");
  EXPECT_EQ((*results)[2].verdict(), rl::INCORRECT);  // an empty program prints nothing
  auto info = (*client)->GetInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->domains_served(), Contains("code"));
  EXPECT_THAT(info->protections(), Contains("sandbox: seccomp"));
  EXPECT_THAT(info->protections(), Contains(StartsWith("sandbox: cgroup_v2(off: ")));
}

TEST(CodeDomainTest, DisabledByDefaultAndRefusedWithoutRequiredProtections) {
  config::RewardConfig c = CodeConfig();
  c.mutable_code()->set_enabled(false);
  auto client = RewardClient::Create(c);
  ASSERT_TRUE(client.ok()) << client.status();
  auto results = (*client)->ScoreBatch({AddItem("x", "print(5)")});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ((*results)[0].status(), rl::INVALID_INPUT);
  EXPECT_THAT((*results)[0].details(), HasSubstr("unknown domain 'code'"));

  c = CodeConfig();
  c.mutable_sandbox()->add_required_protections("cgroup_v2");
  EXPECT_THAT(RewardClient::Create(c).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("required protections unavailable")));
  c = CodeConfig();
  c.mutable_code()->set_time_limit_ms(-1);
  EXPECT_THAT(RewardClient::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "reward.code.time_limit_ms must be >= 0, got -1"));
}

// Over gRPC: the item's deadline bounds a program that sleeps past it (TIMEOUT, not a verdict).
TEST(CodeDomainTest, GrpcServerScoresCodeWithinTheRpcDeadline) {
  auto registry = std::make_shared<VerifierRegistry>();
  EngineOptions options;
  options.num_workers = 2;
  ASSERT_TRUE(AddSandboxedVerifiers(CodeConfig(), registry.get(), &options.protections).ok());
  auto harness = testing::StartGrpcHarness(registry, options);
  ASSERT_TRUE(harness.ok()) << harness.status();
  rl::ScoreRequest request;
  *request.add_items() = AddItem("ok", "a, b = map(int, input().split())\nprint(a + b)");
  rl::ScoreItem slow = AddItem("slow", "import time\ntime.sleep(5)\nprint(5)");
  slow.set_deadline_ms(1000);
  *request.add_items() = slow;
  const testing::TimedScore score = testing::ScoreTimed(harness->stub.get(), request);
  ASSERT_TRUE(score.status.ok()) << score.status.error_message();
  const rl::ScoreResponse& response = score.response;
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).verdict(), rl::CORRECT);
  EXPECT_EQ(response.results(1).status(), rl::TIMEOUT);
  EXPECT_LT(score.elapsed_ms, 1000.0 + 1000.0);
}

// Domain "swe" shares the sandbox pool: served when reward.swe.enabled, and validates its payload.
TEST(CodeDomainTest, SweDomainServedWhenEnabled) {
  config::RewardConfig c = CodeConfig();
  c.mutable_code()->set_enabled(false);
  c.mutable_swe()->set_enabled(true);
  auto client = RewardClient::Create(c);
  ASSERT_TRUE(client.ok()) << client.status();
  auto info = (*client)->GetInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->domains_served(), Contains("swe"));
  EXPECT_THAT(info->protections(), Contains("sandbox: seccomp"));
  rl::ScoreItem missing;
  missing.set_item_id("m");
  missing.set_domain("swe");
  missing.set_response("```diff\n```");
  rl::ScoreItem bad = missing;
  bad.set_item_id("b");
  bad.mutable_swe()->set_repo_dir("/nonexistent/m1rl-swe-repo");
  auto results = (*client)->ScoreBatch({missing, bad});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].status(), rl::INVALID_INPUT);
  EXPECT_THAT((*results)[0].details(), HasSubstr("item.swe: missing"));
  EXPECT_EQ((*results)[1].status(), rl::INVALID_INPUT);
  EXPECT_THAT((*results)[1].details(),
              HasSubstr("item.swe.repo_dir: '/nonexistent/m1rl-swe-repo' does not exist"));

  c.mutable_swe()->set_regression_penalty(1.0);
  EXPECT_THAT(
      RewardClient::Create(c).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reward.swe.regression_penalty must be <= 0")));
}

}  // namespace
}  // namespace m1rl::reward
