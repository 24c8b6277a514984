// The reward verifier for domain "code" (REWARDS.md §4): the program is the last complete fenced code
// block (```lang ... ```) of the response after the last </think>; it runs on the tests of the item's
// rl::CodePayload through code_runner.h.
//
// Outcome (status OK unless stated):
//  - no complete code block, or "<think>" without "</think>": verdict NO_ANSWER, correctness 0;
//  - every test ACCEPTED: CORRECT, correctness 1; else INCORRECT, correctness 0, or the fraction of
//    accepted tests when reward.code.partial_credit is on. details = CodeReport::Summary();
//  - INVALID_INPUT naming the field for a missing or malformed item.code;
//  - INFRA_ERROR / RESOURCE_EXHAUSTED / TIMEOUT / CANCELLED from the sandbox pool or the context: no
//    reward (never a 0).
// Thread-safe; Verify() blocks while the program runs.
#ifndef M1RL_REWARD_CODE_CODE_VERIFIER_H_
#define M1RL_REWARD_CODE_CODE_VERIFIER_H_

#include <memory>
#include <string>
#include <string_view>

#include "reward/code/code_runner.h"
#include "reward/sandbox/pool.h"
#include "reward/verifier.h"

namespace m1rl::reward {

inline constexpr std::string_view kCodeVerifierVersion = "code-1";

std::unique_ptr<Verifier> NewCodeVerifier(std::shared_ptr<sandbox::SandboxPool> pool,
                                          code::CodeOptions options);

namespace code {

struct ExtractedCode {
  bool found = false;
  std::string source;  // the block's content without the fence lines
};
ExtractedCode ExtractCode(std::string_view response);

}  // namespace code
}  // namespace m1rl::reward

#endif  // M1RL_REWARD_CODE_CODE_VERIFIER_H_
