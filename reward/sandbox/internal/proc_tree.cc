#include "reward/sandbox/internal/proc_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>

namespace m1rl::reward::sandbox::internal {

uint64_t PidNamespaceInode(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/ns/pid", static_cast<int>(pid));
  char link[64];
  const ssize_t n = readlink(path, link, sizeof(link) - 1);
  if (n <= 0) return 0;
  link[n] = '\0';
  // The link reads "pid:[4026532177]".
  const char* open = std::strchr(link, '[');
  return open == nullptr ? 0 : std::strtoull(open + 1, nullptr, 10);
}

std::vector<pid_t> PidsInNamespace(uint64_t ns_inode) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (const dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const int64_t pid = std::strtoll(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0) continue;
    if (PidNamespaceInode(static_cast<pid_t>(pid)) == ns_inode) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(dir);
  return out;
}

namespace {

// utime + stime + cutime + cstime of one process in clock ticks; -1 if it cannot be read.
int64_t ProcessTicks(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[1024];
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // The command name (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  ++p;
  // After ')': field 3 (state) is the 1st token; utime..cstime are fields 14..17, tokens 12..15.
  int64_t ticks = 0;
  for (int token = 1; token <= 15; ++token) {
    while (*p == ' ') ++p;
    char* end = nullptr;
    const int64_t value = std::strtoll(p, &end, 10);
    if (token >= 12) ticks += value;
    p = end;
    while (*p != ' ' && *p != '\0') ++p;
  }
  return ticks;
}

}  // namespace

int64_t TreeCpuMs(const std::vector<pid_t>& pids) {
  static const int64_t kTicksPerSecond = sysconf(_SC_CLK_TCK);
  int64_t ticks = 0;
  for (pid_t pid : pids) {
    const int64_t t = ProcessTicks(pid);
    if (t > 0) ticks += t;
  }
  return ticks * 1000 / kTicksPerSecond;
}

int ReapNamespace(uint64_t ns_inode, int timeout_ms) {
  std::set<pid_t> signalled;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const std::vector<pid_t> pids = PidsInNamespace(ns_inode);
    if (pids.empty() || std::chrono::steady_clock::now() >= deadline) break;
    for (pid_t pid : pids) {
      // A zombie is already dead; signalling it is harmless and counts it as left over.
      if (kill(pid, SIGKILL) == 0) signalled.insert(pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return static_cast<int>(signalled.size());
}

}  // namespace m1rl::reward::sandbox::internal
