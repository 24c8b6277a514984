// The interface every reward verifier implements (math, logic, format; later code, SWE, GenRM).
// The reward service (reward/server.h) and the in-process client call verifiers only through it.
//
// Contract: Verify() never throws and never crashes on any input text; malformed *items* (missing or
// unparseable gold, bad options) return status INVALID_INPUT with details naming the field; a check
// that passes ctx.deadline or sees ctx.cancelled() returns TIMEOUT / CANCELLED promptly (within ~100 ms
// of the deadline) instead of a verdict. Only status OK carries correctness/format. Thread-safe: one
// verifier instance is called concurrently from many worker threads.
#ifndef M1RL_REWARD_VERIFIER_H_
#define M1RL_REWARD_VERIFIER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "nlohmann/json.hpp"
#include "proto/rl.pb.h"

namespace m1rl::reward {

using Clock = std::chrono::steady_clock;

// Per-check context: deadline and cooperative cancellation (no signals, REWARDS.md global rules).
struct CheckContext {
  Clock::time_point deadline = Clock::time_point::max();
  const std::atomic<bool>* cancelled = nullptr;  // may be null; owned by the caller

  bool Expired() const { return Clock::now() >= deadline; }
  bool Cancelled() const { return cancelled != nullptr && cancelled->load(std::memory_order_relaxed); }
  // Remaining budget in milliseconds (0 if expired; a large number if unbounded).
  int64_t RemainingMs() const {
    if (deadline == Clock::time_point::max()) return int64_t{1} << 40;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? left : 0;
  }
};

struct VerifyInput {
  std::string domain;  // e.g. "math", "logic", "format"
  std::string prompt;
  std::string response;  // full model output (may include <think>...</think>)
  std::string gold;      // ground truth (math: LaTeX/plain answer; logic: instance JSON)
  nlohmann::json options = nlohmann::json::object();  // per-item options (e.g. rel_tolerance, family)
  // The item itself, for domains whose payload is structured (code: item->code()). May be null (tests,
  // `m1rl verify`); such verifiers then return INVALID_INPUT. Not owned; valid during Verify().
  const rl::ScoreItem* item = nullptr;
};

struct VerifyOutcome {
  rl::ItemStatus status = rl::ITEM_STATUS_UNSPECIFIED;
  rl::Verdict verdict = rl::VERDICT_UNSPECIFIED;
  double correctness = 0.0;  // meaningful only when status == OK
  double format = 0.0;       // meaningful only when status == OK
  std::string details;       // reason / deciding layer / error naming the field
  std::string normalized_gold;
  std::string normalized_pred;

  // An outcome without a verdict (INVALID_INPUT, TIMEOUT, CANCELLED, INTERNAL, INFRA_ERROR, ...).
  static VerifyOutcome NonOk(rl::ItemStatus status, std::string details) {
    VerifyOutcome o;
    o.status = status;
    o.details = std::move(details);
    return o;
  }
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  // The domain name this verifier serves ("math", "logic", ...).
  virtual std::string_view domain() const = 0;
  // A version string that changes whenever verdicts may change (for idempotency keys and caches).
  virtual std::string_view version() const = 0;
  virtual VerifyOutcome Verify(const VerifyInput& input, const CheckContext& ctx) const = 0;
};

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_VERIFIER_H_
