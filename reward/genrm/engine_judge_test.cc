// The in-process judge on the rollout engine, with a fake decode model whose greedy reply is scripted from
// the prompt: grades through GenRm, batching of concurrent calls, and end to end through the reward service.
#include "reward/genrm/engine_judge.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/hybrid_model.h"
#include "reward/genrm/general_verifier.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/testing/scripted_judge.h"
#include "reward/service/client.h"
#include "reward/service/engine.h"
#include "rollout/testing/fake_decode_model.h"

namespace m1rl::reward::genrm {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kGenerationPrompt[] = "<|assistant|>\n";

// The judge model: reads the RESPONSE block of the prompt and types "Grade: [[5]]" for "Paris",
// "Grade: [[1]]" for "Lyon", slowly "Grade: [[3]]" for "slow" and "no idea" otherwise, then EOS.
class ScriptedModel {
 public:
  ScriptedModel()
      : model_(tokenizer_.vocab_size(), 16384, 0, 1,
               [this](const std::vector<int32_t>& history, float* logits) { Next(history, logits); }) {}
  model::CharTokenizer& Tokenizer() { return tokenizer_; }
  rollout::DecodeModel* Model() { return &model_; }

 private:
  void Next(const std::vector<int32_t>& history, float* logits) const {
    std::string text = tokenizer_.Decode(history);
    size_t at = text.rfind(kGenerationPrompt);
    std::string generated = at == std::string::npos ? "" : text.substr(at + sizeof(kGenerationPrompt) - 1);
    std::string response = testing::BlockAfter(text.substr(0, at), "RESPONSE:");
    std::string target = response == "Paris"  ? "Grade: [[5]]"
                         : response == "Lyon" ? "Grade: [[1]]"
                                              : "no idea";
    if (response == "slow") {
      target = "Grade: [[3]]";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // ~120 ms for the reply
    }
    int32_t next = generated.size() < target.size()
                       ? tokenizer_.Encode(target.substr(generated.size(), 1)).at(0)
                       : tokenizer_.eos_id();
    std::fill(logits, logits + tokenizer_.vocab_size(), -30.0f);
    logits[next] = 0.0f;
  }

