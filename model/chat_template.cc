#include "model/chat_template.h"

namespace m1rl::model {

std::string ApplyChatTemplate(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& m : messages) {
    out += "<|" + m.role + "|>\n" + m.content + "\n";
  }
  if (add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

std::string FormatPrompt(const std::string& user, const std::string& system) {
  std::vector<ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", system});
  messages.push_back({"user", user});
  return ApplyChatTemplate(messages, /*add_generation_prompt=*/true);
}

}  // namespace m1rl::model
