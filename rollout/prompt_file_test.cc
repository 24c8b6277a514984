#include "rollout/prompt_file.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"

namespace m1rl::rollout {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& contents) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << contents;
  return path;
}

TEST(PromptFileTest, ReadsRowsWithDefaultsTemplateAndBos) {
  const std::string path = WriteTemp("prompts_ok.jsonl",
                                     "{\"prompt\": \"ab\", \"id\": \"q1\", \"domain\": \"math\"}\n"
                                     "\n"
                                     "{\"prompt\": \"c\", \"id\": 7}\n"
                                     "{\"prompt\": \"d\"}\n");
  model::CharTokenizer tok;
  PromptFileOptions opts;
  opts.n = 3;
  opts.max_new_tokens = 9;
  opts.seed = 2;
  opts.sampling.top_k = 5;
  M1RL_ASSERT_OK_AND_ASSIGN(auto rs, ReadPromptFile(path, tok, opts));
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].prompt_id, "q1");
  EXPECT_EQ(rs[0].domain, "math");
  EXPECT_EQ(rs[0].prompt, model::FormatPrompt("ab"));
  std::vector<int32_t> expected = tok.Encode(model::FormatPrompt("ab"));
  if (expected.empty() || expected.front() != tok.bos_id()) expected.insert(expected.begin(), tok.bos_id());
  EXPECT_EQ(rs[0].prompt_token_ids, expected);
  EXPECT_EQ(rs[0].prompt_token_ids.front(), 1);  // CharTokenizer <bos>
  EXPECT_EQ(rs[1].prompt_id, "7");               // a number id in its JSON spelling
  EXPECT_EQ(rs[2].prompt_id, "4");               // line number (the blank line counts)
  EXPECT_EQ(rs[0].n, 3);
  EXPECT_EQ(rs[0].max_new_tokens, 9);
  EXPECT_EQ(rs[0].sampling.top_k, 5);
  EXPECT_EQ(rs[0].seed, 2u * 1000003u + 1u);
  EXPECT_EQ(rs[2].seed, 2u * 1000003u + 4u);

  opts.prompt_template = PromptFileOptions::Template::kRaw;
  M1RL_ASSERT_OK_AND_ASSIGN(auto raw, ReadPromptFile(path, tok, opts));
  EXPECT_EQ(raw[1].prompt, "c");
  EXPECT_THAT(raw[1].prompt_token_ids, ElementsAre(1, tok.Encode("c")[0]));
}

TEST(PromptFileTest, ErrorsNameFileAndLine) {
  model::CharTokenizer tok;
  EXPECT_THAT(ReadPromptFile(::testing::TempDir() + "does_not_exist.jsonl", tok, {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does_not_exist.jsonl")));
  const std::string bad_json = WriteTemp("prompts_bad.jsonl", "{\"prompt\": \"a\"}\n{oops\n");
  EXPECT_THAT(
      ReadPromptFile(bad_json, tok, {}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prompts_bad.jsonl:2: not a JSON object")));
  const std::string no_prompt = WriteTemp("prompts_noprompt.jsonl", "{\"text\": \"a\"}\n");
  EXPECT_THAT(ReadPromptFile(no_prompt, tok, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("prompts_noprompt.jsonl:1: missing string field \"prompt\"")));
}

// PromptFileOptions::Template::kTokenizer: one user turn through a tokenizer_config.json's Jinja template
// (text written by hand from the template); a template that raises names the prompts file and line.
TEST(PromptFileTest, TokenizerTemplateRendersEachPrompt) {
  const std::string dir = ::testing::TempDir() + "prompt_file_tmpl";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"chat_template": "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %})"
         R"({% if add_generation_prompt %}[assistant]{% endif %}"})";
  M1RL_ASSERT_OK_AND_ASSIGN(model::ChatTemplateFile file, model::LoadTokenizerChatTemplate(dir));
  model::CharTokenizer tok;
  PromptFileOptions opts;
  opts.prompt_template = PromptFileOptions::Template::kTokenizer;
  opts.tokenizer_template = std::make_shared<const model::ChatTemplateFile>(file);
  const std::string path = WriteTemp("prompts_tmpl.jsonl", "{\"prompt\": \"2+2\"}\n{\"prompt\": \"x\"}\n");
  M1RL_ASSERT_OK_AND_ASSIGN(auto rs, ReadPromptFile(path, tok, opts));
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].prompt, "[user]2+2[assistant]");
  EXPECT_EQ(rs[1].prompt, "[user]x[assistant]");
  std::vector<int32_t> expected = tok.Encode("[user]x[assistant]");
  expected.insert(expected.begin(), tok.bos_id());
  EXPECT_EQ(rs[1].prompt_token_ids, expected);

  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"chat_template": "{{ raise_exception('single turns only') }}"})";
  M1RL_ASSERT_OK_AND_ASSIGN(model::ChatTemplateFile raising, model::LoadTokenizerChatTemplate(dir));
  opts.tokenizer_template = std::make_shared<const model::ChatTemplateFile>(raising);
  const absl::Status status = ReadPromptFile(path, tok, opts).status();
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()),
              ::testing::AllOf(HasSubstr("prompts_tmpl.jsonl:1"), HasSubstr("single turns only")));
  opts.tokenizer_template = nullptr;
  EXPECT_THAT(ReadPromptFile(path, tok, opts),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("without a loaded chat template")));
}

}  // namespace
}  // namespace m1rl::rollout
