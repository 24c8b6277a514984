// The math verifier (REWARDS.md §2): Verifier for domain "math".
//
//   auto v = NewMathVerifier({});
//   VerifyOutcome o = v->Verify({.domain = "math", .response = "... \\boxed{\\frac12}", .gold = "0.5"}, ctx);
//
// Outcome: status OK with verdict CORRECT | INCORRECT | NO_ANSWER, correctness 1/0, format 1/0 and details
// "layer=<deciding layer> reason=<...> source=<boxed|answer_line|...>"; normalized_gold/pred are the
// canonical printed ASTs. Non-OK statuses: INVALID_INPUT (empty or unparseable gold, "GOLD_UNPARSEABLE",
// or bad per-item options, naming the field), TIMEOUT (ctx.deadline or the CAS budget passed: the CAS
// worker is killed), CANCELLED (ctx.cancelled), INTERNAL (a CAS worker crashed or could not be forked).
// INCORRECT reasons include too_complex (span > 2 KB, > 2000 nodes, values > 1e5 digits), units
// (different units), pred_unparseable, undecided (no layer decided: counted, a suspected false negative).
//
// Per-item options (VerifyInput.options, all optional; any other key is INVALID_INPUT):
//   "rel_tolerance":  number in [0, 1) (layer 4; 0 = MathVerifierOptions::default_rel_tolerance, as in
//                     rl.MathPayload)
//   "decimal_places": integer in [0, 15] (layer 4 instead of rel_tolerance: equal iff both values round
//                     to the same number at that many places, half away from zero; not with rel_tolerance)
//   "ordered_lists":  bool (bare lists, and several boxes forming a collection, compare in order; sets
//                     stay unordered)
//   "require_think":  bool (format needs a leading <think>...</think>)
//   "extract":        "rl" | "eval" (extract.h ExtractMode: eval also takes the last bare expression)
//   "answer_form":    "boxed" | "any" (which extraction counts as the required form for format)
// Format = 1 iff the answer came in the required form, no distinct second boxed answer exists (hedging;
// when the gold is a collection, distinct boxes together are the predicted collection instead), and the
// think block is present when required. The total (correctness + 0.1 * format) is the service's.
//
// Thread-safety: Verify() is called concurrently from many threads; the CAS layers run in a pool of
// pre-forked processes (cas_pool.h), which NewMathVerifier forks immediately. If the pool cannot be
// created, checks that need the CAS return INTERNAL naming the failed syscall; the others still work.
// REQUIRES: no Verify() in flight when the verifier is destroyed.
#ifndef M1RL_REWARD_MATH_MATH_VERIFIER_H_
#define M1RL_REWARD_MATH_MATH_VERIFIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "reward/math/extract.h"
#include "reward/verifier.h"

namespace m1rl::reward {

struct MathVerifierOptions {
  int cas_workers = 0;                 // CAS worker processes (one GiNaC job each); 0 = hardware threads
  int64_t cas_memory_limit_mb = 1024;  // RLIMIT_AS headroom per worker; 0 = unlimited
  int64_t cas_timeout_ms = 2000;       // CAS budget per check (also bounded by ctx.deadline)
  double default_rel_tolerance = 1e-6;
  bool default_require_think = false;
  math::ExtractMode default_extract = math::ExtractMode::kRl;
};

// Counters since creation, for metrics (undecided = suspected false negatives).
struct MathVerifierCounters {
  int64_t checks = 0;
  int64_t undecided = 0;
  int64_t timeouts = 0;
  int64_t cas_restarts = 0;
};

std::unique_ptr<Verifier> NewMathVerifier(const MathVerifierOptions& options);

// check_gold (MiniMax-M1 §4.1: the reference must parse in the checker): OK iff `gold` parses as a
// math answer; else kInvalidArgument "gold unparseable (GOLD_UNPARSEABLE): ..." (or "gold is empty").
// Thread-safe; no CAS needed. Use it to filter datasets before training.
absl::Status CheckMathGold(std::string_view gold);

// Counters of a verifier made by NewMathVerifier; zeros for any other Verifier.
MathVerifierCounters GetMathVerifierCounters(const Verifier& v);

// The verifier version (changes whenever verdicts may change).
inline constexpr char kMathVerifierVersion[] = "math-1.1";

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_MATH_MATH_VERIFIER_H_
