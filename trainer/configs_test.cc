// Loads and validates every YAML file under configs/ (STYLE S20), found at run time through
// M1RL_SOURCE_DIR (set by ctest), so a new file is covered without touching CMake.
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "trainer/data_mixture.h"
#include "trainer/stages.h"
#include "trainer/trainer_config.h"

namespace m1rl {
namespace {

using ::m1rl::testing::IsOk;

std::filesystem::path ConfigsDir() {
  const char* src = std::getenv("M1RL_SOURCE_DIR");
  return std::filesystem::path(src != nullptr ? src : ".") / "configs";
}

std::vector<std::filesystem::path> AllConfigs() {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(ConfigsDir())) {
    if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml")) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ConfigsTest, EveryFileLoadsValidatesAndRoundTrips) {
  ASSERT_TRUE(std::filesystem::is_directory(ConfigsDir())) << ConfigsDir() << " (is M1RL_SOURCE_DIR set?)";
  const std::vector<std::filesystem::path> files = AllConfigs();
  std::set<std::string> names;
  for (const auto& p : files) {
    SCOPED_TRACE(p.string());
    absl::StatusOr<config::RunConfig> c = trainer::LoadRunConfig(p.string());
    ASSERT_THAT(c, IsOk());
    absl::StatusOr<config::RunConfig> back = ParseConfigYaml(DumpConfigYaml(*c));
    ASSERT_THAT(back, IsOk());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*c, *back));
    names.insert(std::filesystem::relative(p, ConfigsDir()).string());
  }
  for (const char* required : {"quickstart.yaml", "minimax_m1.yaml", "ablation/cispo.yaml",
                               "ablation/grpo.yaml", "ablation/dapo.yaml"}) {
    EXPECT_TRUE(names.count(required)) << "missing configs/" << required;
  }
}

TEST(ConfigsTest, QuickstartIsATinyCispoRlRun) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c,
                            trainer::LoadRunConfig((ConfigsDir() / "quickstart.yaml").string()));
  EXPECT_EQ(c.trainer().mode(), config::TrainerConfig::MODE_RL);
  EXPECT_EQ(c.model().tokenizer(), "char");
  EXPECT_EQ(c.rollout().n_samples(), 8);
  EXPECT_EQ(c.algorithm().preset(), config::AlgorithmConfig::PRESET_CISPO);
  ASSERT_TRUE(c.algorithm().is_weight().has_eps_high());
  EXPECT_EQ(c.algorithm().is_weight().eps_high(), 4.0);
}

// The ablation arms differ only in the algorithm section and the run name (ALGORITHMS §7: every arm
// uses the same schedule), so a comparison between them measures the algorithm alone.
TEST(ConfigsTest, AblationArmsDifferOnlyInAlgorithm) {
  std::vector<config::RunConfig> arms;
  for (const char* arm : {"cispo", "grpo", "dapo"}) {
    M1RL_ASSERT_OK_AND_ASSIGN(
        config::RunConfig c,
        trainer::LoadRunConfig((ConfigsDir() / "ablation" / (std::string(arm) + ".yaml")).string()));
    EXPECT_EQ(YamlName(c.algorithm().preset()), arm);
    c.clear_algorithm();
    c.clear_name();
    c.mutable_trainer()->clear_metrics_dir();
    c.mutable_trainer()->mutable_checkpoint()->clear_dir();
    arms.push_back(c);
  }
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.ReportDifferencesToString(&diff);
  EXPECT_TRUE(d.Compare(arms[0], arms[1])) << "cispo vs grpo: " << diff;
  diff.clear();
  EXPECT_TRUE(d.Compare(arms[0], arms[2])) << "cispo vs dapo: " << diff;
}

// configs/minimax_m1.yaml's schedule (M1 §4.3, §5): 40K first, budgets rising to 80K, eps_high and the
// grad clip lowered only in the 80K stage; rule-verified sources from step 0, the general source ramped in.
TEST(ConfigsTest, MinimaxM1Schedule) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c,
                            trainer::LoadRunConfig((ConfigsDir() / "minimax_m1.yaml").string()));
  const auto& stages = c.trainer().stages();
  ASSERT_EQ(stages.size(), 6);
  EXPECT_EQ(stages[0].max_new_tokens(), 40960);
  EXPECT_EQ(stages[5].max_new_tokens(), 81920);
  for (int i = 0; i + 1 < stages.size(); ++i) {
    EXPECT_LT(stages[i].max_new_tokens(), stages[i + 1].max_new_tokens()) << i;
    const config::RunConfig s = trainer::ApplyStage(c, stages[i]);
    EXPECT_EQ(s.algorithm().is_weight().eps_high(), c.algorithm().is_weight().eps_high()) << i;
    EXPECT_EQ(s.trainer().optim().grad_clip(), c.trainer().optim().grad_clip()) << i;
    EXPECT_EQ(s.algorithm().overlong().max_len(), stages[i].max_new_tokens()) << i;
  }
  const config::RunConfig last = trainer::ApplyStage(c, stages[5]);
  EXPECT_LT(last.algorithm().is_weight().eps_high(), c.algorithm().is_weight().eps_high());
  EXPECT_LT(last.trainer().optim().grad_clip(), c.trainer().optim().grad_clip());
  EXPECT_EQ(last.rollout().max_new_tokens(), 81920);
  ASSERT_EQ(c.data().sources_size(), 4);
  EXPECT_EQ(c.data().sources(3).name(), "general");
  EXPECT_EQ(trainer::SourceWeight(c.data().sources(3), 0, 0), 0.0);
  EXPECT_GT(trainer::SourceWeight(c.data().sources(3), 1000, 0), 0.0);
  for (int i = 0; i < 3; ++i) EXPECT_GT(trainer::SourceWeight(c.data().sources(i), 0, 0), 0.0) << i;
}

// configs/minimax_m1.yaml carries the published M1 shapes (MODEL.md §1-2).
TEST(ConfigsTest, MinimaxM1HasPublishedShapes) {
  M1RL_ASSERT_OK_AND_ASSIGN(config::RunConfig c,
                            trainer::LoadRunConfig((ConfigsDir() / "minimax_m1.yaml").string()));
  const config::ModelConfig& m = c.model();
  EXPECT_EQ(m.num_hidden_layers(), 80);
  EXPECT_EQ(m.hidden_size(), 6144);
  EXPECT_EQ(m.num_attention_heads(), 64);
  EXPECT_EQ(m.head_dim(), 128);
  EXPECT_EQ(m.num_key_value_heads(), 8);
  EXPECT_EQ(m.num_local_experts(), 32);
  EXPECT_EQ(m.num_experts_per_tok(), 2);
  EXPECT_EQ(m.intermediate_size(), 9216);
  EXPECT_EQ(m.vocab_size(), 200064);
  ASSERT_EQ(m.layer_types_size(), 80);
  for (int i = 0; i < 80; ++i) {
    EXPECT_EQ(m.layer_types(i), i % 8 == 7 ? config::ModelConfig::LAYER_TYPE_FULL_ATTENTION
                                           : config::ModelConfig::LAYER_TYPE_LINEAR_ATTENTION)
        << "layer " << i;
  }
  EXPECT_EQ(c.trainer().optim().eps(), 1e-15);
  EXPECT_EQ(c.trainer().minibatches_per_step(), 16);
  // Fix 6 of issue 12: bf16 weights validate (the trainer alone decides whether it can train them).
  EXPECT_EQ(m.dtype(), config::ModelConfig::DTYPE_BFLOAT16);
}

}  // namespace
}  // namespace m1rl
