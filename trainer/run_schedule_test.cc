#include "trainer/run_schedule.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;
using ::testing::HasSubstr;

// A JSONL of `n` rows "<tag>-<i>"; rows get "domain" only when `domain` is non-empty.
std::string WriteRows(const std::string& name, const std::string& tag, int n,
                      const std::string& domain = "") {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/run_schedule_", getpid());
  std::filesystem::create_directories(dir);
  std::string path = absl::StrCat(dir, "/", name);
  std::ofstream out(path);
  for (int i = 0; i < n; ++i) {
    out << R"({"id":")" << tag << "-" << i << R"(","prompt":"p)" << i << '"';
    if (!domain.empty()) out << R"(,"domain":")" << domain << '"';
    out << "}\n";
  }
  return path;
}

config::RunConfig OneSource(int n) {
  config::RunConfig c;
  c.mutable_data()->set_train_path(WriteRows("one.jsonl", "t", n));
  c.mutable_data()->set_shuffle(true);
  c.mutable_data()->set_seed(7);
  return c;
}

// Two sources a, b and two stages: stage 0 (budget 8) takes only a and ends after 2 steps; stage 1 (budget
// 16, eps_high 2, lr 0.5) takes only b.
config::RunConfig TwoStagesTwoSources() {
  config::RunConfig c;
  c.mutable_data()->set_shuffle(true);
  c.mutable_data()->set_seed(3);
  config::DataSourceConfig* a = c.mutable_data()->add_sources();
  a->set_name("a");
  a->set_path(WriteRows("a.jsonl", "a", 5));
  a->set_domain("logic");
  a->set_wrap(true);
  a->add_per_stage(1);
  a->add_per_stage(0);
  config::DataSourceConfig* b = c.mutable_data()->add_sources();
  b->set_name("b");
  b->set_path(WriteRows("b.jsonl", "b", 7, "math"));
  b->set_wrap(true);
  b->add_per_stage(0);
  b->add_per_stage(1);
  config::StageConfig* s0 = c.mutable_trainer()->add_stages();
  s0->set_name("short");
  s0->set_max_new_tokens(8);
  s0->mutable_advance()->set_steps(2);
  config::StageConfig* s1 = c.mutable_trainer()->add_stages();
  s1->set_name("long");
  s1->set_max_new_tokens(16);
  s1->mutable_overrides()->set_eps_high(2.0);
  s1->mutable_overrides()->set_lr(0.5);
  c.mutable_algorithm()->mutable_is_weight()->set_eps_high(4.0);
  c.mutable_trainer()->mutable_optim()->set_lr(1e-3);
  return c;
}

std::vector<std::string> Ids(const std::vector<ScheduledPrompt>& prompts) {
  std::vector<std::string> ids;
  ids.reserve(prompts.size());
  for (const ScheduledPrompt& p : prompts) ids.push_back(p.row->id);
  return ids;
}

// Without data.sources the prompts come in PromptSampler's order (runs before data.sources are unchanged).
TEST(RunScheduleTest, OneSourceFollowsThePromptSamplerOrder) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto s, RunSchedule::Create(OneSource(6)));
  PromptSampler reference(6, 7, /*shuffle=*/true);
  for (int64_t step = 0; step < 4; ++step) {
    M1RL_ASSERT_OK_AND_ASSIGN(auto got, s->NextPrompts(step, 4));
    std::vector<std::string> want;
    for (int64_t i : reference.NextBatch(4)) want.push_back(absl::StrCat("t-", i));
    EXPECT_EQ(Ids(got), want) << "step " << step;
  }
  EXPECT_EQ(s->num_sources(), 1);
  EXPECT_EQ(s->source_name(0), "train");
}

