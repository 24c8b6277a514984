// The `decoder` of a Hugging Face tokenizer.json: the tokens of a list of ids back to text, as the
// `tokenizers` library's decode does (skip_special_tokens false, no clean-up of spaces).
//
//   M1RL_ASSIGN_OR_RETURN(auto decoder, TokenDecoder::FromJson(j["decoder"], byte_level, "t.json: decoder"));
//   // Llama-2's decoder: U+2581 -> " ", <0xNN> runs -> bytes, fuse, strip one leading space.
//   std::string text = decoder->Decode({{"\xE2\x96\x81Hi", false}, {"<0x21>", false}});  // "Hi!"
//
// Supported decoders (anything else is an InvalidArgument naming the component):
//   ByteLevel     byte-level characters back to bytes (GPT-2 / Llama-3 / Qwen2); special tokens verbatim
//   Metaspace     the replacement character back to spaces; on the first token it is dropped (prepend_scheme
//                 other than "never", or the legacy add_prefix_space)
//   Replace       String or Regex pattern -> content, token by token
//   ByteFallback  runs of <0xNN> tokens back to their bytes; a run that is not valid UTF-8 gives one U+FFFD
//                 per byte
//   Fuse          all tokens into one
//   Strip         up to `start` leading and `stop` trailing `content` characters of every token
//   Sequence      the above in order
// A null decoder is ByteLevel for a byte-level tokenizer (`null_is_byte_level`, m1rl's reading of files that
// leave it out); otherwise the tokens joined by single spaces, as `tokenizers` does without a decoder.
//
// Thread safety: immutable after construction; Decode may be called concurrently.
#ifndef M1RL_MODEL_TOKENIZER_DECODER_H_
#define M1RL_MODEL_TOKENIZER_DECODER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {

class TokenDecoder {
 public:
  struct Token {
    std::string text;
    bool special;  // an added token: ByteLevel keeps its text as it is
  };

  static absl::StatusOr<std::unique_ptr<TokenDecoder>> FromJson(const nlohmann::json& decoder,
                                                                bool null_is_byte_level,
                                                                const std::string& where);
  ~TokenDecoder();
  TokenDecoder(const TokenDecoder&) = delete;
  TokenDecoder& operator=(const TokenDecoder&) = delete;

  std::string Decode(std::vector<Token> tokens) const;

  struct Stage;

 private:
  TokenDecoder() = default;
  std::vector<std::unique_ptr<Stage>> stages_;
  bool join_with_spaces_ = false;  // no decoder at all
};

}  // namespace m1rl::model

#endif  // M1RL_MODEL_TOKENIZER_DECODER_H_
