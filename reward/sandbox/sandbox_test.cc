// The isolation checklist of REWARDS.md §4 as executable tests: each program tries an escape and the test
// asserts the verdict the checklist expects. Programs are Python 3 (/usr/bin/python3) or the shell.
#include "reward/sandbox/sandbox.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace m1rl::reward::sandbox {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

class SandboxTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    config::SandboxConfig config;
    config.set_slots(2);
    absl::StatusOr<SandboxOptions> options = ResolveSandboxOptions(config);
    ASSERT_TRUE(options.ok()) << options.status();
    absl::StatusOr<std::unique_ptr<Sandbox>> sandbox = Sandbox::Create(*options);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    shared_sandbox = std::move(*sandbox).release();
  }
  static void TearDownTestSuite() {
    delete shared_sandbox;
    shared_sandbox = nullptr;
  }

  static RunResult Run(const RunSpec& spec, int slot = 0) {
    absl::StatusOr<RunResult> result = shared_sandbox->Run(spec, slot);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : RunResult{};
  }
  static RunResult Python(const std::string& code, RunLimits limits = {}, int slot = 0) {
    RunSpec spec;
    spec.argv = {"/usr/bin/python3", "-c", code};
    spec.limits = limits;
    return Run(spec, slot);
  }
  static RunResult Shell(const std::string& script, RunLimits limits = {}) {
    RunSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.limits = limits;
    return Run(spec);
  }

  static Sandbox* shared_sandbox;
};
Sandbox* SandboxTest::shared_sandbox = nullptr;

// Host processes whose command line contains `marker`.
int HostProcessesWith(const std::string& marker) {
  int count = 0;
  DIR* dir = opendir("/proc");
  while (const dirent* e = readdir(dir)) {
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(marker) != std::string::npos) ++count;
  }
  closedir(dir);
  return count;
}

TEST_F(SandboxTest, TrivialRunSucceedsWithOutputAndStdin) {
  RunSpec spec;
  spec.argv = {"/bin/sh", "-c", "read x; echo got:$x; echo err >&2; exit 3"};
  spec.stdin_data = "hello\n";
  RunResult r = Run(spec);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.term_signal, 0);
  EXPECT_EQ(r.stdout_data, "got:hello\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_FALSE(r.wall_limit || r.cpu_limit || r.output_limit);
  EXPECT_EQ(r.reaped, 0);
}

// Checklist 1: no egress over TCP/UDP v4/v6, no DNS, no metadata endpoint; loopback works.
TEST_F(SandboxTest, NoNetworkEgressButLoopback) {
  const std::string code = R"PY(
import socket
def attempt(name, fn):
    try:
        fn(); print(name, "OPEN")
    except Exception as e:
        print(name, "blocked")
def tcp4(): socket.create_connection(("1.1.1.1", 53), timeout=1)
def tcp6(): socket.create_connection(("2606:4700:4700::1111", 53), timeout=1)
def meta(): socket.create_connection(("169.254.169.254", 80), timeout=1)
def udp4():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("8.8.8.8", 53))
def dns(): socket.getaddrinfo("example.com", 80)
for name, fn in [("tcp4", tcp4), ("tcp6", tcp6), ("meta", meta), ("udp4", udp4), ("dns", dns)]:
    attempt(name, fn)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.create_connection(srv.getsockname(), timeout=1); a, _ = srv.accept(); c.sendall(b"ping")
print("loopback", a.recv(4).decode())
)PY";
  RunResult r = Python(code);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data,
            "tcp4 blocked\ntcp6 blocked\nmeta blocked\nudp4 blocked\ndns blocked\nloopback ping\n");
}

// Checklist 1: two runs at once bind the same loopback port (separate network namespaces).
TEST_F(SandboxTest, TwoRunsBindTheSamePort) {
  const std::string code =
      "import "
      "socket,time\ns=socket.socket();s.bind(('127.0.0.1',47123));s.listen(1);time.sleep(0.5);print('bound')";
  RunResult other;
  std::thread t([&] { other = Python(code, {}, 1); });
  RunResult r = Python(code, {}, 0);
  t.join();
  EXPECT_EQ(r.stdout_data, "bound\n") << r.stderr_data;
  EXPECT_EQ(other.stdout_data, "bound\n") << other.stderr_data;
}

