#include "reward/service/sandboxed_registry.h"

#include <memory>
#include <utility>

#include "common/status_macros.h"

#ifdef M1RL_HAVE_SANDBOX
#include "reward/code/code_verifier.h"
#include "reward/sandbox/pool.h"
#endif

namespace m1rl::reward {

absl::Status AddSandboxedVerifiers(const config::RewardConfig& config, VerifierRegistry* registry,
                                   std::vector<std::string>* protections) {
  if (!config.code().enabled()) return absl::OkStatus();
#ifdef M1RL_HAVE_SANDBOX
  M1RL_ASSIGN_OR_RETURN(sandbox::SandboxOptions sandbox_options,
                        sandbox::ResolveSandboxOptions(config.sandbox()));
  M1RL_ASSIGN_OR_RETURN(code::CodeOptions code_options, code::ResolveCodeOptions(config.code()));
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<sandbox::SandboxPool> pool,
                        sandbox::SandboxPool::Create(sandbox_options));
  for (const std::string& p : pool->sandbox().ProtectionSummary()) protections->push_back("sandbox: " + p);
  return registry->Register(NewCodeVerifier(std::move(pool), std::move(code_options)));
#else
  return absl::FailedPreconditionError(
      "reward.code.enabled: this build has no sandbox (libseccomp-dev was not found at configure time)");
#endif
}

}  // namespace m1rl::reward
