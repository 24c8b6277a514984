// Tokenizers: a byte-level BPE read from a Hugging Face tokenizer.json, and a small fixed character
// tokenizer for synthetic tasks (vocab <= 128, fits the tiny configs).
//
// Thread safety: all methods are const and thread-safe after construction.
#ifndef M1RL_MODEL_TOKENIZER_H_
#define M1RL_MODEL_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/text_pipeline.h"
#include "model/tokenizer_decoder.h"

namespace m1rl::model {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Text to ids. Special/added tokens appearing literally in `text` map to their ids.
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;
  // Ids to text; special tokens are rendered as their content. Unknown ids render as nothing.
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t eos_id() const = 0;  // -1 if none
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t pad_id() const = 0;  // -1 if none
};

// Ids: 0 <pad>, 1 <bos>, 2 <eos>, 3 '\n', then printable ASCII 0x20..0x7E (95 chars) at 4..98; vocab 99.
// Characters outside the charset encode to nothing (skipped). "<pad>", "<bos>", "<eos>" in text are
// encoded as the special ids.
class CharTokenizer final : public Tokenizer {
 public:
  CharTokenizer();
  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int32_t vocab_size() const override { return 99; }
  int32_t eos_id() const override { return 2; }
  int32_t bos_id() const override { return 1; }
  int32_t pad_id() const override { return 0; }
};

// BPE from a Hugging Face tokenizer.json, byte-level (GPT-2 / Llama-3 / Qwen2) or SentencePiece-style
// (Llama-2 / Mistral / Gemma / TinyLlama: "\u2581" for spaces, <0xNN> byte tokens). Read: model.vocab,
// model.merges (either "a b" strings or [a, b] pairs), model.ignore_merges / byte_fallback / unk_token /
// fuse_unk; added_tokens (matched literally on the raw text before normalisation, as `tokenizers` does for
// tokens with normalized: false); then the file's normalizer and pre_tokenizer run as written
// (model/text_pipeline.h) and its decoder turns ids back into text (model/tokenizer_decoder.h). A file
// without a "pre_tokenizer" key gets GPT-2's ByteLevel split. With a ByteLevel pre-tokenizer the BPE symbols
// are byte-level characters; without one they are the normalised text's characters, and a character missing
// from the vocab becomes its <0xNN> tokens (byte_fallback) or unk_token. model.type other than BPE,
// continuing_subword_prefix, end_of_word_suffix and dropout are refused. The post_processor is not read: the
// callers put bos_id() in front themselves. eos/bos/pad are found among added tokens by the usual names.
class BpeTokenizer final : public Tokenizer {
 public:
  // InvalidArgument / NotFound naming the file and key on malformed input.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromJsonString(std::string_view json,
                                                                      const std::string& origin);

  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  int32_t eos_id() const override { return eos_id_; }
  int32_t bos_id() const override { return bos_id_; }
  int32_t pad_id() const override { return pad_id_; }

  // GPT-2's pre-tokenizer pieces of `text` (no specials), for tests.
  static std::vector<std::string> PreTokenize(std::string_view text);
  // This tokenizer's normalizer + pre-tokenizer pieces of `text` (no specials).
  std::vector<std::string> Pieces(std::string_view text) const;

 private:
  BpeTokenizer() = default;
  // FromJsonString's stages, in order.
  absl::Status ReadPipeline(const nlohmann::json& j, const std::string& origin);
  absl::StatusOr<int32_t> ReadVocab(const nlohmann::json& vocab, const std::string& origin);
  absl::Status ReadModelOptions(const nlohmann::json& model, const std::string& origin);
  absl::Status ReadMerges(const nlohmann::json& model, const std::string& origin);
  absl::StatusOr<int32_t> ReadAddedTokens(const nlohmann::json& j, const std::string& origin);
  void IndexTokens(int32_t max_id);
  // EncodePiece's stages, in order.
  std::vector<std::string> InitialSymbols(std::string_view word) const;
  void ApplyMerges(std::vector<std::string>* symbols) const;
  int32_t MergeRank(const std::string& a, const std::string& b) const;  // -1: no such merge
  void EncodePiece(std::string_view piece, std::vector<int32_t>* out) const;

  std::unique_ptr<TextPipeline> pipeline_;
  std::unique_ptr<TokenDecoder> decoder_;
  bool ignore_merges_ = false;  // model.ignore_merges: a piece found whole in the vocab is one token
  bool byte_fallback_ = false;  // model.byte_fallback: an unknown character becomes its <0xNN> tokens
  bool fuse_unk_ = false;       // model.fuse_unk: a run of unknown characters is one unk_token
  std::string unk_token_;       // model.unk_token ("" if none)
  std::unordered_map<std::string, int32_t> vocab_;         // byte-level unicode string -> id
  std::vector<std::string> id_to_token_;                   // id -> byte-level unicode string ("" if unused)
  std::unordered_map<std::string, int32_t> merge_rank_;    // "a\x01b" -> rank
  std::vector<std::pair<std::string, int32_t>> specials_;  // content -> id, longest first
  std::vector<bool> is_special_;                           // by id
  int32_t vocab_size_ = 0;
  int32_t eos_id_ = -1;
  int32_t bos_id_ = -1;
  int32_t pad_id_ = -1;
};

// "char" -> CharTokenizer; otherwise a tokenizer.json path.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& spec);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_TOKENIZER_H_
