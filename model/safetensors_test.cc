#include "model/safetensors.h"

#include <ATen/TensorOperators.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/randn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/testing/status_matchers.h"
#include "model/hybrid_model.h"

namespace m1rl::model {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string TempDir(const std::string& name) {
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("m1rl_model_test_" + std::to_string(::getpid()) + "_" + name))
                        .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A file assembled by hand (independent of the writer): header length, JSON, two little-endian floats.
std::string HandMadeFile(const std::string& dtype = "F32", const std::string& offsets = "[0,8]") {
  const std::string json =
      "{\"a\":{\"dtype\":\"" + dtype + "\",\"shape\":[2],\"data_offsets\":" + offsets + "}}";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  bytes += json;
  const float v[2] = {1.5f, -2.0f};
  bytes.append(reinterpret_cast<const char*>(v), sizeof(v));
  return bytes;
}

TEST(SafetensorsTest, ReadsHandMadeFile) {
  const std::string dir = TempDir("hand");
  WriteBytes(dir + "/a.safetensors", HandMadeFile());
  M1RL_ASSERT_OK_AND_ASSIGN(NamedTensors t, ReadSafetensors(dir + "/a.safetensors"));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].first, "a");
  EXPECT_EQ(t[0].second.scalar_type(), at::kFloat);
  EXPECT_EQ(t[0].second[0].item<float>(), 1.5f);
  EXPECT_EQ(t[0].second[1].item<float>(), -2.0f);
}

TEST(SafetensorsTest, RoundTripsEveryFloatDtypeAndOddShapes) {
  const std::string dir = TempDir("roundtrip");
  const NamedTensors in{{"f32", at::randn({3, 5})},
                        {"bf16", at::randn({7}).to(at::kBFloat16)},
                        {"f16", at::randn({2, 2, 2}).to(at::kHalf)},
                        {"f64", at::randn({4}, at::TensorOptions().dtype(at::kDouble))},
                        {"i64", at::arange(6, at::TensorOptions().dtype(at::kLong)).view({2, 3})},
                        {"scalar", at::randn({})},
                        {"empty", at::randn({0, 3})},
                        {"strided", at::randn({4, 6}).t()}};
  ASSERT_THAT(WriteSafetensors(dir + "/x.safetensors", in, {{"format", "pt"}}), IsOk());
  const std::string bytes = ReadBytes(dir + "/x.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u) << "data section must be 8-byte aligned";
  EXPECT_NE(bytes.find("\"__metadata__\":{\"format\":\"pt\"}"), std::string::npos);
  M1RL_ASSERT_OK_AND_ASSIGN(NamedTensors out, ReadSafetensors(dir + "/x.safetensors"));
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].first, in[i].first);
    EXPECT_EQ(out[i].second.scalar_type(), in[i].second.scalar_type()) << in[i].first;
    EXPECT_TRUE(at::equal(out[i].second, in[i].second.contiguous())) << in[i].first;
  }
}

TEST(SafetensorsTest, TruncatedAndMalformedFilesAreRejected) {
  const std::string dir = TempDir("bad");
  const std::string good = HandMadeFile();
  // Every proper prefix fails cleanly (never reads past the end).
  for (size_t len : {size_t{0}, size_t{5}, size_t{8}, size_t{20}, good.size() - 4, good.size() - 1}) {
    WriteBytes(dir + "/t.safetensors", good.substr(0, len));
    EXPECT_THAT(ReadSafetensors(dir + "/t.safetensors").status(),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_))
        << "prefix " << len;
  }
  WriteBytes(dir + "/t.safetensors", good.substr(0, good.size() - 1));
  EXPECT_THAT(ReadSafetensors(dir + "/t.safetensors").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr("'a'"), HasSubstr("truncated"))));
  WriteBytes(dir + "/t.safetensors", HandMadeFile("F8_E4M3"));
  EXPECT_THAT(ReadSafetensors(dir + "/t.safetensors").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'a'"), HasSubstr("unknown dtype 'F8_E4M3'"))));
  WriteBytes(dir + "/t.safetensors", HandMadeFile("F32", "[0,4]"));
  EXPECT_THAT(ReadSafetensors(dir + "/t.safetensors").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected 8")));
  EXPECT_THAT(ReadSafetensors(dir + "/missing.safetensors").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.safetensors")));
}

// A damaged file on disk (written by the writer, then cut short or overwritten in the header) is an error
// naming the file's path, for the reader and for the HF loader that reads it.
TEST(SafetensorsTest, TruncatedOrCorruptFileErrorNamesTheFile) {
  const std::string dir = TempDir("corrupt");
  const std::string path = dir + "/model.safetensors";
  ASSERT_THAT(WriteSafetensors(path, {{"w", at::randn({16, 16})}, {"b", at::randn({16})}}), IsOk());
  const std::string good = ReadBytes(path);
  WriteBytes(path, good.substr(0, good.size() - 3));
  EXPECT_THAT(ReadSafetensors(path).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr(path), HasSubstr("truncated"))));
  std::string garbled = good;
  garbled[8] = '[';  // the JSON header now opens an array
  WriteBytes(path, garbled);
  EXPECT_THAT(ReadSafetensors(path).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr(path), HasSubstr("JSON"))));
  WriteBytes(path, "");
  EXPECT_THAT(ReadSafetensors(path).status(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));

  const ModelConfig c = *ModelConfig::Preset("tiny2");
  M1RL_ASSERT_OK_AND_ASSIGN(auto m, HybridModel::Create(c, at::kFloat, at::kCPU, 1));
  ASSERT_THAT(m->SaveHf(dir), IsOk());
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  EXPECT_THAT(HybridModel::LoadHf(dir, at::kFloat, at::kCPU).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));
  std::filesystem::remove_all(dir);
}

