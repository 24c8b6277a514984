// Reading generation requests from a prompts JSONL file (the input of `m1rl generate`).
//
// One JSON object per line: {"prompt": "<text>", "id": "<id>"?, "domain": "<domain>"?}; blank lines are
// skipped. "id" defaults to the 1-based line number (a non-string id is used in its JSON spelling).
// The prompt becomes text per options.prompt_template (model::FormatPrompt, as is, or the chat template of
// the tokenizer's tokenizer_config.json), is encoded with the
// tokenizer, and prefixed with the tokenizer's BOS (when it has one and the encoding does not start
// with it). Each row gets seed = options.seed * 1000003 + line number, so a row's samples do not depend
// on the other rows of the file.
#ifndef M1RL_ROLLOUT_PROMPT_FILE_H_
#define M1RL_ROLLOUT_PROMPT_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"
#include "rollout/engine.h"

namespace m1rl::rollout {

struct PromptFileOptions {
  // model::RenderPrompt's kinds: kChat (model::FormatPrompt), kRaw, kTokenizer (`tokenizer_template`).
  using Template = model::PromptTemplate;
  Template prompt_template = Template::kChat;
  std::shared_ptr<const model::ChatTemplateFile> tokenizer_template;  // required with kTokenizer
  int32_t n = 1;
  int32_t max_new_tokens = 256;
  uint64_t seed = 0;
  SamplingParams sampling;
};

// One row's request: `user_prompt` made text (options.prompt_template) and encoded with BOS as above; n,
// budget and sampling from `options`; seed = options.seed * 1000003 + seed_index (ReadPromptFile: the line
// number). A template that fails to render is an error naming the template's file.
absl::StatusOr<GenerationRequest> MakeGenerationRequest(const std::string& user_prompt, std::string prompt_id,
                                                        std::string domain, uint64_t seed_index,
                                                        const model::Tokenizer& tokenizer,
                                                        const PromptFileOptions& options);

// NotFound if `path` cannot be opened; InvalidArgument naming `path:line` for a line that is not a JSON
// object or lacks a string "prompt". Value ranges (n, budget, sampling) are checked by the engine.
absl::StatusOr<std::vector<GenerationRequest>> ReadPromptFile(const std::string& path,
                                                              const model::Tokenizer& tokenizer,
                                                              const PromptFileOptions& options);

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_PROMPT_FILE_H_
