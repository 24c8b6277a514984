// Scoring one rl::ScoreItem synchronously: payload -> VerifyInput, the domain's Verifier, the format
// reward, and the weighted total. The engine's workers and `m1rl verify` both call ScoreItemNow().
//
// Components: correctness comes from the domain's verifier; format always comes from CheckFormat()
// (format_reward.h) with the rules' FormatOptions, require_think OR-ed with the item's
// (ScoreItem.require_think, MathPayload.require_think), so one definition of "format" holds for
// every domain (VerifyOutcome.format is not used). total = correctness_weight * correctness +
// format_weight * format + penalty, and only for status OK (otherwise all zero).
//
// Thread safety: pure functions; the registry must outlive the call.
#ifndef M1RL_REWARD_SERVICE_SCORING_H_
#define M1RL_REWARD_SERVICE_SCORING_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/rl.pb.h"
#include "reward/service/format_reward.h"
#include "reward/service/registry.h"
#include "reward/verifier.h"

namespace m1rl::reward {

struct ScoringRules {
  double correctness_weight = 1.0;
  double format_weight = 0.0;
  FormatOptions format;
};

// The payload of `item` as a VerifyInput: math -> gold, options {rel_tolerance, decimal_places,
// ordered_lists, extract, require_think} (each only when set; the math verifier validates them);
// logic -> gold = instance_json, options {family}; gold -> gold. kInvalidArgument (message naming the
// field: "item.domain", "item.payload", "item.math.gold", ...) when the item is malformed.
absl::StatusOr<VerifyInput> ToVerifyInput(const rl::ScoreItem& item);

// sha256 (hex) over the scoring inputs: domain, prompt, response, payload, require_think and
// `verifier_version`. Deterministic across processes (length-prefixed fields, no proto serialization).
std::string DeriveIdempotencyKey(const rl::ScoreItem& item, std::string_view verifier_version);

// Scores `item` now on the calling thread. Never throws: a verifier exception becomes INTERNAL.
// A verdict the verifier returns after ctx's deadline is still returned (it is deterministic, so the
// engine caches it); callers that must not deliver late verdicts compare against their deadline (the
// engine answers such waiters TIMEOUT).
// Malformed items and unknown domains give INVALID_INPUT. Fills status, retryable, components, total,
// verdict, details (with the normalised forms), verifier_version, run_ms and item_id; leaves
// queue_ms and idempotency_key to the caller.
rl::ScoreResult ScoreItemNow(const VerifierRegistry& registry, const ScoringRules& rules,
                             const rl::ScoreItem& item, const CheckContext& ctx);

// Whether an item status is a deterministic verdict that may be cached and replayed for duplicates
// (OK, INVALID_INPUT); TIMEOUT/CANCELLED/INTERNAL/... are not.
bool IsCacheable(rl::ItemStatus status);
// Whether a client should retry an item that ended with `status` (INTERNAL once, INFRA_ERROR,
// RESOURCE_EXHAUSTED, CANCELLED by the server).
bool IsRetryable(rl::ItemStatus status);

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_SCORING_H_
