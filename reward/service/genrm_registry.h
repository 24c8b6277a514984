// Domain "general" (the generative reward model, reward/genrm), added to a registry when reward.genrm is
// enabled. Kept apart from DefaultVerifierRegistry() so that the rule-based service does not link libcurl.
#ifndef M1RL_REWARD_SERVICE_GENRM_REGISTRY_H_
#define M1RL_REWARD_SERVICE_GENRM_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/config_reward.pb.h"
#include "reward/genrm/genrm.h"
#include "reward/genrm/judge.h"
#include "reward/service/registry.h"

namespace m1rl::reward {

// Builds the judge of backend in_process (reward/genrm/engine_judge.h: EngineJudge::FromConfig). Supplied by
// binaries that link the rollout engine (LibTorch), so that the service itself does not (S2).
using InProcessJudgeFactory =
    std::function<absl::StatusOr<std::shared_ptr<genrm::Judge>>(const config::GenrmConfig& config)>;

// The GenRm that reward.genrm describes (enabled or not): the section validated (swiss and length_bias
// included), options resolved, judge backend built; *where
// gets the endpoint URL or "in_process". Errors as AddGenrmVerifier's.
absl::StatusOr<std::shared_ptr<const genrm::GenRm>> NewGenRmFromConfig(
    const config::GenrmConfig& config, const InProcessJudgeFactory& in_process, std::string* where);

// When config.genrm.enabled: resolves reward.genrm (and its backend's section), builds the judge backend
// and registers "general"; appends "genrm: <version> via <url or in_process>" to `notes` (GetInfo
// protections). Otherwise does nothing. Errors: kInvalidArgument naming the config field (backend unset, bad
// values), kNotFound for a missing api_key_file, kFailedPrecondition for backend in_process without a
// factory, the factory's errors. An OpenAI endpoint is not contacted here: an unreachable judge shows as
// INFRA_ERROR / TIMEOUT items.
absl::Status AddGenrmVerifier(const config::RewardConfig& config, VerifierRegistry* registry,
                              std::vector<std::string>* notes,
                              const InProcessJudgeFactory& in_process = nullptr);

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_GENRM_REGISTRY_H_
