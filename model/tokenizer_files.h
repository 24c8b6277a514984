// The tokenizer side of a Hugging Face model directory: which tokenizer a directory implies, and the files an
// export writes next to config.json and the safetensors so that a Hugging Face user finds what they expect.
//
//   tokenizer.json          the BPE tokenizer's own file, copied byte for byte; for the char tokenizer an
//                           equivalent tokenizer.json (CharTokenizerJsonString: the same ids and text both in
//                           m1rl's BpeTokenizer and in Hugging Face tokenizers)
//   tokenizer_config.json   the chat template (model/chat_template.h written as Jinja, `chat_template`), the
//                           special tokens' text, tokenizer_class PreTrainedTokenizerFast
//   generation_config.json  bos/eos/pad token ids
//
//   std::string spec = DefaultTokenizerSpec(init_from);     // DIR/tokenizer.json, or "char"
//   M1RL_RETURN_IF_ERROR(WriteTokenizerFiles(*tok, spec, out_dir));
#ifndef M1RL_MODEL_TOKENIZER_FILES_H_
#define M1RL_MODEL_TOKENIZER_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "model/tokenizer.h"

namespace m1rl::model {

// model/chat_template.h's template in the Jinja dialect of tokenizer_config.json's "chat_template"
// (messages, add_generation_prompt): rendering it gives ApplyChatTemplate's text.
extern const char kChatTemplateJinja[];

// The tokenizer a run takes when none is configured: `model_dir`/tokenizer.json when the directory has one,
// else "char" (also for an empty `model_dir`).
std::string DefaultTokenizerSpec(const std::string& model_dir);

// The char tokenizer (model/tokenizer.h CharTokenizer) as a tokenizer.json: added tokens <pad> <bos> <eos>,
// "\n" and printable ASCII as a BPE vocabulary without merges, no normalizer or pre-tokenizer, no unk_token
// (other characters are dropped, as CharTokenizer drops them), a Fuse decoder.
std::string CharTokenizerJsonString();

// Writes the files above into `dir` (existing). `spec` is what `tok` was loaded from (LoadTokenizer: "char"
// or a tokenizer.json path). kInternal naming the file on a write error, kNotFound for a missing `spec` file.
absl::Status WriteTokenizerFiles(const Tokenizer& tok, const std::string& spec, const std::string& dir);

}  // namespace m1rl::model

#endif  // M1RL_MODEL_TOKENIZER_FILES_H_
