// The policy's checkpoint path: save -> (resume's loader) -> model, and `m1rl export` through the same
// loader, read back with the model module's Hugging Face loader.
#include "trainer/policy.h"

#include <ATen/core/grad_mode.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn_like.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer_files.h"
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
  // The run's tokenizer (char) is written next to the weights as its equivalent tokenizer.json.
  EXPECT_TRUE(fs::exists(out + "/tokenizer_config.json"));
  EXPECT_TRUE(fs::exists(out + "/generation_config.json"));
  EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
  fs::remove_all(root);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Export -> load (the model's HF loader, the tokenizer the directory implies) -> export writes the same files
// byte for byte: config.json (with the run's RoPE convention), the safetensors shards and their index, the
// lightning buffers, tokenizer.json, tokenizer_config.json and generation_config.json.
TEST(ExportTest, ExportLoadExportIsByteStable) {
  const std::string root = TempRoot("stable");
  fs::create_directories(root);
  config::RunConfig cfg = TinyConfig(99);
  cfg.mutable_model()->set_rope_convention(config::ModelConfig::ROPE_CONVENTION_HF);
  const std::string tokenizer = root + "/tokenizer.json";
  std::ofstream(tokenizer)
      << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
 "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true}]})";
  cfg.mutable_model()->set_tokenizer(tokenizer);
  const auto trained = TrainedPolicy(cfg);
  const std::string dir = WriteCheckpoint(root, cfg, *trained);
  const std::string first = root + "/hf1";
  // tiny2 at vocab 99 in fp32: ~0.96 MB of weights plus 1.05 MB of lightning buffers (diagonal_decay alone is
  // 4·256·256·4 bytes, larger than a shard): several shards.
  const int64_t shard_bytes = 400000;
  ASSERT_THAT(ExportCheckpoint(dir, first, shard_bytes), IsOk());
  EXPECT_TRUE(fs::exists(first + "/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(first + "/model.safetensors"));
  EXPECT_EQ(ReadAll(first + "/tokenizer.json"), ReadAll(tokenizer));
  EXPECT_NE(ReadAll(first + "/config.json").find("\"rope_convention\": \"hf\""), std::string::npos);
  // config.json names the tokenizer's special ids, as generation_config.json does.
  const nlohmann::json config = nlohmann::json::parse(ReadAll(first + "/config.json"));
  const nlohmann::json generation = nlohmann::json::parse(ReadAll(first + "/generation_config.json"));
  for (const char* key : {"bos_token_id", "eos_token_id", "pad_token_id"})
    EXPECT_EQ(config[key], generation[key]) << key;
  EXPECT_EQ(config["eos_token_id"], 3) << "<|endoftext|>";

  M1RL_ASSERT_OK_AND_ASSIGN(auto loaded, model::HybridModel::LoadHf(first, at::kFloat, at::kCPU));
  EXPECT_EQ(loaded->config().rope_convention, model::RopeConvention::kHf);
  ExpectSameParameters(*trained, *loaded);
  const std::string second = root + "/hf2";
  ASSERT_THAT(ExportHf(*loaded, model::DefaultTokenizerSpec(first), second, shard_bytes), IsOk());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(first)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_GE(std::count_if(names.begin(), names.end(),
                          [](const std::string& n) { return n.rfind("model-0000", 0) == 0; }),
            3);
  for (const std::string& name : names) {
    EXPECT_EQ(ReadAll(absl::StrCat(first, "/", name)), ReadAll(absl::StrCat(second, "/", name))) << name;
  }
  size_t second_count = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(second)) ++second_count;
  EXPECT_EQ(second_count, names.size());
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
