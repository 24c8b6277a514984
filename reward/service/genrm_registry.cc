#include "reward/service/genrm_registry.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "reward/genrm/general_verifier.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/openai_judge.h"

namespace m1rl::reward {

absl::Status AddGenrmVerifier(const config::RewardConfig& config, VerifierRegistry* registry,
                              std::vector<std::string>* notes) {
  const config::GenrmConfig& g = config.genrm();
  if (!g.enabled()) return absl::OkStatus();
  M1RL_ASSIGN_OR_RETURN(genrm::GenrmOptions options, genrm::ResolveGenrmOptions(g));
  if (g.backend() != config::GenrmConfig::BACKEND_OPENAI) {
    return absl::InvalidArgumentError("reward.genrm.backend must be set (openai) when reward.genrm.enabled");
  }
  M1RL_ASSIGN_OR_RETURN(genrm::OpenAiJudgeOptions judge_options,
                        genrm::ResolveOpenAiJudgeOptions(g.openai()));
  std::string url = judge_options.url;
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<genrm::OpenAiJudge> judge, genrm::OpenAiJudge::Create(judge_options));
  auto model = std::make_shared<const genrm::GenRm>(std::move(judge), std::move(options));
  notes->push_back(absl::StrCat("genrm: ", model->version(), " via ", url));
  return registry->Register(NewGeneralVerifier(std::move(model)));
}

}  // namespace m1rl::reward