// Checklist 2: a busy loop ends at the CPU limit (+10% and the sampling period); sleep at the wall limit.
TEST_F(SandboxTest, BusyLoopHitsCpuLimit) {
  RunLimits limits;
  limits.cpu_ms = 600;
  limits.wall_ms = 5000;
  RunResult r = Python("while True: pass", limits);
  EXPECT_TRUE(r.cpu_limit);
  EXPECT_FALSE(r.wall_limit);
  // CPU at the kill: the limit + 10% + one 50 ms sampling period (wall time depends on the machine's load).
  EXPECT_GE(r.cpu_ms, 600);
  EXPECT_LE(r.cpu_ms, 600 * 11 / 10 + 50);
}

TEST_F(SandboxTest, SleepForeverIsKilledAtWallLimit) {
  RunLimits limits;
  limits.wall_ms = 400;
  RunResult r = Shell("sleep 1000", limits);
  EXPECT_TRUE(r.wall_limit);
  EXPECT_FALSE(r.cpu_limit);
  EXPECT_GE(r.wall_ms, 400);
  EXPECT_LT(r.wall_ms, 400 + 1000);
}

// Checklist 2 and 4: an orphaned child, and a setsid double-fork daemon, die with the run.
TEST_F(SandboxTest, DoubleForkSetsidDaemonDoesNotSurvive) {
  const std::string marker = "m1rl-sandbox-daemon-" + std::to_string(getpid());
  const std::string code = R"PY(
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/python3", ["/usr/bin/python3", "-c", "import time; time.sleep(1000)", sys.argv[1]])
    os._exit(0)
print("parent exits")
)PY";
  RunSpec spec;
  spec.argv = {"/usr/bin/python3", "-c", code, marker};
  RunResult r = Run(spec);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "parent exits\n");
  EXPECT_FALSE(r.wall_limit);
  EXPECT_LT(r.wall_ms, 3000);
  EXPECT_EQ(HostProcessesWith(marker), 0);
}

// Checklist 3: touching the memory limit + 64 MiB fails inside the run.
TEST_F(SandboxTest, MemoryBombIsStopped) {
  RunLimits limits;
  limits.memory_bytes = int64_t{128} << 20;
  const std::string code = R"PY(
chunks = []
try:
    for i in range((128 + 64) // 16):
        chunks.append(bytearray(16 << 20))
    print("allocated", len(chunks))
except MemoryError:
    print("MemoryError after", len(chunks))
    raise
)PY";
  RunResult r = Python(code, limits);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stdout_data, HasSubstr("MemoryError after"));
  EXPECT_LE(r.peak_rss_bytes, limits.memory_bytes);
  EXPECT_GT(r.peak_rss_bytes, limits.memory_bytes / 2);
}

// Checklist 4: a fork bomb is bounded by RLIMIT_NPROC on the run's own uid.
TEST_F(SandboxTest, ForkBombIsBounded) {
  if (!shared_sandbox->has_dedicated_uid()) GTEST_SKIP() << "needs root for a dedicated uid (RLIMIT_NPROC)";
  RunLimits limits;
  limits.max_procs = 16;
  limits.wall_ms = 3000;
  const std::string code = R"PY(
import os, time
n = 0
try:
    while n < 1000:
        pid = os.fork()
        if pid == 0:
            time.sleep(30); os._exit(0)
        n += 1
except OSError as e:
    print("forks", n, "errno", e.errno)
)PY";
  RunResult r = Python(code, limits);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  int forks = -1, err = -1;
  ASSERT_EQ(std::sscanf(r.stdout_data.c_str(), "forks %d errno %d", &forks, &err), 2) << r.stdout_data;
  EXPECT_EQ(err, 11);  // EAGAIN
  EXPECT_LT(forks, 16);
  EXPECT_GE(forks, 1);
}

