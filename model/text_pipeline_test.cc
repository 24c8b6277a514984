// The tokenizer.json text stages, checked by hand against the `tokenizers` library's definitions
// (SplitDelimiterBehavior, Digits on char::is_numeric, Unicode normal forms). Parity with a reference
// implementation on a corpus is tokenizer_parity_test.
#include "model/text_pipeline.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tokenizer.h"

namespace m1rl::model {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::StatusIs;

std::vector<std::string> Pieces(const json& pre_tokenizer, const std::string& text) {
  auto p = TextPipeline::FromJson(json{{"pre_tokenizer", pre_tokenizer}}, "test");
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? (*p)->Split((*p)->Normalize(text)) : std::vector<std::string>{};
}

json SplitOn(const char* literal, const char* behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"String", literal}}}, {"behavior", behavior}, {"invert", invert}};
}

TEST(TextPipelineTest, SplitBehaviorsFollowTheTokenizersDefinitions) {
  // Segments of "a-b--c" on "-": a | - | b | - | - | c.
  EXPECT_THAT(Pieces(SplitOn("-", "Removed"), "a-b--c"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Pieces(SplitOn("-", "Isolated"), "a-b--c"), ElementsAre("a", "-", "b", "-", "-", "c"));
  // A match joins the previous piece unless the previous segment was a match too.
  EXPECT_THAT(Pieces(SplitOn("-", "MergedWithPrevious"), "a-b--c"), ElementsAre("a-", "b-", "-", "c"));
  EXPECT_THAT(Pieces(SplitOn("-", "MergedWithNext"), "a-b--c"), ElementsAre("a", "-b", "-", "-c"));
  EXPECT_THAT(Pieces(SplitOn("-", "Contiguous"), "a-b--c"), ElementsAre("a", "-", "b", "--", "c"));
  // invert: the pattern describes what is kept.
  const json words = {
      {"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Removed"}, {"invert", true}};
  EXPECT_THAT(Pieces(words, "hi, you"), ElementsAre("hi", "you"));
  // A String pattern is literal.
  EXPECT_THAT(Pieces(SplitOn(".*", "Isolated"), "a.*b"), ElementsAre("a", ".*", "b"));
}

TEST(TextPipelineTest, DigitsSplitEveryUnicodeNumberAsRustsIsNumeric) {
  // U+0661 U+0662 (Arabic-Indic one, two) are numeric to Rust's char::is_numeric.
  const std::string arabic12 = "\xD9\xA1\xD9\xA2";
  EXPECT_THAT(Pieces({{"type", "Digits"}, {"individual_digits", true}}, "a" + arabic12 + "3"),
              ElementsAre("a", "\xD9\xA1", "\xD9\xA2", "3"));
  EXPECT_THAT(Pieces({{"type", "Digits"}, {"individual_digits", false}}, "12" + arabic12 + "x"),
              ElementsAre("12" + arabic12, "x"));
}

TEST(TextPipelineTest, ByteLevelPrefixSpaceAndGpt2Split) {
  const json bl = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  EXPECT_THAT(Pieces(bl, "Hello world's"), ElementsAre(" Hello", " world", "'s"));
  EXPECT_THAT(Pieces(bl, "  x"), ElementsAre(" ", " x"));  // starts with a space: nothing is added
  const json no_regex = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  EXPECT_THAT(Pieces(no_regex, "a b  c"), ElementsAre("a b  c"));
  // \p{L} is Unicode letters; an emoji is neither letter nor number, so it is its own run.
  EXPECT_THAT(BpeTokenizer::PreTokenize("caf\xC3\xA9\xF0\x9F\x98\x80!"),
              ElementsAre("caf\xC3\xA9", "\xF0\x9F\x98\x80!"));
}

TEST(TextPipelineTest, NormalizersNfcNfkcLowercaseReplacePrepend) {
  auto run = [](const json& normalizer, const std::string& text) {
    auto p = TextPipeline::FromJson(json{{"normalizer", normalizer}}, "test");
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? (*p)->Normalize(text) : std::string();
  };
  EXPECT_EQ(run({{"type", "NFC"}}, "cafe\xCC\x81"), "caf\xC3\xA9");  // e + combining acute -> é
  EXPECT_EQ(run({{"type", "NFD"}}, "caf\xC3\xA9"), "cafe\xCC\x81");
  EXPECT_EQ(run({{"type", "NFKC"}}, "\xEF\xAC\x81"), "fi");                 // U+FB01 ligature
  EXPECT_EQ(run({{"type", "Lowercase"}}, "ABC \xC3\x89"), "abc \xC3\xA9");  // É -> é
  EXPECT_EQ(run({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "_"}}, "a b  c"), "a_b__c");
  EXPECT_EQ(run({{"type", "Replace"}, {"pattern", {{"Regex", " +"}}}, {"content", " "}}, "a b   c"), "a b c");
  EXPECT_EQ(run({{"type", "Prepend"}, {"prepend", "_"}}, "ab"), "_ab");
  EXPECT_EQ(run({{"type", "Prepend"}, {"prepend", "_"}}, ""), "");
  EXPECT_EQ(run({{"type", "Sequence"},
                 {"normalizers", json::array({json{{"type", "NFKC"}}, json{{"type", "Lowercase"}}})}},
                "\xEF\xAC\x81X"),
            "fix");
}

TEST(TextPipelineTest, UnsupportedComponentsAndBadPatternsNameTheField) {
  EXPECT_THAT(
      TextPipeline::FromJson(json{{"normalizer", {{"type", "BertNormalizer"}}}}, "tok.json").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tok.json: normalizer.type 'BertNormalizer'")));
  EXPECT_THAT(
      TextPipeline::FromJson(json{{"pre_tokenizer", {{"type", "Metaspace"}}}}, "tok.json").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tok.json: pre_tokenizer.type 'Metaspace'")));
  const json seq = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array(
           {json{{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}}})}};
  EXPECT_THAT(
      TextPipeline::FromJson(json{{"pre_tokenizer", seq}}, "tok.json").status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tok.json: pre_tokenizer.pretokenizers[0].pattern: the pattern does not compile")));
  EXPECT_THAT(TextPipeline::FromJson(json{{"pre_tokenizer", SplitOn("-", "Sideways")}}, "tok.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("behavior")));
}

TEST(TextPipelineTest, TokenizerWithoutByteLevelIsRefusedAndAbsentPreTokenizerIsGpt2) {
  json j = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", json::array()}}}};
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "t.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Metaspace")));
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_THAT(BpeTokenizer::FromJsonString(j.dump(), "t.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no ByteLevel step")));
  j.erase("pre_tokenizer");
  M1RL_ASSERT_OK_AND_ASSIGN(auto tok, BpeTokenizer::FromJsonString(j.dump(), "t.json"));
  EXPECT_THAT(tok->Pieces("a b"), ElementsAre("a", " b"));
}

}  // namespace
}  // namespace m1rl::model
