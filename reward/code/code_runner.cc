#include "reward/code/code_runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "reward/code/compare.h"
#include "reward/sandbox/work_dir.h"

namespace m1rl::reward::code {
namespace {

using sandbox::RunResult;
using sandbox::RunSpec;
using sandbox::SandboxPool;
using sandbox::WorkDir;

constexpr int64_t kCompileMemoryBytes = int64_t{2} << 30;
constexpr int64_t kCompileOutputBytes = 64 << 10;
constexpr int64_t kMaxTimeLimitMs = 60000;
constexpr int64_t kMaxMemoryBytes = int64_t{8} << 30;

absl::Status CheckNonNegative(const char* field, double value) {
  if (value >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " must be >= 0, got ", value));
}

absl::Status CheckUnderUsr(const char* field, const std::string& path) {
  if (path.rfind("/usr/", 0) == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be under /usr/ (the only host tree the sandbox shows), got '", path, "'"));
}

CodeReport Failed(rl::ItemStatus status, std::string error) {
  CodeReport r;
  r.status = status;
  r.error = std::move(error);
  return r;
}

CodeReport FromPoolError(const absl::Status& status) {
  return Failed(PoolErrorStatus(status), std::string{status.message()});
}

bool OutOfMemory(const RunResult& r, int64_t memory_bytes) {
  return r.peak_rss_bytes * 5 >= memory_bytes * 4 || r.stderr_data.find("MemoryError") != std::string::npos ||
         r.stderr_data.find("std::bad_alloc") != std::string::npos;
}

TestOutcome Classify(const rl::CodeTest& test, const RunResult& r, const sandbox::RunLimits& limits,
                     const CompareOptions& compare) {
  TestOutcome t;
  t.exit_code = r.exit_code;
  t.term_signal = r.term_signal;
  t.cpu_ms = r.cpu_ms;
  t.wall_ms = r.wall_ms;
  t.peak_rss_bytes = r.peak_rss_bytes;
  t.output_head = r.stdout_data.substr(0, 200);
  const bool failed = r.exit_code != 0 || r.term_signal != 0;
  if (r.cpu_limit || r.wall_limit) {
    t.verdict = TestVerdict::kTimeLimit;
    t.reason = r.cpu_limit ? absl::StrCat("cpu ", r.cpu_ms, " ms") : absl::StrCat("wall ", r.wall_ms, " ms");
  } else if (failed && !r.output_limit && OutOfMemory(r, limits.memory_bytes)) {
    t.verdict = TestVerdict::kMemoryLimit;
    t.reason = absl::StrCat("peak rss ", r.peak_rss_bytes >> 20, " MiB");
  } else if (r.output_limit) {
    t.verdict = TestVerdict::kRuntimeError;
    t.reason = "output_limit";
  } else if (failed) {
    t.verdict = TestVerdict::kRuntimeError;
    t.reason =
        r.term_signal != 0 ? absl::StrCat("signal ", r.term_signal) : absl::StrCat("exit ", r.exit_code);
  } else {
    const CompareResult c = CompareOutput(test.expected(), r.stdout_data, compare);
    t.verdict = c.match ? TestVerdict::kAccepted : TestVerdict::kWrongAnswer;
    t.reason = c.reason;
  }
  return t;
}

sandbox::RunLimits TestLimits(const CodeOptions& options, const rl::CodePayload& payload) {
  sandbox::RunLimits l;
  l.cpu_ms = payload.time_limit_ms() > 0 ? payload.time_limit_ms() : options.time_limit_ms;
  l.wall_ms = 2 * l.cpu_ms + 500;
  l.memory_bytes = payload.memory_bytes() > 0 ? payload.memory_bytes() : options.memory_bytes;
  l.output_bytes = options.output_bytes;
  l.max_procs = options.max_procs;
  return l;
}

SandboxPool::Clock::time_point Deadline(const CheckContext& ctx, int64_t wall_ms) {
  // One second of slack past the run's own wall limit for start-up and the reaper.
  const auto own = SandboxPool::Clock::now() + std::chrono::milliseconds(wall_ms + 1000);
  return std::min(own, ctx.deadline);
}

// Compiles /src/main.cpp to /out/main. OK with an empty string, or the compile log on failure;
// a non-OK status is an infra/pool fault.
absl::StatusOr<std::string> CompileCpp(SandboxPool& pool, const CodeOptions& options, const WorkDir& dir,
                                       const CheckContext& ctx, bool* compiled) {
  RunSpec spec;
  spec.argv = {options.cxx_path, "-std=c++17", "-O2", "-pipe", "-o", "/out/main", "/src/main.cpp"};
  spec.mounts = {{dir.Path("src"), "/src", false}, {dir.Path("out"), "/out", true}};
  spec.limits.cpu_ms = options.compile_time_limit_ms;
  spec.limits.wall_ms = 2 * options.compile_time_limit_ms + 1000;
  spec.limits.memory_bytes = kCompileMemoryBytes;
  spec.limits.output_bytes = kCompileOutputBytes;
  spec.limits.file_bytes = int64_t{256} << 20;
  spec.limits.max_procs = options.max_procs;
  spec.cancelled = ctx.cancelled;
  M1RL_ASSIGN_OR_RETURN(RunResult r, pool.Run(spec, Deadline(ctx, spec.limits.wall_ms)));
  *compiled = r.Succeeded();
  if (*compiled) return std::string();
  std::string log = r.stderr_data.substr(0, 4096);
  if (r.cpu_limit || r.wall_limit) log = absl::StrCat("compile time limit; ", log);
  if (r.output_limit) log = absl::StrCat("compile output limit; ", log);
  return log.empty() ? absl::StrCat("g++ exit ", r.exit_code) : log;
}

}  // namespace

rl::ItemStatus PoolErrorStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return rl::RESOURCE_EXHAUSTED;
    case absl::StatusCode::kDeadlineExceeded:
      return rl::TIMEOUT;
    case absl::StatusCode::kCancelled:
      return rl::CANCELLED;
    default:
      return rl::INFRA_ERROR;
  }
}

