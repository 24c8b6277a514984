#include "model/tokenizer_files.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace m1rl::model {
namespace {

namespace fs = std::filesystem;

absl::Status WriteJson(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("error writing ", path));
  return absl::OkStatus();
}

// The id's text, or null when the tokenizer has no such token (id -1).
nlohmann::json TokenText(const Tokenizer& tok, int32_t id) {
  if (id < 0) return nullptr;
  return tok.Decode({id});
}

nlohmann::json TokenId(int32_t id) { return id < 0 ? nlohmann::json(nullptr) : nlohmann::json(id); }

// The char tokenizer as a tokenizer.json: its three specials as added tokens, "\n" and printable ASCII as a
// BPE vocabulary without merges, no normalizer and no pre-tokenizer (the text is one word, split into its
// characters; one outside the vocabulary has no unk_token and is dropped, as CharTokenizer drops it), and a
// Fuse decoder (the tokens' text concatenated).
nlohmann::json CharTokenizerJson(const Tokenizer& tok) {
  nlohmann::json added = nlohmann::json::array();
  nlohmann::json vocab = nlohmann::json::object();
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string text = tok.Decode({id});
    const bool special = id == tok.pad_id() || id == tok.bos_id() || id == tok.eos_id();
    if (special) {
      added.push_back({{"id", id},
                       {"content", text},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}});
    }
    vocab[text] = id;
  }
  nlohmann::json model = {{"type", "BPE"},
                          {"dropout", nullptr},
                          {"unk_token", nullptr},
                          {"continuing_subword_prefix", nullptr},
                          {"end_of_word_suffix", nullptr},
                          {"fuse_unk", false},
                          {"byte_fallback", false},
                          {"ignore_merges", false},
                          {"vocab", vocab},
                          {"merges", nlohmann::json::array()}};
  return {{"version", "1.0"},          {"truncation", nullptr},         {"padding", nullptr},
          {"added_tokens", added},     {"normalizer", nullptr},         {"pre_tokenizer", nullptr},
          {"post_processor", nullptr}, {"decoder", {{"type", "Fuse"}}}, {"model", model}};
}

absl::Status CopyTokenizerJson(const std::string& spec, const fs::path& target) {
  std::error_code ec;
  if (!fs::is_regular_file(spec, ec))
    return absl::NotFoundError(absl::StrCat("tokenizer file ", spec, " not found"));
  if (fs::equivalent(spec, target, ec)) return absl::OkStatus();
  fs::copy_file(spec, target, fs::copy_options::overwrite_existing, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("copying ", spec, " to ", target.string(), ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

std::string CharTokenizerJsonString() { return CharTokenizerJson(CharTokenizer()).dump(2); }

const char kChatTemplateJinja[] =
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

std::string DefaultTokenizerSpec(const std::string& model_dir) {
  if (model_dir.empty()) return "char";
  const fs::path file = fs::path(model_dir) / "tokenizer.json";
  std::error_code ec;
  return fs::is_regular_file(file, ec) ? file.string() : "char";
}

absl::Status WriteTokenizerFiles(const Tokenizer& tok, const std::string& spec, const std::string& dir) {
  const bool is_char = spec.empty() || spec == "char";
  const fs::path target = fs::path(dir) / "tokenizer.json";
  M1RL_RETURN_IF_ERROR(is_char ? WriteJson(target.string(), CharTokenizerJson(tok))
                               : CopyTokenizerJson(spec, target));
  nlohmann::json config = {{"chat_template", kChatTemplateJinja},
                           {"bos_token", TokenText(tok, tok.bos_id())},
                           {"eos_token", TokenText(tok, tok.eos_id())},
                           {"pad_token", TokenText(tok, tok.pad_id())},
                           {"tokenizer_class", "PreTrainedTokenizerFast"}};
  const std::string d = dir + "/";
  if (absl::Status s = WriteJson(d + "tokenizer_config.json", config); !s.ok()) return s;
  return WriteJson(d + "generation_config.json", {{"bos_token_id", TokenId(tok.bos_id())},
                                                  {"eos_token_id", TokenId(tok.eos_id())},
                                                  {"pad_token_id", TokenId(tok.pad_id())}});
}

}  // namespace m1rl::model
