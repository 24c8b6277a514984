#include "reward/sandbox/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "reward/sandbox/internal/proc_tree.h"
#include "reward/sandbox/internal/seccomp_filter.h"

namespace m1rl::reward::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSeccompFd = 3;  // fd numbers the bwrap child sees
constexpr int kStatusFd = 4;
constexpr int64_t kStderrCap = 64 << 10;
constexpr int kCpuSampleMs = 50;
constexpr int kReapTimeoutMs = 2000;
constexpr uint32_t kDefaultUidFloor = 100000;  // above any account; pid_max (2^22) * 256 + this < 2^32
constexpr uint32_t kSlotsPerDefaultUidRange = 256;
constexpr int kPidfdIdType = 3;  // P_PIDFD of linux/wait.h (glibc 2.36 does not export it)

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

bool IsKnownProtection(const std::string& name) {
  return std::any_of(std::begin(kProtectionNames), std::end(kProtectionNames),
                     [&](const char* known) { return name == known; });
}

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    Reset();
    fd_ = std::exchange(other.fd_, -1);
    return *this;
  }
  ~Fd() { Reset(); }
  int Get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Moves `fd` to a number >= 10 (close-on-exec), so that the child's dup2 onto 0..4 cannot clobber it.
absl::StatusOr<Fd> High(int fd) {
  if (fd < 0) return absl::InternalError(absl::StrCat("sandbox: pipe/socket failed: ", std::strerror(errno)));
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  close(fd);
  if (high < 0) return absl::InternalError(absl::StrCat("sandbox: fcntl(F_DUPFD): ", std::strerror(errno)));
  return Fd(high);
}

struct PipePair {
  Fd read;
  Fd write;
};

absl::StatusOr<PipePair> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return absl::InternalError(absl::StrCat("sandbox: pipe2: ", std::strerror(errno)));
  PipePair p;
  M1RL_ASSIGN_OR_RETURN(p.read, High(fds[0]));
  M1RL_ASSIGN_OR_RETURN(p.write, High(fds[1]));
  return p;
}

// The child's side and the supervisor's side of one run's descriptors.
struct RunFds {
  Fd stdin_parent, stdin_child;  // a socketpair: send(MSG_NOSIGNAL) never raises SIGPIPE
  PipePair out, err, status;
  Fd seccomp;
};

absl::StatusOr<RunFds> MakeRunFds(const std::string& bpf) {
  RunFds fds;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return absl::InternalError(absl::StrCat("sandbox: socketpair: ", std::strerror(errno)));
  M1RL_ASSIGN_OR_RETURN(fds.stdin_parent, High(sv[0]));
  M1RL_ASSIGN_OR_RETURN(fds.stdin_child, High(sv[1]));
  M1RL_ASSIGN_OR_RETURN(fds.out, MakePipe());
  M1RL_ASSIGN_OR_RETURN(fds.err, MakePipe());
  M1RL_ASSIGN_OR_RETURN(fds.status, MakePipe());
  M1RL_ASSIGN_OR_RETURN(int seccomp_fd, internal::SeccompMemfd(bpf));
  M1RL_ASSIGN_OR_RETURN(fds.seccomp, High(seccomp_fd));
  return fds;
}

