#include "trainer/stages.h"

#include <map>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::trainer {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

config::StageConfig* AddStage(config::TrainerConfig& t, int max_new_tokens) {
  config::StageConfig* s = t.add_stages();
  s->set_max_new_tokens(max_new_tokens);
  return s;
}

// Feeds `metrics` once; returns whether the stage advanced.
bool Step(StageController& c, const std::map<std::string, double>& metrics) {
  absl::StatusOr<bool> r = c.Observe(metrics);
  EXPECT_THAT(r.status(), IsOk());
  return r.value_or(false);
}

TEST(StagesTest, StepRuleAdvancesAfterExactlyNSteps) {
  config::TrainerConfig t;
  AddStage(t, 100)->mutable_advance()->set_steps(3);
  AddStage(t, 200);
  ASSERT_THAT(ValidateStages(t), IsOk());
  StageController c(t);
  EXPECT_FALSE(Step(c, {}));
  EXPECT_FALSE(Step(c, {}));
  EXPECT_EQ(c.index(), 0);
  EXPECT_TRUE(Step(c, {}));  // the 3rd step ends stage 0
  EXPECT_EQ(c.index(), 1);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(Step(c, {}));  // the last stage never advances
  EXPECT_EQ(c.index(), 1);
  EXPECT_EQ(c.steps_in_stage(), 10);
}

TEST(StagesTest, P99RuleNeedsKConsecutiveStepsAtTheFraction) {
  config::TrainerConfig t;
  config::StageConfig* s = AddStage(t, 1000);
  s->mutable_advance()->set_p99_length_fraction(0.9);  // threshold 900 tokens
  s->mutable_advance()->set_p99_length_steps(3);
  AddStage(t, 2000);
  ASSERT_THAT(ValidateStages(t), IsOk());
  StageController c(t);
  // Streak: 900 (1), 950 (2), 899 resets (0), 900 (1), 1000 (2), 901 (3) -> advance on the 6th step.
  const double p99[] = {900, 950, 899, 900, 1000, 901};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(Step(c, {{kP99LengthMetric, p99[i]}}), i == 5) << "step " << i;
  }
  EXPECT_EQ(c.index(), 1);
}

TEST(StagesTest, PlateauRuleComparesAcrossTheWindow) {
  config::TrainerConfig t;
  config::StageConfig* s = AddStage(t, 10);
  s->mutable_advance()->set_plateau_metric("loss");
  s->mutable_advance()->set_plateau_window(2);
  s->mutable_advance()->set_plateau_rel_change(0.01);
  AddStage(t, 20);
  ASSERT_THAT(ValidateStages(t), IsOk());
  StageController c(t);
  // Window 2: step i compares loss[i] with loss[i-2]. |1.0-2.0|/2 = 0.5, |0.995-1.5|/1.5, |0.99-1.0|/1.0 =
  // 0.01 (not < 0.01), |0.9851-0.995|/0.995 = 0.00995 < 0.01 -> advance at step 5.
  const double loss[] = {2.0, 1.5, 1.0, 0.995, 0.99, 0.9851};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Step(c, {{"loss", loss[i]}}), i == 5) << "step " << i;
  EXPECT_EQ(c.index(), 1);
}

TEST(StagesTest, RequireAllNeedsEveryRule) {
  config::TrainerConfig t;
  config::StageConfig* s = AddStage(t, 100);
  s->mutable_advance()->set_steps(2);
  s->mutable_advance()->set_p99_length_fraction(0.5);
  s->mutable_advance()->set_require_all(true);
  AddStage(t, 200);
  StageController c(t);
  EXPECT_FALSE(Step(c, {{kP99LengthMetric, 10}}));  // neither
  EXPECT_FALSE(Step(c, {{kP99LengthMetric, 10}}));  // steps only
  EXPECT_TRUE(Step(c, {{kP99LengthMetric, 50}}));   // both
  // Without require_all the step rule alone advances.
  t.mutable_stages(0)->mutable_advance()->set_require_all(false);
  StageController any(t);
  EXPECT_FALSE(Step(any, {{kP99LengthMetric, 10}}));
  EXPECT_TRUE(Step(any, {{kP99LengthMetric, 10}}));
}