TEST(RunScheduleTest, StagesSwitchSourcesBudgetAndOverrides) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto s, RunSchedule::Create(TwoStagesTwoSources()));
  EXPECT_EQ(s->stage_config().rollout().max_new_tokens(), 8);
  EXPECT_EQ(s->stage_config().algorithm().overlong().max_len(), 8);
  EXPECT_EQ(s->stage_config().algorithm().is_weight().eps_high(), 4.0);
  for (int64_t step = 0; step < 4; ++step) {
    M1RL_ASSERT_OK_AND_ASSIGN(auto got, s->NextPrompts(step, 10));
    const std::string want_source = step < 2 ? "a" : "b";
    for (const ScheduledPrompt& p : got) {
      EXPECT_EQ(s->source_name(p.source), want_source);
      EXPECT_EQ(p.row->domain, step < 2 ? "logic" : "math");  // a's rows take the source's domain
    }
    std::map<std::string, double> m = s->StepMetrics(step);
    EXPECT_EQ(m.at("stage/index"), step < 2 ? 0 : 1);
    EXPECT_EQ(m.at("stage/step_in_stage"), step < 2 ? step + 1 : step - 1);
    EXPECT_EQ(m.at(absl::StrCat("data/", want_source, "/prompts")), 10);
    EXPECT_EQ(m.at(absl::StrCat("data/", want_source, "/weight")), 1.0);
    M1RL_ASSERT_OK_AND_ASSIGN(bool advanced, s->Observe(m));
    EXPECT_EQ(advanced, step == 1) << "step " << step;
  }
  EXPECT_EQ(s->stage_name(), "long");
  EXPECT_EQ(s->stage_config().rollout().max_new_tokens(), 16);
  EXPECT_EQ(s->stage_config().algorithm().overlong().max_len(), 16);
  EXPECT_EQ(s->stage_config().algorithm().is_weight().eps_high(), 2.0);
  EXPECT_EQ(s->stage_config().trainer().optim().lr(), 0.5);
  EXPECT_THAT(s->DescribeStage(),
              HasSubstr("stage 'long' (2 of 2): generation budget 16 tokens, eps_high 2"));
}

// A schedule restored from the state after step 3 (inside stage 2) draws what the uninterrupted one draws.
TEST(RunScheduleTest, RestoreMidStageRepeatsStageAndOrder) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto a, RunSchedule::Create(TwoStagesTwoSources()));
  nlohmann::json saved;
  for (int64_t step = 0; step < 3; ++step) {
    M1RL_ASSERT_OK(a->NextPrompts(step, 3).status());
    M1RL_ASSERT_OK(a->Observe(a->StepMetrics(step)).status());
  }
  saved = nlohmann::json::parse(a->State().dump());
  M1RL_ASSERT_OK_AND_ASSIGN(auto b, RunSchedule::Create(TwoStagesTwoSources()));
  ASSERT_THAT(b->Restore(saved), IsOk());
  EXPECT_EQ(b->stage(), 1);
  EXPECT_EQ(b->stage_config().rollout().max_new_tokens(), 16);
  for (int64_t step = 3; step < 6; ++step) {
    M1RL_ASSERT_OK_AND_ASSIGN(auto want, a->NextPrompts(step, 3));
    M1RL_ASSERT_OK_AND_ASSIGN(auto got, b->NextPrompts(step, 3));
    EXPECT_EQ(Ids(got), Ids(want)) << "step " << step;
  }
  EXPECT_THAT(b->RestoreLegacyCursor(4).message(), HasSubstr("this run has 2 data.sources"));
}

TEST(RunScheduleTest, LegacyCursorResumesTheOneSource) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto a, RunSchedule::Create(OneSource(5)));
  M1RL_ASSERT_OK(a->NextPrompts(0, 3).status());
  M1RL_ASSERT_OK_AND_ASSIGN(auto b, RunSchedule::Create(OneSource(5)));
  ASSERT_THAT(b->RestoreLegacyCursor(3), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(auto want, a->NextPrompts(1, 4));
  M1RL_ASSERT_OK_AND_ASSIGN(auto got, b->NextPrompts(1, 4));
  EXPECT_EQ(Ids(got), Ids(want));
}

