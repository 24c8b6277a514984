#include "reward/genrm/length_bias.h"

#include <cmath>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::genrm {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

double Uniform(uint64_t* state) { return static_cast<double>(SplitMix64Next(state) >> 11) * 0x1.0p-53; }

TEST(GenrmLengthBiasTest, SpearmanByHand) {
  // Ranks of y = [1, 2, 3.5, 5, 3.5]; against 1..5: 8 / sqrt(10 * 9.5).
  std::optional<double> r = SpearmanCorrelation({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7});
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(*r, 8.0 / std::sqrt(95.0), 1e-12);
  EXPECT_NEAR(*SpearmanCorrelation({1, 2, 3}, {10, 100, 1000}), 1.0, 1e-12);  // monotone, not linear
  EXPECT_NEAR(*SpearmanCorrelation({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
  EXPECT_FALSE(SpearmanCorrelation({1, 2, 3}, {1, 1, 1}).has_value());
  EXPECT_FALSE(SpearmanCorrelation({1}, {1}).has_value());
  EXPECT_FALSE(SpearmanCorrelation({1, 2}, {1}).has_value());
}

TEST(GenrmLengthBiasTest, ResidualiseLength) {
  // mean 20, population std sqrt(200 / 3); z = -+sqrt(1.5).
  std::vector<double> r = ResidualiseLength({10, 20, 30}, {1, 1, 1}, 0.5);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_NEAR(r[0], 1 + 0.5 * std::sqrt(1.5), 1e-12);
  EXPECT_NEAR(r[1], 1.0, 1e-12);
  EXPECT_NEAR(r[2], 1 - 0.5 * std::sqrt(1.5), 1e-12);
  EXPECT_EQ(ResidualiseLength({5, 5}, {0.2, 0.7}, 1.0), (std::vector<double>{0.2, 0.7}));
}

// One window of `groups` groups of 8 responses with random lengths in [100, 2000); the reward is
// slope * length / 2000 + noise in [0, 1).
void FeedWindow(LengthBiasMonitor* m, const std::string& domain, double slope, uint64_t* state,
                int groups = 8) {
  for (int g = 0; g < groups; ++g) {
    std::vector<double> lengths;
    std::vector<double> rewards;
    for (int i = 0; i < 8; ++i) {
      double len = 100 + std::floor(1900 * Uniform(state));
      lengths.push_back(len);
      rewards.push_back(slope * len / 2000.0 + Uniform(state));
    }
    m->AddGroup(domain, lengths, rewards);
  }
}

// `n` probes of which `correct` are rule-correct; the GenRM agrees with the rule on the first `agree`.
void FeedProbes(LengthBiasMonitor* m, const std::string& domain, int n, int correct, int agree) {
  for (int i = 0; i < n; ++i) {
    bool rule = i < correct;
    bool genrm_says = i < agree ? rule : !rule;
    m->AddProbe(domain, genrm_says ? 1.0 : 0.0, rule);
  }
}

TEST(GenrmLengthBiasTest, RewardGrowingWithLengthFiresAfterThreeWindows) {
  LengthBiasMonitor m(*ResolveLengthBiasOptions(config::LengthBiasConfig()));
  int hook_calls = 0;
  m.SetRecalibrationHook([&](const LengthBiasReport& r) {
    ++hook_calls;
    EXPECT_TRUE(r.alarm);
  });
  uint64_t state = 1;
  for (int step = 1; step <= 4; ++step) {
    FeedWindow(&m, "general", 20.0, &state);  // reward dominated by length
    FeedWindow(&m, "math", 0.0, &state);      // reward independent of length
    FeedProbes(&m, "general", 100, 60, 90);   // flat probe accuracy, steady agreement
    LengthBiasReport r = m.EndWindow(step);
    ASSERT_EQ(r.domains.size(), 2u);
    const DomainLengthStats& general = r.domains[0];
    const DomainLengthStats& math = r.domains[1];
    EXPECT_EQ(general.domain, "general");
    EXPECT_GT(general.spearman, 0.8);
    EXPECT_LT(std::abs(math.spearman), 0.3);
    EXPECT_EQ(general.windows_over, step);
    EXPECT_EQ(general.alarm, step >= 3) << "step " << step;
    EXPECT_FALSE(math.alarm);
    EXPECT_DOUBLE_EQ(general.probe_accuracy, 0.6);
    EXPECT_DOUBLE_EQ(general.probe_agreement, 0.9);
    if (step >= 3) {
      EXPECT_THAT(general.reasons.at(0), HasSubstr("flat probe accuracy"));
    }
    std::map<std::string, double> metrics = r.Metrics();
    EXPECT_EQ(metrics.at("genrm_length_bias/general/alarm"), step >= 3 ? 1.0 : 0.0);
    EXPECT_EQ(metrics.at("genrm_length_bias/general/probe_accuracy"), 0.6);
    EXPECT_EQ(metrics.count("genrm_length_bias/math/probe_accuracy"), 0u);
  }
  EXPECT_EQ(hook_calls, 2);
}

TEST(GenrmLengthBiasTest, QuietWithoutLengthBias) {
  LengthBiasMonitor m(*ResolveLengthBiasOptions(config::LengthBiasConfig()));
  int hook_calls = 0;
  m.SetRecalibrationHook([&](const LengthBiasReport&) { ++hook_calls; });
  uint64_t state = 2;
  for (int step = 1; step <= 10; ++step) {
    FeedWindow(&m, "general", 0.0, &state);
    FeedProbes(&m, "general", 100, 60, 90);
    for (int i = 0; i < 50; ++i) m.AddPaddedProbe("general", 0.8, i < 3 ? 0.9 : 0.7);  // 6% padded wins
    LengthBiasReport r = m.EndWindow(step);
    EXPECT_FALSE(r.alarm) << "step " << step << ": "
                          << (r.domains[0].reasons.empty() ? "" : r.domains[0].reasons[0]);
  }
  EXPECT_EQ(hook_calls, 0);
}

TEST(GenrmLengthBiasTest, LengthGrowthWithRisingAccuracyIsNotAnAlarm) {
  LengthBiasMonitor m(*ResolveLengthBiasOptions(config::LengthBiasConfig()));
  uint64_t state = 3;
  for (int step = 1; step <= 5; ++step) {
    FeedWindow(&m, "general", 20.0, &state);
    FeedProbes(&m, "general", 100, 50 + 5 * step, 90);  // +5 points per window
    EXPECT_FALSE(m.EndWindow(step).alarm) << "step " << step;
  }
}

TEST(GenrmLengthBiasTest, TooFewGroupsNeitherCountNorReset) {
  LengthBiasMonitor m(*ResolveLengthBiasOptions(config::LengthBiasConfig()));
  uint64_t state = 4;
  FeedWindow(&m, "general", 20.0, &state);
  EXPECT_EQ(m.EndWindow(1).domains[0].windows_over, 1);
  FeedWindow(&m, "general", 20.0, &state, /*groups=*/2);  // below min_groups = 4
  EXPECT_EQ(m.EndWindow(2).domains[0].windows_over, 1);
  FeedWindow(&m, "general", 20.0, &state);
  EXPECT_EQ(m.EndWindow(3).domains[0].windows_over, 2);
  FeedWindow(&m, "general", 0.0, &state);
  EXPECT_EQ(m.EndWindow(4).domains[0].windows_over, 0);
}

TEST(GenrmLengthBiasTest, AgreementDropAndPaddedWinsAlarm) {
  LengthBiasMonitor m(*ResolveLengthBiasOptions(config::LengthBiasConfig()));
  FeedProbes(&m, "general", 100, 60, 90);
  EXPECT_FALSE(m.EndWindow(1).alarm);
  FeedProbes(&m, "general", 100, 60, 86);  // 4 points down: within 5
  EXPECT_FALSE(m.EndWindow(2).alarm);
  FeedProbes(&m, "general", 100, 60, 84);  // 6 points down
  LengthBiasReport r = m.EndWindow(3);
  ASSERT_TRUE(r.alarm);
  EXPECT_THAT(r.domains[0].reasons.at(0), HasSubstr("probe agreement 0.84 fell below its baseline 0.9"));

  for (int i = 0; i < 20; ++i) m.AddPaddedProbe("general", 0.5, i < 3 ? 0.75 : 0.5);  // 15% wins
  r = m.EndWindow(4);
  ASSERT_TRUE(r.alarm);
  EXPECT_THAT(r.domains[0].reasons.at(0), HasSubstr("padded probe variants beat their originals in 0.15"));
}

TEST(GenrmLengthBiasTest, ResolveOptions) {
  config::LengthBiasConfig c;
  LengthBiasOptions o = *ResolveLengthBiasOptions(c);
  EXPECT_EQ(o.corr_threshold, 0.3);
  EXPECT_EQ(o.windows, 3);
  EXPECT_EQ(o.agreement_drop, 0.05);
  EXPECT_EQ(o.padded_win_rate, 0.10);
  EXPECT_FALSE(o.monitor);
  EXPECT_EQ(o.domains, std::vector<std::string>{"general"});
  EXPECT_EQ(o.residualise_beta, 0.0);
  c.add_domains("math");
  c.add_domains("general");
  c.set_residualise_beta(0.5);
  o = *ResolveLengthBiasOptions(c);
  EXPECT_EQ(o.domains, (std::vector<std::string>{"math", "general"}));
  EXPECT_EQ(o.residualise_beta, 0.5);
  c.add_domains("");
  c.set_residualise_beta(-0.5);
  EXPECT_THAT(
      ResolveLengthBiasOptions(c),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::AllOf(HasSubstr("reward.genrm.length_bias.domains must not contain an empty name"),
                                HasSubstr("reward.genrm.length_bias.residualise_beta"))));
  c = config::LengthBiasConfig();
  c.set_padded_win_rate(1.5);
  c.set_windows(-1);
  EXPECT_THAT(ResolveLengthBiasOptions(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("reward.genrm.length_bias.windows must be >= 0, got -1"),
                                        HasSubstr("reward.genrm.length_bias.padded_win_rate"))));
}

}  // namespace
}  // namespace m1rl::reward::genrm
