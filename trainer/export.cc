#include "trainer/export.h"

#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/tokenizer.h"
#include "model/tokenizer_files.h"
#include "trainer/policy.h"

namespace m1rl::trainer {

absl::Status ExportCheckpoint(const std::string& checkpoint_dir, const std::string& out_dir) {
  try {
    M1RL_ASSIGN_OR_RETURN(std::unique_ptr<model::HybridModel> policy,
                          LoadCheckpointPolicy(checkpoint_dir, at::kCPU));
    M1RL_ASSIGN_OR_RETURN(const config::RunConfig cfg, ReadCheckpointConfig(checkpoint_dir));
    return ExportHf(*policy, RunTokenizerSpec(cfg.model()), out_dir);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("export of ", checkpoint_dir, ": ", e.what_without_backtrace()));
  }
}

std::string RunTokenizerSpec(const config::ModelConfig& m) {
  return m.tokenizer().empty() ? model::DefaultTokenizerSpec(m.init_from()) : m.tokenizer();
}

absl::Status ExportHf(const model::HybridModel& policy, const std::string& spec, const std::string& out_dir) {
  M1RL_ASSIGN_OR_RETURN(const std::unique_ptr<model::Tokenizer> tok, model::LoadTokenizer(spec));
  M1RL_RETURN_IF_ERROR(policy.SaveHf(out_dir));
  return model::WriteTokenizerFiles(*tok, spec, out_dir);
}

}  // namespace m1rl::trainer
