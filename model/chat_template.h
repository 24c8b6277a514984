// The chat/prompt template used for RL prompts and SFT examples. Plain text, so that the character
// tokenizer can encode it:
//
//   for each message: "<|role|>\n" + content + "\n"; then, if add_generation_prompt, "<|assistant|>\n".
//
// BOS (if the tokenizer has one) is prepended as an id by the caller, not as text; the assistant turn of a
// completion ends with the tokenizer's EOS id.
#ifndef M1RL_MODEL_CHAT_TEMPLATE_H_
#define M1RL_MODEL_CHAT_TEMPLATE_H_

#include <string>
#include <vector>

namespace m1rl::model {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

// Renders `messages` per the template above.
std::string ApplyChatTemplate(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

// A single-turn prompt: an optional system message then the user message, with the generation prompt.
std::string FormatPrompt(const std::string& user, const std::string& system = "");

}  // namespace m1rl::model

#endif  // M1RL_MODEL_CHAT_TEMPLATE_H_
