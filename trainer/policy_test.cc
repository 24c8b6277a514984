// The policy's checkpoint path: save -> (resume's loader) -> model, and `m1rl export` through the same
// loader, read back with the model module's Hugging Face loader.
#include "trainer/policy.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn_like.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "trainer/checkpoint.h"
#include "trainer/communicator.h"
#include "trainer/export.h"

namespace m1rl::trainer {
namespace {

namespace fs = std::filesystem;
using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string TempRoot(const std::string& name) {
  std::string root =
      (fs::temp_directory_path() / absl::StrCat("m1rl_policy_test_", name, "_", ::getpid())).string();
  fs::remove_all(root);
  return root;
}

config::RunConfig TinyConfig(int64_t vocab_size) {
  config::RunConfig cfg;
  cfg.mutable_model()->set_preset("tiny2");
  cfg.mutable_model()->set_vocab_size(vocab_size);
  cfg.mutable_model()->set_seed(3);
  return cfg;
}

// A "trained" policy: the seeded init plus noise, so that only a real load reproduces it.
std::unique_ptr<model::HybridModel> TrainedPolicy(const config::RunConfig& cfg) {
  auto policy = InitialPolicy(cfg, at::kCPU);
  EXPECT_THAT(policy.status(), IsOk());
  at::NoGradGuard no_grad;
  for (auto& [name, p] : (*policy)->NamedParameters()) p.add_(at::randn_like(p), /*alpha=*/0.01);
  return std::move(*policy);
}

// A complete checkpoint holding `policy` and `cfg`, written the way the trainer writes one.
std::string WriteCheckpoint(const std::string& root, const config::RunConfig& cfg,
                            const model::HybridModel& policy) {
  auto comm = MakeSingleRankCommunicator();
  CheckpointManager mgr(root, 0, comm.get());
  absl::StatusOr<std::string> dir = mgr.Save(7, [&](const std::string& d) -> absl::Status {
    if (absl::Status s = SavePolicyWeights(d, policy); !s.ok()) return s;
    return WriteFileAtomic(absl::StrCat(d, "/", kConfigProtoFile), cfg.SerializeAsString());
  });
  EXPECT_THAT(dir.status(), IsOk());
  return dir.value_or("");
}

void ExpectSameParameters(const model::HybridModel& want, const model::HybridModel& got) {
  const auto a = want.NamedParameters();
  const auto b = got.NamedParameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.scalar_type(), b[i].second.scalar_type()) << a[i].first;
    EXPECT_TRUE(at::equal(a[i].second, b[i].second)) << a[i].first << " differs";
  }
}

TEST(PolicyTest, CheckpointLoaderRestoresTheTrainedPolicyBitForBit) {
  const std::string root = TempRoot("load");
  const config::RunConfig cfg = TinyConfig(99);
  const auto trained = TrainedPolicy(cfg);
  const std::string dir = WriteCheckpoint(root, cfg, *trained);
  M1RL_ASSERT_OK_AND_ASSIGN(auto loaded, LoadCheckpointPolicy(dir, at::kCPU));
  ExpectSameParameters(*trained, *loaded);
  // The resume path: the same loader into a live model.
  M1RL_ASSERT_OK_AND_ASSIGN(auto live, InitialPolicy(cfg, at::kCPU));
  ASSERT_THAT(LoadPolicyWeights(dir, *live), IsOk());
  ExpectSameParameters(*trained, *live);
  fs::remove_all(root);
}

TEST(ExportTest, ExportedHfDirectoryLoadsBackBitIdentical) {
  const std::string root = TempRoot("export");
  const config::RunConfig cfg = TinyConfig(99);
  const auto trained = TrainedPolicy(cfg);
  const std::string dir = WriteCheckpoint(root, cfg, *trained);
  const std::string out = root + "/hf";
  ASSERT_THAT(ExportCheckpoint(dir, out), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(auto hf, model::HybridModel::LoadHf(out, at::kFloat, at::kCPU));
  ExpectSameParameters(*trained, *hf);
  // The run's tokenizer (char: no tokenizer.json) is described next to the weights.
  EXPECT_TRUE(fs::exists(out + "/tokenizer_config.json"));
  EXPECT_TRUE(fs::exists(out + "/generation_config.json"));
  EXPECT_FALSE(fs::exists(out + "/tokenizer.json"));
  fs::remove_all(root);
}

TEST(ExportTest, RunTokenizerSpecPrefersTheConfigThenInitFromThenChar) {
  const std::string root = TempRoot("tokspec");
  fs::create_directories(root);
  config::ModelConfig m;
  EXPECT_EQ(RunTokenizerSpec(m), "char");
  m.set_init_from(root);
  EXPECT_EQ(RunTokenizerSpec(m), "char");  // no tokenizer.json there
  std::ofstream(root + "/tokenizer.json") << "{}";
  EXPECT_EQ(RunTokenizerSpec(m), root + "/tokenizer.json");
  m.set_tokenizer("char");
  EXPECT_EQ(RunTokenizerSpec(m), "char");
  fs::remove_all(root);
}

TEST(ExportTest, DamagedCheckpointsFailNamingTheFile) {
  const std::string root = TempRoot("damaged");
  const config::RunConfig cfg = TinyConfig(99);
  const std::string dir = WriteCheckpoint(root, cfg, *TrainedPolicy(cfg));
  const std::string weights = absl::StrCat(dir, "/", kPolicyWeightsFile);

  fs::resize_file(weights, fs::file_size(weights) - 5);
  EXPECT_THAT(
      ExportCheckpoint(dir, root + "/hf"),
      StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr(weights), HasSubstr("truncated"))));
  EXPECT_FALSE(fs::exists(root + "/hf/model.safetensors"));

  // Weights of another model (vocabulary 100, not 99): the loader names the file and the tensor.
  ASSERT_THAT(SavePolicyWeights(dir, *TrainedPolicy(TinyConfig(100))), IsOk());
  EXPECT_THAT(ExportCheckpoint(dir, root + "/hf"),
              StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr(weights), HasSubstr("wrong shape"))));

  ASSERT_THAT(WriteFileAtomic(absl::StrCat(dir, "/", kConfigProtoFile), "\xff\xff not a proto"), IsOk());
  EXPECT_THAT(ExportCheckpoint(dir, root + "/hf"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(kConfigProtoFile)));

  fs::remove(absl::StrCat(dir, "/", kCompleteMarker));
  EXPECT_THAT(ExportCheckpoint(dir, root + "/hf"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(kCompleteMarker)));
  fs::remove_all(root);
}

}  // namespace
}  // namespace m1rl::trainer
