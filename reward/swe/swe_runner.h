// Runs one SWE task (rl::SwePayload) with a candidate patch in the sandbox pool (REWARDS.md §5).
//
// Two sandbox runs, each with a private host work directory mounted writable at /work, the snapshot
// read-only at /snapshot (directory) or /snapshot.bundle (git bundle), the patches read-only at /input;
// no network, the reward.sandbox protections, and reward.swe's limits:
//  1. setup (trusted tools only: cp, git, patch): copy or clone the snapshot to /work/repo (bundle:
//     check out base_commit); apply the candidate by the ladder `git apply`, `git apply --3way`,
//     `patch --batch --forward -p1 --fuzz=N`, each rung on a fresh copy (the rung that worked is
//     reported; none: PATCH_FAILED); reset every file the test patch touches to the snapshot (removed if
//     the snapshot lacks it) and apply the test patch, so candidate edits to test files are neutralised.
//     git runs without hooks or system config. An empty candidate skips the ladder (rung "empty").
//  2. tests: `/bin/sh -c test_command` in /work/repo (a second run, possibly another slot's uid: setup
//     leaves the copy world-writable). The supervisor's wait status is the test command's; its stdout is
//     parsed by results_format (test_results.h).
// Forgery: the log is the only results channel (no junit XML: the candidate's code runs in the same
// process and uid as the framework, so a file is no harder to forge than stdout). What is caught: a
// self-printed pass cannot hide the framework's own FAILED/ERROR line for the test (worst status wins),
// and a non-zero exit with no failure in the log is SPOOFED. Not caught: a fake pass line for a test the
// framework reports without its id (pytest's "SKIPPED [1] file:line") in a run that exits 0.
// The snapshot must be readable by the sandbox's uids (world-readable when the server runs as root).
//
// Before any run the candidate is inspected (diff_paths.h): a path outside the repository or under .git/,
// a binary hunk, or an edit of test infrastructure (a conftest.py or pytest.ini anywhere) gives
// PATCH_REJECTED.
//
// Run verdicts, first that applies:
//   INVALID_RUN  the test run hit its wall/CPU limit, was killed by a signal, hit the output cap, or
//                reported no test at all (e.g. the project no longer compiles);
//   SPOOFED      it exited non-zero but its log shows no FAILED/ERROR test (self-printed passes: the
//                framework would have reported the failure it exits for; SWE-bench #620);
//   RESOLVED     every FAIL_TO_PASS test passed and every PASS_TO_PASS test was maintained (test_results.h);
//   REGRESSION   some PASS_TO_PASS test failed, errored or is absent;
//   UNRESOLVED   otherwise.
// Sandbox/pool faults, a snapshot that cannot be copied and a test patch that does not apply are not
// verdicts: status INFRA_ERROR (or RESOURCE_EXHAUSTED / TIMEOUT / CANCELLED from the pool).
//
// Thread-safe; blocks the calling thread for both runs.
#ifndef M1RL_REWARD_SWE_SWE_RUNNER_H_
#define M1RL_REWARD_SWE_SWE_RUNNER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"
#include "proto/rl.pb.h"
#include "reward/sandbox/pool.h"
#include "reward/swe/test_results.h"
#include "reward/verifier.h"

namespace m1rl::reward::swe {

// Resolved SweConfig.
struct SweOptions {
  int64_t wall_ms = 120000;
  int64_t cpu_ms = 240000;
  int64_t setup_wall_ms = 60000;
  int64_t memory_bytes = int64_t{4} << 30;
  int64_t output_bytes = int64_t{8} << 20;
  int max_procs = 64;
  int64_t file_bytes = int64_t{256} << 20;
  double regression_penalty = -1.0;
  double spoof_penalty = -1.0;
  int cache_entries = 4096;
  std::string snapshot_root;  // empty: any absolute path
  int patch_fuzz = 3;
};

// Defaults applied; kInvalidArgument naming the field ("reward.swe.wall_ms must be >= 0, got -1",
// "reward.swe.regression_penalty must be <= 0, got 0.5").
absl::StatusOr<SweOptions> ResolveSweOptions(const config::SweConfig& config);

// kInvalidArgument naming the field: "item.swe.repo_dir and item.swe.repo_bundle: exactly one must be
// set", a snapshot that is not absolute, does not exist or lies outside reward.swe.snapshot_root,
// "item.swe.test_command is empty", "item.swe.fail_to_pass is empty", "item.swe.results_format is
// unspecified", "item.swe.base_commit ..." for a directory snapshot or a non-hex commit, and
// InspectDiff's errors for item.swe.test_patch.
absl::Status ValidateSwePayload(const rl::SwePayload& payload, const SweOptions& options);

enum class SweVerdict {
  kResolved,
  kUnresolved,
  kRegression,
  kPatchFailed,
  kPatchRejected,
  kSpoofed,
  kInvalidRun
};
const char* SweVerdictName(SweVerdict verdict);  // "RESOLVED", "PATCH_FAILED", ...

struct SweReport {
  rl::ItemStatus status = rl::OK;  // OK, or INFRA_ERROR / RESOURCE_EXHAUSTED / TIMEOUT / CANCELLED
  std::string error;               // why status is not OK
  SweVerdict verdict = SweVerdict::kInvalidRun;
  std::string reason;  // what decided the verdict ("exit 1 but no FAILED/ERROR test in the log", ...)
  std::string rung;    // "git_apply", "git_apply_3way", "patch_fuzz", "empty"; empty if not applied
  int exit_code = -1;  // the test command's
  int term_signal = 0;
  int64_t test_wall_ms = 0;
  TestStatusMap results;
  TestGrade grade;

  // "RESOLVED rung=git_apply exit=0 F2P 2/2 P2P 3/3" (+ "; reason").
  std::string Summary() const;
};

// REQUIRES: ValidateSwePayload(payload, options).ok(). Honors ctx's deadline and cancellation.
SweReport RunSwe(sandbox::SandboxPool& pool, const SweOptions& options, const rl::SwePayload& payload,
                 std::string_view candidate_patch, const CheckContext& ctx);

}  // namespace m1rl::reward::swe

#endif  // M1RL_REWARD_SWE_SWE_RUNNER_H_
