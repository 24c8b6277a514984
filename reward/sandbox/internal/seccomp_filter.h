// The sandbox's seccomp filter (REWARDS.md §4): default allow; EPERM on the syscalls that reach the
// kernel's attack surface or another process (ptrace, mount, bpf, perf_event_open, keyctl, kexec,
// modules, io_uring, unshare/setns, TIOCSTI, ...). Built with libseccomp and exported as a classic BPF
// program, which bwrap loads (--seccomp FD) after its own setup.
#ifndef M1RL_REWARD_SANDBOX_INTERNAL_SECCOMP_FILTER_H_
#define M1RL_REWARD_SANDBOX_INTERNAL_SECCOMP_FILTER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace m1rl::reward::sandbox::internal {

// The names of the denied syscalls (for reports and tests).
const std::vector<std::string>& DeniedSyscalls();

// The exported BPF program bytes. kInternal naming the libseccomp call on failure.
absl::StatusOr<std::string> BuildSeccompBpf();

// A fresh memfd (close-on-exec, offset 0) holding `bpf`; kInternal on failure.
absl::StatusOr<int> SeccompMemfd(const std::string& bpf);

}  // namespace m1rl::reward::sandbox::internal

#endif  // M1RL_REWARD_SANDBOX_INTERNAL_SECCOMP_FILTER_H_
