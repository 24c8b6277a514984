// Tokenizer parity against a reference implementation run in the test: the @huggingface/tokenizers npm
// package (tokenizers.js, installed by the ctest fixture model_npm_tokenizers into $M1RL_BINARY_DIR/npm)
// encodes a mixed corpus with the same tokenizer.json files and decodes the ids again. The files are written
// here in seven styles: byte-level GPT-2, Llama-3, Qwen2 and a normalising one; SentencePiece-style Llama-2
// (Prepend + Replace normalizer, byte fallback, Replace/ByteFallback/Fuse/Strip decoder), Gemma (Replace
// normalizer, no Strip) and a Metaspace pre-tokenizer + decoder one. m1rl's ids and decoded strings must be
// identical. The reference is required: without node or the package the test fails and says why.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/testing/byte_symbols.h"
#include "model/tokenizer.h"
#include "model/tokenizer_files.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {
namespace {

using json = nlohmann::json;

std::vector<std::string> ByteSymbols() {
  std::vector<std::string> out;
  out.reserve(256);
  for (int b = 0; b < 256; ++b) out.push_back(::m1rl::model::testing::ByteSymbol(b));
  return out;
}

std::string ToByteLevel(const std::string& raw) {
  static const std::vector<std::string> kSymbols = ByteSymbols();
  std::string out;
  for (unsigned char c : raw) out += kSymbols[c];
  return out;
}

// Merges over raw UTF-8 text; each part is a byte symbol or an earlier merge's result.
const std::vector<std::pair<std::string, std::string>>& RawMerges() {
  static const auto* merges = new std::vector<std::pair<std::string, std::string>>{
      {" ", "t"},           {"h", "e"},           {" t", "he"},     {"i", "n"},       {" ", "a"},
      {"e", "r"},           {"o", "n"},           {"r", "e"},       {" ", "w"},       {"o", "r"},
      {" w", "or"},         {"l", "d"},           {" wor", "ld"},   {"1", "2"},       {"12", "3"},
      {" ", " "},           {"  ", "  "},         {"\n", "\n"},     {"'", "s"},       {"s", "t"},
      {"t", "e"},           {"te", "st"},         {"\xD0", "\xBF"}, {"\xD1", "\x80"}, {"\xE4", "\xB8"},
      {"\xE4\xB8", "\x96"}, {"\xF0\x9F", "\x98"}, {"l", "l"},       {"e", "ll"},      {"h", "ell"},
      {"hell", "o"},        {"\xD9", "\x85"},     {"a", "b"},       {"ab", "c"}};
  return *merges;
}

const std::vector<std::string>& Specials() {
  static const auto* specials = new std::vector<std::string>{"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  return *specials;
}

// SentencePiece-style pieces: "\u2581" stands for a space.
constexpr const char* kMeta = "\xE2\x96\x81";

std::string Meta(const std::string& s) { return absl::StrReplaceAll(s, {{" ", kMeta}}); }

// Merges of the SentencePiece-style vocab, over raw text (a space is written " " and stored as U+2581).
const std::vector<std::pair<std::string, std::string>>& PieceMerges() {
  static const auto* merges = new std::vector<std::pair<std::string, std::string>>{
      {" ", "t"},
      {"h", "e"},
      {" t", "he"},
      {"i", "n"},
      {" ", "a"},
      {"e", "r"},
      {"o", "n"},
      {"r", "e"},
      {" ", "w"},
      {"o", "r"},
      {" w", "or"},
      {"l", "d"},
      {" wor", "ld"},
      {"1", "2"},
      {"12", "3"},
      {" ", " "},
      {"  ", "  "},
      {"l", "l"},
      {"e", "ll"},
      {"H", "ell"},
      {"Hell", "o"},
      {"h", "ell"},
      {"hell", "o"},
      {" ", "hello"},
      {"s", "t"},
      {"t", "e"},
      {"te", "st"},
      {" ", "test"},
      {"\xD0\xBF", "\xD1\x80"},
      {"\xD0\xBF\xD1\x80", "\xD0\xB8"},
      {"\xD0\xB2", "\xD0\xB5"},
      {"\xD0\xB2\xD0\xB5", "\xD1\x82"},
      {"\xD0\xBF\xD1\x80\xD0\xB8", "\xD0\xB2\xD0\xB5\xD1\x82"},
      {" ", "\xE4\xB8\x96"},
      {"a", "b"},
      {"ab", "c"}};
  return *merges;
}

enum class Model { kByteLevel, kSentencePiece };

struct Style {
  std::string name;
  json normalizer;
  json pre_tokenizer;
  bool merges_as_pairs;
  bool ignore_merges;
  Model model = Model::kByteLevel;
  json decoder = {
      {"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  // Corpus strings where tokenizers.js departs from the Rust `tokenizers` library that m1rl follows: in ids
  // (and so in text), or in the decoded text only.
  std::vector<size_t> skip = {};
  std::vector<size_t> skip_decode = {};
};

void PrintTo(const Style& style, std::ostream* os) { *os << style.name; }

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json Replace(const char* from, const char* to) {
  return {{"type", "Replace"}, {"pattern", {{"String", from}}}, {"content", to}};
}

// Llama-2 / Mistral / TinyLlama: spaces become U+2581 and one is prepended; no pre-tokenizer.
Style Llama2Style() {
  return {"llama2",
          json{{"type", "Sequence"},
               {"normalizers",
                json::array({json{{"type", "Prepend"}, {"prepend", kMeta}}, Replace(" ", kMeta)})}},
          nullptr,
          false,
          false,
          Model::kSentencePiece,
          json{{"type", "Sequence"},
               {"decoders",
                json::array({Replace(kMeta, " "), json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}},
                             json{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}};
}

// Gemma: spaces become U+2581, nothing is prepended, and the decoder strips nothing.
Style GemmaStyle() {
  return {"gemma",
          Replace(" ", kMeta),
          nullptr,
          true,
          false,
          Model::kSentencePiece,
          json{{"type", "Sequence"},
               {"decoders",
                json::array({Replace(kMeta, " "), json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}}})}}};
}

// The Metaspace pre-tokenizer (prepend_scheme "first": not after an added token) and decoder.
Style MetaspaceStyle() {
  const json metaspace = {
      {"type", "Metaspace"}, {"replacement", kMeta}, {"prepend_scheme", "first"}, {"split", false}};
  return {
      "metaspace",
      nullptr,
      metaspace,
      false,
      false,
      Model::kSentencePiece,
      json{{"type", "Sequence"},
           {"decoders", json::array({metaspace, json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}}})}},
      {},
      // corpus[7] starts with two spaces, one token: the Rust decoder drops every U+2581 of the first
      // token, tokenizers.js only one. tokenizer_test checks the Rust behaviour by hand.
      {7}};
}

std::vector<Style> Styles() {
  const json byte_level_no_regex = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  auto split = [](const char* pattern) {
    return json{
        {"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  return {
      {"gpt2", nullptr,
       json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}},
       false, false},
      {"llama3", nullptr,
       json{{"type", "Sequence"},
            {"pretokenizers", json::array({split(kLlama3Pattern), byte_level_no_regex})}},
       false, true},
      {"qwen2", json{{"type", "NFC"}},
       json{{"type", "Sequence"},
            {"pretokenizers", json::array({split(kQwen2Pattern), byte_level_no_regex})}},
       true, false},
      {"normalising",
       json{{"type", "Sequence"},
            {"normalizers", json::array({json{{"type", "NFKC"}}, json{{"type", "Lowercase"}}})}},
       json{{"type", "Sequence"},
            {"pretokenizers",
             json::array({json{{"type", "Digits"}, {"individual_digits", true}},
                          json{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}})}},
       false,
       false,
       Model::kByteLevel,
       json{{"type", "ByteLevel"}},
       // corpus[3] has Arabic-Indic digits: Rust's Digits splits on char::is_numeric (all of \p{N}),
       // tokenizers.js on JavaScript's ASCII \d. text_pipeline_test checks the Rust behaviour by hand.
       {3}},
      Llama2Style(),
      GemmaStyle(),
      MetaspaceStyle(),
  };
}

struct VocabAndMerges {
  json vocab = json::object();
  json merges = json::array();
};

// Adds a merge (and its product to the vocab) in the style's format.
void AddMerge(const Style& style, const std::string& a, const std::string& b, VocabAndMerges* out) {
  const std::string merged = absl::StrCat(a, b);
  if (!out->vocab.contains(merged)) out->vocab[merged] = static_cast<int>(out->vocab.size());
  out->merges.push_back(style.merges_as_pairs ? json::array({a, b}) : json(absl::StrCat(a, " ", b)));
}

// Byte b has id b; merges over byte-level symbols.
VocabAndMerges ByteLevelModel(const Style& style) {
  VocabAndMerges out;
  const std::vector<std::string> symbols = ByteSymbols();
  for (int b = 0; b < 256; ++b) out.vocab[symbols[b]] = b;
  for (const auto& [a, b] : RawMerges()) AddMerge(style, ToByteLevel(a), ToByteLevel(b), &out);
  // Reachable only when ignore_merges is on (no merge joins " " and "hello"): " hello" as one token.
  out.vocab[ToByteLevel(" hello")] = static_cast<int>(out.vocab.size());
  return out;
}

// As Llama-2's: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>, the characters the merges start from
// (newlines, most scripts and emoji are not among them: they fall back to bytes), then the merges' products.
VocabAndMerges SentencePieceModel(const Style& style) {
  VocabAndMerges out;
  for (const char* special : {"<unk>", "<s>", "</s>"})
    out.vocab[special] = static_cast<int>(out.vocab.size());
  for (int b = 0; b < 256; ++b)
    out.vocab[absl::StrFormat("<0x%02X>", b)] = static_cast<int>(out.vocab.size());
  for (const auto& [a, b] : PieceMerges()) {
    for (const std::string& part : {a, b}) {
      for (size_t i = 0; i < part.size();) {
        size_t len = 1;
        while (i + len < part.size() && (static_cast<unsigned char>(part[i + len]) & 0xC0) == 0x80) ++len;
        const std::string c = Meta(part.substr(i, len));
        if (!out.vocab.contains(c)) out.vocab[c] = static_cast<int>(out.vocab.size());
        i += len;
      }
    }
  }
  for (const auto& [a, b] : PieceMerges()) AddMerge(style, Meta(a), Meta(b), &out);
  return out;
}

json AddedToken(const std::string& content, int id) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

json TokenizerJson(const Style& style) {
  const bool sp = style.model == Model::kSentencePiece;
  VocabAndMerges model = sp ? SentencePieceModel(style) : ByteLevelModel(style);
  json added = json::array();
  if (sp) {
    for (const char* s : {"<unk>", "<s>", "</s>"}) added.push_back(AddedToken(s, model.vocab[s].get<int>()));
  }
  const int first_special = static_cast<int>(model.vocab.size());
  for (size_t i = 0; i < Specials().size(); ++i) {
    added.push_back(AddedToken(Specials()[i], first_special + static_cast<int>(i)));
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", style.normalizer},
          {"pre_tokenizer", style.pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder", style.decoder},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", sp ? json("<unk>") : json(nullptr)},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", sp},
            {"byte_fallback", sp},
            {"ignore_merges", style.ignore_merges},
            {"vocab", model.vocab},
            {"merges", model.merges}}}};
}

