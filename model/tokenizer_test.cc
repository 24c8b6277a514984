#include "model/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// A Llama-2-style file: <unk> <s> </s> at 0..2, <0x00>..<0xFF> at 3..258, then "▁" 259, "a" 260, "b" 261 and
// the merges' products "▁a" 262, "ab" 263, "▁ab" 264 (ranks 0, 1, 2).
nlohmann::json SentencePieceJson() {
  const std::string m = "\xE2\x96\x81";
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[absl::StrFormat("<0x%02X>", b)] = 3 + b;
  vocab[m] = 259;
  vocab["a"] = 260;
  vocab["b"] = 261;
  vocab[m + "a"] = 262;
  vocab["ab"] = 263;
  vocab[m + "ab"] = 264;
  nlohmann::json j;
  j["model"] = {{"type", "BPE"},
                {"vocab", vocab},
                {"merges", nlohmann::json::array({m + " a", "a b", m + "a b"})},
                {"unk_token", "<unk>"},
                {"byte_fallback", true},
                {"fuse_unk", true}};
  const nlohmann::json prepend = {{"type", "Prepend"}, {"prepend", m}};
  const nlohmann::json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", m}};
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", nlohmann::json::array({prepend, replace})}};
  j["pre_tokenizer"] = nullptr;
  const nlohmann::json unmeta = {{"type", "Replace"}, {"pattern", {{"String", m}}}, {"content", " "}};
  const nlohmann::json strip = {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}};
  j["decoder"] = {
      {"type", "Sequence"},
      {"decoders", nlohmann::json::array({unmeta, {{"type", "ByteFallback"}}, {{"type", "Fuse"}}, strip})}};
  j["added_tokens"] = nlohmann::json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                                             {{"id", 1}, {"content", "<s>"}, {"special", true}},
                                             {{"id", 2}, {"content", "</s>"}, {"special", true}}});
  return j;
}

// By hand: "ab a" -> "▁ab▁a" -> ▁ a b ▁ a -> (rank 0) ▁a b ▁a -> (rank 2) ▁ab ▁a.
// "a\n" -> "▁a\n": "\n" is not in the vocab -> <0x0A> (id 3 + 10). "é" is C3 A9 -> ids 3 + 0xC3, 3 + 0xA9.
TEST(BpeTokenizerTest, SentencePieceStyleMergesCharactersAndFallsBackToBytes) {
  M1RL_ASSERT_OK_AND_ASSIGN(auto tok, BpeTokenizer::FromJsonString(SentencePieceJson().dump(), "sp.json"));
  EXPECT_THAT(tok->Encode("ab a"), ElementsAre(264, 262));
  EXPECT_THAT(tok->Encode("a\n"), ElementsAre(262, 13));
  EXPECT_THAT(tok->Encode("\xC3\xA9"), ElementsAre(259, 3 + 0xC3, 3 + 0xA9));
  EXPECT_THAT(tok->Encode("<s>b"), ElementsAre(1, 259, 261));  // the normalizer runs after the added token
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  // Decode: ▁ -> space, byte runs -> UTF-8, one leading space stripped from the whole text.
  EXPECT_EQ(tok->Decode({264, 262, 13, 3 + 0xC3, 3 + 0xA9}), "ab a\n\xC3\xA9");
  EXPECT_EQ(tok->Decode({1, 264}), "<s> ab");
  EXPECT_EQ(tok->Decode({3 + 0xC3}), "\xEF\xBF\xBD");  // a lone lead byte
  for (const std::string text : {"ab a", "a\n\nb  a", "\xE4\xB8\x96 \xF0\x9F\x98\x80 ab"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(text)), text);
  }
}

TEST(BpeTokenizerTest, UnknownCharactersBecomeUnkFusedWhenAsked) {
  nlohmann::json j = SentencePieceJson();
  j["model"]["byte_fallback"] = false;
  M1RL_ASSERT_OK_AND_ASSIGN(auto fused, BpeTokenizer::FromJsonString(j.dump(), "sp.json"));
  EXPECT_THAT(fused->Encode("a\n\xC3\xA9"
                            "b"),
              ElementsAre(262, 0, 261));  // "\n" and "é": one <unk>
  j["model"]["fuse_unk"] = false;
  M1RL_ASSERT_OK_AND_ASSIGN(auto unfused, BpeTokenizer::FromJsonString(j.dump(), "sp.json"));
  EXPECT_THAT(unfused->Encode("a\n\xC3\xA9"
                              "b"),
              ElementsAre(262, 0, 0, 261));
  // byte_fallback needs every byte of the character: without <0xA9>, "é" is <unk>, "\n" still a byte.
  j = SentencePieceJson();
  j["model"]["vocab"].erase("<0xA9>");
  M1RL_ASSERT_OK_AND_ASSIGN(auto partial, BpeTokenizer::FromJsonString(j.dump(), "sp.json"));
  EXPECT_THAT(partial->Encode("a\n\xC3\xA9"), ElementsAre(262, 13, 0));
}

TEST(BpeTokenizerTest, UnsupportedModelOptionsAndDecodersNameTheKey) {
  nlohmann::json j = SentencePieceJson();
  j["model"]["continuing_subword_prefix"] = "##";
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "sp.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.continuing_subword_prefix")));
  j = SentencePieceJson();
  j["model"]["dropout"] = 0.1;
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "sp.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.dropout")));
  j = SentencePieceJson();
  j["model"]["unk_token"] = "<missing>";
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "sp.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.unk_token \"<missing>\"")));
  j = SentencePieceJson();
  j["decoder"] = {{"type", "WordPiece"}};
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "sp.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tokenizer 'sp.json': decoder.type 'WordPiece' is not supported")));
}

TEST(ChatTemplateTest, RendersRolesAndGenerationPrompt) {
  EXPECT_EQ(FormatPrompt("hi", "sys"), "<|system|>\nsys\n<|user|>\nhi\n<|assistant|>\n");
  EXPECT_EQ(FormatPrompt("hi"), "<|user|>\nhi\n<|assistant|>\n");
  EXPECT_EQ(ApplyChatTemplate({{"user", "q"}, {"assistant", "a"}}, false), "<|user|>\nq\n<|assistant|>\na\n");
}

}  // namespace
}  // namespace m1rl::model
