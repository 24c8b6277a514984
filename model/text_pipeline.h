// The text stages of a Hugging Face tokenizer.json that run before its model: the `normalizer` and the
// `pre_tokenizer`, executed as written (PCRE2 for the patterns, ICU for Unicode normalisation), so
// GPT-2-, Llama-3-, Qwen2- and SentencePiece-style (Llama-2, Mistral, Gemma) tokenizers split text as the
// `tokenizers` library does.
//
//   M1RL_ASSIGN_OR_RETURN(auto pipeline, TextPipeline::FromJson(tokenizer_json, "tokenizer.json"));
//   for (const std::string& piece : pipeline->Split(pipeline->Normalize(text))) bpe.EncodePiece(piece);
//
// Supported components (anything else is an InvalidArgument naming the component and the file):
//   normalizer:    null | NFC | NFD | NFKC | NFKD | Lowercase | Prepend | Replace (String or Regex) |
//                  Strip (strip_left, strip_right; Unicode White_Space) | Sequence
//   pre_tokenizer: null | ByteLevel (add_prefix_space, use_regex) | Split (String or Regex pattern; behavior
//                  Removed | Isolated | MergedWithPrevious | MergedWithNext | Contiguous; invert) |
//                  Metaspace (replacement, prepend_scheme always | first | never, split; the legacy
//                  add_prefix_space) | Digits (individual_digits) | Whitespace | WhitespaceSplit | Sequence
// Patterns compile with PCRE2_UTF | PCRE2_UCP (\p{L}, \p{N}, \s over Unicode; lookaheads; possessive
// quantifiers), which agrees with Oniguruma on the patterns tokenizer.json files use. Pieces are byte
// ranges of the normalised text; ByteLevel's byte-to-unicode mapping is the BPE model's job (tokenizer.h).
//
// Thread safety: immutable after construction; Normalize and Split may be called concurrently.
#ifndef M1RL_MODEL_TEXT_PIPELINE_H_
#define M1RL_MODEL_TEXT_PIPELINE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {

// A compiled PCRE2 pattern (UTF, UCP, invalid UTF-8 tolerated: it never matches across a bad byte).
class Regex {
 public:
  // `what` names the pattern in errors ("tokenizer.json: pre_tokenizer.pattern.Regex").
  static absl::StatusOr<std::shared_ptr<const Regex>> Compile(std::string_view pattern, bool literal,
                                                              const std::string& what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Byte ranges [begin, end) of the non-overlapping matches in `s`, left to right (empty matches included).
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view s) const;
  // `s` with every non-empty match replaced by `content`.
  std::string ReplaceAll(std::string_view s, std::string_view content) const;

 private:
  explicit Regex(void* code) : code_(code) {}
  void* code_;  // pcre2_code_8*
};

// ---- Pieces of tokenizer.json shared by the text stages and the decoders (model/tokenizer_decoder.h) ----

// j[key] when it is a boolean, else `def`.
bool JsonFlag(const nlohmann::json& j, const char* key, bool def);
// j["type"] when it is a string, else "".
std::string JsonType(const nlohmann::json& j);
// A pattern object {"String": literal} or {"Regex": pcre}; `where` names its owner in errors.
absl::StatusOr<std::shared_ptr<const Regex>> CompilePattern(const nlohmann::json& pattern,
                                                            const std::string& where);

// Metaspace's settings, as the pre-tokenizer and the decoder of that name read them. prepend_scheme "first"
// prepends only at the start of the input (not after an added token); the legacy add_prefix_space false is
// "never". split: cut the piece before every replacement character.
enum class PrependScheme { kAlways, kFirst, kNever };
struct MetaspaceOptions {
  std::string replacement = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK
  PrependScheme prepend_scheme = PrependScheme::kAlways;
  bool split = true;
};
absl::StatusOr<MetaspaceOptions> ReadMetaspaceOptions(const nlohmann::json& j, const std::string& where);

class TextPipeline {
 public:
  // Reads `normalizer` and `pre_tokenizer` of a parsed tokenizer.json (both may be null or absent).
  static absl::StatusOr<std::unique_ptr<TextPipeline>> FromJson(const nlohmann::json& tokenizer_json,
                                                                const std::string& origin);
  // GPT-2's: no normalizer, ByteLevel {add_prefix_space: false, use_regex: true}.
  static std::unique_ptr<TextPipeline> Gpt2();

  ~TextPipeline();
  TextPipeline(const TextPipeline&) = delete;
  TextPipeline& operator=(const TextPipeline&) = delete;

  std::string Normalize(std::string_view text) const;
  // The pieces of (normalised) `text`, in order, none empty. `at_start`: `text` begins the input (it is not
  // a section after an added token); Metaspace's prepend_scheme "first" prepends only there.
  std::vector<std::string> Split(std::string_view text, bool at_start = true) const;
  // Whether a ByteLevel pre-tokenizer is present (the model's symbols are then byte-level characters;
  // without one they are the text's own characters, as in SentencePiece-style BPE).
  bool byte_level() const { return byte_level_; }

  struct Normalizer;
  struct PreTokenizer;

 private:
  TextPipeline() = default;
  std::vector<std::unique_ptr<Normalizer>> normalizers_;
  std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers_;
  bool byte_level_ = false;
};

}  // namespace m1rl::model

#endif  // M1RL_MODEL_TEXT_PIPELINE_H_
