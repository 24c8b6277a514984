// Byte-level helpers shared by the BPE model (model/tokenizer.h) and the decoders
// (model/tokenizer_decoder.h): GPT-2's table between bytes and printable characters, and a UTF-8 reader that
// never fails.
#ifndef M1RL_MODEL_TOKENIZER_BYTES_H_
#define M1RL_MODEL_TOKENIZER_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace m1rl::model {

// The code point starting at byte i of `s` and its length in bytes. An invalid or truncated sequence reads
// as U+FFFD with length 1, so every byte is consumed exactly once.
struct CodePoint {
  uint32_t cp;
  size_t len;
};
CodePoint NextCodePoint(std::string_view s, size_t i);

// GPT-2's bytes_to_unicode: byte -> code point (printable bytes map to themselves, the rest to 256+).
const std::vector<uint32_t>& ByteToUnicode();
// Its inverse.
const std::unordered_map<uint32_t, unsigned char>& UnicodeToByte();

// SentencePiece's name of byte b in a byte_fallback vocabulary: "<0x0A>" (upper-case hex).
std::string ByteTokenName(unsigned char b);
// Its inverse: "<0xNN>" (either case) -> NN, anything else -> -1.
int ByteOfTokenName(std::string_view token);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_TOKENIZER_BYTES_H_
