#include "reward/sandbox/pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/status_macros.h"

namespace m1rl::reward::sandbox {

SandboxPool::SandboxPool(std::unique_ptr<Sandbox> sandbox) : sandbox_(std::move(sandbox)) {
  for (int s = sandbox_->options().slots - 1; s >= 0; --s) free_slots_.push_back(s);
}

absl::StatusOr<std::unique_ptr<SandboxPool>> SandboxPool::Create(const SandboxOptions& options) {
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<Sandbox> sandbox, Sandbox::Create(options));
  return std::make_unique<SandboxPool>(std::move(sandbox));
}

absl::StatusOr<int> SandboxPool::Acquire(Clock::time_point deadline) {
  absl::MutexLock lock(&mu_);
  if (free_slots_.empty() && static_cast<int>(queue_.size()) >= sandbox_->options().queue_capacity) {
    ++rejected_;
    return absl::ResourceExhaustedError(absl::StrCat("sandbox pool: queue full (", queue_.size(),
                                                     " waiting); retry after ", RetryAfterMsLocked(), " ms"));
  }
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  const absl::Time until = absl::Now() + absl::FromChrono(deadline - Clock::now());
  while (!(queue_.front() == ticket && !free_slots_.empty())) {
    if (changed_.WaitWithDeadline(&mu_, until) && Clock::now() >= deadline) break;
  }
  queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
  changed_.SignalAll();  // the next ticket may now be at the head
  if (free_slots_.empty() || Clock::now() >= deadline) {
    ++expired_;
    return absl::DeadlineExceededError("sandbox pool: no free slot before the deadline");
  }
  const int slot = free_slots_.back();
  free_slots_.pop_back();
  return slot;
}

void SandboxPool::Release(int slot, int64_t run_ms) {
  absl::MutexLock lock(&mu_);
  free_slots_.push_back(slot);
  ++runs_;
  run_ms_total_ += run_ms;
  changed_.SignalAll();
}

absl::StatusOr<RunResult> SandboxPool::Run(const RunSpec& spec, Clock::time_point deadline) {
  M1RL_ASSIGN_OR_RETURN(const int slot, Acquire(deadline));
  RunSpec bounded = spec;
  const int64_t left_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  bounded.limits.wall_ms = std::max<int64_t>(1, std::min(spec.limits.wall_ms, left_ms));
  absl::StatusOr<RunResult> result = sandbox_->Run(bounded, slot);
  Release(slot, result.ok() ? result->wall_ms : 0);
  // A run cut at the caller's deadline (not at its own wall limit) has no verdict.
  if (result.ok() && result->wall_limit && bounded.limits.wall_ms < spec.limits.wall_ms)
    return absl::DeadlineExceededError("sandbox pool: the run was killed at the caller's deadline");
  return result;
}

PoolStats SandboxPool::Stats() const {
  absl::MutexLock lock(&mu_);
  PoolStats s;
  s.slots = sandbox_->options().slots;
  s.running = s.slots - static_cast<int>(free_slots_.size());
  s.queued = static_cast<int>(queue_.size());
  s.runs = runs_;
  s.rejected_queue_full = rejected_;
  s.expired_in_queue = expired_;
  return s;
}

int64_t SandboxPool::RetryAfterMsLocked() const {
  return std::max<int64_t>(10, runs_ > 0 ? run_ms_total_ / runs_ : 10);
}

int64_t SandboxPool::retry_after_ms() const {
  absl::MutexLock lock(&mu_);
  return RetryAfterMsLocked();
}

}  // namespace m1rl::reward::sandbox