absl::StatusOr<CodeOptions> ResolveCodeOptions(const config::CodeConfig& config) {
  M1RL_RETURN_IF_ERROR(
      CheckNonNegative("reward.code.time_limit_ms", static_cast<double>(config.time_limit_ms())));
  M1RL_RETURN_IF_ERROR(
      CheckNonNegative("reward.code.memory_bytes", static_cast<double>(config.memory_bytes())));
  M1RL_RETURN_IF_ERROR(
      CheckNonNegative("reward.code.output_bytes", static_cast<double>(config.output_bytes())));
  M1RL_RETURN_IF_ERROR(CheckNonNegative("reward.code.max_procs", config.max_procs()));
  M1RL_RETURN_IF_ERROR(CheckNonNegative("reward.code.compile_time_limit_ms",
                                        static_cast<double>(config.compile_time_limit_ms())));
  CodeOptions o;
  if (config.time_limit_ms() > 0) o.time_limit_ms = config.time_limit_ms();
  if (config.memory_bytes() > 0) o.memory_bytes = config.memory_bytes();
  if (config.output_bytes() > 0) o.output_bytes = config.output_bytes();
  if (config.max_procs() > 0) o.max_procs = config.max_procs();
  if (config.compile_time_limit_ms() > 0) o.compile_time_limit_ms = config.compile_time_limit_ms();
  o.partial_credit = config.partial_credit();
  if (!config.python_path().empty()) o.python_path = config.python_path();
  if (!config.cxx_path().empty()) o.cxx_path = config.cxx_path();
  M1RL_RETURN_IF_ERROR(CheckUnderUsr("reward.code.python_path", o.python_path));
  M1RL_RETURN_IF_ERROR(CheckUnderUsr("reward.code.cxx_path", o.cxx_path));
  return o;
}

absl::Status ValidateCodePayload(const rl::CodePayload& payload) {
  if (payload.language() != rl::CodePayload::PYTHON3 && payload.language() != rl::CodePayload::CPP)
    return absl::InvalidArgumentError(absl::StrCat("item.code.language must be PYTHON3 or CPP, got ",
                                                   rl::CodePayload::Language_Name(payload.language())));
  if (payload.tests().empty()) return absl::InvalidArgumentError("item.code.tests is empty");
  if (payload.checker() != rl::CodePayload::TOKENS && payload.checker() != rl::CodePayload::FLOAT &&
      payload.checker() != rl::CodePayload::EXACT)
    return absl::InvalidArgumentError(absl::StrCat("item.code.checker: unknown value ", payload.checker()));
  M1RL_RETURN_IF_ERROR(CheckNonNegative("item.code.float_abs", payload.float_abs()));
  M1RL_RETURN_IF_ERROR(CheckNonNegative("item.code.float_rel", payload.float_rel()));
  if (payload.time_limit_ms() < 0 || payload.time_limit_ms() > kMaxTimeLimitMs)
    return absl::InvalidArgumentError(absl::StrCat("item.code.time_limit_ms must be in [0, ", kMaxTimeLimitMs,
                                                   "], got ", payload.time_limit_ms()));
  if (payload.memory_bytes() < 0 || payload.memory_bytes() > kMaxMemoryBytes)
    return absl::InvalidArgumentError(absl::StrCat("item.code.memory_bytes must be in [0, ", kMaxMemoryBytes,
                                                   "], got ", payload.memory_bytes()));
  return absl::OkStatus();
}

