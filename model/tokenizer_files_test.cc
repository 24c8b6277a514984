#include "model/tokenizer_files.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/chat_template.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {
namespace {

using ::m1rl::testing::IsOk;
using ::m1rl::testing::StatusIs;

namespace fs = std::filesystem;

std::string NewDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), "/tokenizer_files_", getpid(), "_", name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json ReadJson(const std::string& path) { return nlohmann::json::parse(ReadAll(path)); }

// Renders tokenizer_config.json's chat_template with Jinja2 as transformers does
// (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks) for each case of `cases_path`.
std::vector<std::string> RenderWithJinja2(const std::string& dir, const std::string& cases_path) {
  const std::string script = dir + "/render.py";
  std::ofstream(script) << R"PY(import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
tmpl = json.load(open(sys.argv[1]))["chat_template"]
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
out = [env.from_string(tmpl).render(messages=c["messages"], add_generation_prompt=c["add_generation_prompt"])
       for c in json.load(open(sys.argv[2]))]
json.dump(out, open(sys.argv[3], "w"))
)PY";
  const std::string out = dir + "/rendered.json";
  const std::string cmd =
      absl::StrCat("python3 ", script, " ", dir, "/tokenizer_config.json ", cases_path, " ", out);
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << "`" << cmd << "` failed: the reference needs python3 and python3-jinja2 "
                  << "(tools/setup-deps.sh installs them)";
    return {};
  }
  return ReadJson(out).get<std::vector<std::string>>();
}

TEST(TokenizerFilesTest, ExportedChatTemplateRendersLikeApplyChatTemplateInJinja2) {
  const std::string dir = NewDir("chat");
  CharTokenizer tok;
  ASSERT_THAT(WriteTokenizerFiles(tok, "char", dir), IsOk());
  const std::vector<std::vector<ChatMessage>> conversations = {
      {{"user", "3*4+2="}},
      {{"system", "Answer in \\boxed{}."}, {"user", "Two lines:\nfirst\n  second "}},
      {{"user", "Quote \" and {{ braces }} and {% tags %}"}, {"assistant", "ok"}, {"user", "again"}},
      {},
  };
  nlohmann::json cases = nlohmann::json::array();
  std::vector<std::string> want;
  for (const auto& conv : conversations) {
    for (bool gen : {true, false}) {
      nlohmann::json messages = nlohmann::json::array();
      for (const ChatMessage& m : conv) messages.push_back({{"role", m.role}, {"content", m.content}});
      cases.push_back({{"messages", messages}, {"add_generation_prompt", gen}});
      want.push_back(ApplyChatTemplate(conv, gen));
    }
  }
  std::ofstream(dir + "/cases.json") << cases.dump();
  EXPECT_EQ(RenderWithJinja2(dir, dir + "/cases.json"), want);

  const nlohmann::json config = ReadJson(dir + "/tokenizer_config.json");
  EXPECT_EQ(config["eos_token"], "<eos>");
  EXPECT_EQ(config["bos_token"], "<bos>");
  EXPECT_EQ(config["tokenizer_class"], "PreTrainedTokenizerFast");
  // The char tokenizer's equivalent tokenizer.json, which a later run from this directory reads.
  EXPECT_EQ(ReadAll(dir + "/tokenizer.json"), CharTokenizerJsonString() + "\n");
  EXPECT_EQ(DefaultTokenizerSpec(dir), dir + "/tokenizer.json");
  M1RL_ASSERT_OK_AND_ASSIGN(auto reread, LoadTokenizer(dir + "/tokenizer.json"));
  const std::string text = "<bos>12+34=\\boxed{46}\n\u00e9<eos>";
  EXPECT_EQ(reread->Encode(text), tok.Encode(text));
  const nlohmann::json gen = ReadJson(dir + "/generation_config.json");
  EXPECT_EQ(gen["bos_token_id"], 1);
  EXPECT_EQ(gen["eos_token_id"], 2);
  EXPECT_EQ(gen["pad_token_id"], 0);
}

TEST(TokenizerFilesTest, BpeExportCopiesTokenizerJsonAndNamesItsSpecialIds) {
  const std::string src = NewDir("bpe_src");
  const std::string file = src + "/tokenizer.json";
  std::ofstream(file) << R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
 "added_tokens": [{"id": 3, "content": "<|endoftext|>", "special": true}]})";
  EXPECT_EQ(DefaultTokenizerSpec(src), file);
  M1RL_ASSERT_OK_AND_ASSIGN(auto tok, LoadTokenizer(file));
  const std::string out = NewDir("bpe_out");
  ASSERT_THAT(WriteTokenizerFiles(*tok, file, out), IsOk());
  EXPECT_EQ(ReadAll(out + "/tokenizer.json"), ReadAll(file));  // byte for byte
  const nlohmann::json config = ReadJson(out + "/tokenizer_config.json");
  EXPECT_EQ(config["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(config["chat_template"], kChatTemplateJinja);
  const nlohmann::json gen = ReadJson(out + "/generation_config.json");
  EXPECT_EQ(gen["eos_token_id"], tok->eos_id() < 0 ? nlohmann::json(nullptr) : nlohmann::json(tok->eos_id()));
  // Writing into the directory the tokenizer came from leaves its file as it is.
  ASSERT_THAT(WriteTokenizerFiles(*tok, file, src), IsOk());
  EXPECT_EQ(ReadAll(file), ReadAll(out + "/tokenizer.json"));
}

TEST(TokenizerFilesTest, DefaultSpecAndMissingFile) {
  EXPECT_EQ(DefaultTokenizerSpec(""), "char");
  EXPECT_EQ(DefaultTokenizerSpec(NewDir("empty")), "char");
  CharTokenizer tok;
  EXPECT_THAT(WriteTokenizerFiles(tok, "/nonexistent/tokenizer.json", NewDir("missing")),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("/nonexistent/tokenizer.json")));
}

}  // namespace
}  // namespace m1rl::model
