// The trainer's GenRM length-bias monitor (reward.genrm.length_bias.monitor) on the tiny RL config: a
// verifier whose reward grows with the response length makes the watched domain alarm after `windows`
// steps and, with residualise_beta, its rewards are residualised from then on; rewards that fall with length
// keep it quiet; an unwatched domain is not monitored.
#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "tests/trainer_test_util.h"
#include "trainer/trainer.h"

namespace m1rl::trainer {
namespace {

// Reward = the response length / 6 (rising) or 1 - length / 6 (falling), in domain "parity".
class LengthVerifier final : public reward::Verifier {
 public:
  explicit LengthVerifier(bool rising) : rising_(rising) {}
  std::string_view domain() const override { return "parity"; }
  std::string_view version() const override { return "length-1"; }
  reward::VerifyOutcome Verify(const reward::VerifyInput& input, const reward::CheckContext&) const override {
    reward::VerifyOutcome out;
    out.status = rl::OK;
    const double x = std::min(1.0, static_cast<double>(input.response.size()) / 6.0);
    out.correctness = rising_ ? x : 1.0 - x;
    out.verdict = out.correctness >= 0.5 ? rl::CORRECT : rl::INCORRECT;
    return out;
  }

 private:
  bool rising_;
};

config::RunConfig MonitoredConfig(const std::string& dir, double beta, const std::string& domain) {
  config::RunConfig c = testutil::TinyRlConfig(dir);
  c.mutable_trainer()->set_steps(4);
  // Stop strings on 36 of the 96 characters: the random tiny policy's completions end at varied lengths.
  for (const char ch : std::string("abcdefghijklmnopqrstuvwxyz0123456789")) {
    c.mutable_rollout()->add_stop_strings(std::string(1, ch));
  }
  config::LengthBiasConfig* lb = c.mutable_reward()->mutable_genrm()->mutable_length_bias();
  lb->set_monitor(true);
  lb->add_domains(domain);
  lb->set_windows(2);
  lb->set_min_groups(1);
  lb->set_corr_threshold(0.3);
  lb->set_residualise_beta(beta);
  return c;
}

std::vector<std::map<std::string, double>> RunSteps(const config::RunConfig& cfg, bool rising) {
  auto comm = MakeSingleRankCommunicator();
  auto t = Trainer::Create(cfg, comm.get(),
                           testutil::MakeInProcessRewardClient(std::make_unique<LengthVerifier>(rising)));
  EXPECT_TRUE(t.ok()) << t.status();
  std::vector<std::map<std::string, double>> steps;
  if (!t.ok()) return steps;
  for (int i = 0; i < cfg.trainer().steps(); ++i) {
    absl::StatusOr<StepResult> r = (*t)->TrainStep();
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) break;
    steps.push_back(r->metrics);
  }
  return steps;
}

TEST(TrainerLengthBiasTest, RewardRisingWithLengthAlarmsAndResidualises) {
  testutil::TempDir dir("length_bias_rising");
  const auto steps = RunSteps(MonitoredConfig(dir.path(), 1.0, "parity"), /*rising=*/true);
  ASSERT_EQ(steps.size(), 4u);
  for (size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "step " << i + 1);
    const auto& m = steps[i];
    ASSERT_TRUE(m.contains("genrm_length_bias/parity/spearman"));
    EXPECT_GT(m.at("genrm_length_bias/parity/groups"), 0);
    // The reward is a monotone function of the text's length (the token count adds the stop string or not,
    // so a few ties break the ranks): strongly positive in every step.
    EXPECT_GT(m.at("genrm_length_bias/parity/spearman"), 0.5);
    EXPECT_EQ(m.at("genrm_length_bias/parity/alarm"), i >= 1 ? 1.0 : 0.0);  // windows 2
    EXPECT_EQ(m.contains("genrm_length_bias/parity/residualised"), i >= 1);
  }
}

TEST(TrainerLengthBiasTest, RewardFallingWithLengthStaysQuiet) {
  testutil::TempDir dir("length_bias_falling");
  const auto steps = RunSteps(MonitoredConfig(dir.path(), 1.0, "parity"), /*rising=*/false);
  ASSERT_EQ(steps.size(), 4u);
  for (const auto& m : steps) {
    EXPECT_GT(m.at("genrm_length_bias/parity/groups"), 0);
    EXPECT_LT(m.at("genrm_length_bias/parity/spearman"), -0.5);
    EXPECT_EQ(m.at("genrm_length_bias/parity/alarm"), 0.0);
    EXPECT_FALSE(m.contains("genrm_length_bias/parity/residualised"));
  }
}

TEST(TrainerLengthBiasTest, OnlyTheWatchedDomainsAreMonitored) {
  testutil::TempDir dir("length_bias_other");
  const auto steps = RunSteps(MonitoredConfig(dir.path(), 0.0, "general"), /*rising=*/true);
  ASSERT_EQ(steps.size(), 4u);
  for (const auto& m : steps) EXPECT_FALSE(m.contains("genrm_length_bias/parity/spearman"));
}

TEST(TrainerLengthBiasTest, BadSettingsNameTheField) {
  testutil::TempDir dir("length_bias_bad");
  config::RunConfig cfg = MonitoredConfig(dir.path(), -1.0, "parity");
  auto comm = MakeSingleRankCommunicator();
  auto t = Trainer::Create(cfg, comm.get(),
                           testutil::MakeInProcessRewardClient(std::make_unique<LengthVerifier>(true)));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("reward.genrm.length_bias.residualise_beta"), std::string::npos)
      << t.status();
}

}  // namespace
}  // namespace m1rl::trainer
