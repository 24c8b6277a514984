// RewardClient: how the trainer scores completions. Two modes (config::RewardConfig.mode):
//  - "grpc": unary Score calls to `address`, one item per call, at most max_in_flight in flight.
//  - "in_process": the same ScoringEngine and verifiers in this process (DefaultVerifierRegistry, or
//    the engine given to CreateInProcess), no network.
//
// Every item gets an idempotency key before its first attempt (DeriveIdempotencyKey when empty), so
// retries of a completion are deduplicated by the server. Each attempt has deadline_ms. Retried, with
// exponential backoff (retry_backoff_ms doubled per attempt, capped at 2 s, jittered to [0.5, 1]x,
// never below the server's retry-after hint): UNAVAILABLE (server down or restarting), CANCELLED by
// the server, RESOURCE_EXHAUSTED (queue full), per-item INFRA_ERROR/RESOURCE_EXHAUSTED/CANCELLED,
// and INTERNAL once. Retries stop after give_up_after_ms from the first attempt (or max_retries), and
// the item is answered INFRA_ERROR (retryable) naming the last error: never silently dropped, never
// scored as zero. An attempt that exceeds its deadline is answered TIMEOUT.
//
// Defaults for zero config fields: the kDefault* constants below, max_retries unbounded, in_process_workers
// the hardware threads; both weights 0 -> correctness 1, format 0. In grpc
// mode the weights and format rules are the server's (its flags); config.require_think is sent per item.
//
// Thread safety: all methods are thread-safe. Callbacks run on client-internal threads (gRPC's, the
// retry timer's, or an engine worker's), possibly inline inside ScoreAsync; they must not block for
// long and may call ScoreAsync. The destructor Drain()s.
#ifndef M1RL_REWARD_SERVICE_CLIENT_H_
#define M1RL_REWARD_SERVICE_CLIENT_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"
#include "proto/rl.pb.h"
#include "reward/service/engine.h"

namespace m1rl::reward {

inline constexpr int64_t kDefaultDeadlineMs = 30000;     // reward.deadline_ms = 0
inline constexpr int32_t kDefaultMaxInFlight = 256;      // reward.max_in_flight = 0
inline constexpr int64_t kDefaultRetryBackoffMs = 50;    // reward.retry_backoff_ms = 0
inline constexpr int64_t kDefaultGiveUpAfterMs = 60000;  // reward.give_up_after_ms = 0
inline constexpr int32_t kDefaultQueueCapacity = 4096;   // reward.queue_capacity = 0 (in_process)

class RewardClient {
 public:
  using Done = std::function<void(const rl::ScoreResult&)>;

  // The reward.* section's one validation (the checks Create applies): kInvalidArgument naming the
  // field for an unset mode, a missing address in grpc mode or negative numbers.
  static absl::Status ValidateConfig(const config::RewardConfig& config);

  // kInvalidArgument naming the field for an unknown mode, a missing address in grpc mode or negative
  // numbers. grpc mode does not connect here (the first call does, with retries).
  static absl::StatusOr<std::unique_ptr<RewardClient>> Create(const config::RewardConfig& config);
  // Create() for mode "grpc" regardless of config.mode (target m1rl::reward_client_core, which does not
  // link the math/logic verifiers; Create() lives in m1rl::reward_client).
  static absl::StatusOr<std::unique_ptr<RewardClient>> CreateGrpc(const config::RewardConfig& config);
  // In-process client over an existing engine (tests, benchmarks, a trainer that owns its verifiers).
  static absl::StatusOr<std::unique_ptr<RewardClient>> CreateInProcess(const config::RewardConfig& config,
                                                                       std::shared_ptr<ScoringEngine> engine);
  ~RewardClient();
  RewardClient(const RewardClient&) = delete;
  RewardClient& operator=(const RewardClient&) = delete;

  // Never drops: `done` is called exactly once per item, with OK or a non-OK status after
  // retries/deadline.
  void ScoreAsync(rl::ScoreItem item, Done done);
  // Blocking: results in item order, each with its own status (per-item failures are results, so this
  // returns OK for any input today; the StatusOr is the trainer-facing contract).
  absl::StatusOr<std::vector<rl::ScoreResult>> ScoreBatch(std::vector<rl::ScoreItem> items);
  // Waits for all outstanding ScoreAsync callbacks.
  void Drain();
  // Server (or in-process engine) counters; one attempt with deadline_ms.
  absl::StatusOr<rl::InfoResponse> GetInfo();

  struct Stats {
    int64_t attempts = 0;
    int64_t retries = 0;
    int64_t gave_up = 0;
  };
  Stats stats() const;

 private:
  struct Pending;
  struct Resolved {
    std::string mode;
    std::string address;
    int64_t deadline_ms;
    int max_in_flight;
    int64_t max_retries;
    int64_t retry_backoff_ms;
    int64_t give_up_after_ms;
    bool require_think;
  };
  class Transport;
  class GrpcTransport;
  class InProcessTransport;

  RewardClient(Resolved config, std::unique_ptr<Transport> transport);
  static absl::StatusOr<Resolved> Resolve(const config::RewardConfig& config);
  void Pump();
  void StartAttempt(std::shared_ptr<Pending> p);
  // Called once per attempt with its outcome: a result to deliver or retry, or an RPC-level failure.
  void OnAttemptResult(std::shared_ptr<Pending> p, rl::ScoreResult result);
  void OnAttemptError(std::shared_ptr<Pending> p, rl::ItemStatus status, bool retryable,
                      int64_t retry_after_ms, std::string error);
  void RetryOrFinish(std::shared_ptr<Pending> p, rl::ScoreResult final_if_no_retry, int64_t retry_after_ms);
  void Finish(const std::shared_ptr<Pending>& p, rl::ScoreResult result);
  void TimerLoop();

  const Resolved config_;
  std::unique_ptr<Transport> transport_;

  mutable std::mutex mu_;
  std::condition_variable cv_;                  // drain and timer wake-ups
  std::deque<std::shared_ptr<Pending>> ready_;  // guarded by mu_
  struct Timed {
    Clock::time_point at;
    std::shared_ptr<Pending> p;
    bool operator>(const Timed& o) const { return at > o.at; }
  };
  std::priority_queue<Timed, std::vector<Timed>, std::greater<Timed>> timers_;  // guarded by mu_
  int in_flight_ = 0;                                                           // guarded by mu_
  int64_t outstanding_ = 0;                                                     // guarded by mu_
  bool pumping_ = false;                                                        // guarded by mu_
  bool stopping_ = false;                                                       // guarded by mu_
  uint64_t rng_state_;                                                          // guarded by mu_ (jitter)
  Stats stats_;                                                                 // guarded by mu_
  std::thread timer_;
};

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_CLIENT_H_