std::vector<std::string> BwrapArgs(const SandboxOptions& options, const RunSpec& spec) {
  std::vector<std::string> a = {options.bwrap_path,
                                "--unshare-all",
                                "--unshare-user",
                                "--uid",
                                "65534",
                                "--gid",
                                "65534",
                                "--die-with-parent",
                                "--new-session",
                                "--clearenv",
                                "--disable-userns",
                                "--cap-drop",
                                "ALL",
                                "--ro-bind",
                                "/usr",
                                "/usr",
                                "--symlink",
                                "usr/bin",
                                "/bin",
                                "--symlink",
                                "usr/lib",
                                "/lib",
                                "--symlink",
                                "usr/lib64",
                                "/lib64",
                                "--symlink",
                                "usr/sbin",
                                "/sbin",
                                "--proc",
                                "/proc",
                                "--dev",
                                "/dev",
                                "--size",
                                std::to_string(options.tmp_bytes),
                                "--tmpfs",
                                "/tmp"};
  for (const Mount& m : spec.mounts) {
    a.insert(a.end(), {m.writable ? "--bind" : "--ro-bind", m.host_path, m.sandbox_path});
  }
  a.insert(a.end(), {"--remount-ro", "/"});  // the root tmpfs bwrap builds, after its mount points exist
  for (const auto& [name, value] : spec.env) a.insert(a.end(), {"--setenv", name, value});
  a.insert(a.end(), {"--chdir", spec.cwd, "--seccomp", std::to_string(kSeccompFd), "--json-status-fd",
                     std::to_string(kStatusFd), "--"});
  a.insert(a.end(), spec.argv.begin(), spec.argv.end());
  return a;
}

struct ChildSetup {
  std::vector<std::string> args;
  std::vector<rlimit> limits;  // indexed like kLimitIds
  bool dedicated_uid = false;
  uid_t uid = 0;
  int fds[5] = {-1, -1, -1, -1, -1};  // become 0 (stdin), 1, 2, kSeccompFd, kStatusFd
};

constexpr int kLimitIds[] = {RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_CORE, RLIMIT_NPROC};

std::vector<rlimit> RlimitsFor(const RunLimits& limits, bool dedicated_uid) {
  const rlim_t cpu_s = static_cast<rlim_t>((limits.cpu_ms + 999) / 1000 + 1);  // backstop to the sampler
  std::vector<rlimit> out = {
      {cpu_s, cpu_s + 1},
      {static_cast<rlim_t>(limits.memory_bytes), static_cast<rlim_t>(limits.memory_bytes)},
      {static_cast<rlim_t>(limits.file_bytes), static_cast<rlim_t>(limits.file_bytes)},
      {static_cast<rlim_t>(limits.max_open_files), static_cast<rlim_t>(limits.max_open_files)},
      {0, 0},
      {static_cast<rlim_t>(limits.max_procs), static_cast<rlim_t>(limits.max_procs)},
  };
  // Without a uid of its own, RLIMIT_NPROC would count every process of the supervisor's user.
  if (!dedicated_uid) out[5] = {RLIM_INFINITY, RLIM_INFINITY};
  return out;
}