// Mixed scripts, digit runs, whitespace runs, newlines, emoji, contractions, specials, compatibility and
// combining characters. Non-ASCII text is spelled in UTF-8 escapes, one piece per word.
std::vector<std::string> Corpus() {
  const std::string privet = "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82";  // Cyrillic
  const std::string mir = "\xD0\xBC\xD0\xB8\xD1\x80";
  const std::string arabic_digits = "\xD9\xA1\xD9\xA2\xD9\xA3";
  const std::string shijie = "\xE4\xB8\x96\xE7\x95\x8C";             // CJK
  const std::string nihao = "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C";  // + fullwidth comma
  const std::string konnichiwa = "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF";
  const std::string marhaba = "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7";  // Arabic
  const std::string bilalam = "\xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9\xD8\xA7\xD9\x84\xD9\x85";
  const std::string grin = "\xF0\x9F\x98\x80", thumbs = "\xF0\x9F\x91\x8D", tone = "\xF0\x9F\x8F\xBD";
  const std::string full = "\xEF\xBC\xA6\xEF\xBD\x95\xEF\xBD\x8C\xEF\xBD\x8C";  // fullwidth "Full"
  const std::string odos = "\xCE\x9F\xCE\x94\xCE\x8F\xCE\xA3", sis = "\xCE\xA3\xCE\x99\xCE\xA3";
  return {
      "Hello world's test  \n\n foo 123456789 abc",
      "The weather isn't bad; we'll see. I'M HERE, they'RE 'S",
      " hello! hello!! Hello!",
      absl::StrCat(privet, " ", mir, " 123 ", arabic_digits),
      absl::StrCat(shijie, nihao, konnichiwa, " ", shijie, "!"),
      absl::StrCat(marhaba, " ", bilalam),
      absl::StrCat("emoji ", grin, thumbs, tone, " mixed", grin, "text"),
      "  leading spaces\ttabs\t\tand   trailing   ",
      "line1\r\nline2\n\n\nline3\n",
      "x=1234567+89; y = 3.14159, z=-0.5e10",
      "<|endoftext|>after special<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant",
      absl::StrCat(full, " width, caf\xC3\xA9 vs cafe\xCC\x81, \xE2\x84\xAB, \xEF\xAC\x81"),
      absl::StrCat(odos, " ", sis, " (final sigma), STRASSE stra\xC3\x9F", "e"),
      absl::StrCat("a\xC2\xA0", "b\xE2\x80\x83", "c\xE3\x80\x80", "d"),
      "",
  };
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string NpmDir() { return Env("M1RL_BINARY_DIR") + "/npm"; }

struct Encoded {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::string> text;  // the ids decoded again
};

// Runs the reference; returns its ids and decoded text per corpus string.
Encoded Reference(const std::string& dir, const std::string& tokenizer_path, const std::string& corpus_path) {
  const std::string out_path = dir + "/ref_ids.json";
  const std::string cmd =
      absl::StrCat("node '", Env("M1RL_SOURCE_DIR"), "/model/testdata/hf_tokenize.mjs' '", NpmDir(), "' '",
                   tokenizer_path, "' '", corpus_path, "' > '", out_path, "' 2> '", out_path, ".err'");
  const int rc = std::system(cmd.c_str());
  std::ifstream err(out_path + ".err");
  std::stringstream err_text;
  err_text << err.rdbuf();
  EXPECT_EQ(rc, 0) << cmd << "\n" << err_text.str();
  std::ifstream in(out_path);
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "the reference printed no JSON: " << err_text.str();
    return {};
  }
  return {j["ids"].get<std::vector<std::vector<int32_t>>>(), j["text"].get<std::vector<std::string>>()};
}

