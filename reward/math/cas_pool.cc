#include "reward/math/cas_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace m1rl::reward::math {
namespace {

constexpr int kChildFd = 3;
constexpr uint32_t kMaxFrame = 1 << 20;

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteFrame(int fd, const std::string& payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  std::string buf(reinterpret_cast<const char*>(&n), 4);
  buf += payload;
  return WriteAll(fd, buf.data(), buf.size());
}

bool ReadFrame(int fd, std::string* payload) {
  uint32_t n;
  if (!ReadAll(fd, reinterpret_cast<char*>(&n), 4) || n > kMaxFrame) return false;
  payload->resize(n);
  return n == 0 || ReadAll(fd, payload->data(), n);
}

// Current virtual size of this process in bytes (0 if unknown).
int64_t VirtualSizeBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0;
  int got = std::fscanf(f, "%ld", &pages);
  std::fclose(f);
  if (got != 1) return 0;
  return static_cast<int64_t>(pages) * ::sysconf(_SC_PAGESIZE);
}

[[noreturn]] void WorkerMain(int fd, int64_t memory_limit_mb) {
  if (fd != kChildFd) {
    ::dup2(fd, kChildFd);
    ::close(fd);
  }
  // Keep only stdio and our socket: a dead parent then means EOF here.
  if (::syscall(SYS_close_range, kChildFd + 1, ~0U, 0) != 0) {
    for (int i = kChildFd + 1; i < 4096; ++i) ::close(i);
  }
  if (memory_limit_mb > 0) {
    rlimit lim;
    lim.rlim_cur = lim.rlim_max =
        static_cast<rlim_t>(VirtualSizeBytes() + memory_limit_mb * int64_t{1024} * 1024);
    ::setrlimit(RLIMIT_AS, &lim);
  }
  std::string in;
  while (ReadFrame(kChildFd, &in)) {
    std::optional<CasJob> job = DecodeJob(in);
    CasResult r = job ? RunCasJob(*job) : CasResult{CasResult::Kind::kError, "cas", "bad job frame"};
    if (!WriteFrame(kChildFd, EncodeResult(r))) break;
  }
  ::_exit(0);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CasPool>> CasPool::Create(const Options& options) {
  if (options.num_workers < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("cas num_workers must be >= 1, got ", options.num_workers));
  std::unique_ptr<CasPool> pool(new CasPool(options));
  for (int i = 0; i < options.num_workers; ++i) {
    absl::StatusOr<Worker> w = pool->Spawn();
    if (!w.ok()) return w.status();
    std::lock_guard<std::mutex> l(pool->mu_);
    pool->idle_.push_back(*w);
  }
  return pool;
}

absl::StatusOr<CasPool::Worker> CasPool::Spawn() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return absl::InternalError(absl::StrCat("cas pool: socketpair failed: ", std::strerror(errno)));
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return absl::InternalError(absl::StrCat("cas pool: fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ::close(sv[0]);
    WorkerMain(sv[1], options_.memory_limit_mb);
  }
  ::close(sv[1]);
  {
    std::lock_guard<std::mutex> l(mu_);
    all_.push_back(pid);
  }
  return Worker{pid, sv[0]};
}

void CasPool::Kill(Worker& w) {
  if (w.pid > 0) {
    ::kill(w.pid, SIGKILL);
    int status;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::lock_guard<std::mutex> l(mu_);
    all_.erase(std::remove(all_.begin(), all_.end(), w.pid), all_.end());
  }
  if (w.fd >= 0) ::close(w.fd);
  w = Worker{};
}

void CasPool::Release(Worker w) {
  {
    std::lock_guard<std::mutex> l(mu_);
    idle_.push_back(w);
  }
  cv_.notify_one();
}

CasPool::~CasPool() {
  std::vector<Worker> idle;
  {
    std::lock_guard<std::mutex> l(mu_);
    idle.swap(idle_);
  }
  for (Worker& w : idle) Kill(w);
}

CasResult CasPool::Run(const CasJob& job, const CheckContext& ctx) {
  using K = CasResult::Kind;
  constexpr auto kSlice = std::chrono::milliseconds(20);
  Worker w;
  {
    std::unique_lock<std::mutex> l(mu_);
    while (idle_.empty()) {
      if (ctx.Cancelled()) return {K::kCancelled, "cas", "cancelled while waiting for a CAS worker"};
      if (ctx.Expired()) return {K::kTimeout, "cas", "deadline passed while waiting for a CAS worker"};
      cv_.wait_for(l, kSlice);
    }
    w = idle_.back();
    idle_.pop_back();
  }
  if (w.pid < 0) {
    absl::StatusOr<Worker> nw = Spawn();
    if (!nw.ok()) {
      Release(w);
      return {K::kError, "cas", std::string(nw.status().message())};
    }
    w = *nw;
  }
  auto respawn_and_release = [&](Worker& dead) {
    Kill(dead);
    restarts_.fetch_add(1);
    absl::StatusOr<Worker> nw = Spawn();
    Release(nw.ok() ? *nw : Worker{});  // an empty slot respawns on next use
  };
  if (!WriteFrame(w.fd, EncodeJob(job))) {
    respawn_and_release(w);
    return {K::kError, "cas", "CAS worker pipe broken"};
  }
  while (true) {
    if (ctx.Cancelled()) {
      respawn_and_release(w);
      return {K::kCancelled, "cas", "cancelled; CAS worker killed"};
    }
    int64_t left_ms = ctx.RemainingMs();
    if (left_ms <= 0) {
      respawn_and_release(w);
      return {K::kTimeout, "cas", "deadline passed; CAS worker killed"};
    }
    pollfd p{w.fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, kSlice.count())));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) continue;
    std::string frame;
    std::optional<CasResult> r;
    if (rc > 0 && ReadFrame(w.fd, &frame)) r = DecodeResult(frame);
    if (!r) {
      respawn_and_release(w);
      return {K::kError, "cas", "CAS worker died or sent a bad frame"};
    }
    if (r->kind == K::kTooComplex) {
      respawn_and_release(w);  // a worker that hit RLIMIT_AS is replaced by a fresh one
    } else {
      Release(w);
    }
    return *r;
  }
}

}  // namespace m1rl::reward::math
