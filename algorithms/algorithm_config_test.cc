// Tests for algorithms/algorithm_config.h.
// Covers ALGORITHMS.md §2 preset table (presets set every field), §3 IS-bound conventions and §8:
//   pitfall 1  cispo without algorithm.is_weight.eps_high fails naming the field; eps_high + max_ratio
//              fails; TRL's 0.2 absolute cap is rejected; (r = 1 => w = 1 is in policy_loss_test V1).
//   pitfall 8  cispo/dapo need no reference model (beta 0); beta > 0 there is a recorded deviation.
// Plus: "deviates from preset" notes, both views of the IS bounds (eps_high 4 -> cap 5; TRL's
// "epsilon_high 5" = max_ratio 5 vs NeMo-RL's = eps_high 5 -> cap 6), and errors naming the path for bad
// values and enum strings.
#include "algorithms/algorithm_config.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "proto/config_algorithm.pb.h"

namespace m1rl::algorithms {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The generation budget (rollout.max_new_tokens) of these tests: the DAPO recipe's L_max.
constexpr int64_t kBudget = 20480;

config::AlgorithmConfig Cispo(double eps_high) {
  config::AlgorithmConfig c;
  c.set_preset(config::AlgorithmConfig::PRESET_CISPO);
  c.mutable_is_weight()->set_eps_high(eps_high);
  return c;
}

TEST(AlgorithmConfigTest, Pitfall1CispoWithoutEpsHighFailsNamingTheField) {
  config::AlgorithmConfig c;
  c.set_preset(config::AlgorithmConfig::PRESET_CISPO);
  EXPECT_THAT(
      ResolveAlgorithmConfig(c, kBudget),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("algorithm.is_weight.eps_high is required")));
}

TEST(AlgorithmConfigTest, Pitfall1EpsHighWithMaxRatioFails) {
  config::AlgorithmConfig c = Cispo(4.0);
  c.mutable_is_weight()->set_max_ratio(5.0);
  EXPECT_THAT(ResolveAlgorithmConfig(c, kBudget),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("algorithm.is_weight.eps_high (4) and algorithm.is_weight.max_ratio (5)")));
  // Even with the IS band off (grpo) the pair is contradictory.
  config::AlgorithmConfig g;
  g.set_preset(config::AlgorithmConfig::PRESET_GRPO);
  g.mutable_is_weight()->set_eps_high(0.2);
  g.mutable_is_weight()->set_max_ratio(1.2);
  EXPECT_THAT(ResolveAlgorithmConfig(g, kBudget),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mutually exclusive")));
}

TEST(AlgorithmConfigTest, Pitfall1AbsoluteCapBelowOneIsRejected) {
  config::AlgorithmConfig c;
  c.set_preset(config::AlgorithmConfig::PRESET_CISPO);
  c.mutable_is_weight()->set_max_ratio(0.2);  // TRL's unset-epsilon_high fallback
  EXPECT_THAT(
      ResolveAlgorithmConfig(c, kBudget),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("algorithm.is_weight.max_ratio must be > 1")));
}

TEST(AlgorithmConfigTest, BothViewsOfTheIsBounds) {
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm a, ResolveAlgorithmConfig(Cispo(4.0), kBudget));
  EXPECT_EQ(a.is_bounds, "eps_high 4 -> cap 5; no floor");
  EXPECT_EQ(a.policy_loss.is_high, 5.0);
  EXPECT_FALSE(a.policy_loss.is_low.has_value());
  EXPECT_THAT(a.Summary(), HasSubstr("is_weight: eps_high 4 -> cap 5; no floor"));
  // "epsilon_high = 5" is cap 5 in TRL (max_ratio) and cap 6 in NeMo-RL (eps_high).
  config::AlgorithmConfig trl;
  trl.set_preset(config::AlgorithmConfig::PRESET_CISPO);
  trl.mutable_is_weight()->set_max_ratio(5.0);
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm t, ResolveAlgorithmConfig(trl, kBudget));
  EXPECT_EQ(t.policy_loss.is_high, 5.0);
  EXPECT_EQ(t.is_bounds, "max_ratio 5 (= eps_high 4); no floor");
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm n, ResolveAlgorithmConfig(Cispo(5.0), kBudget));
  EXPECT_EQ(n.policy_loss.is_high, 6.0);
  // eps_low 0.2 -> floor 0.8; eps_low >= 1 means no floor.
  config::AlgorithmConfig lo = Cispo(0.28);
  lo.mutable_is_weight()->set_eps_low(0.2);
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm l, ResolveAlgorithmConfig(lo, kBudget));
  EXPECT_DOUBLE_EQ(*l.policy_loss.is_low, 0.8);
  EXPECT_EQ(l.is_bounds, "eps_high 0.28 -> cap 1.28; eps_low 0.2 -> floor 0.8");
  lo.mutable_is_weight()->set_eps_low(1.5);
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm nf, ResolveAlgorithmConfig(lo, kBudget));
  EXPECT_FALSE(nf.policy_loss.is_low.has_value());
}

