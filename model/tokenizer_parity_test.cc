// Tokenizer parity against a reference implementation run in the test: the @huggingface/tokenizers npm
// package (tokenizers.js, installed by the ctest fixture model_npm_tokenizers into $M1RL_BINARY_DIR/npm)
// encodes a mixed corpus with the same tokenizer.json files, written here in four styles (GPT-2, Llama-3,
// Qwen2, and a normalising one); m1rl's ids must be identical. The reference is required: without node or the
// package the test fails and says why.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/testing/byte_symbols.h"
#include "model/tokenizer.h"
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

struct Style {
  std::string name;
  json normalizer;
  json pre_tokenizer;
  bool merges_as_pairs;
  bool ignore_merges;
  // Corpus strings where tokenizers.js departs from the Rust `tokenizers` library that m1rl follows.
  std::vector<size_t> skip = {};
};

void PrintTo(const Style& style, std::ostream* os) { *os << style.name; }

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

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
       // corpus[3] has Arabic-Indic digits: Rust's Digits splits on char::is_numeric (all of \p{N}),
       // tokenizers.js on JavaScript's ASCII \d. text_pipeline_test checks the Rust behaviour by hand.
       {3}},
  };
}

json TokenizerJson(const Style& style) {
  json vocab = json::object();
  const std::vector<std::string> symbols = ByteSymbols();
  for (int b = 0; b < 256; ++b) vocab[symbols[b]] = b;
  json merges = json::array();
  for (const auto& [a, b] : RawMerges()) {
    const std::string la = ToByteLevel(a), lb = ToByteLevel(b);
    const std::string merged = absl::StrCat(la, lb);
    if (!vocab.contains(merged)) vocab[merged] = static_cast<int>(vocab.size());
    merges.push_back(style.merges_as_pairs ? json::array({la, lb}) : json(absl::StrCat(la, " ", lb)));
  }
  // Reachable only when ignore_merges is on (no merge joins " " and "hello"): " hello" as one token.
  vocab[ToByteLevel(" hello")] = static_cast<int>(vocab.size());
  json added = json::array();
  for (const std::string& s : Specials()) {
    added.push_back({{"id", static_cast<int>(vocab.size() + added.size())},
                     {"content", s},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", style.normalizer},
          {"pre_tokenizer", style.pre_tokenizer},
          {"post_processor", nullptr},
          {"decoder",
           {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", style.ignore_merges},
            {"vocab", vocab},
            {"merges", merges}}}};
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

// Runs the reference; returns its ids per corpus string.
std::vector<std::vector<int32_t>> Reference(const std::string& dir, const std::string& tokenizer_path,
                                            const std::string& corpus_path) {
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
  return j.get<std::vector<std::vector<int32_t>>>();
}

class TokenizerParityTest : public ::testing::TestWithParam<Style> {};

TEST_P(TokenizerParityTest, IdsEqualTokenizersJs) {
  ASSERT_FALSE(Env("M1RL_BINARY_DIR").empty() || Env("M1RL_SOURCE_DIR").empty())
      << "run through ctest (it sets M1RL_BINARY_DIR/M1RL_SOURCE_DIR; its model_npm_tokenizers fixture "
         "installs "
         "the reference)";
  if (!std::filesystem::exists(NpmDir() + "/node_modules/@huggingface/tokenizers") &&
      Env("M1RL_ALLOW_NO_NPM") == "1") {
    GTEST_SKIP() << "@huggingface/tokenizers is not installed under " << NpmDir()
                 << " and M1RL_ALLOW_NO_NPM=1";
  }
  ASSERT_TRUE(std::filesystem::exists(NpmDir() + "/node_modules/@huggingface/tokenizers"))
      << "@huggingface/tokenizers is not installed under " << NpmDir()
      << " (the model_npm_tokenizers fixture failed: is npm's registry reachable? M1RL_ALLOW_NO_NPM=1 "
         "skips this test)";
  const Style& style = GetParam();
  const std::string dir = ::testing::TempDir() + "/m1rl_tok_parity_" + style.name;
  std::filesystem::create_directories(dir);
  const std::string tokenizer_path = dir + "/tokenizer.json";
  std::ofstream(tokenizer_path) << TokenizerJson(style).dump();
  const std::vector<std::string> corpus = Corpus();
  const std::string corpus_path = dir + "/corpus.json";
  std::ofstream(corpus_path) << json(corpus).dump();

  const std::vector<std::vector<int32_t>> want = Reference(dir, tokenizer_path, corpus_path);
  ASSERT_EQ(want.size(), corpus.size());
  M1RL_ASSERT_OK_AND_ASSIGN(auto tok, BpeTokenizer::FromFile(tokenizer_path));
  for (size_t i = 0; i < corpus.size(); ++i) {
    if (std::find(style.skip.begin(), style.skip.end(), i) != style.skip.end()) continue;
    EXPECT_EQ(tok->Encode(corpus[i]), want[i])
        << style.name << ": corpus[" << i << "] = \"" << corpus[i] << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(Styles, TokenizerParityTest, ::testing::ValuesIn(Styles()),
                         [](const ::testing::TestParamInfo<Style>& info) { return info.param.name; });

}  // namespace
}  // namespace m1rl::model
