// The tokenizer.json decoders, checked by hand against the `tokenizers` library's definitions (decode_chain
// of each decoder; decode joins the chain's output). Parity on a corpus is tokenizer_parity_test.
#include "model/tokenizer_decoder.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::model {
namespace {

using json = nlohmann::json;
using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

constexpr const char* kMeta = "\xE2\x96\x81";  // U+2581
constexpr const char* kReplacementChar = "\xEF\xBF\xBD";

std::string Decode(const json& decoder, const std::vector<TokenDecoder::Token>& tokens,
                   bool null_is_byte_level = false) {
  auto d = TokenDecoder::FromJson(decoder, null_is_byte_level, "test");
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? (*d)->Decode(tokens) : std::string();
}

std::string M(const std::string& s) {  // "_" -> U+2581
  std::string out;
  for (char c : s) out += c == '_' ? std::string(kMeta) : std::string(1, c);
  return out;
}

TEST(TokenDecoderTest, MetaspaceDropsEveryReplacementOfTheFirstTokenUnlessNever) {
  const std::vector<TokenDecoder::Token> tokens = {{M("__Hey"), false}, {M("_friend_!"), false}};
  EXPECT_EQ(Decode({{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "always"}}, tokens),
            "Hey friend !");
  EXPECT_EQ(Decode({{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "first"}}, tokens),
            "Hey friend !");
  EXPECT_EQ(Decode({{"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "never"}}, tokens),
            "  Hey friend !");
  EXPECT_EQ(Decode({{"type", "Metaspace"}, {"add_prefix_space", false}}, tokens), "  Hey friend !");
}

TEST(TokenDecoderTest, ByteFallbackJoinsByteRunsAndReplacesInvalidOnesBytewise) {
  const json bf = {{"type", "ByteFallback"}};
  // U+4E16 is E4 B8 96.
  EXPECT_EQ(Decode(bf, {{"a", false}, {"<0xE4>", false}, {"<0xB8>", false}, {"<0x96>", false}, {"b", false}}),
            "a\xE4\xB8\x96"
            "b");
  // A truncated sequence: one U+FFFD per byte of the run.
  EXPECT_EQ(Decode(bf, {{"<0xE4>", false}, {"<0xB8>", false}, {"x", false}}),
            std::string(kReplacementChar) + kReplacementChar + "x");
  // Not byte tokens: lower-case x, a non-hex digit, a wrong length.
  EXPECT_EQ(Decode(bf, {{"<0x4G>", false}, {"<0X41>", false}, {"<0x041>", false}}), "<0x4G><0X41><0x041>");
  EXPECT_EQ(Decode(bf, {{"<0x41>", false}, {"<0x0A>", false}}), "A\n");
}

TEST(TokenDecoderTest, ReplaceFuseStripAndTheLlama2Sequence) {
  EXPECT_EQ(Decode({{"type", "Replace"}, {"pattern", {{"Regex", M("_+")}}}, {"content", " "}},
                   {{M("a__b"), false}, {M("_c"), false}}),
            "a b c");
  const json strip = {{"type", "Strip"}, {"content", " "}, {"start", 2}, {"stop", 1}};
  EXPECT_EQ(Decode(strip, {{"   a  ", false}, {" b", false}}), " a b");  // per token: " a " + "b"
  const json llama2 = {
      {"type", "Sequence"},
      {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", kMeta}}}, {"content", " "}},
                                {{"type", "ByteFallback"}},
                                {{"type", "Fuse"}},
                                {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  // Strip runs after Fuse: only the text's first space goes.
  EXPECT_EQ(Decode(llama2, {{M("_Hello"), false}, {M("_world"), false}, {"<0x21>", false}}), "Hello world!");
  EXPECT_EQ(Decode(llama2, {{"<s>", true}, {M("_Hi"), false}}), "<s> Hi");
}

TEST(TokenDecoderTest, ByteLevelAndNullDecoders) {
  // "\xC4\xA0" (U+0120) is the byte-level character of a space; special tokens stay verbatim.
  const std::vector<TokenDecoder::Token> tokens = {{"\xC4\xA0hi", false}, {"<|x y|>", true}};
  EXPECT_EQ(Decode({{"type", "ByteLevel"}}, tokens), " hi<|x y|>");
  EXPECT_EQ(Decode(nullptr, tokens, /*null_is_byte_level=*/true), " hi<|x y|>");
  // No decoder in a character-level tokenizer: `tokenizers` joins the tokens with spaces.
  EXPECT_EQ(Decode(nullptr, {{"ab", false}, {"c", false}}), "ab c");
}

TEST(TokenDecoderTest, UnsupportedDecodersNameTheComponent) {
  EXPECT_THAT(TokenDecoder::FromJson({{"type", "WordPiece"}}, false, "tok.json: decoder").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tok.json: decoder.type 'WordPiece' is not supported")));
  EXPECT_THAT(
      TokenDecoder::FromJson(
          {{"type", "Sequence"}, {"decoders", json::array({{{"type", "Fuse"}}, {{"type", "CTC"}}})}}, false,
          "tok.json: decoder")
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tok.json: decoder.decoders[1].type 'CTC'")));
  EXPECT_THAT(TokenDecoder::FromJson({{"type", "Replace"}, {"pattern", {{"Regex", "("}}}, {"content", ""}},
                                     false, "tok.json: decoder")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tok.json: decoder.pattern")));
}

}  // namespace
}  // namespace m1rl::model