class TokenizerParityTest : public ::testing::TestWithParam<Style> {};

// Why the reference cannot run ("" when it can): the ctest environment and the npm fixture's install.
std::string ReferenceMissing() {
  if (Env("M1RL_BINARY_DIR").empty() || Env("M1RL_SOURCE_DIR").empty()) {
    return "run through ctest (it sets M1RL_BINARY_DIR/M1RL_SOURCE_DIR; its model_npm_tokenizers fixture "
           "installs the reference)";
  }
  if (std::filesystem::exists(NpmDir() + "/node_modules/@huggingface/tokenizers")) return "";
  return absl::StrCat("@huggingface/tokenizers is not installed under ", NpmDir(),
                      " (the model_npm_tokenizers fixture failed: is npm's registry reachable? "
                      "M1RL_ALLOW_NO_NPM=1 skips this test)");
}

// Skips (M1RL_ALLOW_NO_NPM=1) or fails when the reference cannot run.
#define M1RL_REQUIRE_REFERENCE()                                                                 \
  if (const std::string why = ReferenceMissing(); !why.empty()) {                                \
    if (Env("M1RL_ALLOW_NO_NPM") == "1" && !Env("M1RL_BINARY_DIR").empty()) GTEST_SKIP() << why; \
    FAIL() << why;                                                                               \
  }

