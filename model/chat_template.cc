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

absl::StatusOr<std::shared_ptr<const JinjaTemplate>> ParseNamed(const std::string& source,
                                                                const std::string& path,
                                                                const std::string& what) {
  absl::StatusOr<JinjaTemplate> t = JinjaTemplate::Parse(source);
  if (!t.ok()) return internal::Annotate(t.status(), absl::StrCat(path, ": ", what));
  return std::make_shared<const JinjaTemplate>(*std::move(t));
}

}  // namespace

absl::StatusOr<ChatTemplateFile> ChatTemplateFile::Load(const std::string& tokenizer_config_path) {
  const std::string& path = tokenizer_config_path;
  M1RL_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const nlohmann::json config = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a JSON object"));
  }
  ChatTemplateFile file;
  file.path_ = path;
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) {
    const std::string sibling = (std::filesystem::path(path).parent_path() / "chat_template.jinja").string();
    if (!std::filesystem::exists(sibling)) {
      return absl::NotFoundError(
          absl::StrCat(path, " has no \"chat_template\" (nor is there a ", sibling, ")"));
    }
    M1RL_ASSIGN_OR_RETURN(std::string source, ReadFile(sibling));
    M1RL_ASSIGN_OR_RETURN(file.default_, ParseNamed(source, sibling, "chat template"));
  } else if (it->is_string()) {
    M1RL_ASSIGN_OR_RETURN(file.default_, ParseNamed(it->get<std::string>(), path, "chat_template"));
  } else if (it->is_array()) {
    for (const nlohmann::json& named : *it) {
      if (!named.is_object() || !named.contains("name") || !named.contains("template") ||
          !named["template"].is_string() || !named["name"].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": \"chat_template\" list entries must be {\"name\", \"template\"}"));
      }
      const std::string name = named["name"].get<std::string>();
      if (name != "default" && name != "tool_use") continue;
      M1RL_ASSIGN_OR_RETURN(auto t, ParseNamed(named["template"].get<std::string>(), path,
                                               absl::StrCat("chat_template \"", name, "\"")));
      (name == "default" ? file.default_ : file.tool_use_) = std::move(t);
    }
    if (file.default_ == nullptr) {
      return absl::NotFoundError(absl::StrCat(path, ": \"chat_template\" has no template named \"default\""));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": \"chat_template\" is neither a string nor a list"));
  }
  file.tokens_ = nlohmann::ordered_json::object();
  for (const char* key :
       {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"}) {
    const auto tok = config.find(key);
    if (tok == config.end()) continue;
    if (tok->is_string()) file.tokens_[key] = *tok;
    if (tok->is_object() && tok->contains("content") && (*tok)["content"].is_string()) {
      file.tokens_[key] = (*tok)["content"];
    }
  }
  return file;
}

absl::StatusOr<std::string> ChatTemplateFile::Apply(const std::vector<ChatMessage>& messages,
                                                    bool add_generation_prompt,
                                                    const nlohmann::ordered_json& extra) const {
  if (!extra.is_object()) return absl::InvalidArgumentError("chat template variables must be a JSON object");
  nlohmann::ordered_json context = tokens_;
  for (const auto& [k, v] : extra.items()) context[k] = v;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  context["messages"] = std::move(list);
  context["add_generation_prompt"] = add_generation_prompt;
  const bool tools = extra.contains("tools") && !extra["tools"].is_null();
  const JinjaTemplate& t = tools && tool_use_ != nullptr ? *tool_use_ : *default_;
  absl::StatusOr<std::string> rendered = t.Render(context);
  if (!rendered.ok()) return internal::Annotate(rendered.status(), absl::StrCat(path_, ": chat_template"));
  return rendered;
}

absl::StatusOr<std::string> RenderPrompt(const std::string& user_prompt, PromptTemplate kind,
                                         const ChatTemplateFile* tokenizer_template) {
  switch (kind) {
    case PromptTemplate::kChat:
      return FormatPrompt(user_prompt);
    case PromptTemplate::kRaw:
      return user_prompt;
    case PromptTemplate::kTokenizer:
      break;
  }
  if (tokenizer_template == nullptr) {
    return absl::FailedPreconditionError("prompt template 'tokenizer' without a loaded chat template");
  }
  return tokenizer_template->Apply({{"user", user_prompt}}, /*add_generation_prompt=*/true);
}

absl::StatusOr<ChatTemplateFile> LoadTokenizerChatTemplate(const std::string& tokenizer_spec) {
  if (tokenizer_spec.empty() || tokenizer_spec == "char") {
    return absl::FailedPreconditionError(
        "the character tokenizer has no chat template (a tokenizer.json with a tokenizer_config.json beside "
        "it "
        "has)");
  }
  const std::filesystem::path spec(tokenizer_spec);
  const std::filesystem::path dir = std::filesystem::is_directory(spec) ? spec : spec.parent_path();
  return ChatTemplateFile::Load((dir / "tokenizer_config.json").string());
}

absl::StatusOr<std::string> ApplyTokenizerConfigChatTemplate(const std::string& tokenizer_config_path,
                                                             const std::vector<ChatMessage>& messages,
                                                             bool add_generation_prompt,
                                                             const nlohmann::ordered_json& extra) {
  M1RL_ASSIGN_OR_RETURN(ChatTemplateFile file, ChatTemplateFile::Load(tokenizer_config_path));
  return file.Apply(messages, add_generation_prompt, extra);
}

}  // namespace m1rl::model
