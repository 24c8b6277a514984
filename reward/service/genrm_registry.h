// Domain "general" (the generative reward model, reward/genrm), added to a registry when reward.genrm is
// enabled. Kept apart from DefaultVerifierRegistry() so that the rule-based service does not link libcurl.
#ifndef M1RL_REWARD_SERVICE_GENRM_REGISTRY_H_
#define M1RL_REWARD_SERVICE_GENRM_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/config_reward.pb.h"
#include "reward/service/registry.h"

namespace m1rl::reward {

// When config.genrm.enabled: resolves reward.genrm (and its backend's section), builds the judge backend
// and registers "general"; appends "genrm: <version> via <url>" to `notes` (GetInfo protections). Otherwise
// does nothing. Errors: kInvalidArgument naming the config field (backend unset, bad values), kNotFound for
// a missing api_key_file. The endpoint is not contacted here: an unreachable judge shows as INFRA_ERROR /
// TIMEOUT items.
absl::Status AddGenrmVerifier(const config::RewardConfig& config, VerifierRegistry* registry,
                              std::vector<std::string>* notes);

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_GENRM_REGISTRY_H_
