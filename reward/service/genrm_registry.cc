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
                              std::vector<std::string>* notes, const InProcessJudgeFactory& in_process) {
  const config::GenrmConfig& g = config.genrm();
  if (!g.enabled()) return absl::OkStatus();
  M1RL_ASSIGN_OR_RETURN(genrm::GenrmOptions options, genrm::ResolveGenrmOptions(g));
  std::shared_ptr<genrm::Judge> judge;
  std::string where;
  switch (g.backend()) {
    case config::GenrmConfig::BACKEND_OPENAI: {
      M1RL_ASSIGN_OR_RETURN(genrm::OpenAiJudgeOptions judge_options,
                            genrm::ResolveOpenAiJudgeOptions(g.openai()));
      where = judge_options.url;
      M1RL_ASSIGN_OR_RETURN(judge, genrm::OpenAiJudge::Create(judge_options));
      break;
    }
    case config::GenrmConfig::BACKEND_IN_PROCESS: {
      if (!in_process) {
        return absl::FailedPreconditionError(
            "reward.genrm.backend in_process: this binary cannot serve an in-process judge (m1rl "
            "reward-server can)");
      }
      where = "in_process";
      M1RL_ASSIGN_OR_RETURN(judge, in_process(g));
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "reward.genrm.backend must be set (openai or in_process) when reward.genrm.enabled");
  }
  auto model = std::make_shared<const genrm::GenRm>(std::move(judge), std::move(options));
  notes->push_back(absl::StrCat("genrm: ", model->version(), " via ", where));
  return registry->Register(NewGeneralVerifier(std::move(model)));
}

}  // namespace m1rl::reward
