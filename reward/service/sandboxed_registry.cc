#include "reward/service/sandboxed_registry.h"

#include <memory>
#include <utility>

#include "common/status_macros.h"

#ifdef M1RL_HAVE_SANDBOX
#include "reward/code/code_verifier.h"
#include "reward/sandbox/pool.h"
#include "reward/swe/swe_verifier.h"
#endif

namespace m1rl::reward {

absl::Status AddSandboxedVerifiers(const config::RewardConfig& config, VerifierRegistry* registry,
                                   std::vector<std::string>* protections) {
  if (!config.code().enabled() && !config.swe().enabled()) return absl::OkStatus();
#ifdef M1RL_HAVE_SANDBOX
  M1RL_ASSIGN_OR_RETURN(sandbox::SandboxOptions sandbox_options,
                        sandbox::ResolveSandboxOptions(config.sandbox()));
  code::CodeOptions code_options;
  if (config.code().enabled()) {
    M1RL_ASSIGN_OR_RETURN(code_options, code::ResolveCodeOptions(config.code()));
  }
  swe::SweOptions swe_options;
  if (config.swe().enabled()) {
    M1RL_ASSIGN_OR_RETURN(swe_options, swe::ResolveSweOptions(config.swe()));
  }
  // One pool for both domains: reward.sandbox.slots bounds all sandboxed runs of this process.
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<sandbox::SandboxPool> created,
                        sandbox::SandboxPool::Create(sandbox_options));
  std::shared_ptr<sandbox::SandboxPool> pool = std::move(created);
  for (const std::string& p : pool->sandbox().ProtectionSummary()) protections->push_back("sandbox: " + p);
  if (config.code().enabled()) {
    M1RL_RETURN_IF_ERROR(registry->Register(NewCodeVerifier(pool, std::move(code_options))));
  }
  if (config.swe().enabled()) {
    M1RL_RETURN_IF_ERROR(registry->Register(NewSweVerifier(pool, std::move(swe_options))));
  }
  return absl::OkStatus();
#else
  return absl::FailedPreconditionError(
      "reward.code.enabled / reward.swe.enabled: this build has no sandbox (libseccomp-dev was not found at "
      "configure time)");
#endif
}

}  // namespace m1rl::reward
