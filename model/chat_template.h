// The chat/prompt template used for RL prompts and SFT examples. Plain text, so that the character
// tokenizer can encode it:
//
//   for each message: "<|role|>\n" + content + "\n"; then, if add_generation_prompt, "<|assistant|>\n".
//
// BOS (if the tokenizer has one) is prepended as an id by the caller, not as text; the assistant turn of a
// completion ends with the tokenizer's EOS id.
#ifndef M1RL_MODEL_CHAT_TEMPLATE_H_
#define M1RL_MODEL_CHAT_TEMPLATE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

// Renders `messages` per the template above.
std::string ApplyChatTemplate(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

// A single-turn prompt: an optional system message then the user message, with the generation prompt.
std::string FormatPrompt(const std::string& user, const std::string& system = "");

class JinjaTemplate;  // model/jinja.h

// The Jinja chat template of a Hugging Face tokenizer_config.json (model/jinja.h), parsed once and rendered
// as transformers' apply_chat_template does: the file's "chat_template" (a string, or a list of
// {"name", "template"} where "tool_use" is taken when the variables have "tools" and "default" otherwise;
// without one, a chat_template.jinja beside the file), with the file's special tokens (bos_token, eos_token,
// ... as their strings). Errors name the file.
class ChatTemplateFile {
 public:
  static absl::StatusOr<ChatTemplateFile> Load(const std::string& tokenizer_config_path);

  // Renders `messages` with `add_generation_prompt` and the variables of `extra` (tools, date_string, ...;
  // they override the file's tokens).
  absl::StatusOr<std::string> Apply(
      const std::vector<ChatMessage>& messages, bool add_generation_prompt,
      const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  const std::string& path() const { return path_; }

 private:
  ChatTemplateFile() = default;

  std::string path_;
  std::shared_ptr<const JinjaTemplate> default_;   // never null after Load
  std::shared_ptr<const JinjaTemplate> tool_use_;  // the "tool_use" template, if the file names one
  nlohmann::ordered_json tokens_;                  // bos_token, eos_token, ... as strings
};

// The chat template of a tokenizer spec as LoadTokenizer takes it (a tokenizer.json path, or its directory):
// the tokenizer_config.json beside it. kFailedPrecondition for "char" (no template), errors of Load
// otherwise.
absl::StatusOr<ChatTemplateFile> LoadTokenizerChatTemplate(const std::string& tokenizer_spec);

// How a single-turn prompt becomes text: kChat FormatPrompt (the fixed plain-text template above), kRaw as
// is, kTokenizer one user turn through a tokenizer_config.json's template with add_generation_prompt.
enum class PromptTemplate { kChat, kRaw, kTokenizer };

// `user_prompt` as text per `kind`. kTokenizer needs `tokenizer_template` (kFailedPrecondition when null);
// a template that fails to render returns its error (naming its file).
absl::StatusOr<std::string> RenderPrompt(const std::string& user_prompt, PromptTemplate kind,
                                         const ChatTemplateFile* tokenizer_template);

// ChatTemplateFile::Load(tokenizer_config_path), then Apply(...).
absl::StatusOr<std::string> ApplyTokenizerConfigChatTemplate(
    const std::string& tokenizer_config_path, const std::vector<ChatMessage>& messages,
    bool add_generation_prompt, const nlohmann::ordered_json& extra = nlohmann::ordered_json::object());

}  // namespace m1rl::model

#endif  // M1RL_MODEL_CHAT_TEMPLATE_H_