// Checklist 5: no writes outside /tmp, /tmp is capped, no host files, own pids only, stdout flood capped.
TEST_F(SandboxTest, FilesystemIsReadOnlyAndPrivate) {
  const std::string code = R"PY(
import os
def attempt(name, fn):
    try:
        fn(); print(name, "OPEN")
    except OSError as e:
        print(name, "denied")
attempt("write_root", lambda: open("/x", "w"))
attempt("write_usr", lambda: open("/usr/x", "w"))
attempt("read_shadow", lambda: open("/etc/shadow").read())
attempt("list_work", lambda: os.listdir("/work"))
attempt("list_root", lambda: os.listdir("/root"))
attempt("list_home", lambda: os.listdir("/home"))
def fill():
    with open("/tmp/fill", "wb") as f:
        for _ in range(96):
            f.write(b"\0" * (1 << 20)); f.flush()
attempt("fill_tmp", fill)
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("top", sorted(os.listdir("/")))
)PY";
  RunLimits limits;
  limits.file_bytes = int64_t{256} << 20;  // let the tmpfs cap (not RLIMIT_FSIZE) stop the fill
  RunResult r = Python(code, limits);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data,
            "write_root denied\nwrite_usr denied\nread_shadow denied\nlist_work denied\nlist_root denied\n"
            "list_home denied\nfill_tmp denied\npids [1, 2]\n"
            "top ['bin', 'dev', 'lib', 'lib64', 'proc', 'sbin', 'tmp', 'usr']\n");
}

TEST_F(SandboxTest, StdoutFloodIsCapped) {
  RunLimits limits;
  limits.output_bytes = 100000;
  RunResult r = Shell("yes flood", limits);
  EXPECT_TRUE(r.output_limit);
  EXPECT_FALSE(r.wall_limit);
  EXPECT_EQ(r.stdout_data.size(), 100000u);
  EXPECT_LT(r.wall_ms, 3000);
}

// Checklist 6: no root, no capabilities, and the denied syscalls fail with EPERM.
TEST_F(SandboxTest, NoPrivilegeAndDeniedSyscalls) {
  const std::string code = R"PY(
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("uid", os.getuid(), "euid", os.geteuid())
print([l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0])
calls = {"ptrace": (101, 0, 0, 0, 0), "mount": (165, 0, 0, 0, 0), "bpf": (321, 0, 0, 0),
         "keyctl": (250, 0, 0, 0), "io_uring_setup": (425, 1, 0), "unshare": (272, 0x10000000),
         "perf_event_open": (298, 0, 0, 0, 0, 0)}
for name, args in calls.items():
    rc = libc.syscall(*args)
    print(name, rc, ctypes.get_errno())
import fcntl, termios
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x"); print("tiocsti OPEN")
except OSError as e:
    print("tiocsti", e.errno)
)PY";
  RunResult r = Python(code);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data,
            "uid 65534 euid 65534\n0000000000000000\nptrace -1 1\nmount -1 1\nbpf -1 1\nkeyctl -1 1\n"
            "io_uring_setup -1 1\nunshare -1 1\nperf_event_open -1 1\ntiocsti 1\n");
}