const char* TestVerdictName(TestVerdict verdict) {
  switch (verdict) {
    case TestVerdict::kAccepted:
      return "ACCEPTED";
    case TestVerdict::kWrongAnswer:
      return "WRONG_ANSWER";
    case TestVerdict::kTimeLimit:
      return "TIME_LIMIT";
    case TestVerdict::kMemoryLimit:
      return "MEMORY_LIMIT";
    case TestVerdict::kRuntimeError:
      return "RUNTIME_ERROR";
    case TestVerdict::kCompileError:
      return "COMPILE_ERROR";
  }
  return "UNKNOWN";
}

int CodeReport::NumAccepted() const {
  return static_cast<int>(std::count_if(
      tests.begin(), tests.end(), [](const TestOutcome& t) { return t.verdict == TestVerdict::kAccepted; }));
}

std::string CodeReport::Summary() const {
  std::string out = absl::StrCat(NumAccepted(), "/", tests.size(), " accepted:");
  for (const TestOutcome& t : tests) {
    absl::StrAppend(&out, " ", t.id, "=", TestVerdictName(t.verdict));
    if (t.verdict != TestVerdict::kAccepted && !t.reason.empty()) absl::StrAppend(&out, "(", t.reason, ")");
  }
  if (!compile_log.empty()) absl::StrAppend(&out, "; compile log: ", compile_log.substr(0, 500));
  return out;
}

CodeReport RunCode(SandboxPool& pool, const CodeOptions& options, const rl::CodePayload& payload,
                   std::string_view source, const CheckContext& ctx) {
  // src/ (the program, read-only in the sandbox) and out/ (the compiler's output).
  absl::StatusOr<std::unique_ptr<WorkDir>> dir = WorkDir::Create("code", {{"src", 0755}, {"out", 0755}});
  if (!dir.ok()) return Failed(rl::INFRA_ERROR, std::string{dir.status().message()});
  const bool cpp = payload.language() == rl::CodePayload::CPP;
  if (absl::Status s = (*dir)->WriteFile("src", cpp ? "main.cpp" : "main.py", source); !s.ok())
    return Failed(rl::INFRA_ERROR, std::string{s.message()});
  CodeReport report;
  bool compiled = true;
  if (cpp) {
    absl::StatusOr<std::string> log = CompileCpp(pool, options, **dir, ctx, &compiled);
    if (!log.ok()) return FromPoolError(log.status());
    report.compile_log = *log;
  }
  CompareOptions compare;
  compare.checker = payload.checker();
  if (payload.float_abs() > 0) compare.abs_tol = payload.float_abs();
  if (payload.float_rel() > 0) compare.rel_tol = payload.float_rel();
  RunSpec spec;
  spec.argv = cpp ? std::vector<std::string>{"/out/main"}
                  : std::vector<std::string>{options.python_path, "-I", "-S", "-B", "/src/main.py"};
  spec.mounts = {{(*dir)->Path("src"), "/src", false}, {(*dir)->Path("out"), "/out", false}};
  spec.limits = TestLimits(options, payload);
  spec.cancelled = ctx.cancelled;
  for (int i = 0; i < payload.tests_size(); ++i) {
    const rl::CodeTest& test = payload.tests(i);
    TestOutcome outcome;
    if (compiled) {
      if (ctx.Cancelled()) return Failed(rl::CANCELLED, "cancelled");
      spec.stdin_data = test.stdin();
      absl::StatusOr<RunResult> r = pool.Run(spec, Deadline(ctx, spec.limits.wall_ms));
      if (!r.ok()) return FromPoolError(r.status());
      outcome = Classify(test, *r, spec.limits, compare);
    } else {
      outcome.verdict = TestVerdict::kCompileError;
    }
    outcome.id = test.id().empty() ? std::to_string(i) : test.id();
    report.tests.push_back(std::move(outcome));
  }
  return report;
}

}  // namespace m1rl::reward::code