TEST(SafetensorsTest, ShardedDirectoryRoundTrip) {
  const std::string dir = TempDir("sharded");
  const NamedTensors in{{"a", at::randn({100})}, {"b", at::randn({100})}, {"c", at::randn({10})}};
  ASSERT_THAT(WriteSafetensorsDir(dir, in, /*max_shard_bytes=*/500), IsOk());
  EXPECT_TRUE(std::filesystem::exists(dir + "/model-00001-of-00002.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/model-00002-of-00002.safetensors"));
  const std::string index = ReadBytes(dir + "/model.safetensors.index.json");
  EXPECT_NE(index.find("\"total_size\": 840"), std::string::npos) << index;
  M1RL_ASSERT_OK_AND_ASSIGN(auto out, ReadSafetensorsDir(dir));
  ASSERT_EQ(out.size(), 3u);
  for (const auto& [name, t] : in) EXPECT_TRUE(at::equal(out.at(name), t)) << name;
}

// SaveHf writes MODEL.md §9 names (8,243 tensors for M1 = 3 + L·(2 + 1 + 3E) + 4·L; tiny8: 155) plus
// transformers' four lightning buffers per lightning layer (tiny8: 7 · 4 = 28), and LoadHf restores a model
// whose forward is bit-identical.
TEST(HfCheckpointTest, SaveLoadRoundTrip) {
  const ModelConfig c = *ModelConfig::Preset("tiny8");
  M1RL_ASSERT_OK_AND_ASSIGN(auto m, HybridModel::Create(c, at::kFloat, at::kCPU, 21));
  const std::string dir = TempDir("hf");
  ASSERT_THAT(m->SaveHf(dir), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(NamedTensors file, ReadSafetensors(dir + "/model.safetensors"));
  EXPECT_EQ(file.size(), 155u + 28u);
  std::map<std::string, at::Tensor> by_name(file.begin(), file.end());
  EXPECT_EQ(by_name.at("model.layers.6.self_attn.diagonal_decay").sizes(),
            (std::vector<int64_t>{1, 4, 256, 256}));
  EXPECT_EQ(by_name.count("model.layers.7.self_attn.slope_rate"), 0u);  // softmax layer
  ASSERT_TRUE(by_name.count("model.layers.7.self_attn.o_proj.weight"));
  ASSERT_TRUE(by_name.count("model.layers.0.self_attn.norm.weight"));
  EXPECT_EQ(by_name.at("model.layers.2.block_sparse_moe.experts.3.w2.weight").sizes(),
            (std::vector<int64_t>{64, 96}));
  EXPECT_EQ(by_name.at("model.layers.2.block_sparse_moe.gate.weight").sizes(), (std::vector<int64_t>{4, 64}));
  // w1 (gate) = first I rows of the fused gate_up, w3 (up) = last I rows.
  at::Tensor gate_up;
  for (auto& [name, t] : m->NamedParameters()) {
    if (name == "model.layers.2.mlp.experts.gate_up_proj") gate_up = t.detach();
  }
  EXPECT_TRUE(at::equal(by_name.at("model.layers.2.block_sparse_moe.experts.1.w1.weight"),
                        gate_up[1].narrow(0, 0, 96)));
  EXPECT_TRUE(at::equal(by_name.at("model.layers.2.block_sparse_moe.experts.1.w3.weight"),
                        gate_up[1].narrow(0, 96, 96)));
  const std::string config = ReadBytes(dir + "/config.json");
  EXPECT_NE(config.find("\"mlp_alpha_factor\": 2.0"), std::string::npos);
  EXPECT_NE(config.find("\"model_type\": \"minimax\""), std::string::npos);

  M1RL_ASSERT_OK_AND_ASSIGN(auto loaded, HybridModel::LoadHf(dir, at::kFloat, at::kCPU));
  const at::Tensor ids = at::arange(30, at::TensorOptions().dtype(at::kLong));
  const ForwardOutput a = m->Forward(ids, ids.flip(0), {0, 12, 30}, {});
  const ForwardOutput b = loaded->Forward(ids, ids.flip(0), {0, 12, 30}, {});
  EXPECT_TRUE(at::equal(a.logprobs, b.logprobs));
  // Sharded save loads the same.
  const std::string dir2 = TempDir("hf_sharded");
  ASSERT_THAT(m->SaveHf(dir2, 1 << 20), IsOk());
  EXPECT_TRUE(std::filesystem::exists(dir2 + "/model.safetensors.index.json"));
  M1RL_ASSERT_OK_AND_ASSIGN(auto loaded2, HybridModel::LoadHf(dir2, at::kFloat, at::kCPU));
  EXPECT_TRUE(at::equal(a.logprobs, loaded2->Forward(ids, ids.flip(0), {0, 12, 30}, {}).logprobs));
}

// An M1-format config.json (attn_type_list) without `postnorm` is pre-norm to M1's code: LoadHf refuses it,
// naming the file and the key, instead of loading it as this post-norm model.
TEST(HfCheckpointTest, M1ConfigWithoutPostnormIsRefusedNamingFileAndKey) {
  const ModelConfig c = *ModelConfig::Preset("tiny2");
  M1RL_ASSERT_OK_AND_ASSIGN(auto m, HybridModel::Create(c, at::kFloat, at::kCPU, 1));
  const std::string dir = TempDir("hf_prenorm");
  ASSERT_THAT(m->SaveHf(dir), IsOk());
  nlohmann::json j = nlohmann::json::parse(ReadBytes(dir + "/config.json"));
  j.erase("postnorm");
  j.erase("layer_types");  // M1 remote-code format: the schedule is attn_type_list only
  WriteBytes(dir + "/config.json", j.dump());
  EXPECT_THAT(HybridModel::LoadHf(dir, at::kFloat, at::kCPU).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(dir + "/config.json"), HasSubstr("'postnorm' is absent"))));
  std::filesystem::remove_all(dir);
}