// Checklist 7: a run cannot see or signal another run.
TEST_F(SandboxTest, OtherRunsAreInvisible) {
  RunResult victim;
  std::thread t([&] { victim = Python("import time\ntime.sleep(1.0)\nprint('alive')", {}, 1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::string attacker = R"PY(
import os, signal
others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
print("others", others)
try:
    os.kill(-1, signal.SIGKILL)
except OSError as e:
    print("kill -1", e.errno)
print("done")
)PY";
  RunResult r = Python(attacker, {}, 0);
  t.join();
  EXPECT_EQ(r.stdout_data, "others []\nkill -1 3\ndone\n") << r.stderr_data;
  EXPECT_EQ(victim.exit_code, 0);
  EXPECT_EQ(victim.stdout_data, "alive\n");
}

// Checklist 9: environment is the allowlist, only fds 0-2 are open, the workdir is empty.
TEST_F(SandboxTest, EnvFdsAndWorkdirAreClean) {
  const std::string code =
      "import os\nprint(sorted(os.environ))\nprint(sorted(int(f) for f in os.listdir('/proc/self/fd')))\n"
      "print(os.getcwd(), os.listdir('.'))";
  RunResult r = Python(code);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  // listdir opens one more fd (3) for /proc/self/fd itself; bwrap --chdir sets PWD.
  EXPECT_EQ(r.stdout_data, "['HOME', 'LANG', 'PATH', 'PWD']\n[0, 1, 2, 3]\n/tmp []\n");
}

TEST_F(SandboxTest, ReportsProtections) {
  int active = 0;
  for (const ProtectionState& p : shared_sandbox->protections()) {
    if (p.name == "cgroup_v2") {
      EXPECT_FALSE(p.active);
      EXPECT_THAT(p.detail, HasSubstr("rlimits + PID namespace + reaper in force"));
    } else if (p.name != "dedicated_uid") {
      EXPECT_TRUE(p.active) << p.name << ": " << p.detail;
    }
    active += p.active ? 1 : 0;
  }
  EXPECT_GE(active, 11);
  EXPECT_EQ(shared_sandbox->protections().size(), std::size(kProtectionNames));
}

// A command bwrap cannot start is an infra error, not the program's exit status (which could be faked).
TEST_F(SandboxTest, MissingCommandIsAnInfraErrorButItsExitIsNot) {
  RunSpec spec;
  spec.argv = {"/usr/bin/m1rl-no-such-program"};
  EXPECT_THAT(
      shared_sandbox->Run(spec, 0).status(),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("could not start /usr/bin/m1rl-no-such-program")));
  RunResult r = Shell("echo 'bwrap: execvp /x: No such file or directory' >&2; exit 1");
  EXPECT_EQ(r.exit_code, 1);
}

TEST(SandboxCreateTest, RefusesWhenARequiredProtectionIsUnavailable) {
  config::SandboxConfig config;
  config.add_required_protections("seccomp");
  config.add_required_protections("cgroup_v2");
  absl::StatusOr<SandboxOptions> options = ResolveSandboxOptions(config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(Sandbox::Create(*options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("required protections unavailable: cgroup_v2 (")));
  config.set_allow_degraded(true);
  options = ResolveSandboxOptions(config);
  ASSERT_TRUE(options.ok());
  EXPECT_TRUE(Sandbox::Create(*options).ok());
}

TEST(SandboxCreateTest, RefusesWithoutBwrap) {
  config::SandboxConfig config;
  config.set_bwrap_path("/nonexistent/bwrap");
  absl::StatusOr<SandboxOptions> options = ResolveSandboxOptions(config);
  ASSERT_TRUE(options.ok());
  EXPECT_THAT(Sandbox::Create(*options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("/nonexistent/bwrap")));
}

TEST(SandboxOptionsTest, RejectsBadConfigNamingTheField) {
  config::SandboxConfig config;
  config.add_required_protections("magic");
  EXPECT_THAT(ResolveSandboxOptions(config).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("reward.sandbox.required_protections: unknown protection 'magic'")));
  config.Clear();
  config.set_slots(300);
  EXPECT_THAT(ResolveSandboxOptions(config).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "reward.sandbox.slots must be <= 256 unless reward.sandbox.uid_base is set, got 300"));
  config.set_uid_base(2000000);
  absl::StatusOr<SandboxOptions> pinned = ResolveSandboxOptions(config);
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(pinned->uid_base, 2000000u);
  config.Clear();
  absl::StatusOr<SandboxOptions> by_pid = ResolveSandboxOptions(config);
  ASSERT_TRUE(by_pid.ok());
  EXPECT_EQ(by_pid->uid_base, 100000u + 256u * static_cast<uint32_t>(getpid()));
  config.set_slots(-1);
  EXPECT_THAT(
      ResolveSandboxOptions(config).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reward.sandbox.slots must be >= 0, got -1")));
}

}  // namespace
}  // namespace m1rl::reward::sandbox