TEST(AlgorithmConfigTest, PresetsMatchTheTable) {
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm grpo,
                            ResolveAlgorithmConfig(PresetConfig(Preset::kGrpo), kBudget));
  EXPECT_FALSE(grpo.policy_loss.is_enabled);
  EXPECT_TRUE(grpo.policy_loss.tr_enabled);
  EXPECT_EQ(grpo.policy_loss.tr_eps_low, 0.2);
  EXPECT_EQ(grpo.policy_loss.tr_eps_high, 0.2);
  EXPECT_EQ(grpo.loss_agg, LossAgg::kSeqMeanTokenMean);
  EXPECT_EQ(grpo.policy_loss.kl, KlEstimator::kK3);
  EXPECT_EQ(grpo.policy_loss.kl_beta, 0.04);
  EXPECT_TRUE(grpo.needs_reference_model());
  EXPECT_FALSE(grpo.dynamic_sampling);
  EXPECT_EQ(grpo.is_bounds, "off (r unclipped)");

  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm dapo,
                            ResolveAlgorithmConfig(PresetConfig(Preset::kDapo), kBudget));
  EXPECT_EQ(dapo.policy_loss.tr_eps_high, 0.28);
  EXPECT_EQ(dapo.loss_agg, LossAgg::kTokenMean);
  EXPECT_FALSE(dapo.needs_reference_model());
  EXPECT_TRUE(dapo.dynamic_sampling);
  EXPECT_TRUE(dapo.overlong);
  EXPECT_EQ(dapo.overlong_max_len, 20480);
  EXPECT_EQ(dapo.overlong_cache_len, 4096);

  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm cispo, ResolveAlgorithmConfig(Cispo(4.0), kBudget));
  EXPECT_TRUE(cispo.policy_loss.is_enabled);
  EXPECT_FALSE(cispo.policy_loss.tr_enabled);
  EXPECT_EQ(cispo.loss_agg, LossAgg::kTokenMean);
  EXPECT_FALSE(cispo.needs_reference_model());  // pitfall 8
  EXPECT_EQ(cispo.policy_loss.kl_beta, 0.0);
  EXPECT_TRUE(cispo.dynamic_sampling);
  EXPECT_TRUE(cispo.repetition);
  EXPECT_EQ(cispo.repetition_threshold, 0.99);
  EXPECT_EQ(cispo.repetition_run_length, 3000);
  EXPECT_EQ(cispo.repetition_policy, RepetitionPolicy::kFail);
  EXPECT_EQ(cispo.ratio_denominator, RatioDenominator::kRecompute);
  EXPECT_THAT(cispo.deviations, IsEmpty());  // eps_high has no preset value: not a deviation

  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm rf,
                            ResolveAlgorithmConfig(PresetConfig(Preset::kReinforce), kBudget));
  EXPECT_FALSE(rf.policy_loss.is_enabled || rf.policy_loss.tr_enabled);
  EXPECT_EQ(rf.loss_agg, LossAgg::kSeqMeanTokenMean);
  EXPECT_FALSE(rf.needs_reference_model());
}

// Every scalar field of every preset is set, except the two documented as having no default.
void ExpectAllSet(const google::protobuf::Message& m, const std::string& prefix) {
  const auto* d = m.GetDescriptor();
  const auto* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    const std::string path = prefix + "." + f->name();
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      ExpectAllSet(r->GetMessage(m, f), path);
      continue;
    }
    if (path == "algorithm.is_weight.eps_high" || path == "algorithm.is_weight.eps_low" ||
        path == "algorithm.is_weight.max_ratio" || path == "algorithm.generation_budget" ||
        path == "algorithm.overlong.max_len" || path == "algorithm.overlong.cache_len") {
      // No default by design (§3): absent means "required" / "no floor" / "not porting" / "unused" /
      // "from the generation budget".
      continue;
    }
    EXPECT_TRUE(r->HasField(m, f)) << path;
  }
}

TEST(AlgorithmConfigTest, PresetsSetEveryField) {
  for (Preset p : {Preset::kCispo, Preset::kGrpo, Preset::kDapo, Preset::kReinforce}) {
    SCOPED_TRACE(PresetName(p));
    ExpectAllSet(PresetConfig(p), "algorithm");
  }
}

