#include "reward/service/genrm_registry.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "reward/genrm/general_verifier.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/length_bias.h"
#include "reward/genrm/openai_judge.h"
#include "reward/genrm/swiss.h"

namespace m1rl::reward {

absl::StatusOr<std::shared_ptr<const genrm::GenRm>> NewGenRmFromConfig(
    const config::GenrmConfig& g, const InProcessJudgeFactory& in_process, std::string* where) {
  M1RL_ASSIGN_OR_RETURN(genrm::GenrmOptions options, genrm::ResolveGenrmOptions(g));
  // The whole section is checked here, so that a server refuses a bad tournament or monitor setting at start.
  M1RL_RETURN_IF_ERROR(genrm::ResolveSwissOptions(g.swiss()).status());
  M1RL_RETURN_IF_ERROR(genrm::ResolveLengthBiasOptions(g.length_bias()).status());
  std::shared_ptr<genrm::Judge> judge;
  switch (g.backend()) {
    case config::GenrmConfig::BACKEND_OPENAI: {
      M1RL_ASSIGN_OR_RETURN(genrm::OpenAiJudgeOptions judge_options,
                            genrm::ResolveOpenAiJudgeOptions(g.openai()));
      *where = absl::StrJoin(judge_options.urls, ",");
      M1RL_ASSIGN_OR_RETURN(judge, genrm::OpenAiJudge::Create(judge_options));
      break;
    }
    case config::GenrmConfig::BACKEND_IN_PROCESS: {
      if (!in_process) {
        return absl::FailedPreconditionError(
            "reward.genrm.backend in_process: this binary cannot serve an in-process judge (m1rl "
            "reward-server can)");
      }
      *where = "in_process";
      M1RL_ASSIGN_OR_RETURN(judge, in_process(g));
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "reward.genrm.backend must be set (openai or in_process) when reward.genrm.enabled");
  }
  return std::make_shared<const genrm::GenRm>(std::move(judge), std::move(options));
}

absl::Status AddGenrmVerifier(const config::RewardConfig& config, VerifierRegistry* registry,
                              std::vector<std::string>* notes, const InProcessJudgeFactory& in_process) {
  if (!config.genrm().enabled()) return absl::OkStatus();
  std::string where;
  M1RL_ASSIGN_OR_RETURN(std::shared_ptr<const genrm::GenRm> model,
                        NewGenRmFromConfig(config.genrm(), in_process, &where));
  notes->push_back(absl::StrCat("genrm: ", model->version(), " via ", where));
  return registry->Register(NewGeneralVerifier(std::move(model)));
}

}  // namespace m1rl::reward
