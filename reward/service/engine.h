// ScoringEngine: the reward service's core, shared by the gRPC server and the in-process client.
// A fixed pool of worker threads runs verifiers (scoring.h) from one bounded FIFO queue.
//
//  - Admission (Submit) is all-or-nothing per call: if the queue cannot take every new job of the call
//    it returns kResourceExhausted (message carries the retry hint, also in retry_after_ms()) and no
//    callback runs. Items answered without a worker (malformed, cached, joined to a running duplicate)
//    take no queue slot.
//  - Deadlines: an item's deadline is min(call deadline, enqueue time + item.deadline_ms); when both are
//    unbounded, options.default_item_deadline_ms applies. Queue time counts. At the deadline the item is
//    answered TIMEOUT by the reaper thread (within ~reaper period) whether or not its check is still
//    running; the check sees ctx.Expired() and, if it honours it, frees its worker.
//  - Cancellation: CallHandle::Cancel() answers the call's pending items CANCELLED; a job whose every
//    waiter is gone is removed from the queue, or its running check gets ctx.cancelled set.
//  - Idempotency: items with equal keys (ScoreItem.idempotency_key, or DeriveIdempotencyKey when empty)
//    run once: a duplicate joins the queued/running job, or is answered from an LRU of deterministic
//    results (OK, INVALID_INPUT) bounded by cache_capacity and cache_ttl_ms.
//  - Counters: Info() (requests, items, per-domain verdicts, p50/p99 latency over the last 4096 answered
//    items, queue depth, in-flight checks, rejections, timeouts).
//
// Callbacks: `done(index, result)` runs exactly once per item of an admitted call, on the submitting
// thread (inline, before Submit returns), a worker or the reaper; never with an engine lock held, so it
// may call Submit. It must not block for long: it delays other answers.
//
// Thread safety: all methods are thread-safe. The destructor cancels queued work, waits for running
// checks to return, and answers every pending item (CANCELLED).
#ifndef M1RL_REWARD_SERVICE_ENGINE_H_
#define M1RL_REWARD_SERVICE_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/rl.pb.h"
#include "reward/service/registry.h"
#include "reward/service/scoring.h"

namespace m1rl::reward {

struct EngineOptions {
  int num_workers = 4;
  int queue_capacity = 1024;                 // jobs waiting for a worker (running ones excluded)
  ScoringRules rules;                        // weights and format options
  size_t cache_capacity = 100000;            // idempotency LRU entries
  int64_t cache_ttl_ms = 15 * 60 * 1000;     // REWARDS.md §7: 15-min LRU
  int64_t retry_after_ms = 50;               // hint returned with kResourceExhausted
  int64_t default_item_deadline_ms = 30000;  // when neither the call nor the item sets one
  int64_t reaper_period_ms = 5;
  std::string server_version = "m1rl-reward-1";
  std::vector<std::string> protections;  // extra GetInfo protections (the sandbox's, when it runs code)
};

// Shared by the items of one call (an RPC, a stream). Cancel() is sticky and idempotent.
class CallHandle {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

class ScoringEngine {
 public:
  using ItemCallback = std::function<void(size_t index, rl::ScoreResult result)>;

  // kInvalidArgument naming the option for num_workers < 1, queue_capacity < 1, negative weights or
  // non-positive deadlines/periods; kInvalidArgument for a null registry.
  static absl::StatusOr<std::unique_ptr<ScoringEngine>> Create(
      std::shared_ptr<const VerifierRegistry> registry, const EngineOptions& options);
  ~ScoringEngine();
  ScoringEngine(const ScoringEngine&) = delete;
  ScoringEngine& operator=(const ScoringEngine&) = delete;

  // Submits a call's items. OK: `done` will run once per item (see the file comment).
  // kResourceExhausted: nothing admitted, no callback; retry after retry_after_ms().
  // kFailedPrecondition after Shutdown().
  absl::Status Submit(std::vector<rl::ScoreItem> items, Clock::time_point call_deadline,
                      std::shared_ptr<CallHandle> call, ItemCallback done);

  rl::InfoResponse Info() const;
  int64_t retry_after_ms() const { return options_.retry_after_ms; }
  const EngineOptions& options() const { return options_; }
  const VerifierRegistry& registry() const { return *registry_; }
  // Counts calls served by a front end (the server counts RPCs; Submit counts items).
  void CountRequest() { requests_.fetch_add(1, std::memory_order_relaxed); }

  // Stops admitting, answers pending items CANCELLED, joins the threads. Idempotent.
  void Shutdown();

 private:
  struct Waiter {
    size_t index;
    std::string item_id;
    Clock::time_point deadline;
    Clock::time_point submitted;
    std::shared_ptr<CallHandle> call;
    std::shared_ptr<ItemCallback> done;
  };
  struct Job {
    std::string key;
    rl::ScoreItem item;
    std::vector<Waiter> waiters;  // guarded by the engine's mu_
    std::atomic<bool> cancelled{false};
    bool queued = true;  // guarded by mu_
  };
  struct Delivery {
    Waiter waiter;
    rl::ScoreResult result;
  };
  struct CacheEntry {
    rl::ScoreResult result;
    Clock::time_point stored;
    std::list<std::string>::iterator lru_pos;
  };

  ScoringEngine(std::shared_ptr<const VerifierRegistry> registry, const EngineOptions& options);
  void WorkerLoop();
  void ReaperLoop();
  static void Deliver(std::vector<Delivery>& deliveries);
  void RecordAnswer(const std::string& domain, const rl::ScoreResult& result, double latency_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const rl::ScoreResult* CacheLookup(const std::string& key, Clock::time_point now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CachePut(const std::string& key, const rl::ScoreResult& result, Clock::time_point now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static rl::ScoreResult Stamp(const rl::ScoreResult& base, const Waiter& w, Clock::time_point now);

  const std::shared_ptr<const VerifierRegistry> registry_;
  const EngineOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;
  absl::CondVar reaper_cv_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::shared_ptr<Job>> queue_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::shared_ptr<Job>> active_ ABSL_GUARDED_BY(mu_);  // queued or running
  std::unordered_map<std::string, CacheEntry> cache_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // front = most recent
  int running_ ABSL_GUARDED_BY(mu_) = 0;

  // Counters.
  std::atomic<int64_t> requests_{0};
  int64_t items_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_queue_full_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t timeouts_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t verifier_runs_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cache_hits_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, rl::DomainCounters> domains_ ABSL_GUARDED_BY(mu_);
  std::vector<double> latency_ring_ms_ ABSL_GUARDED_BY(mu_);
  size_t latency_next_ ABSL_GUARDED_BY(mu_) = 0;

  std::vector<std::thread> workers_;
  std::thread reaper_;
};

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_ENGINE_H_