TEST(AlgorithmConfigTest, OverridesAreRecordedAsDeviations) {
  config::AlgorithmConfig c = Cispo(4.0);
  c.set_loss_agg(config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_MEAN);
  c.mutable_kl()->set_estimator(config::KlConfig::ESTIMATOR_K3);
  c.mutable_kl()->set_beta(0.001);                  // verl's CISPO example (pitfall 8: a deviation)
  c.mutable_dynamic_sampling()->set_enabled(true);  // same as the preset: not a deviation
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm a, ResolveAlgorithmConfig(c, kBudget));
  EXPECT_THAT(a.deviations, ElementsAre("algorithm.loss_agg: seq_mean_token_mean (preset cispo: token_mean)",
                                        "algorithm.kl.estimator: k3 (preset cispo: none)",
                                        "algorithm.kl.beta: 0.001 (preset cispo: 0)"));
  EXPECT_TRUE(a.needs_reference_model());
  EXPECT_EQ(a.config->loss_agg(), config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_MEAN);
  EXPECT_EQ(a.config->repetition().run_length(), 3000);  // untouched fields keep the preset's value
  EXPECT_THAT(a.Summary(), HasSubstr("deviates from preset: algorithm.kl.beta: 0.001 (preset cispo: 0)"));
}

TEST(AlgorithmConfigTest, ErrorsNameThePath) {
  struct Case {
    std::function<void(config::AlgorithmConfig*)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto* c) { c->clear_preset(); }, "algorithm.preset is required"},
      {[](auto* c) { c->mutable_kl()->set_beta(0.1); },
       "algorithm.kl.beta is 0.1 but algorithm.kl.estimator is none"},
      {[](auto* c) { c->mutable_kl()->set_beta(-1); }, "algorithm.kl.beta must be >= 0"},
      {[](auto* c) { c->mutable_is_weight()->set_eps_high(-0.5); },
       "algorithm.is_weight.eps_high must be > 0"},
      {[](auto* c) { c->mutable_is_weight()->set_eps_high(INFINITY); },
       "algorithm.is_weight.eps_high must be finite"},
      {[](auto* c) { c->mutable_is_weight()->set_eps_low(0); }, "algorithm.is_weight.eps_low must be > 0"},
      {[](auto* c) {
         c->mutable_trust_region()->set_enabled(true);
         c->mutable_trust_region()->set_eps_low(0);
       },
       "algorithm.trust_region.eps_low must be > 0"},
      {[](auto* c) { c->set_loss_agg(config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_SUM_NORM); },
       "algorithm.generation_budget (L_gen > 0) is required"},
      {[](auto* c) { c->set_generation_budget(-5); }, "algorithm.generation_budget must be > 0"},
      {[](auto* c) { c->mutable_dynamic_sampling()->set_max_gen_rounds(0); },
       "algorithm.dynamic_sampling.max_gen_rounds"},
      {[](auto* c) { c->mutable_overlong()->set_cache_len(30000); },
       "algorithm.overlong.max_len (20480) must be >= algorithm.overlong.cache_len (30000)"},
      {[](auto* c) { c->mutable_repetition()->set_threshold(1.0); },
       "algorithm.repetition.threshold must be in (0, 1)"},
      {[](auto* c) { c->mutable_repetition()->set_run_length(0); },
       "algorithm.repetition.run_length must be >= 1"},
      {[](auto* c) { c->set_log_ratio_clamp(0); }, "algorithm.log_ratio_clamp must be > 0"},
  };
  for (const Case& k : cases) {
    config::AlgorithmConfig c = Cispo(4.0);
    k.edit(&c);
    EXPECT_THAT(ResolveAlgorithmConfig(c, kBudget),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(k.message)))
        << k.message;
  }
  // The Dr.GRPO normaliser is fine once the budget is given.
  config::AlgorithmConfig ok = Cispo(4.0);
  ok.set_loss_agg(config::AlgorithmConfig::LOSS_AGG_SEQ_MEAN_TOKEN_SUM_NORM);
  ok.set_generation_budget(8192);
  EXPECT_THAT(ResolveAlgorithmConfig(ok, kBudget), IsOk());
}

