// Atomic, rank-collective checkpoints (ARCHITECTURE "Checkpoints").
//
// Layout under the checkpoint root:
//   step_00000012/            a finished checkpoint: files of every rank, then COMPLETE (written last)
//   .tmp.step_00000012/       being written; never read
// Save protocol (collective over the communicator):
//   rank 0 clears and creates the temp dir -> sync -> every rank writes its files into it -> sync ->
//   rank 0 fsyncs, renames the temp dir to step_N (replacing an incomplete step_N left by a crash) and
//   writes COMPLETE atomically, then deletes all but the newest `keep_last` complete checkpoints (and
//   stale temp dirs) -> sync. Each sync is a SyncStatus (sync_status.h): a failure on any rank fails the
//   save on every rank with the same error naming that rank, instead of leaving the others in a barrier.
// A crash at any point leaves either no step_N, or a step_N without COMPLETE, neither of which is ever
// resumed from: FindLatestComplete() only returns directories holding COMPLETE.
//
// Thread safety: none; the training thread of each rank calls Save.
#ifndef M1RL_TRAINER_CHECKPOINT_H_
#define M1RL_TRAINER_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "trainer/communicator.h"

namespace m1rl::trainer {

inline constexpr char kCompleteMarker[] = "COMPLETE";

// "step_00000012"
std::string CheckpointDirName(int64_t step);

class CheckpointManager {
 public:
  // `root` is created on first Save. keep_last <= 0 keeps everything. `comm` must outlive this.
  CheckpointManager(std::string root, int keep_last, Communicator* comm);

  // Collective (all ranks, same step). `write_files(dir)` runs on every rank and writes that rank's
  // files into `dir` (rank-unique names). Returns the final directory. Errors from write_files or the
  // file system (kInternal naming the path) fail the save on every rank ("writing checkpoint step_N:
  // rank R failed: ..."); the temp dir is then left for the next Save to clear and no COMPLETE marker
  // exists.
  absl::StatusOr<std::string> Save(int64_t step,
                                   const std::function<absl::Status(const std::string& dir)>& write_files);

  const std::string& root() const { return root_; }

 private:
  absl::Status Complete(int64_t step, const std::string& tmp, const std::string& final_dir);

  std::string root_;
  int keep_last_;
  Communicator* comm_;
};

// True iff `dir` holds the COMPLETE marker.
bool IsCompleteCheckpoint(const std::string& dir);
// The newest complete step_N directory under `root`; kNotFound naming the root when none exists.
absl::StatusOr<std::string> FindLatestComplete(const std::string& root);
// Resolves `--resume`: "auto" -> FindLatestComplete(root), or kNotFound (the caller starts fresh);
// a directory path -> it, if complete (kFailedPrecondition "... has no COMPLETE marker" otherwise).
absl::StatusOr<std::string> ResolveResume(const std::string& resume, const std::string& root);
// The step encoded in a step_N directory name; kInvalidArgument otherwise.
absl::StatusOr<int64_t> CheckpointStep(const std::string& dir);
// Complete checkpoint directories under root, oldest first.
std::vector<std::string> ListCompleteCheckpoints(const std::string& root);

// Compares the resolved config saved in a checkpoint with the current one, field by field (proto
// reflection, full paths like "trainer.optim.lr"). Paths in `ignored` (exact, or a prefix followed by
// '.') may differ. kFailedPrecondition naming the first differing field and both values otherwise.
absl::Status CheckResumeCompatible(const google::protobuf::Message& saved,
                                   const google::protobuf::Message& current,
                                   const std::vector<std::string>& ignored);

}  // namespace m1rl::trainer

#endif  // M1RL_TRAINER_CHECKPOINT_H_
