#include "rollout/prompt_file.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/chat_template.h"

namespace m1rl::rollout {

absl::StatusOr<std::vector<GenerationRequest>> ReadPromptFile(const std::string& path,
                                                              const model::Tokenizer& tokenizer,
                                                              const PromptFileOptions& options) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open prompts file ", path));
  std::vector<GenerationRequest> requests;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded() || !row.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": not a JSON object"));
    }
    if (!row.contains("prompt") || !row["prompt"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": missing string field \"prompt\""));
    }
    GenerationRequest r;
    const std::string user = row["prompt"].get<std::string>();
    r.prompt = options.chat_template ? model::FormatPrompt(user) : user;
    if (row.contains("id")) {
      r.prompt_id = row["id"].is_string() ? row["id"].get<std::string>() : row["id"].dump();
    } else {
      r.prompt_id = std::to_string(line_no);
    }
    if (row.contains("domain") && row["domain"].is_string()) r.domain = row["domain"].get<std::string>();
    r.prompt_token_ids = tokenizer.Encode(r.prompt);
    const int32_t bos = tokenizer.bos_id();
    if (bos >= 0 && (r.prompt_token_ids.empty() || r.prompt_token_ids.front() != bos)) {
      r.prompt_token_ids.insert(r.prompt_token_ids.begin(), bos);
    }
    r.n = options.n;
    r.seed = options.seed * 1000003ULL + static_cast<uint64_t>(line_no);
    r.max_new_tokens = options.max_new_tokens;
    r.sampling = options.sampling;
    requests.push_back(std::move(r));
  }
  return requests;
}

}  // namespace m1rl::rollout
