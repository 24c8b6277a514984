// A pool of pre-forked CAS worker processes (REWARDS.md §2 "Run"): GiNaC runs only there, one job per
// process at a time, under RLIMIT_AS. A job past its deadline gets its worker SIGKILLed, reaped and
// respawned, and the caller gets kTimeout promptly (no signals in the request thread, no hung slot).
//
// Design / non-goals: workers are fork()ed without exec from a process that may run other threads.
// That is safe here because a child only runs our parser, GiNaC/CLN and malloc (glibc makes malloc
// fork-safe), never touches locks of the parent's other subsystems, and the parent never calls GiNaC.
// Each child keeps only its own socket (other fds are closed), so a dead parent means EOF and exit.
// The rejected option, a helper thread abandoned on deadline, would leak a spinning GiNaC thread
// (and its memory) per timeout and share GiNaC's global state across threads.
//
// Thread-safety: Run() may be called from many threads; each call holds one worker exclusively.
#ifndef M1RL_REWARD_MATH_CAS_POOL_H_
#define M1RL_REWARD_MATH_CAS_POOL_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "reward/math/cas.h"

namespace m1rl::reward::math {

class CasPool : public CasRunner {
 public:
  struct Options {
    int num_workers = 2;             // processes; each runs one job at a time
    int64_t memory_limit_mb = 1024;  // RLIMIT_AS headroom over the parent's size at fork; 0 = none
  };

  // Forks the workers now. Errors: kInternal naming the failed syscall.
  static absl::StatusOr<std::unique_ptr<CasPool>> Create(const Options& options);
  // Kills and reaps every worker. REQUIRES: no Run() in flight.
  ~CasPool() override;

  // Blocks for an idle worker and the job's result, at most until ctx.deadline (kTimeout) or
  // ctx.Cancelled() (kCancelled), checked every 20 ms. A worker that crashes gives kError.
  CasResult Run(const CasJob& job, const CheckContext& ctx) override;

  int64_t restarts() const { return restarts_.load(); }
  int num_workers() const { return options_.num_workers; }

 private:
  struct Worker {
    pid_t pid = -1;
    int fd = -1;
  };
  explicit CasPool(const Options& o) : options_(o) {}
  absl::StatusOr<Worker> Spawn();
  void Kill(Worker& w);
  void Release(Worker w);

  Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Worker> idle_;  // guarded by mu_
  std::vector<pid_t> all_;    // guarded by mu_ (for the destructor)
  std::atomic<int64_t> restarts_{0};
};

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_CAS_POOL_H_
