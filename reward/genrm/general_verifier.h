// The reward verifier for domain "general" (REWARDS.md §6): a generative reward model judges the final
// segment of the response (the text after the last </think>; "<think>" without "</think>" is a truncated
// trace: NO_ANSWER, correctness 0, no judge call).
//  - gold (item.general.ground_truth, or a bare `gold` payload): five grades, correctness =
//    GradeToReward(grade) in [reward_min, reward_max]; verdict CORRECT for grade >= 4, else INCORRECT;
//  - options["reference"] (item.general.reference): pairwise in both orders, correctness -1/0/+1;
//    CORRECT for +1, else INCORRECT; details say "disagreement" when the orders disagreed.
// options["constraints"] (item.general.constraints, constraints.h) are checked first: a violation is OK,
// INCORRECT, correctness -1 (pairwise) or reward_min (graded), details "constraint failed: ...", no judge
// call. format is 1 when the response has a final segment. The question is item.prompt. Non-OK, never a
// score: INVALID_INPUT (no or both of ground truth and reference, a bad constraint), JUDGE_ERROR (no
// parseable verdict after the retry), TIMEOUT (deadline), CANCELLED, INFRA_ERROR (endpoint faults).
// Thread-safe.
#ifndef M1RL_REWARD_GENRM_GENERAL_VERIFIER_H_
#define M1RL_REWARD_GENRM_GENERAL_VERIFIER_H_

#include <memory>

#include "reward/genrm/genrm.h"
#include "reward/verifier.h"

namespace m1rl::reward {

// REQUIRES: genrm != nullptr.
std::unique_ptr<Verifier> NewGeneralVerifier(std::shared_ptr<const genrm::GenRm> genrm);

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_GENRM_GENERAL_VERIFIER_H_
