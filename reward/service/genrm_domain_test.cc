// Domain "general" (GenRM) through the reward service: the in-process client and a gRPC server with the
// registry AddGenrmVerifier builds from reward.genrm, judging through a fake OpenAI-compatible server.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"
#include "proto/rl.grpc.pb.h"
#include "reward/genrm/testing/fake_openai_server.h"
#include "reward/genrm/testing/scripted_judge.h"
#include "reward/service/client.h"
#include "reward/service/engine.h"
#include "reward/service/genrm_registry.h"
#include "reward/service/server.h"
#include "reward/service/testing/grpc_harness.h"

namespace m1rl::reward {
namespace {

using genrm::testing::BlockAfter;
using genrm::testing::FakeOpenAiServer;
using genrm::testing::FakeReply;
using ::m1rl::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The fake judge: grade 5 for "Paris", 1 otherwise; pairwise prefers "Paris"; "garbage" gets no verdict;
// "slow" answers after 3 s.
std::unique_ptr<FakeOpenAiServer> StartJudge() {
  auto server = FakeOpenAiServer::Start([](const nlohmann::json& req, int) {
    std::string user = req["messages"][1]["content"];
    std::string response = BlockAfter(user, "RESPONSE:");
    if (response == "garbage") return FakeReply{200, "I cannot decide."};
    if (response == "slow") return FakeReply{200, "Grade: [[5]]", "", 3000};
    if (!response.empty()) return FakeReply{200, response == "Paris" ? "Grade: [[5]]" : "Grade: [[1]]"};
    std::string a = BlockAfter(user, "ANSWER A:");
    std::string b = BlockAfter(user, "ANSWER B:");
    return FakeReply{200, a == "Paris"   ? "Verdict: [[A]]"
                          : b == "Paris" ? "Verdict: [[B]]"
                                         : "Verdict: [[TIE]]"};
  });
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(*server);
}

config::RewardConfig GenrmConfig(const FakeOpenAiServer& judge) {
  config::RewardConfig c;
  c.set_mode(config::RewardConfig::MODE_IN_PROCESS);
  c.set_in_process_workers(4);
  config::GenrmConfig* g = c.mutable_genrm();
  g->set_enabled(true);
  g->set_backend(config::GenrmConfig::BACKEND_OPENAI);
  g->mutable_openai()->add_urls(judge.url());
  g->mutable_openai()->set_model("fake-judge");
  g->mutable_openai()->set_max_retries(1);
  g->mutable_openai()->set_backoff_ms(5);
  return c;
}

rl::ScoreItem Graded(const std::string& id, const std::string& response) {
  rl::ScoreItem item;
  item.set_item_id(id);
  item.set_domain("general");
  item.set_prompt("Name the capital of France.");
  item.set_response(response);
  item.mutable_general()->set_ground_truth("Paris");
  return item;
}

rl::ScoreItem Paired(const std::string& id, const std::string& response) {
  rl::ScoreItem item = Graded(id, response);
  item.mutable_general()->set_ground_truth("");
  item.mutable_general()->set_reference("Lyon");
  return item;
}

// Constrained instruction following: the rule fails before the (winning) pairwise judgement.
rl::ScoreItem Constrained() {
  rl::ScoreItem item = Paired("constrained", "Paris, of course");
  item.mutable_general()->add_constraints("max_words:1");
  return item;
}

TEST(GenrmDomainTest, InProcessClientScoresGeneralItems) {
  auto judge = StartJudge();
  auto client = RewardClient::Create(GenrmConfig(*judge));
  ASSERT_TRUE(client.ok()) << client.status();
  auto results = (*client)->ScoreBatch({Graded("right", "<think>hmm</think>Paris"), Graded("wrong", "Rome"),
                                        Paired("better", "Paris"), Paired("same", "Nice"),
                                        Graded("garbage", "garbage"), Graded("bare", ""), Constrained()});
  ASSERT_TRUE(results.ok()) << results.status();
  const auto& r = *results;
  EXPECT_EQ(r[0].status(), rl::OK);
  EXPECT_EQ(r[0].verdict(), rl::CORRECT);
  EXPECT_DOUBLE_EQ(r[0].total(), 1.0);
  EXPECT_THAT(r[0].verifier_version(), StartsWith("genrm-1/fake-judge/tpl-"));
  EXPECT_EQ(r[1].verdict(), rl::INCORRECT);
  EXPECT_DOUBLE_EQ(r[1].total(), 0.0);
  EXPECT_DOUBLE_EQ(r[2].total(), 1.0);
  EXPECT_EQ(r[2].details(), "pairwise +1 (candidate first: A, reference first: B)");
  EXPECT_DOUBLE_EQ(r[3].total(), 0.0);
  EXPECT_EQ(r[4].status(), rl::JUDGE_ERROR);
  EXPECT_THAT(r[4].details(), HasSubstr("after 2 judge calls"));
  EXPECT_EQ(r[5].status(), rl::OK);
  EXPECT_EQ(r[5].verdict(), rl::NO_ANSWER);
  EXPECT_EQ(r[6].status(), rl::OK);
  EXPECT_DOUBLE_EQ(r[6].total(), -1.0);
  EXPECT_EQ(r[6].details(), "constraint failed: max_words:1 (3 words)");
  auto info = (*client)->GetInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(info->domains_served(), Contains("general"));
  EXPECT_THAT(info->protections(), Contains(HasSubstr("via " + judge->url())));
}

TEST(GenrmDomainTest, ConfigErrorsNameTheField) {
  auto judge = StartJudge();
  config::RewardConfig c = GenrmConfig(*judge);
  c.mutable_genrm()->set_backend(config::GenrmConfig::BACKEND_UNSPECIFIED);
  EXPECT_THAT(RewardClient::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reward.genrm.backend must be set (openai or in_process)")));
  c.mutable_genrm()->set_backend(config::GenrmConfig::BACKEND_IN_PROCESS);
  EXPECT_THAT(RewardClient::Create(c).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cannot serve an in-process judge")));
  c = GenrmConfig(*judge);
  c.mutable_genrm()->mutable_openai()->clear_model();
  EXPECT_THAT(RewardClient::Create(c).status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                                         HasSubstr("reward.genrm.openai.model is required")));
  c = GenrmConfig(*judge);
  c.mutable_genrm()->mutable_swiss()->set_extra_rounds(-1);
  c.mutable_genrm()->mutable_length_bias()->set_windows(-2);
  EXPECT_THAT(RewardClient::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reward.genrm.swiss.extra_rounds must be >= 0")));
  c.mutable_genrm()->mutable_swiss()->set_extra_rounds(0);
  EXPECT_THAT(RewardClient::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reward.genrm.length_bias.windows must be >= 0")));
  c = GenrmConfig(*judge);
  c.mutable_genrm()->set_enabled(false);
  auto client = RewardClient::Create(c);
  ASSERT_TRUE(client.ok());
  auto results = (*client)->ScoreBatch({Graded("x", "Paris")});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ((*results)[0].status(), rl::INVALID_INPUT);
  EXPECT_THAT((*results)[0].details(), HasSubstr("unknown domain 'general'"));
}

// Backend in_process: the judge comes from the binary's factory.
TEST(GenrmDomainTest, InProcessBackendUsesTheFactory) {
  config::RewardConfig c;
  c.mutable_genrm()->set_enabled(true);
  c.mutable_genrm()->set_backend(config::GenrmConfig::BACKEND_IN_PROCESS);
  c.mutable_genrm()->mutable_in_process()->set_model_dir("/models/judge");
  std::string asked_for;
  auto factory = [&](const config::GenrmConfig& g) -> absl::StatusOr<std::shared_ptr<genrm::Judge>> {
    asked_for = g.in_process().model_dir();
    return std::make_shared<genrm::testing::ScriptedJudge>(
        [](const genrm::JudgeRequest&, int) -> absl::StatusOr<std::string> {
          return std::string("Grade: [[3]]");
        });
  };
  VerifierRegistry registry;
  std::vector<std::string> notes;
  ASSERT_TRUE(AddGenrmVerifier(c, &registry, &notes, factory).ok());
  EXPECT_EQ(asked_for, "/models/judge");
  ASSERT_NE(registry.Find("general"), nullptr);
  EXPECT_THAT(notes, Contains(HasSubstr("via in_process")));
  VerifyInput in;
  in.prompt = "q";
  in.gold = "g";
  in.response = "r";
  VerifyOutcome o = registry.Find("general")->Verify(in, CheckContext{});
  EXPECT_EQ(o.status, rl::OK);
  EXPECT_DOUBLE_EQ(o.correctness, 0.5);
  auto failing = [](const config::GenrmConfig&) -> absl::StatusOr<std::shared_ptr<genrm::Judge>> {
    return absl::NotFoundError("reward.genrm.in_process.model_dir: /models/judge/config.json not found");
  };
  VerifierRegistry other;
  EXPECT_THAT(AddGenrmVerifier(c, &other, &notes, failing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("config.json")));
}

// Over gRPC: the item's deadline bounds a slow judge (TIMEOUT, not a score).
TEST(GenrmDomainTest, GrpcServerScoresGeneralWithinTheItemDeadline) {
  auto judge = StartJudge();
  auto registry = std::make_shared<VerifierRegistry>();
  EngineOptions options;
  options.num_workers = 2;
  ASSERT_TRUE(AddGenrmVerifier(GenrmConfig(*judge), registry.get(), &options.protections).ok());
  auto harness = testing::StartGrpcHarness(registry, options);
  ASSERT_TRUE(harness.ok()) << harness.status();
  rl::ScoreRequest request;
  *request.add_items() = Graded("ok", "Paris");
  rl::ScoreItem slow = Graded("slow", "slow");
  slow.set_deadline_ms(500);
  *request.add_items() = slow;
  const testing::TimedScore score = testing::ScoreTimed(harness->stub.get(), request);
  ASSERT_TRUE(score.status.ok()) << score.status.error_message();
  const rl::ScoreResponse& response = score.response;
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).status(), rl::OK);
  EXPECT_DOUBLE_EQ(response.results(0).total(), 1.0);
  EXPECT_EQ(response.results(1).status(), rl::TIMEOUT);
  EXPECT_LT(score.elapsed_ms, 500.0 + 1000.0);
}

}  // namespace
}  // namespace m1rl::reward
