#include "model/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "model/chat_template.h"
#include "model/testing/byte_symbols.h"

namespace m1rl::model {
namespace {

using ::m1rl::model::testing::ByteSymbol;
using ::m1rl::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Vocab: byte b has id b; merges (rank order) and their products get ids 256...
nlohmann::json TestTokenizerJson(bool pair_merges) {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteSymbol(b)] = b;
  const std::string space = ByteSymbol(' ');  // "Ġ"
  const std::vector<std::pair<std::string, std::string>> merges{
      {space, "t"}, {"h", "e"}, {space + "t", "he"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}};
  nlohmann::json m = nlohmann::json::array();
  int id = 256;
  for (const auto& [a, b] : merges) {
    if (pair_merges) {
      m.push_back({a, b});
    } else {
      m.push_back(absl::StrCat(a, " ", b));
    }
    vocab[a + b] = id++;
  }
  nlohmann::json j;
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}};
  j["added_tokens"] = nlohmann::json::array({{{"id", 300}, {"content", "<|endoftext|>"}, {"special", true}},
                                             {{"id", 301}, {"content", "<pad>"}, {"special", true}}});
  return j;
}

TEST(CharTokenizerTest, RoundTripAndSpecials) {
  CharTokenizer tok;
  EXPECT_EQ(tok.vocab_size(), 99);
  EXPECT_LE(tok.vocab_size(), 128);
  const std::string text = "<bos>Q: 12+30=?\nA: 42<eos>";
  const std::vector<int32_t> ids = tok.Encode(text);
  EXPECT_EQ(ids.front(), tok.bos_id());
  EXPECT_EQ(ids.back(), tok.eos_id());
  EXPECT_EQ(ids[1], 4 + ('Q' - 0x20));  // printable ASCII at 4 + (c − 0x20)
  EXPECT_EQ(ids[11], 3);                // '\n' → 3 (<bos> Q : ␠ 1 2 + 3 0 = ? \n)
  EXPECT_EQ(tok.Decode(ids), text);
  EXPECT_THAT(tok.Encode("a\tb\xC3\xA9"), ElementsAre(4 + ('a' - 0x20), 4 + ('b' - 0x20)));  // skipped
  for (int32_t id : tok.Encode(FormatPrompt("What is 2+2?", "Be brief."))) EXPECT_LT(id, 99);
}

TEST(BpeTokenizerTest, PreTokenizerFollowsGpt2Pattern) {
  EXPECT_THAT(BpeTokenizer::PreTokenize("Hello world's  test\n\nfoo 123abc"),
              ElementsAre("Hello", " world", "'s", " ", " test", "\n", "\n", "foo", " 123", "abc"));
  EXPECT_THAT(BpeTokenizer::PreTokenize("a  "), ElementsAre("a", "  "));
  EXPECT_THAT(BpeTokenizer::PreTokenize("x?! y"), ElementsAre("x", "?!", " y"));
  EXPECT_THAT(BpeTokenizer::PreTokenize("caf\xC3\xA9 \xE4\xB8\x96"),
              ElementsAre("caf\xC3\xA9", " \xE4\xB8\x96"));
}

// Merges applied by hand (lowest rank first, all occurrences):
//   "the"    : t h e → t he                                  → [116, 257]
//   " the"   : Ġ t h e → Ġt h e (rank 0) → Ġt he → Ġthe        → [258]
//   " hello" : Ġ h e l l o → Ġ he l l o → Ġ he ll o → Ġ hell o → Ġ hello → [32, 261]
TEST(BpeTokenizerTest, EncodesAsMergesByHand) {
  for (bool pair_merges : {false, true}) {
    M1RL_ASSERT_OK_AND_ASSIGN(auto tok,
                              BpeTokenizer::FromJsonString(TestTokenizerJson(pair_merges).dump(), "test"));
    EXPECT_EQ(tok->vocab_size(), 302);
    EXPECT_THAT(tok->Encode("the"), ElementsAre(116, 257));
    EXPECT_THAT(tok->Encode(" the"), ElementsAre(258));
    EXPECT_THAT(tok->Encode("the hello"), ElementsAre(116, 257, 32, 261));
    EXPECT_EQ(tok->eos_id(), 300);
    EXPECT_EQ(tok->pad_id(), 301);
    EXPECT_EQ(tok->bos_id(), -1);
  }
}

TEST(BpeTokenizerTest, RoundTripsUtf8AndSpecialTokens) {
  const std::string path = (std::filesystem::temp_directory_path() / "m1rl_tokenizer_test.json").string();
  {
    std::ofstream out(path);
    out << TestTokenizerJson(false).dump();
  }
  M1RL_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Tokenizer> tok, LoadTokenizer(path));
  const std::string text =
      "h\xC3\xA9llo w\xC3\xB6rld \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82<|endoftext|>the  end\n";
  const std::vector<int32_t> ids = tok->Encode(text);
  EXPECT_EQ(tok->Decode(ids), text);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 300), 1);
  EXPECT_THAT(tok->Encode("a<|endoftext|>b"), ElementsAre('a', 300, 'b'));
  // Every byte value survives (byte-level BPE is lossless even on invalid UTF-8).
  std::string all;
  for (int b = 1; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(tok->Decode(tok->Encode(all)), all);
}

TEST(BpeTokenizerTest, MalformedFilesNameTheProblem) {
  EXPECT_THAT(BpeTokenizer::FromJsonString("{", "t.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.json")));
  nlohmann::json j = TestTokenizerJson(false);
  j["model"]["merges"][2] = "nospace";
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "t.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.merges[2]")));
  j = TestTokenizerJson(false);
  j["model"]["type"] = "Unigram";
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "t.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Unigram")));
  EXPECT_THAT(LoadTokenizer("/nonexistent/tokenizer.json").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/tokenizer.json")));
}

TEST(ChatTemplateTest, RendersRolesAndGenerationPrompt) {
  EXPECT_EQ(FormatPrompt("hi", "sys"), "<|system|>\nsys\n<|user|>\nhi\n<|assistant|>\n");
  EXPECT_EQ(FormatPrompt("hi"), "<|user|>\nhi\n<|assistant|>\n");
  EXPECT_EQ(ApplyChatTemplate({{"user", "q"}, {"assistant", "a"}}, false), "<|user|>\nq\n<|assistant|>\na\n");
}

}  // namespace
}  // namespace m1rl::model
