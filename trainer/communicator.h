// Collective communication for data-parallel training (S30: an interface with fakes).
//
// Every collective must be called by all ranks of the group, in the same order, with tensors of the same
// shape and dtype (the c10d contract). Tensors are CPU or CUDA, contiguous. Calls block until the
// collective completed on this rank. Errors (a peer vanished, a timeout) come back as kUnavailable /
// kDeadlineExceeded naming the collective and the rank; a Communicator that returned an error is not
// usable any more.
//
// Implementations:
//   - MakeSingleRankCommunicator(): world size 1, every collective is the identity.
//   - C10dCommunicator (distributed.h): c10d ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA builds).
//   - InProcessGroup (below): N ranks as threads of one process sharing memory; a fake for tests that
//     can also drop a peer (collectives then fail with kUnavailable).
//
// Thread safety: one Communicator is used by one thread at a time.
#ifndef M1RL_TRAINER_COMMUNICATOR_H_
#define M1RL_TRAINER_COMMUNICATOR_H_

#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

namespace m1rl::trainer {

enum class ReduceOp { kSum, kMin, kMax };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // In place over all ranks. tensor: [*] any dtype, contiguous.
  virtual absl::Status AllReduce(at::Tensor& tensor, ReduceOp op) = 0;
  // Gathers `input` [n] from every rank into `output` [world_size * n] (same dtype), ordered by rank.
  virtual absl::Status AllGather(const at::Tensor& input, at::Tensor& output) = 0;
  // Copies `tensor` [*] of rank `root` into `tensor` on every rank.
  virtual absl::Status Broadcast(at::Tensor& tensor, int root) = 0;
  virtual absl::Status Barrier() = 0;
  // "gloo", "nccl", "single", "in_process".
  virtual std::string backend() const = 0;
};

// World size 1: collectives are no-ops (AllGather copies input to output).
std::unique_ptr<Communicator> MakeSingleRankCommunicator();

// A group of `world_size` ranks living in one process (one thread per rank). Create the group, hand
// `Rank(r)` to the thread of rank r. The group must outlive its communicators.
class InProcessGroup {
 public:
  explicit InProcessGroup(int world_size);
  InProcessGroup(const InProcessGroup&) = delete;
  InProcessGroup& operator=(const InProcessGroup&) = delete;

  // Returns the communicator of rank r (0 <= r < world_size); call once per rank.
  std::unique_ptr<Communicator> Rank(int r);
  // Simulates the loss of rank r: every collective in progress or later fails with kUnavailable.
  void DropPeer(int r);
  int world_size() const { return world_size_; }

 private:
  friend class InProcessCommunicator;
  // Runs one collective: each rank deposits `contribution`; the last arriving rank calls `combine`
  // over all contributions (rank order) and every rank receives the combined result.
  absl::Status Exchange(int rank, const std::string& what, const at::Tensor& contribution,
                        const std::function<at::Tensor(const std::vector<at::Tensor>&)>& combine,
                        at::Tensor* result);

  const int world_size_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
  int dropped_rank_ ABSL_GUARDED_BY(mu_) = -1;
  std::vector<at::Tensor> slots_ ABSL_GUARDED_BY(mu_);  // one [*] per rank
  at::Tensor combined_ ABSL_GUARDED_BY(mu_);            // [*] result of the current generation
};

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_COMMUNICATOR_H_
