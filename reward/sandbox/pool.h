// SandboxPool: keeps options.slots sandbox runs busy with a bounded FIFO queue (REWARDS.md §4 "Load").
//
// Run() takes a free slot (waiting in FIFO order behind at most options.queue_capacity other callers) and
// runs the spec with its wall limit cut to what is left of the caller's deadline, so that every call
// returns by the deadline plus the supervisor's kill-and-reap slack (well under 1 s). A full queue is
// refused at once with kResourceExhausted (retry hint in the message, `retry_after_ms()`); a deadline that
// passes in the queue, or cuts the run short, gives kDeadlineExceeded. Both are load, never a verdict.
//
// Thread safety: Run() is thread-safe; the pool must outlive its callers' calls.
#ifndef M1RL_REWARD_SANDBOX_POOL_H_
#define M1RL_REWARD_SANDBOX_POOL_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "reward/sandbox/sandbox.h"

namespace m1rl::reward::sandbox {

struct PoolStats {
  int slots = 0;
  int running = 0;
  int queued = 0;
  int64_t runs = 0;
  int64_t rejected_queue_full = 0;
  int64_t expired_in_queue = 0;
};

class SandboxPool {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SandboxPool(std::unique_ptr<Sandbox> sandbox);
  // Sandbox::Create(options) and the pool around it.
  static absl::StatusOr<std::unique_ptr<SandboxPool>> Create(const SandboxOptions& options);

  // Runs `spec` by `deadline` (see the header comment). Errors: kResourceExhausted (queue full),
  // kDeadlineExceeded (no slot before the deadline), and Sandbox::Run's infra errors.
  absl::StatusOr<RunResult> Run(const RunSpec& spec, Clock::time_point deadline);

  const Sandbox& sandbox() const { return *sandbox_; }
  PoolStats Stats() const;
  // Suggested client back-off after kResourceExhausted: the mean run time so far (at least 10 ms).
  int64_t retry_after_ms() const;

 private:
  // Waits for a slot in FIFO order: the slot, or kResourceExhausted / kDeadlineExceeded.
  absl::StatusOr<int> Acquire(Clock::time_point deadline);
  void Release(int slot, int64_t run_ms);
  int64_t RetryAfterMsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<Sandbox> sandbox_;
  mutable absl::Mutex mu_;
  absl::CondVar changed_;  // a slot was freed or the queue's head left
  std::vector<int> free_slots_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> queue_ ABSL_GUARDED_BY(mu_);  // tickets of waiting callers, oldest first
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t runs_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t run_ms_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t expired_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace m1rl::reward::sandbox

#endif  // M1RL_REWARD_SANDBOX_POOL_H_
