// The verifiers that run untrusted code in the sandbox (domains "code" and "swe"), added to a registry when
// the config enables them. Kept apart from DefaultVerifierRegistry() so that the service and its tests build
// and run on machines without bubblewrap/libseccomp.
#ifndef M1RL_REWARD_SERVICE_SANDBOXED_REGISTRY_H_
#define M1RL_REWARD_SERVICE_SANDBOXED_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/config_reward.pb.h"
#include "reward/service/registry.h"

namespace m1rl::reward {

// When config.code.enabled or config.swe.enabled: resolves reward.sandbox, reward.code and reward.swe,
// starts one sandbox pool (which refuses to start without its required protections) shared by the
// domains and registers "code" and/or "swe"; appends the sandbox's
// protections ("sandbox: name", "sandbox: name(off: why)") to `protections` for GetInfo. Otherwise
// does nothing. Errors: kInvalidArgument naming the config field, kFailedPrecondition when the sandbox
// cannot provide the required protections or the build has no sandbox (no libseccomp).
absl::Status AddSandboxedVerifiers(const config::RewardConfig& config, VerifierRegistry* registry,
                                   std::vector<std::string>* protections);

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_SANDBOXED_REGISTRY_H_
