// The reward verifier for domain "swe" (REWARDS.md §5): the candidate patch is the last complete fenced
// code block of the response after the last </think> (code::ExtractCode, as domain "code"); it runs on
// the item's rl::SwePayload through swe_runner.h.
//
// Outcome (status OK unless stated), correctness / penalty:
//  - no code block: NO_ANSWER, 0;
//  - RESOLVED: CORRECT, 1;
//  - UNRESOLVED, PATCH_FAILED, PATCH_REJECTED, INVALID_RUN: INCORRECT, 0;
//  - REGRESSION: INCORRECT, correctness = reward.swe.regression_penalty (default -1);
//  - SPOOFED: INCORRECT, correctness = reward.swe.spoof_penalty (default -1);
//  - INVALID_INPUT naming the field for a missing or malformed item.swe;
//  - INFRA_ERROR (sandbox fault, setup failure, a test patch that does not apply) / RESOURCE_EXHAUSTED /
//    TIMEOUT / CANCELLED: no reward, never cached.
// Verdicts are cached (bounded, oldest evicted) by sha256 over (instance_id, snapshot path, base commit,
// candidate patch, test patch, test command, results format, FAIL_TO_PASS, PASS_TO_PASS): responses
// that differ only outside the patch share one run.
// Thread-safe; Verify() blocks while the tests run.
#ifndef M1RL_REWARD_SWE_SWE_VERIFIER_H_
#define M1RL_REWARD_SWE_SWE_VERIFIER_H_

#include <memory>
#include <string_view>

#include "reward/sandbox/pool.h"
#include "reward/swe/swe_runner.h"
#include "reward/verifier.h"

namespace m1rl::reward {

inline constexpr std::string_view kSweVerifierVersion = "swe-1";

std::unique_ptr<Verifier> NewSweVerifier(std::shared_ptr<sandbox::SandboxPool> pool, swe::SweOptions options);

namespace swe {
// The cache key (hex sha256) of a candidate for `payload`.
std::string SweCacheKey(const rl::SwePayload& payload, std::string_view candidate_patch);
}  // namespace swe

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SWE_SWE_VERIFIER_H_
