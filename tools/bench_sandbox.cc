// tools/bench_sandbox: the cost of the sandbox (reward/sandbox) on a trivial program (/usr/bin/true).
//  1. Start-to-exit latency p50/p99 of one run, sequential, through Sandbox::Run (bwrap, seccomp, rlimits,
//     supervisor, reaper) versus fork + execve + wait4 of the same program without a sandbox.
//  2. Executions per second per worker thread (closed loop, --workers threads, one slot each) for both.
// Both paths run in the same process on the same inputs, after a warm-up; the ratios are printed, with the
// protections that were active.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iomanip>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/flags.h"
#include "reward/sandbox/sandbox.h"

namespace m1rl::reward::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

// fork + execve + wait4 of /usr/bin/true; false if it did not exit 0.
bool RunBare() {
  const pid_t pid = fork();
  if (pid == 0) {
    char* const argv[] = {const_cast<char*>("/usr/bin/true"), nullptr};
    char* const env[] = {nullptr};
    execve(argv[0], argv, env);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct Sample {
  std::vector<double> latencies_ms;
  int64_t failures = 0;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

// Runs `fn` on `workers` threads (thread w passes slot w) until `seconds` pass.
Sample ClosedLoop(int workers, double seconds, const std::function<bool(int)>& fn) {
  std::vector<Sample> per(static_cast<size_t>(workers));
  const auto stop =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      while (Clock::now() < stop) {
        const auto start = Clock::now();
        const bool ok = fn(w);
        per[static_cast<size_t>(w)].latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (!ok) ++per[static_cast<size_t>(w)].failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Sample all;
  for (const Sample& s : per) {
    all.latencies_ms.insert(all.latencies_ms.end(), s.latencies_ms.begin(), s.latencies_ms.end());
    all.failures += s.failures;
  }
  return all;
}

void Print(const char* name, const Sample& s, int workers, double seconds) {
  std::cout << "  " << std::left << std::setw(9) << name << std::right << std::fixed << std::setprecision(3)
            << " p50 " << std::setw(8) << Percentile(s.latencies_ms, 0.5) << " ms  p99 " << std::setw(8)
            << Percentile(s.latencies_ms, 0.99) << " ms  " << std::setprecision(1) << std::setw(8)
            << static_cast<double>(s.latencies_ms.size()) / seconds / workers << " exec/s/worker  ("
            << s.latencies_ms.size() << " runs, " << s.failures << " failed)\n";
}

int Main(int argc, char** argv) {
  double seconds = 3.0;
  int64_t workers = 1;
  FlagSet flags("bench_sandbox", "Sandbox start overhead and executions/s/core vs no sandbox.");
  flags.AddDouble("seconds", &seconds, "duration of each measurement");
  flags.AddInt("workers", &workers, "concurrent runs (threads, one sandbox slot each)");
  if (std::optional<int> exit_code = flags.ParseForCommand(argc, argv, 1)) return *exit_code;
  if (workers < 1 || seconds <= 0) {
    std::cerr << "bench_sandbox: --workers must be >= 1 and --seconds > 0\n";
    return 2;
  }
  config::SandboxConfig config;
  config.set_slots(static_cast<int>(workers));
  absl::StatusOr<SandboxOptions> options = ResolveSandboxOptions(config);
  absl::StatusOr<std::unique_ptr<Sandbox>> sandbox =
      options.ok() ? Sandbox::Create(*options) : absl::StatusOr<std::unique_ptr<Sandbox>>(options.status());
  if (!sandbox.ok()) {
    std::cerr << "bench_sandbox: " << sandbox.status().message() << "\n";
    return 1;
  }
  RunSpec spec;
  spec.argv = {"/usr/bin/true"};
  auto sandboxed = [&](int slot) {
    absl::StatusOr<RunResult> r = (*sandbox)->Run(spec, slot);
    return r.ok() && r->Succeeded();
  };
  auto bare = [](int) { return RunBare(); };
  std::cout << "bench_sandbox: /usr/bin/true, " << std::thread::hardware_concurrency()
            << " hardware threads, " << workers << " worker(s), " << seconds << " s per run\n";
  std::cout << "protections: " << absl::StrJoin((*sandbox)->ProtectionSummary(), ", ") << "\n";
  ClosedLoop(static_cast<int>(workers), 0.5, bare);  // warm-up
  ClosedLoop(static_cast<int>(workers), 0.5, sandboxed);
  const Sample b = ClosedLoop(static_cast<int>(workers), seconds, bare);
  const Sample s = ClosedLoop(static_cast<int>(workers), seconds, sandboxed);
  Print("bare", b, static_cast<int>(workers), seconds);
  Print("sandbox", s, static_cast<int>(workers), seconds);
  const double b50 = Percentile(b.latencies_ms, 0.5), s50 = Percentile(s.latencies_ms, 0.5);
  const double b99 = Percentile(b.latencies_ms, 0.99), s99 = Percentile(s.latencies_ms, 0.99);
  std::cout << std::fixed << std::setprecision(3) << "sandbox start overhead: p50 +" << s50 - b50
            << " ms, p99 +" << s99 - b99 << " ms\n"
            << std::setprecision(2) << "ratio sandbox / bare: latency p50 " << s50 / b50 << "x, p99 "
            << s99 / b99 << "x, throughput "
            << static_cast<double>(s.latencies_ms.size()) / static_cast<double>(b.latencies_ms.size())
            << "x\n";
  return b.failures == 0 && s.failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace m1rl::reward::sandbox

int main(int argc, char** argv) { return m1rl::reward::sandbox::Main(argc, argv); }
