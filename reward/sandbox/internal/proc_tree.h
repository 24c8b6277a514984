// The processes of a run, found through its PID namespace: every process whose /proc/<pid>/ns/pid is
// the run's namespace belongs to it, wherever it was reparented and whatever session it started.
// Used by the supervisor for the tree CPU limit and by the reaper.
#ifndef M1RL_REWARD_SANDBOX_INTERNAL_PROC_TREE_H_
#define M1RL_REWARD_SANDBOX_INTERNAL_PROC_TREE_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace m1rl::reward::sandbox::internal {

// The inode of /proc/<pid>/ns/pid, or 0 when it cannot be read (gone, or no permission).
uint64_t PidNamespaceInode(pid_t pid);

// Host pids of the processes (zombies included) in the PID namespace with inode `ns_inode`.
std::vector<pid_t> PidsInNamespace(uint64_t ns_inode);

// CPU (user + system, own and reaped children) summed over `pids`, in milliseconds. Processes that
// vanish while reading are skipped.
int64_t TreeCpuMs(const std::vector<pid_t>& pids);

// SIGKILLs every process of the namespace until none is left or `timeout_ms` passes. Returns the
// number of distinct processes it signalled.
int ReapNamespace(uint64_t ns_inode, int timeout_ms);

}  // namespace m1rl::reward::sandbox::internal

#endif  // M1RL_REWARD_SANDBOX_INTERNAL_PROC_TREE_H_
