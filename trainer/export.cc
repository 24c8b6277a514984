#include "trainer/export.h"

#include <c10/util/Exception.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "model/tokenizer.h"
#include "model/tokenizer_files.h"
#include "trainer/policy.h"

namespace m1rl::trainer {
namespace {

// config.json's bos/eos/pad_token_id from the tokenizer where the policy's config has none (MODEL.md §9:
// copied from the tokenizer), when the id fits the vocabulary; the file keeps SaveHf's formatting.
absl::Status FillTokenIds(const std::string& dir, const model::Tokenizer& tok, int64_t vocab_size) {
  const std::string path = dir + "/config.json";
  M1RL_ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return absl::InternalError(absl::StrCat(path, ": not a JSON object"));
  bool changed = false;
  for (const auto& [key, id] : {std::pair<const char*, int32_t>{"bos_token_id", tok.bos_id()},
                                {"eos_token_id", tok.eos_id()},
                                {"pad_token_id", tok.pad_id()}}) {
    if (id < 0 || id >= vocab_size || !j[key].is_null()) continue;
    j[key] = id;
    changed = true;
  }
  if (!changed) return absl::OkStatus();
  return WriteFileAtomic(path, j.dump(2) + "\n");
}

}  // namespace

int64_t ExportShardBytes(const config::TrainerConfig& t) {
  return t.export_max_shard_bytes() > 0 ? t.export_max_shard_bytes() : kDefaultMaxShardBytes;
}

absl::Status ExportCheckpoint(const std::string& checkpoint_dir, const std::string& out_dir,
                              int64_t max_shard_bytes) {
  try {
    M1RL_ASSIGN_OR_RETURN(std::unique_ptr<model::HybridModel> policy,
                          LoadCheckpointPolicy(checkpoint_dir, at::kCPU));
    M1RL_ASSIGN_OR_RETURN(const config::RunConfig cfg, ReadCheckpointConfig(checkpoint_dir));
    return ExportHf(*policy, RunTokenizerSpec(cfg.model()), out_dir, max_shard_bytes);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("export of ", checkpoint_dir, ": ", e.what_without_backtrace()));
  }
}

std::string RunTokenizerSpec(const config::ModelConfig& m) {
  return m.tokenizer().empty() ? model::DefaultTokenizerSpec(m.init_from()) : m.tokenizer();
}

absl::Status ExportHf(const model::HybridModel& policy, const std::string& spec, const std::string& out_dir,
                      int64_t max_shard_bytes) {
  M1RL_ASSIGN_OR_RETURN(const std::unique_ptr<model::Tokenizer> tok, model::LoadTokenizer(spec));
  const model::ModelConfig& c = policy.config();
  if (c.rope_dims() < c.head_dim) {
    M1RL_LOG(WARNING)
        << "export: RoPE convention m1 rotates " << c.rope_dims() << " of " << c.head_dim
        << " head dims; transformers 5.x rotates the whole head, so it computes another function "
        << "with these weights (vLLM and MiniMax-M1's code match; train with "
        << "model.rope_convention: hf for transformers)";
  }
  M1RL_RETURN_IF_ERROR(policy.SaveHf(out_dir, max_shard_bytes));
  M1RL_RETURN_IF_ERROR(FillTokenIds(out_dir, *tok, policy.config().vocab_size));
  return model::WriteTokenizerFiles(*tok, spec, out_dir);
}

}  // namespace m1rl::trainer
