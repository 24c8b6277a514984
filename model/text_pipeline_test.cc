// The tokenizer.json text stages, checked by hand against the `tokenizers` library's definitions
// (SplitDelimiterBehavior, Digits on char::is_numeric, Unicode normal forms). Parity with a reference
// implementation on a corpus is tokenizer_parity_test.
#include "model/text_pipeline.h"

#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
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
  EXPECT_THAT(TextPipeline::FromJson(json{{"normalizer", {{"type", "Precompiled"}}}}, "tok.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tok.json: normalizer.type 'Precompiled' is not supported")));
  EXPECT_THAT(
      TextPipeline::FromJson(json{{"pre_tokenizer", {{"type", "BertPreTokenizer"}}}}, "tok.json").status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tok.json: pre_tokenizer.type 'BertPreTokenizer' is not supported")));
  EXPECT_THAT(
      TextPipeline::FromJson(
          json{{"pre_tokenizer", {{"type", "Metaspace"}, {"prepend_scheme", "sometimes"}}}}, "tok.json")
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tok.json: pre_tokenizer.prepend_scheme 'sometimes' is not supported")));
  EXPECT_THAT(TextPipeline::FromJson(
                  json{{"pre_tokenizer",
                        {{"type", "Metaspace"}, {"add_prefix_space", false}, {"prepend_scheme", "first"}}}},
                  "tok.json")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("add_prefix_space false contradicts")));
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

// "_" stands for U+2581 in the expectations.
std::vector<std::string> MetaPieces(const json& metaspace, const std::string& text, bool at_start = true) {
  auto p = TextPipeline::FromJson(json{{"pre_tokenizer", metaspace}}, "test");
  EXPECT_TRUE(p.ok()) << p.status();
  std::vector<std::string> out;
  if (!p.ok()) return out;
  for (const std::string& piece : (*p)->Split(text, at_start)) {
    out.push_back(absl::StrReplaceAll(piece, {{"\xE2\x96\x81", "_"}}));
  }
  return out;
}

TEST(TextPipelineTest, MetaspaceReplacesSpacesPrependsPerSchemeAndSplitsBeforeEachReplacement) {
  auto metaspace = [](const char* scheme, bool split) {
    return json{
        {"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", scheme}, {"split", split}};
  };
  EXPECT_THAT(MetaPieces(metaspace("always", false), "Hi  you"), ElementsAre("_Hi__you"));
  // split: MergedWithNext on the replacement, so each piece starts with its run's last "_".
  EXPECT_THAT(MetaPieces(metaspace("always", true), "Hi  you"), ElementsAre("_Hi", "_", "_you"));
  EXPECT_THAT(MetaPieces(metaspace("always", false), " x"), ElementsAre("_x"));  // starts with "_" already
  EXPECT_THAT(MetaPieces(metaspace("never", false), "Hi you"), ElementsAre("Hi_you"));
  // "first": only where the text begins the input, not after an added token.
  EXPECT_THAT(MetaPieces(metaspace("first", false), "Hi", true), ElementsAre("_Hi"));
  EXPECT_THAT(MetaPieces(metaspace("first", false), "Hi", false), ElementsAre("Hi"));
  EXPECT_THAT(MetaPieces(metaspace("always", false), "Hi", false), ElementsAre("_Hi"));
  // The legacy key: add_prefix_space false is "never", true (or absent) "always"; split defaults to true.
  EXPECT_THAT(MetaPieces({{"type", "Metaspace"}, {"add_prefix_space", false}}, "a b"),
              ElementsAre("a", "_b"));
  EXPECT_THAT(MetaPieces({{"type", "Metaspace"}, {"add_prefix_space", true}}, "a b"),
              ElementsAre("_a", "_b"));
  // Only ASCII space is replaced.
  EXPECT_THAT(MetaPieces(metaspace("never", false),
                         "a\tb\xC2\xA0"
                         "c"),
              ElementsAre("a\tb\xC2\xA0"
                          "c"));
}

TEST(TextPipelineTest, StripRemovesUnicodeWhiteSpaceFromTheChosenEnds) {
  auto run = [](bool left, bool right, const std::string& text) {
    auto p = TextPipeline::FromJson(
        json{{"normalizer", {{"type", "Strip"}, {"strip_left", left}, {"strip_right", right}}}}, "test");
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? (*p)->Normalize(text) : std::string();
  };
  // U+00A0 and U+3000 are White_Space; U+200B (zero width space) is not.
  const std::string text = " \t\xC2\xA0 a b\xE3\x80\x80\n";
  EXPECT_EQ(run(true, true, text), "a b");
  EXPECT_EQ(run(true, false, text), "a b\xE3\x80\x80\n");
  EXPECT_EQ(run(false, true, text), " \t\xC2\xA0 a b");
  EXPECT_EQ(run(true, true,
                "\xE2\x80\x8B"
                "a"),
            "\xE2\x80\x8B"
            "a");
  EXPECT_EQ(run(true, true, " \n "), "");
}

TEST(TextPipelineTest, TokenizerWithoutByteLevelIsCharacterLevelAndAbsentPreTokenizerIsGpt2) {
  json j = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", json::array()}}}};
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  EXPECT_THAT(
      BpeTokenizer::FromJsonString(j.dump(), "t.json").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pre_tokenizer.type 'BertPreTokenizer'")));
  // No ByteLevel step: the symbols are the text's characters (a byte-level file would need "\xC4\xA0" = " ").
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  j["model"]["vocab"] = {{"a", 0}, {"b", 1}};
  M1RL_ASSERT_OK_AND_ASSIGN(auto chars, BpeTokenizer::FromJsonString(j.dump(), "t.json"));
  EXPECT_THAT(chars->Encode("a b"), ElementsAre(0, 1));
  j.erase("pre_tokenizer");
  M1RL_ASSERT_OK_AND_ASSIGN(auto tok, BpeTokenizer::FromJsonString(j.dump(), "t.json"));
  EXPECT_THAT(tok->Pieces("a b"), ElementsAre("a", " b"));
}

}  // namespace
}  // namespace m1rl::model