// Fix 2 of issue 12: the presets' L_max was 20480 while the generation budget defaulted to 256, so the
// penalty never applied (or punished allowed lengths under a larger L_cache). L_max now follows the budget.
TEST(AlgorithmConfigTest, OverlongMaxLenFollowsTheGenerationBudget) {
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm a, ResolveAlgorithmConfig(Cispo(4.0), 256));
  EXPECT_TRUE(a.overlong);
  EXPECT_EQ(a.overlong_max_len, 256);
  EXPECT_EQ(a.overlong_cache_len, 51);  // min(4096, 256 / 5)
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm dapo,
                            ResolveAlgorithmConfig(PresetConfig(Preset::kDapo), 40960));
  EXPECT_EQ(dapo.overlong_max_len, 40960);
  EXPECT_EQ(dapo.overlong_cache_len, 4096);
  EXPECT_THAT(dapo.deviations, IsEmpty());
  // An explicit L_max within the budget is kept, with its own L_cache.
  config::AlgorithmConfig c = Cispo(4.0);
  c.mutable_overlong()->set_max_len(200);
  c.mutable_overlong()->set_cache_len(8);
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm e, ResolveAlgorithmConfig(c, 256));
  EXPECT_EQ(e.overlong_max_len, 200);
  EXPECT_EQ(e.overlong_cache_len, 8);
  EXPECT_THAT(e.deviations, IsEmpty());  // no preset value: not a deviation
}

TEST(AlgorithmConfigTest, OverlongMaxLenAboveTheBudgetIsAnErrorNamingBothFields) {
  config::AlgorithmConfig c = Cispo(4.0);
  c.mutable_overlong()->set_max_len(20480);
  EXPECT_THAT(ResolveAlgorithmConfig(c, 256), StatusIs(absl::StatusCode::kInvalidArgument,
                                                       AllOf(HasSubstr("algorithm.overlong.max_len (20480)"),
                                                             HasSubstr("rollout.max_new_tokens (256)"))));
  // Also with the penalty off: the value would still be a lie about the run.
  c.mutable_overlong()->set_enabled(false);
  EXPECT_THAT(ResolveAlgorithmConfig(c, 256),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("algorithm.overlong.max_len (20480)")));
  EXPECT_THAT(ResolveAlgorithmConfig(Cispo(4.0), 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rollout.max_new_tokens")));
}

// algorithm.rollout_correction: off unless set; tis / icepop resolve with their bounds; out-of-range values
// fail naming the field; a changed mode is a recorded deviation.
TEST(AlgorithmConfigTest, RolloutCorrectionResolvesAndValidates) {
  absl::StatusOr<ResolvedAlgorithm> def = ResolveAlgorithmConfig(Cispo(4.0), kBudget);
  ASSERT_THAT(def.status(), IsOk());
  EXPECT_EQ(def->rollout_correction.kind, RolloutCorrection::kNone);

  config::AlgorithmConfig tis = Cispo(4.0);
  tis.mutable_rollout_correction()->set_mode(config::RolloutCorrectionConfig::MODE_TIS);
  tis.mutable_rollout_correction()->set_tis_cap(3.0);
  absl::StatusOr<ResolvedAlgorithm> r = ResolveAlgorithmConfig(tis, kBudget);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->rollout_correction.kind, RolloutCorrection::kTis);
  EXPECT_EQ(r->rollout_correction.tis_cap, 3.0);
  EXPECT_EQ(r->rollout_correction.log_ratio_clamp, 20.0);
  EXPECT_THAT(r->deviations, ::testing::Contains(HasSubstr("algorithm.rollout_correction.mode: tis")));

  config::AlgorithmConfig ice = Cispo(4.0);
  ice.mutable_rollout_correction()->set_mode(config::RolloutCorrectionConfig::MODE_ICEPOP);
  r = ResolveAlgorithmConfig(ice, kBudget);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->rollout_correction.kind, RolloutCorrection::kIcePop);
  EXPECT_EQ(r->rollout_correction.icepop_k, 2.0);  // preset default

  config::AlgorithmConfig bad_cap = tis;
  bad_cap.mutable_rollout_correction()->set_tis_cap(0.5);
  EXPECT_THAT(
      ResolveAlgorithmConfig(bad_cap, kBudget).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("algorithm.rollout_correction.tis_cap")));
  config::AlgorithmConfig bad_k = ice;
  bad_k.mutable_rollout_correction()->set_icepop_k(1.0);
  EXPECT_THAT(
      ResolveAlgorithmConfig(bad_k, kBudget).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("algorithm.rollout_correction.icepop_k")));
  bad_k.mutable_rollout_correction()->set_icepop_k(std::nan(""));
  EXPECT_THAT(
      ResolveAlgorithmConfig(bad_k, kBudget).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("algorithm.rollout_correction.icepop_k")));
}

}  // namespace
}  // namespace m1rl::algorithms