TEST(StagesTest, MissingRuleMetricIsAnErrorNamingIt) {
  config::TrainerConfig t;
  AddStage(t, 100)->mutable_advance()->set_plateau_metric("policy/logprob_mean");
  t.mutable_stages(0)->mutable_advance()->set_plateau_window(1);
  t.mutable_stages(0)->mutable_advance()->set_plateau_rel_change(0.1);
  AddStage(t, 200);
  StageController c(t);
  EXPECT_THAT(c.Observe({{"loss", 1.0}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("policy/logprob_mean")));
}

TEST(StagesTest, OverridesAppliedOnlyInTheirStage) {
  config::RunConfig base;
  base.mutable_rollout()->set_max_new_tokens(40960);
  base.mutable_algorithm()->mutable_is_weight()->set_eps_high(4.0);
  base.mutable_algorithm()->mutable_overlong()->set_max_len(40960);
  base.mutable_trainer()->mutable_optim()->set_grad_clip(1.0);
  base.mutable_trainer()->mutable_optim()->set_lr(1e-6);
  config::TrainerConfig& t = *base.mutable_trainer();
  AddStage(t, 40960)->mutable_advance()->set_steps(1);
  config::StageConfig* hot = AddStage(t, 81920);
  hot->mutable_overrides()->set_eps_high(2.0);
  hot->mutable_overrides()->set_grad_clip(0.5);
  hot->mutable_advance()->set_steps(1);
  AddStage(t, 0);  // no budget: the base's
  ASSERT_THAT(ValidateStages(t), IsOk());
  StageController c(t);
  const double want_eps[] = {4.0, 2.0, 4.0};
  const double want_clip[] = {1.0, 0.5, 1.0};
  const int want_tokens[] = {40960, 81920, 40960};
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.index(), i);
    const config::RunConfig cfg = ApplyStage(base, c.current());
    EXPECT_EQ(cfg.algorithm().is_weight().eps_high(), want_eps[i]) << i;
    EXPECT_EQ(cfg.trainer().optim().grad_clip(), want_clip[i]) << i;
    EXPECT_EQ(cfg.trainer().optim().lr(), 1e-6) << i;  // never overridden
    EXPECT_EQ(cfg.rollout().max_new_tokens(), want_tokens[i]) << i;
    EXPECT_EQ(cfg.algorithm().overlong().max_len(), want_tokens[i]) << i;
    Step(c, {});
  }
}

TEST(StagesTest, ResumeMidStageContinuesWithItsCounters) {
  config::TrainerConfig t;
  AddStage(t, 100)->mutable_advance()->set_steps(2);
  config::StageConfig* s = AddStage(t, 200);
  s->mutable_advance()->set_p99_length_fraction(0.5);
  s->mutable_advance()->set_p99_length_steps(3);
  s->mutable_advance()->set_plateau_metric("loss");
  s->mutable_advance()->set_plateau_window(3);
  s->mutable_advance()->set_plateau_rel_change(1e-9);
  s->mutable_advance()->set_require_all(true);
  AddStage(t, 300);
  StageController a(t);
  Step(a, {{kP99LengthMetric, 0}, {"loss", 1}});
  Step(a, {{kP99LengthMetric, 0}, {"loss", 1}});
  ASSERT_EQ(a.index(), 1);
  Step(a, {{kP99LengthMetric, 100}, {"loss", 5}});
  Step(a, {{kP99LengthMetric, 100}, {"loss", 5}});
  // Killed here, mid stage 1: a fresh controller restored from the JSON text continues identically.
  StageController b(t);
  ASSERT_THAT(b.Restore(nlohmann::json::parse(a.State().dump())), IsOk());
  EXPECT_EQ(b.index(), 1);
  EXPECT_EQ(b.steps_in_stage(), 2);
  EXPECT_EQ(b.current().max_new_tokens(), 200);
  // Streak reaches 3 on the next step but the plateau window (4 values) is full only one step later.
  for (StageController* c : {&a, &b}) {
    EXPECT_FALSE(Step(*c, {{kP99LengthMetric, 100}, {"loss", 5}}));
    EXPECT_TRUE(Step(*c, {{kP99LengthMetric, 100}, {"loss", 5}}));
    EXPECT_EQ(c->index(), 2);
  }
}

TEST(StagesTest, RestoreRejectsMalformedState) {
  config::TrainerConfig t;
  AddStage(t, 100)->mutable_advance()->set_steps(1);
  AddStage(t, 200);
  StageController c(t);
  nlohmann::json state = c.State();
  state["index"] = 2;
  EXPECT_THAT(c.Restore(state), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("index 2")));
  state = c.State();
  state.erase("p99_streak");
  EXPECT_THAT(c.Restore(state), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("p99_streak")));
}

TEST(StagesTest, ValidationNamesEachBadField) {
  config::TrainerConfig t;
  config::StageConfig* s = AddStage(t, 0);  // no rule, not last; p99 rule without a budget
  s->mutable_advance()->set_plateau_window(3);
  config::StageConfig* s1 = AddStage(t, -1);
  s1->mutable_overrides()->set_eps_high(0);
  s1->mutable_advance()->set_p99_length_fraction(1.5);
  const absl::Status st = ValidateStages(t);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument,
                           HasSubstr("trainer.stages[0].advance: a stage before the last needs a rule")));
  EXPECT_THAT(st.message(), HasSubstr("trainer.stages[0].advance.plateau_window/plateau_rel_change"));
  EXPECT_THAT(st.message(), HasSubstr("trainer.stages[1].max_new_tokens must be >= 0"));
  EXPECT_THAT(st.message(), HasSubstr("trainer.stages[1].overrides.eps_high must be > 0"));
  EXPECT_THAT(st.message(), HasSubstr("trainer.stages[1].advance.p99_length_fraction must be in [0, 1]"));
}

TEST(StagesTest, NoStagesIsOneStageThatNeverAdvances) {
  config::TrainerConfig t;
  StageController c(t);
  EXPECT_EQ(c.num_stages(), 1);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Step(c, {}));
  config::RunConfig base;
  base.mutable_rollout()->set_max_new_tokens(77);
  EXPECT_EQ(ApplyStage(base, c.current()).rollout().max_new_tokens(), 77);
}

}  // namespace
}  // namespace m1rl::trainer
