#include "rollout/prompt_file.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/chat_template.h"

namespace m1rl::rollout {

absl::StatusOr<GenerationRequest> MakeGenerationRequest(const std::string& user_prompt, std::string prompt_id,
                                                        std::string domain, uint64_t seed_index,
                                                        const model::Tokenizer& tokenizer,
                                                        const PromptFileOptions& options) {
  GenerationRequest r;
  M1RL_ASSIGN_OR_RETURN(
      r.prompt, model::RenderPrompt(user_prompt, options.prompt_template, options.tokenizer_template.get()));
  r.prompt_id = std::move(prompt_id);
  r.domain = std::move(domain);
  r.prompt_token_ids = tokenizer.Encode(r.prompt);
  const int32_t bos = tokenizer.bos_id();
  if (bos >= 0 && (r.prompt_token_ids.empty() || r.prompt_token_ids.front() != bos)) {
    r.prompt_token_ids.insert(r.prompt_token_ids.begin(), bos);
  }
  r.n = options.n;
  r.seed = options.seed * 1000003ULL + seed_index;
  r.max_new_tokens = options.max_new_tokens;
  r.sampling = options.sampling;
  return r;
}

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
    std::string id = std::to_string(line_no);
    if (row.contains("id")) id = row["id"].is_string() ? row["id"].get<std::string>() : row["id"].dump();
    std::string domain;
    if (row.contains("domain") && row["domain"].is_string()) domain = row["domain"].get<std::string>();
    absl::StatusOr<GenerationRequest> r =
        MakeGenerationRequest(row["prompt"].get<std::string>(), std::move(id), std::move(domain),
                              static_cast<uint64_t>(line_no), tokenizer, options);
    M1RL_RETURN_IF_ERROR_WITH(r.status(), path, ":", line_no);
    requests.push_back(*std::move(r));
  }
  return requests;
}

}  // namespace m1rl::rollout