TEST_P(TokenizerParityTest, IdsAndDecodedTextEqualTokenizersJs) {
  M1RL_REQUIRE_REFERENCE();
  const Style& style = GetParam();
  const std::string dir = ::testing::TempDir() + "/m1rl_tok_parity_" + style.name;
  std::filesystem::create_directories(dir);
  const std::string tokenizer_path = dir + "/tokenizer.json";
  std::ofstream(tokenizer_path) << TokenizerJson(style).dump();
  const std::vector<std::string> corpus = Corpus();
  const std::string corpus_path = dir + "/corpus.json";
  std::ofstream(corpus_path) << json(corpus).dump();

  const Encoded want = Reference(dir, tokenizer_path, corpus_path);
  ASSERT_EQ(want.ids.size(), corpus.size());
  ASSERT_EQ(want.text.size(), corpus.size());
  M1RL_ASSERT_OK_AND_ASSIGN(auto tok, BpeTokenizer::FromFile(tokenizer_path));
  auto listed = [](const std::vector<size_t>& v, size_t i) {
    return std::find(v.begin(), v.end(), i) != v.end();
  };
  for (size_t i = 0; i < corpus.size(); ++i) {
    if (listed(style.skip, i)) continue;
    const std::vector<int32_t> ids = tok->Encode(corpus[i]);
    EXPECT_EQ(ids, want.ids[i]) << style.name << ": corpus[" << i << "] = \"" << corpus[i] << "\"";
    if (listed(style.skip_decode, i)) continue;
    EXPECT_EQ(tok->Decode(ids), want.text[i])
        << style.name << ": corpus[" << i << "] = \"" << corpus[i] << "\"";
  }
}