// Hand-computed per-source means over two ranks.
TEST(SourceTallyTest, ReducesOverRanksIntoPerSourceMeans) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto schedule, RunSchedule::Create(TwoStagesTwoSources()));
  InProcessGroup group(2);
  std::vector<std::unique_ptr<Communicator>> comms;
  comms.reserve(2);
  for (int r = 0; r < 2; ++r) comms.push_back(group.Rank(r));
  std::vector<SourceTally> tallies(2, SourceTally(2));
  tallies[0].Add(0, 1.0, true, 10);
  tallies[0].Add(0, 0.0, false, 20);
  tallies[1].Add(0, std::nullopt, std::nullopt, 30);  // unscored: length only
  tallies[1].Add(1, -1.0, false, 4);
  std::vector<absl::StatusOr<std::map<std::string, double>>> got(2, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&, r] { got[r] = tallies[static_cast<size_t>(r)].Reduce(*comms[r], *schedule); });
  for (auto& t : threads) t.join();
  for (int r = 0; r < 2; ++r) {
    ASSERT_THAT(got[r].status(), IsOk());
    const auto& m = *got[r];
    EXPECT_EQ(m.at("data/a/completions"), 3);
    EXPECT_DOUBLE_EQ(m.at("data/a/reward_mean"), 0.5);  // (1 + 0) / 2 scored
    EXPECT_DOUBLE_EQ(m.at("data/a/accuracy"), 0.5);
    EXPECT_DOUBLE_EQ(m.at("data/a/length_mean"), 20.0);  // (10 + 20 + 30) / 3
    EXPECT_EQ(m.at("data/b/completions"), 1);
    EXPECT_DOUBLE_EQ(m.at("data/b/reward_mean"), -1.0);
    EXPECT_DOUBLE_EQ(m.at("data/b/accuracy"), 0.0);
    EXPECT_DOUBLE_EQ(m.at("data/b/length_mean"), 4.0);
  }
}

// Nearest-rank quantiles by hand: ranks hold 1..50 and 51..100; the 0.99 quantile is 99, the median 50.
TEST(GlobalQuantileTest, NearestRankOverEveryRank) {
  InProcessGroup group(2);
  std::vector<std::unique_ptr<Communicator>> comms;
  comms.reserve(2);
  for (int r = 0; r < 2; ++r) comms.push_back(group.Rank(r));
  std::vector<std::vector<int64_t>> values(2);
  for (int64_t v = 1; v <= 100; ++v) values[v <= 50 ? 0 : 1].push_back(v);
  for (double q : {0.99, 0.5, 1.0}) {
    std::vector<absl::StatusOr<double>> got(2, absl::UnknownError("not run"));
    std::vector<std::thread> threads;
    threads.reserve(2);
    for (int r = 0; r < 2; ++r)
      threads.emplace_back(
          [&, r] { got[r] = GlobalQuantile(*comms[r], values[static_cast<size_t>(r)], 128, q); });
    for (auto& t : threads) t.join();
    for (int r = 0; r < 2; ++r) {
      ASSERT_THAT(got[r].status(), IsOk());
      EXPECT_EQ(*got[r], q == 0.99 ? 99 : q == 0.5 ? 50 : 100) << "q " << q;
    }
  }
  auto one = MakeSingleRankCommunicator();
  M1RL_ASSERT_OK_AND_ASSIGN(double empty, GlobalQuantile(*one, {}, 10, 0.99));
  EXPECT_EQ(empty, 0);
  M1RL_ASSERT_OK_AND_ASSIGN(double clamped, GlobalQuantile(*one, {3, 500}, 10, 0.99));
  EXPECT_EQ(clamped, 10);  // 500 counts as the budget
}

}  // namespace
}  // namespace m1rl::trainer