// In the forked child: only async-signal-safe calls until execve.
[[noreturn]] void ExecChild(const ChildSetup& s, char* const* argv) {
  for (int i = 0; i < 5; ++i) {
    if (dup2(s.fds[i], i) < 0) _exit(125);
  }
  if (syscall(SYS_close_range, 5, ~0U, 0) != 0) {
    for (int fd = 5; fd < 1024; ++fd) close(fd);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (setsid() < 0) _exit(125);
  for (size_t i = 0; i < s.limits.size(); ++i) {
    if (setrlimit(kLimitIds[i], &s.limits[i]) != 0) _exit(125);
  }
  if (s.dedicated_uid) {
    if (setgroups(0, nullptr) != 0 || setgid(s.uid) != 0 || setuid(s.uid) != 0) _exit(125);
  }
  char* const no_env[] = {nullptr};
  execve(argv[0], argv, no_env);
  _exit(127);
}

// The ids bwrap reports on --json-status-fd: the namespace init's pid and the PID namespace inode.
struct BwrapStatus {
  pid_t init_pid = 0;
  uint64_t pid_ns = 0;
};

int64_t JsonNumber(const std::string& text, std::string_view key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return 0;
  const size_t colon = text.find(':', at + key.size());
  return colon == std::string::npos ? 0 : std::strtoll(text.c_str() + colon + 1, nullptr, 10);
}

void ParseBwrapStatus(const std::string& text, BwrapStatus& status) {
  if (status.pid_ns != 0) return;
  status.init_pid = static_cast<pid_t>(JsonNumber(text, "\"child-pid\""));
  status.pid_ns = static_cast<uint64_t>(JsonNumber(text, "\"pid-namespace\""));
}

// The supervisor's view of a running sandbox.
class Supervision {
 public:
  Supervision(const RunSpec& spec, pid_t pid, int pidfd, RunFds& fds)
      : spec_(spec), pid_(pid), pidfd_(pidfd), fds_(fds) {}

  // Pumps stdin/stdout/stderr and enforces the limits until the child has exited and its pipes closed.
  void Pump(RunResult& result);
  pid_t Pid() const { return pid_; }
  const BwrapStatus& Bwrap() const { return bwrap_; }
  // A pidfd of the namespace init (-1 if bwrap never reported it): signals and waits reach that process
  // even after its pid is recycled.
  int InitPidfd() const { return init_pidfd_.Get(); }
  // Whether bwrap reported the command's exit ({"exit-code": N} on the status fd, which the sandboxed
  // program cannot reach): false when bwrap failed to set up or exec the command. Call after Pump().
  bool CommandRan();
  bool Killed() const { return killed_; }
  bool Cancelled() const { return cancelled_; }
  int64_t SampledCpuMs() const { return sampled_cpu_ms_; }

 private:
  void Kill();
  bool ReadInto(int fd, std::string& sink, int64_t cap, RunResult& result);
  void WriteStdin();
  void CheckCpu(RunResult& result);
  void OnBwrapStatus();

  const RunSpec& spec_;
  const pid_t pid_;
  const int pidfd_;  // readable once the outer bwrap has exited
  RunFds& fds_;
  BwrapStatus bwrap_;
  Fd init_pidfd_;
  std::string status_text_;
  size_t stdin_off_ = 0;
  int64_t sampled_cpu_ms_ = 0;  // the last tree CPU sample (the killed tree's rusage may be partial)
  bool killed_ = false;
  bool cancelled_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point next_cpu_sample_ = Clock::now();
};

void Supervision::Kill() {
  if (killed_) return;
  killed_ = true;
  kill(-pid_, SIGKILL);  // the process group of the outer bwrap (it called setsid)
  kill(pid_, SIGKILL);
  // Killing the namespace init kills every process of the namespace, other sessions included.
  if (init_pidfd_.Get() >= 0) syscall(SYS_pidfd_send_signal, init_pidfd_.Get(), SIGKILL, nullptr, 0);
}

// Returns false at EOF (or error). Output past the run's byte cap is dropped and ends the run; stderr
// past its own smaller cap is only dropped.
bool Supervision::ReadInto(int fd, std::string& sink, int64_t cap, RunResult& result) {
  char buf[16384];
  const ssize_t n = read(fd, buf, sizeof(buf));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;
  const int64_t room_total =
      spec_.limits.output_bytes - static_cast<int64_t>(result.stdout_data.size() + result.stderr_data.size());
  const int64_t room =
      std::max<int64_t>(0, std::min<int64_t>(room_total, cap - static_cast<int64_t>(sink.size())));
  sink.append(buf, static_cast<size_t>(std::min<int64_t>(room, n)));
  if (n > room_total) {
    result.output_limit = true;
    Kill();
  }
  return true;
}

void Supervision::WriteStdin() {
  const std::string& data = spec_.stdin_data;
  if (stdin_off_ < data.size()) {
    const ssize_t n = send(fds_.stdin_parent.Get(), data.data() + stdin_off_, data.size() - stdin_off_,
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) stdin_off_ += static_cast<size_t>(n);
    if (n < 0 && errno != EAGAIN && errno != EINTR) stdin_off_ = data.size();  // reader gone
  }
  if (stdin_off_ >= data.size()) fds_.stdin_parent.Reset();  // EOF for the program
}

bool Supervision::CommandRan() {
  // The outer bwrap has exited: drain what it wrote (its writers are gone, so this ends).
  fcntl(fds_.status.read.Get(), F_SETFL, O_NONBLOCK);
  char buf[1024];
  ssize_t got;
  while ((got = read(fds_.status.read.Get(), buf, sizeof(buf))) > 0)
    status_text_.append(buf, static_cast<size_t>(got));
  return status_text_.find("\"exit-code\"") != std::string::npos;
}

void Supervision::OnBwrapStatus() {
  if (bwrap_.pid_ns != 0) return;
  ParseBwrapStatus(status_text_, bwrap_);
  if (bwrap_.init_pid <= 0) return;
  init_pidfd_ = Fd(static_cast<int>(syscall(SYS_pidfd_open, bwrap_.init_pid, 0)));
  // The pid is the init's only if it still lives in the run's namespace (checked after taking the pidfd).
  if (internal::PidNamespaceInode(bwrap_.init_pid) != bwrap_.pid_ns) init_pidfd_.Reset();
}

void Supervision::CheckCpu(RunResult& result) {
  if (bwrap_.pid_ns == 0 || Clock::now() < next_cpu_sample_) return;
  next_cpu_sample_ = Clock::now() + std::chrono::milliseconds(kCpuSampleMs);
  sampled_cpu_ms_ = std::max(sampled_cpu_ms_, internal::TreeCpuMs(internal::PidsInNamespace(bwrap_.pid_ns)));
  if (sampled_cpu_ms_ > spec_.limits.cpu_ms) {
    result.cpu_limit = true;
    Kill();
  }
}

void Supervision::Pump(RunResult& result) {
  bool out_open = true, err_open = true, status_open = true, exited = false;
  Clock::time_point exit_time;
  if (spec_.stdin_data.empty()) fds_.stdin_parent.Reset();
  while (out_open || err_open || !exited) {
    pollfd p[5];
    int n = 0;
    auto add = [&](bool want, int fd, int16_t events) {
      if (want && fd >= 0) p[n++] = pollfd{fd, events, 0};
    };
    add(out_open, fds_.out.read.Get(), POLLIN);
    add(err_open, fds_.err.read.Get(), POLLIN);
    add(status_open, fds_.status.read.Get(), POLLIN);
    add(true, fds_.stdin_parent.Get(), POLLOUT);
    add(!exited, pidfd_, POLLIN);
    const int64_t wall_left = spec_.limits.wall_ms - MsSince(start_);
    if (wall_left <= 0 && !killed_) {
      result.wall_limit = true;
      Kill();
    }
    const int timeout = static_cast<int>(std::clamp<int64_t>(wall_left, 1, kCpuSampleMs));
    if (poll(p, static_cast<nfds_t>(n), timeout) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (p[i].revents == 0) continue;
      const int fd = p[i].fd;
      if (fd == fds_.out.read.Get())
        out_open = ReadInto(fd, result.stdout_data, spec_.limits.output_bytes, result);
      if (fd == fds_.err.read.Get()) err_open = ReadInto(fd, result.stderr_data, kStderrCap, result);
      if (fd == fds_.status.read.Get()) {
        char buf[1024];
        const ssize_t got = read(fd, buf, sizeof(buf));
        status_open = got > 0 || (got < 0 && errno == EINTR);
        if (got > 0) status_text_.append(buf, static_cast<size_t>(got));
        OnBwrapStatus();
      }
      if (fd == fds_.stdin_parent.Get()) WriteStdin();
      if (fd == pidfd_ && !exited) {
        exited = true;
        exit_time = Clock::now();
      }
    }
    if (!killed_) CheckCpu(result);
    if (!killed_ && spec_.cancelled != nullptr && spec_.cancelled->load(std::memory_order_relaxed)) {
      cancelled_ = true;
      Kill();
    }
    // Once bwrap is gone the namespace is dead; a pipe still open after that is the reaper's business.
    if (exited && Clock::now() - exit_time > std::chrono::milliseconds(200)) break;
  }
}

int64_t CpuMs(const rusage& u) {
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1000;
}

void FillExit(int wait_status, const rusage& usage, const rusage& init_usage, const RunLimits& limits,
              RunResult& result) {
  if (WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
    if (result.exit_code > 128) result.term_signal = result.exit_code - 128;
  } else if (WIFSIGNALED(wait_status)) {
    result.term_signal = WTERMSIG(wait_status);
    result.exit_code = 128 + result.term_signal;
  }
  result.cpu_ms = CpuMs(usage) + CpuMs(init_usage);
  result.peak_rss_bytes = static_cast<int64_t>(std::max(usage.ru_maxrss, init_usage.ru_maxrss)) * 1024;
  if (result.cpu_ms > limits.cpu_ms || result.term_signal == SIGXCPU) result.cpu_limit = true;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

absl::Status ValidateSpec(const RunSpec& spec, int slot, int slots) {
  if (spec.argv.empty() || spec.argv[0].empty())
    return absl::InvalidArgumentError("sandbox: RunSpec.argv is empty");
  if (slot < 0 || slot >= slots)
    return absl::InvalidArgumentError(absl::StrCat("sandbox: slot ", slot, " outside [0, ", slots, ")"));
  const RunLimits& l = spec.limits;
  if (l.wall_ms <= 0 || l.cpu_ms <= 0 || l.memory_bytes <= 0 || l.output_bytes <= 0 || l.file_bytes <= 0 ||
      l.max_procs <= 0 || l.max_open_files <= 0)
    return absl::InvalidArgumentError("sandbox: every RunSpec.limits field must be > 0");
  for (const Mount& m : spec.mounts) {
    if (m.host_path.empty() || m.sandbox_path.empty() || m.sandbox_path[0] != '/')
      return absl::InvalidArgumentError(absl::StrCat("sandbox: mount '", m.host_path, "' -> '",
                                                     m.sandbox_path, "' needs an absolute target"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SandboxOptions> ResolveSandboxOptions(const config::SandboxConfig& config) {
  SandboxOptions o;
  if (config.slots() < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("reward.sandbox.slots must be >= 0, got ", config.slots()));
  if (config.queue_capacity() < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("reward.sandbox.queue_capacity must be >= 0, got ", config.queue_capacity()));
  if (config.tmp_bytes() < 0)
    return absl::InvalidArgumentError(
        absl::StrCat("reward.sandbox.tmp_bytes must be >= 0, got ", config.tmp_bytes()));
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  o.slots = config.slots() > 0 ? config.slots() : std::max(1, cores - 1);
  o.queue_capacity = config.queue_capacity() > 0 ? config.queue_capacity() : 2 * o.slots;
  for (const std::string& name : config.required_protections()) {
    if (!IsKnownProtection(name))
      return absl::InvalidArgumentError(
          absl::StrCat("reward.sandbox.required_protections: unknown protection '", name,
                       "' (known: ", absl::StrJoin(kProtectionNames, ", "), ")"));
    o.required_protections.push_back(name);
  }
  if (o.required_protections.empty()) {
    for (const char* name : kProtectionNames) {
      const std::string n(name);
      if (n != "dedicated_uid" && n != "cgroup_v2") o.required_protections.push_back(n);
    }
  }
  o.allow_degraded = config.allow_degraded();
  // Default: a range of its own per supervising process (pids are unique while both live), so that two
  // processes on a host never share a run uid and with it an RLIMIT_NPROC count.
  if (config.uid_base() != 0) {
    o.uid_base = config.uid_base();
  } else if (static_cast<uint32_t>(o.slots) > kSlotsPerDefaultUidRange) {
    return absl::InvalidArgumentError(
        absl::StrCat("reward.sandbox.slots must be <= ", kSlotsPerDefaultUidRange,
                     " unless reward.sandbox.uid_base is set, got ", o.slots));
  } else {
    o.uid_base = kDefaultUidFloor + static_cast<uint32_t>(getpid()) * kSlotsPerDefaultUidRange;
  }
  if (config.tmp_bytes() > 0) o.tmp_bytes = config.tmp_bytes();
  if (!config.bwrap_path().empty()) o.bwrap_path = config.bwrap_path();
  return o;
}

Sandbox::Sandbox(SandboxOptions options, std::string seccomp_bpf)
    : options_(std::move(options)), seccomp_bpf_(std::move(seccomp_bpf)), dedicated_uid_(geteuid() == 0) {}

Sandbox::~Sandbox() = default;

absl::StatusOr<std::unique_ptr<Sandbox>> Sandbox::Create(const SandboxOptions& options) {
  // The outer bwrap exits without reaping the namespace init; as a subreaper this process inherits it
  // and reaps it (with its tree's rusage) instead of leaving a zombie to the host's init.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    return absl::InternalError(
        absl::StrCat("sandbox: prctl(PR_SET_CHILD_SUBREAPER): ", std::strerror(errno)));
  M1RL_ASSIGN_OR_RETURN(std::string bpf, internal::BuildSeccompBpf());
  std::unique_ptr<Sandbox> sandbox(new Sandbox(options, std::move(bpf)));
  M1RL_RETURN_IF_ERROR(sandbox->Probe());
  return sandbox;
}

absl::Status Sandbox::Probe() {
  RunSpec spec;
  spec.argv = {"/bin/true"};
  spec.limits.wall_ms = 5000;
  absl::StatusOr<RunResult> probe = Run(spec, 0);
  const bool bwrap_ok = probe.ok() && probe->Succeeded();
  const std::string bwrap_detail =
      bwrap_ok ? "bwrap " + options_.bwrap_path
               : absl::StrCat("bwrap probe failed: ",
                              probe.ok() ? absl::StrCat("exit ", probe->exit_code, ": ", probe->stderr_data)
                                         : std::string{probe.status().message()});
  const bool proc_ok = internal::PidNamespaceInode(getpid()) != 0;
  const bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
  protections_.clear();
  for (const char* name : kProtectionNames) {
    const std::string n(name);
    ProtectionState p{n, bwrap_ok, bwrap_detail};
    if (n == "seccomp")
      p.detail = absl::StrCat(internal::DeniedSyscalls().size(), " syscalls + TIOCSTI -> EPERM");
    if (n == "wall_kill" || n == "tree_cpu_limit" || n == "reaper") {
      p.active = bwrap_ok && proc_ok;
      p.detail = proc_ok ? "PID-namespace scan of /proc" : "cannot read /proc/<pid>/ns/pid";
    }
    if (n == "dedicated_uid") {
      p.active = bwrap_ok && dedicated_uid_;
      p.detail = dedicated_uid_ ? absl::StrCat("uid ", options_.uid_base, " + slot; RLIMIT_NPROC per run")
                                : "not root: runs share the supervisor's uid; no RLIMIT_NPROC";
    }
    if (n == "cgroup_v2") {
      p.active = false;
      p.detail =
          v2 ? "cgroup v2 mounted but not used by this runner; rlimits + PID namespace + reaper in force"
             : "no cgroup v2 (cgroup v1 controllers mounted); rlimits + PID namespace + reaper in force";
    }
    protections_.push_back(p);
  }
  std::vector<std::string> missing;
  for (const std::string& required : options_.required_protections) {
    for (const ProtectionState& p : protections_) {
      if (p.name == required && !p.active) missing.push_back(absl::StrCat(p.name, " (", p.detail, ")"));
    }
  }
  if (!bwrap_ok) return absl::FailedPreconditionError(absl::StrCat("sandbox: cannot run: ", bwrap_detail));
  if (!missing.empty() && !options_.allow_degraded) {
    return absl::FailedPreconditionError(
        absl::StrCat("sandbox: required protections unavailable: ", absl::StrJoin(missing, "; "),
                     " (reward.sandbox.allow_degraded runs without them)"));
  }
  return absl::OkStatus();
}

std::vector<std::string> Sandbox::ProtectionSummary() const {
  std::vector<std::string> out;
  for (const ProtectionState& p : protections_)
    out.push_back(p.active ? p.name : absl::StrCat(p.name, "(off: ", p.detail, ")"));
  return out;
}

absl::StatusOr<RunResult> Sandbox::Run(const RunSpec& spec, int slot) const {
  M1RL_RETURN_IF_ERROR(ValidateSpec(spec, slot, options_.slots));
  const uid_t uid = static_cast<uid_t>(options_.uid_base + static_cast<uint32_t>(slot));
  for (const Mount& m : spec.mounts) {
    if (m.writable && dedicated_uid_ && chown(m.host_path.c_str(), uid, uid) != 0)
      return absl::InternalError(absl::StrCat("sandbox: chown ", m.host_path, ": ", std::strerror(errno)));
  }
  M1RL_ASSIGN_OR_RETURN(RunFds fds, MakeRunFds(seccomp_bpf_));
  ChildSetup setup;
  setup.args = BwrapArgs(options_, spec);
  setup.limits = RlimitsFor(spec.limits, dedicated_uid_);
  setup.dedicated_uid = dedicated_uid_;
  setup.uid = uid;
  const int child_fds[5] = {fds.stdin_child.Get(), fds.out.write.Get(), fds.err.write.Get(),
                            fds.seccomp.Get(), fds.status.write.Get()};
  std::copy(std::begin(child_fds), std::end(child_fds), setup.fds);
  std::vector<char*> argv = CStrings(setup.args);
  const auto start = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("sandbox: fork: ", std::strerror(errno)));
  if (pid == 0) ExecChild(setup, argv.data());
  fds.stdin_child.Reset();
  fds.out.write.Reset();
  fds.err.write.Reset();
  fds.status.write.Reset();
  fds.seccomp.Reset();
  fcntl(fds.stdin_parent.Get(), F_SETFL, O_NONBLOCK);
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.Get() < 0) {
    const int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return absl::InternalError(absl::StrCat("sandbox: pidfd_open: ", std::strerror(err)));
  }
  RunResult result;
  Supervision supervision(spec, pid, pidfd.Get(), fds);
  supervision.Pump(result);
  int wait_status = 0;
  rusage usage{};
  while (wait4(pid, &wait_status, 0, &usage) < 0 && errno == EINTR) {
  }
  // The namespace init was reparented to us (subreaper) when the outer bwrap exited; its rusage holds
  // the whole tree's CPU and peak RSS. It dies with its parent (--die-with-parent), so this is prompt.
  rusage init_usage{};
  if (supervision.InitPidfd() >= 0) {
    siginfo_t info{};
    while (syscall(SYS_waitid, kPidfdIdType, supervision.InitPidfd(), &info, WEXITED | __WALL, &init_usage) <
               0 &&
           errno == EINTR) {
    }
  }
  result.wall_ms = MsSince(start);
  FillExit(wait_status, usage, init_usage, spec.limits, result);
  result.cpu_ms = std::max(result.cpu_ms, supervision.SampledCpuMs());
  if (supervision.Bwrap().pid_ns != 0)
    result.reaped = internal::ReapNamespace(supervision.Bwrap().pid_ns, kReapTimeoutMs);
  if (supervision.Cancelled()) return absl::CancelledError("sandbox: run cancelled by the caller");
  if (!supervision.Killed() && !supervision.CommandRan()) {
    // bwrap (or its setup: a mount, the exec of argv[0]) failed: an infra fault, never the program's verdict.
    return absl::InternalError(absl::StrCat("sandbox: could not start ", spec.argv[0], " under ",
                                            options_.bwrap_path, " (exit ", result.exit_code,
                                            "): ", result.stderr_data.substr(0, 500)));
  }
  return result;
}

}  // namespace m1rl::reward::sandbox
