#include "reward/genrm/genrm.h"

#include <memory>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/genrm/testing/scripted_judge.h"

namespace m1rl::reward::genrm {
namespace {

using ::m1rl::testing::StatusIs;
using testing::BlockAfter;
using ::testing::HasSubstr;
using testing::ScriptedJudge;

GenrmOptions Defaults() {
  absl::StatusOr<GenrmOptions> o = ResolveGenrmOptions(config::GenrmConfig());
  EXPECT_TRUE(o.ok()) << o.status();
  return *o;
}

TEST(GenrmOptionsTest, DefaultsAndErrors) {
  GenrmOptions o = Defaults();
  EXPECT_EQ(o.max_tokens, 1024);
  EXPECT_EQ(o.verdict_tail_chars, 200);
  EXPECT_EQ(o.parse_retries, 1);
  EXPECT_EQ(o.reward_min, 0.0);
  EXPECT_EQ(o.reward_max, 1.0);
  config::GenrmConfig c;
  c.set_reward_min(1.0);
  c.set_reward_max(1.0);
  c.set_max_tokens(-1);
  c.set_grade_template("no placeholders");
  EXPECT_THAT(ResolveGenrmOptions(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("reward.genrm.max_tokens must be >= 0, got -1"),
                                        HasSubstr("reward.genrm.reward_max must be > reward_min (1), got 1"),
                                        HasSubstr("grade_template lacks {question}"))));
}

TEST(GenrmJudgeTest, GradeMapsToRewardAndSendsTheTexts) {
  std::string seen;
  auto judge =
      std::make_shared<ScriptedJudge>([&](const JudgeRequest& r, int) -> absl::StatusOr<std::string> {
        seen = r.messages.at(1).content;
        EXPECT_EQ(r.messages.at(0).role, "system");
        return std::string("Close, minor form issue.\nGrade: [[4]]");
      });
  GenRm genrm(judge, Defaults());
  absl::StatusOr<GradeResult> g = genrm.Grade("What is 2+2?", "4", "It is 4.0", CheckContext{});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->grade, 4);
  EXPECT_DOUBLE_EQ(g->reward, 0.75);
  EXPECT_EQ(g->judge_calls, 1);
  EXPECT_EQ(BlockAfter(seen, "GROUND TRUTH:"), "4");
  EXPECT_EQ(BlockAfter(seen, "RESPONSE:"), "It is 4.0");
  EXPECT_THAT(genrm.version(), HasSubstr("genrm-1/scripted/tpl-"));
}

TEST(GenrmJudgeTest, GarbageIsRetriedOnceWithANewSeedThenAStatus) {
  std::vector<uint64_t> seeds;
  auto judge =
      std::make_shared<ScriptedJudge>([&](const JudgeRequest& r, int i) -> absl::StatusOr<std::string> {
        seeds.push_back(r.seed);
        return std::string(i == 0 ? "lorem ipsum" : "Grade: [[2]]");
      });
  GenRm genrm(judge, Defaults());
  absl::StatusOr<GradeResult> g = genrm.Grade("q", "gt", "resp", CheckContext{});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->grade, 2);
  EXPECT_EQ(g->judge_calls, 2);
  ASSERT_EQ(seeds.size(), 2u);
  EXPECT_NE(seeds[0], seeds[1]);

  auto garbage = std::make_shared<ScriptedJudge>(
      [](const JudgeRequest&, int) -> absl::StatusOr<std::string> { return std::string("no verdict here"); });
  GenRm bad(garbage, Defaults());
  EXPECT_THAT(bad.Grade("q", "gt", "resp", CheckContext{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("after 2 judge calls")));
  EXPECT_EQ(garbage->calls(), 2);
}

TEST(GenrmJudgeTest, JudgeErrorsPassThroughUnscored) {
  auto judge = std::make_shared<ScriptedJudge>([](const JudgeRequest&, int) -> absl::StatusOr<std::string> {
    return absl::DeadlineExceededError("judge call past its deadline");
  });
  GenRm genrm(judge, Defaults());
  EXPECT_THAT(genrm.Grade("q", "gt", "resp", CheckContext{}),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("deadline")));
  EXPECT_THAT(genrm.Compare("q", "c", "r", CheckContext{}),
              StatusIs(absl::StatusCode::kDeadlineExceeded, ::testing::_));
  EXPECT_EQ(judge->calls(), 3);  // no parse retry on a judge error; Compare's two orders run concurrently
}

// A judge that prefers the longer answer when it is consistent, or always says A when position-biased.
std::shared_ptr<ScriptedJudge> PairJudge(bool position_biased) {
  return std::make_shared<ScriptedJudge>(
      [position_biased](const JudgeRequest& r, int) -> absl::StatusOr<std::string> {
        if (position_biased) return std::string("Verdict: [[A]]");
        std::string a = BlockAfter(r.messages[1].content, "ANSWER A:");
        std::string b = BlockAfter(r.messages[1].content, "ANSWER B:");
        if (a.size() == b.size()) return std::string("Verdict: [[TIE]]");
        return std::string(a.size() > b.size() ? "Verdict: [[A]]" : "Verdict: [[B]]");
      });
}

TEST(GenrmJudgeTest, PairwiseBothOrders) {
  GenRm consistent(PairJudge(false), Defaults());
  absl::StatusOr<PairwiseResult> win = consistent.Compare("q", "a long candidate", "ref", CheckContext{});
  ASSERT_TRUE(win.ok()) << win.status();
  EXPECT_EQ(win->score.score, 1);
  EXPECT_FALSE(win->score.disagreement);
  EXPECT_EQ(win->candidate_first, PairVerdict::kA);
  EXPECT_EQ(win->reference_first, PairVerdict::kB);
  EXPECT_EQ(win->judge_calls, 2);
  absl::StatusOr<PairwiseResult> loss = consistent.Compare("q", "c", "a longer reference", CheckContext{});
  ASSERT_TRUE(loss.ok());
  EXPECT_EQ(loss->score.score, -1);
  absl::StatusOr<PairwiseResult> tie = consistent.Compare("q", "abc", "xyz", CheckContext{});
  ASSERT_TRUE(tie.ok());
  EXPECT_EQ(tie->score.score, 0);
  EXPECT_FALSE(tie->score.disagreement);

  GenRm biased(PairJudge(true), Defaults());
  absl::StatusOr<PairwiseResult> swap = biased.Compare("q", "a long candidate", "ref", CheckContext{});
  ASSERT_TRUE(swap.ok());
  EXPECT_EQ(swap->score.score, 0);
  EXPECT_TRUE(swap->score.disagreement);
}

}  // namespace
}  // namespace m1rl::reward::genrm