TEST(HfCheckpointTest, BadCheckpointNamesEachProblem) {
  const ModelConfig c = *ModelConfig::Preset("tiny2");
  M1RL_ASSERT_OK_AND_ASSIGN(auto m, HybridModel::Create(c, at::kFloat, at::kCPU, 1));
  const std::string dir = TempDir("hf_bad");
  ASSERT_THAT(m->SaveHf(dir), IsOk());
  M1RL_ASSERT_OK_AND_ASSIGN(NamedTensors file, ReadSafetensors(dir + "/model.safetensors"));
  NamedTensors edited;
  for (auto& [name, t] : file) {
    if (name == "model.layers.0.self_attn.out_proj.weight") continue;  // missing
    if (name == "model.layers.1.self_attn.k_proj.weight") {
      edited.emplace_back(name, at::randn({63, 64}));  // wrong shape
      continue;
    }
    if (name == "model.norm.weight") {
      edited.emplace_back(name, at::arange(64, at::TensorOptions().dtype(at::kLong)));  // wrong dtype
      continue;
    }
    if (name == "model.layers.0.self_attn.slope_rate") {
      edited.emplace_back(name, t * 2);  // a decay other than the config's
      continue;
    }
    if (name == "model.layers.0.self_attn.key_decay") continue;  // buffers are optional
    edited.emplace_back(name, t);
  }
  edited.emplace_back("model.extra.weight", at::randn({2}));
  ASSERT_THAT(WriteSafetensors(dir + "/model.safetensors", edited), IsOk());
  EXPECT_THAT(
      HybridModel::LoadHf(dir, at::kFloat, at::kCPU).status(),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          AllOf(
              HasSubstr("5 problem(s)"),
              HasSubstr("buffer 'model.layers.0.self_attn.slope_rate' differs from the decay of config.json"),
              HasSubstr("missing tensor 'model.layers.0.self_attn.out_proj.weight'"),
              HasSubstr("'model.layers.1.self_attn.k_proj.weight' has shape [63, 64], expected [64, 64]"),
              HasSubstr("'model.norm.weight' has dtype Long"),
              HasSubstr("unexpected tensor 'model.extra.weight'"))));
  EXPECT_THAT(HybridModel::LoadHf(dir + "/nope", at::kFloat, at::kCPU).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("config.json")));
}

}  // namespace
}  // namespace m1rl::model
