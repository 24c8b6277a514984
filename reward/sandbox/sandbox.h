// Sandbox: runs one untrusted program under bubblewrap with rlimits, a seccomp filter and a supervisor
// that enforces wall-clock, CPU, output and process limits on the whole process tree (REWARDS.md §4).
//
// Isolation per run:
//  - bwrap --unshare-all (user, pid, ipc, uts, cgroup, network: loopback only), --die-with-parent,
//    --new-session, --clearenv (env = RunSpec.env only), --disable-userns, --cap-drop ALL;
//  - no host filesystem beyond read-only /usr (and /bin, /lib, /lib64 symlinks), a fresh /proc and /dev,
//    a private size-capped tmpfs /tmp, and the RunSpec's mounts (read-only unless `writable`);
//  - rlimits on every process: CPU, AS (memory), FSIZE, NOFILE, CORE=0, and NPROC when the run has a
//    dedicated uid (as root, slot s runs as uid/gid uid_base + s, so concurrent runs share nothing);
//  - a libseccomp filter (EPERM) on ptrace, mount, bpf, perf_event_open, keyctl, kexec, modules,
//    io_uring, unshare/setns, TIOCSTI and friends;
//  - the supervisor: wall-clock SIGKILL of the namespace init and the process group, tree CPU limit
//    (sum over every process of the run's PID namespace, sampled), output byte cap, and a reaper that
//    kills whatever of the namespace is left after the run and counts it.
// cgroup v2 (memory.max, pids.max, cgroup.kill) is not used: Create() detects whether it is mounted and
// reports the protection "cgroup_v2" inactive; memory is bounded by RLIMIT_AS, processes by RLIMIT_NPROC
// plus the PID namespace, and the tree by the reaper.
//
// Process-wide effect: Create() makes this process a child subreaper (PR_SET_CHILD_SUBREAPER), so that
// each run's namespace init is reaped here rather than left a zombie to the host's init.
//
// Thread safety: a Sandbox is immutable after Create(); Run() may be called concurrently, but at most
// one run per slot at a time (SandboxPool guarantees it).
#ifndef M1RL_REWARD_SANDBOX_SANDBOX_H_
#define M1RL_REWARD_SANDBOX_SANDBOX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"