  model::CharTokenizer tokenizer_;
  rollout::testing::FakeDecodeModel model_;
};

struct Fixture {
  Fixture() {
    rollout::EngineOptions o;
    o.eos_token_ids = {scripted.Tokenizer().eos_id()};
    o.max_batch_size = 16;
    auto created = rollout::Engine::Create(scripted.Model(), o);
    EXPECT_TRUE(created.ok()) << created.status();
    engine = std::move(*created);
    judge = std::make_shared<EngineJudge>(engine.get(), &scripted.Tokenizer(), EngineJudgeOptions{"tiny", 8});
    config::GenrmConfig c;
    c.set_max_tokens(32);
    genrm = std::make_shared<const GenRm>(judge, *ResolveGenrmOptions(c));
  }
  ScriptedModel scripted;
  std::unique_ptr<rollout::Engine> engine;
  std::shared_ptr<EngineJudge> judge;
  std::shared_ptr<const GenRm> genrm;
};

TEST(GenrmEngineJudgeTest, GradesThroughTheRolloutEngine) {
  Fixture f;
  absl::StatusOr<GradeResult> paris = f.genrm->Grade("Capital of France?", "Paris", "Paris", CheckContext{});
  ASSERT_TRUE(paris.ok()) << paris.status();
  EXPECT_EQ(paris->grade, 5);
  absl::StatusOr<GradeResult> lyon = f.genrm->Grade("Capital of France?", "Paris", "Lyon", CheckContext{});
  ASSERT_TRUE(lyon.ok()) << lyon.status();
  EXPECT_EQ(lyon->grade, 1);
  EXPECT_THAT(f.genrm->Grade("Capital of France?", "Paris", "Rome", CheckContext{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after 2 judge calls")));
  EXPECT_EQ(f.judge->generate_calls(), 4);
  EXPECT_EQ(f.genrm->version().substr(0, 13), "genrm-1/tiny/");
}

TEST(GenrmEngineJudgeTest, ConcurrentCallsShareGenerateBatches) {
  Fixture f;
  // A slow reply holds the engine while 16 callers queue; then they run as two batches of max_batch = 8.
  std::thread slow([&] { EXPECT_TRUE(f.genrm->Grade("q", "Paris", "slow", CheckContext{}).ok()); });
  while (f.judge->generate_calls() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<std::thread> threads;
  threads.reserve(16);
  std::atomic<int> right{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<GradeResult> g =
          f.genrm->Grade("q" + std::to_string(i), "Paris", i % 2 == 0 ? "Paris" : "Lyon", CheckContext{});
      if (g.ok() && g->grade == (i % 2 == 0 ? 5 : 1)) right++;
    });
  }
  while (f.judge->queue_depth() < 16 && f.judge->generate_calls() == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(f.judge->generate_calls(), 1);  // all 16 queued while the slow reply was generating
  for (std::thread& t : threads) t.join();
  slow.join();
  EXPECT_EQ(right.load(), 16);
  EXPECT_EQ(f.judge->generate_calls(), 3);
}

TEST(GenrmEngineJudgeTest, QueuedCallerLeavesAtItsDeadline) {
  Fixture f;
  CheckContext expired;
  expired.deadline = Clock::now();
  EXPECT_THAT(f.judge->Complete(JudgeRequest{{{"user", "hi"}}, 1, 4}, expired),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("deadline")));
  EXPECT_EQ(f.judge->generate_calls(), 0);
  // A slow reply holds the engine; a caller queued behind it leaves at its own deadline.
  std::thread slow([&] {
    absl::StatusOr<GradeResult> g = f.genrm->Grade("q", "Paris", "slow", CheckContext{});
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->grade, 3);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CheckContext soon;
  soon.deadline = Clock::now() + std::chrono::milliseconds(30);
  auto t0 = Clock::now();
  EXPECT_THAT(f.genrm->Grade("q", "Paris", "Paris", soon),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("deadline")));
  EXPECT_LT((std::chrono::duration<double, std::milli>(Clock::now() - t0).count()), 80.0);
  slow.join();
  EXPECT_EQ(f.judge->generate_calls(), 1);  // the queued caller never ran
}

TEST(GenrmEngineJudgeTest, EndToEndThroughTheRewardService) {
  Fixture f;
  auto registry = std::make_shared<VerifierRegistry>();
  ASSERT_TRUE(registry->Register(NewGeneralVerifier(f.genrm)).ok());
  EngineOptions options;
  options.num_workers = 4;
  auto engine = ScoringEngine::Create(registry, options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  config::RewardConfig c;
  c.set_mode(config::RewardConfig::MODE_IN_PROCESS);
  auto client = RewardClient::CreateInProcess(c, std::shared_ptr<ScoringEngine>(std::move(*engine)));
  ASSERT_TRUE(client.ok()) << client.status();
  auto item = [](const std::string& id, const std::string& response) {
    rl::ScoreItem i;
    i.set_item_id(id);
    i.set_domain("general");
    i.set_prompt("Capital of France?");
    i.set_response(response);
    i.mutable_general()->set_ground_truth("Paris");
    return i;
  };
  auto results =
      (*client)->ScoreBatch({item("a", "<think>hmm</think>Paris"), item("b", "Lyon"), item("c", "Rome")});
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].status(), rl::OK);
  EXPECT_DOUBLE_EQ((*results)[0].total(), 1.0);
  EXPECT_EQ((*results)[0].details(), "grade 5 (1 judge calls)");
  EXPECT_EQ((*results)[1].status(), rl::OK);
  EXPECT_DOUBLE_EQ((*results)[1].total(), 0.0);
  EXPECT_EQ((*results)[1].verdict(), rl::INCORRECT);
  EXPECT_EQ((*results)[2].status(), rl::JUDGE_ERROR);
}

// A random-init tiny checkpoint of our architecture loaded through reward.genrm.in_process: the path
// runs end to end; its replies are noise, which must come back as an unparseable verdict, not a score.
TEST(GenrmEngineJudgeTest, TinyCheckpointFromConfig) {
  std::string dir = ::testing::TempDir() + "/genrm_engine_judge_tiny";
  std::filesystem::remove_all(dir);
  model::ModelConfig mc = *model::ModelConfig::Preset("tiny2");
  mc.vocab_size = model::CharTokenizer().vocab_size();
  auto m = model::HybridModel::Create(mc, at::kFloat, at::kCPU, 7);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE((*m)->SaveHf(dir).ok());
  config::InProcessJudgeConfig c;
  EXPECT_THAT(EngineJudge::FromConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reward.genrm.in_process.model_dir is required")));
  c.set_model_dir(dir);
  c.set_max_batch(4);
  absl::StatusOr<std::unique_ptr<EngineJudge>> judge = EngineJudge::FromConfig(c);
  ASSERT_TRUE(judge.ok()) << judge.status();
  std::shared_ptr<EngineJudge> shared = std::move(*judge);
  EXPECT_EQ(shared->model(), "in-process:" + dir);
  config::GenrmConfig gc;
  gc.set_max_tokens(8);
  GenRm genrm(shared, *ResolveGenrmOptions(gc));
  EXPECT_THAT(genrm.Grade("2+2?", "4", "4", CheckContext{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after 2 judge calls")));
  EXPECT_EQ(shared->generate_calls(), 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace m1rl::reward::genrm
