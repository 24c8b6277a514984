#include "model/chat_template.h"

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "model/jinja.h"

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

namespace {

// The template text of tokenizer_config.json `config` at `path`.
absl::StatusOr<std::string> ChatTemplateSource(const nlohmann::json& config, const std::string& path,
                                               bool want_tools) {
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) {
    const std::string sibling = (std::filesystem::path(path).parent_path() / "chat_template.jinja").string();
    if (std::filesystem::exists(sibling)) return ReadFile(sibling);
    return absl::NotFoundError(
        absl::StrCat(path, " has no \"chat_template\" (nor is there a ", sibling, ")"));
  }
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": \"chat_template\" is neither a string nor a list"));
  }
  std::string fallback;
  for (const nlohmann::json& named : *it) {
    if (!named.is_object() || !named.contains("name") || !named.contains("template") ||
        !named["template"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": \"chat_template\" list entries must be {\"name\", \"template\"}"));
    }
    if (named["name"] == (want_tools ? "tool_use" : "default")) return named["template"].get<std::string>();
    if (named["name"] == "default") fallback = named["template"].get<std::string>();
  }
  if (fallback.empty()) {
    return absl::NotFoundError(absl::StrCat(path, ": \"chat_template\" has no template named \"default\""));
  }
  return fallback;
}

}  // namespace

absl::StatusOr<std::string> ApplyTokenizerConfigChatTemplate(const std::string& tokenizer_config_path,
                                                             const std::vector<ChatMessage>& messages,
                                                             bool add_generation_prompt,
                                                             const nlohmann::ordered_json& extra) {
  const std::string& path = tokenizer_config_path;
  M1RL_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const nlohmann::json config = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a JSON object"));
  }
  if (!extra.is_object()) return absl::InvalidArgumentError("chat template variables must be a JSON object");
  const bool want_tools = extra.contains("tools") && !extra["tools"].is_null();
  M1RL_ASSIGN_OR_RETURN(std::string source, ChatTemplateSource(config, path, want_tools));
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  for (const char* key :
       {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"}) {
    const auto it = config.find(key);
    if (it == config.end()) continue;
    if (it->is_string()) variables[key] = *it;
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
      variables[key] = (*it)["content"];
  }
  for (const auto& [k, v] : extra.items()) variables[k] = v;
  absl::StatusOr<std::string> rendered =
      RenderChatTemplate(source, messages, add_generation_prompt, variables);
  if (!rendered.ok()) return internal::Annotate(rendered.status(), absl::StrCat(path, ": chat_template"));
  return rendered;
}

}  // namespace m1rl::model
