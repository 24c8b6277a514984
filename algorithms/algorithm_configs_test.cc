// Every shipped config in configs/ (found through M1RL_SOURCE_DIR, so a new file is covered without
// touching CMake) loads with common/config.h and its algorithm section resolves (ALGORITHMS.md §2 preset
// table, §3 IS bounds); the ablation arms resolve to their presets' defining values; and an empty enum
// string (the loader's "owner's default") means the preset's value.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "algorithms/algorithm_config.h"
#include "common/config.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/config.pb.h"

namespace m1rl::algorithms {
namespace {

std::filesystem::path ConfigsDir() {
  const char* src = std::getenv("M1RL_SOURCE_DIR");
  return std::filesystem::path(src != nullptr ? src : ".") / "configs";
}

TEST(AlgorithmConfigsTest, EveryShippedRlConfigResolves) {
  ASSERT_TRUE(std::filesystem::is_directory(ConfigsDir())) << ConfigsDir() << " (is M1RL_SOURCE_DIR set?)";
  int resolved = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(ConfigsDir())) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig cfg, LoadConfig(e.path().string()));
    if (cfg.trainer().mode() == config::TrainerConfig::MODE_SFT) continue;
    auto alg = ResolveAlgorithmConfig(cfg.algorithm(), cfg.rollout().max_new_tokens());
    EXPECT_TRUE(alg.ok()) << alg.status();
    ++resolved;
  }
  EXPECT_GE(resolved, 1);
}

TEST(AlgorithmConfigsTest, AblationArmsResolveToTheirPresets) {
  const std::filesystem::path dir = ConfigsDir() / "ablation";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no configs/ablation";
  for (const std::string arm : {"cispo", "dapo", "grpo"}) {
    const std::filesystem::path path = dir / (arm + ".yaml");
    if (!std::filesystem::exists(path)) continue;
    SCOPED_TRACE(path.string());
    M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig cfg, LoadConfig(path.string()));
    M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm alg,
                              ResolveAlgorithmConfig(cfg.algorithm(), cfg.rollout().max_new_tokens()));
    EXPECT_EQ(PresetName(alg.preset), arm);
    if (arm == "cispo") {
      EXPECT_TRUE(alg.policy_loss.is_enabled);
      EXPECT_FALSE(alg.needs_reference_model());
    } else if (arm == "grpo") {
      EXPECT_EQ(alg.policy_loss.kl, KlEstimator::kK3);
      EXPECT_TRUE(alg.needs_reference_model());
    } else {
      EXPECT_EQ(alg.policy_loss.tr_eps_high, 0.28);
    }
  }
}

TEST(AlgorithmConfigsTest, NullMeansThePresetValue) {
  config::RunConfig cfg;
  ASSERT_THAT(MergeYamlIntoMessage("algorithm: {preset: dapo, loss_agg: null, kl: {estimator: null}}", &cfg),
              ::m1rl::testing::IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(ResolvedAlgorithm alg, ResolveAlgorithmConfig(cfg.algorithm(), 256));
  EXPECT_EQ(alg.loss_agg, LossAgg::kTokenMean);
  EXPECT_EQ(alg.policy_loss.kl, KlEstimator::kNone);
  EXPECT_TRUE(alg.deviations.empty());
}

}  // namespace
}  // namespace m1rl::algorithms