// The char tokenizer's exported tokenizer.json (model/tokenizer_files.h): tokenizers.js and m1rl's
// BpeTokenizer on it give CharTokenizer's ids and text, so an m1rl export of a char-tokenizer policy is
// usable from Python.
TEST(CharTokenizerJsonTest, TokenizersJsAndBpeTokenizerEqualCharTokenizer) {
  M1RL_REQUIRE_REFERENCE();
  const std::string dir = ::testing::TempDir() + "/m1rl_tok_parity_char";
  std::filesystem::create_directories(dir);
  const std::string tokenizer_path = dir + "/tokenizer.json";
  std::ofstream(tokenizer_path) << CharTokenizerJsonString();
  std::vector<std::string> corpus = Corpus();
  corpus.insert(corpus.end(), {"<bos>12+34=\\boxed{46}<eos><pad>", "tab\there\r\n<bo s> <eos", ""});
  const std::string corpus_path = dir + "/corpus.json";
  std::ofstream(corpus_path) << json(corpus).dump();
  const Encoded want = Reference(dir, tokenizer_path, corpus_path);
  ASSERT_EQ(want.ids.size(), corpus.size());
  M1RL_ASSERT_OK_AND_ASSIGN(auto bpe, BpeTokenizer::FromFile(tokenizer_path));
  const CharTokenizer chars;
  EXPECT_EQ(bpe->vocab_size(), chars.vocab_size());
  EXPECT_EQ(bpe->bos_id(), chars.bos_id());
  EXPECT_EQ(bpe->eos_id(), chars.eos_id());
  EXPECT_EQ(bpe->pad_id(), chars.pad_id());
  for (size_t i = 0; i < corpus.size(); ++i) {
    const std::vector<int32_t> ids = chars.Encode(corpus[i]);
    EXPECT_EQ(want.ids[i], ids) << "tokenizers.js: corpus[" << i << "] = \"" << corpus[i] << "\"";
    EXPECT_EQ(bpe->Encode(corpus[i]), ids) << "BpeTokenizer: corpus[" << i << "]";
    EXPECT_EQ(want.text[i], chars.Decode(ids)) << "tokenizers.js decode: corpus[" << i << "]";
    EXPECT_EQ(bpe->Decode(ids), chars.Decode(ids)) << "BpeTokenizer decode: corpus[" << i << "]";
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, TokenizerParityTest, ::testing::ValuesIn(Styles()),
                         [](const ::testing::TestParamInfo<Style>& info) { return info.param.name; });

}  // namespace
}  // namespace m1rl::model