namespace m1rl::reward::sandbox {

// Protection names (ProtectionState.name, SandboxConfig.required_protections).
inline constexpr const char* kProtectionNames[] = {
    "namespaces",      // user, pid, ipc, uts, cgroup namespaces (bwrap --unshare-all)
    "network_none",    // network namespace with loopback only
    "readonly_root",   // only read-only /usr and the run's mounts are visible
    "private_tmp",     // size-capped tmpfs /tmp per run
    "rlimits",         // CPU, AS, FSIZE, NOFILE, CORE per process
    "seccomp",         // libseccomp syscall filter
    "no_caps",         // --cap-drop ALL, --disable-userns
    "wall_kill",       // wall-clock SIGKILL of the whole tree
    "tree_cpu_limit",  // CPU summed over the PID namespace
    "output_cap",      // stdout + stderr byte cap
    "reaper",          // no process of a run survives it
    "dedicated_uid",   // runs as uid_base + slot (needs root); gives per-run RLIMIT_NPROC
    "cgroup_v2",       // never active in this runner (see above)
};

struct ProtectionState {
  std::string name;
  bool active = false;
  std::string detail;  // why inactive, or the mechanism in force
};

// Resolved SandboxConfig (defaults applied, ranges checked).
struct SandboxOptions {
  int slots = 1;
  int queue_capacity = 2;
  std::vector<std::string> required_protections;
  bool allow_degraded = false;
  uint32_t uid_base = 0;  // resolved: config value, or 100000 + 256 * pid
  int64_t tmp_bytes = int64_t{64} << 20;
  std::string bwrap_path = "/usr/bin/bwrap";
};

// Applies defaults; kInvalidArgument naming the field ("reward.sandbox.slots must be >= 0, got -1",
// unknown protection names) on bad values.
absl::StatusOr<SandboxOptions> ResolveSandboxOptions(const config::SandboxConfig& config);

struct Mount {
  std::string host_path;
  std::string sandbox_path;
  bool writable = false;  // a writable mount is chown'ed to the run's uid when the run has one
};

struct RunLimits {
  int64_t wall_ms = 10000;
  int64_t cpu_ms = 5000;                      // summed over the process tree
  int64_t memory_bytes = int64_t{256} << 20;  // RLIMIT_AS per process
  int64_t output_bytes = int64_t{1} << 20;    // stdout + stderr
  int64_t file_bytes = int64_t{16} << 20;     // RLIMIT_FSIZE
  int max_procs = 16;                         // RLIMIT_NPROC (dedicated uid only); bwrap takes 2
  int max_open_files = 64;
};

struct RunSpec {
  std::vector<std::string> argv;  // argv[0] is a path inside the sandbox
  std::string stdin_data;
  std::vector<Mount> mounts;
  std::string cwd = "/tmp";
  std::vector<std::pair<std::string, std::string>> env = {
      {"PATH", "/usr/bin:/bin"}, {"HOME", "/tmp"}, {"LANG", "C.UTF-8"}};
  RunLimits limits;
  // When set and it becomes true, the run is killed within ~50 ms and Run() returns kCancelled. Not owned.
  const std::atomic<bool>* cancelled = nullptr;
};

struct RunResult {
  // Exit status of the sandboxed command as bwrap reports it: exit_code 0..255; a command killed by
  // signal s shows as exit_code 128 + s (bwrap cannot tell the two apart), mapped to term_signal = s.
  int exit_code = -1;
  int term_signal = 0;
  bool wall_limit = false;    // killed at the wall-clock limit
  bool cpu_limit = false;     // tree CPU over the limit (killed, or RLIMIT_CPU's SIGXCPU/SIGKILL)
  bool output_limit = false;  // stdout + stderr reached output_bytes (killed)
  int64_t wall_ms = 0;
  int64_t cpu_ms = 0;          // tree CPU (user + system), from wait4
  int64_t peak_rss_bytes = 0;  // the largest process's peak RSS, from wait4
  std::string stdout_data;     // at most output_bytes
  std::string stderr_data;     // at most min(output_bytes, 64 KiB)
  int reaped = 0;              // processes of the run left after bwrap exited, killed by the reaper

  bool Succeeded() const {
    return exit_code == 0 && term_signal == 0 && !wall_limit && !cpu_limit && !output_limit;
  }
};

class Sandbox {
 public:
  // Probes bwrap (a trivial run with every feature), builds the seccomp filter and detects the rest.
  // kFailedPrecondition naming the protections when a required one is unavailable and
  // !allow_degraded, or when bwrap cannot run at all.
  static absl::StatusOr<std::unique_ptr<Sandbox>> Create(const SandboxOptions& options);
  ~Sandbox();

  const std::vector<ProtectionState>& protections() const { return protections_; }
  // "name" for each active protection; "name(off: detail)" for inactive ones.
  std::vector<std::string> ProtectionSummary() const;
  const SandboxOptions& options() const { return options_; }
  bool has_dedicated_uid() const { return dedicated_uid_; }

  // Runs `spec` in slot `slot` (0 <= slot < options.slots). Limits end the run, they are not errors.
  // Errors (kInvalidArgument for a bad spec, kInternal for fork/pipe failures and for bwrap failing to
  // set up or exec argv[0], told apart from the program's own exit by bwrap's status record) are infra
  // faults: the caller must not turn them into a verdict.
  absl::StatusOr<RunResult> Run(const RunSpec& spec, int slot) const;

 private:
  Sandbox(SandboxOptions options, std::string seccomp_bpf);
  absl::Status Probe();

  SandboxOptions options_;
  std::string seccomp_bpf_;  // the exported filter program; written to a fresh memfd per run
  bool dedicated_uid_ = false;
  std::vector<ProtectionState> protections_;
};

}  // namespace m1rl::reward::sandbox

#endif  // M1RL_REWARD_SANDBOX_SANDBOX_H_
