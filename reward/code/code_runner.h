// Runs a candidate program on the tests of a rl::CodePayload in the sandbox pool and gives each test a
// verdict (REWARDS.md §4). The supervisor's own exit status, limits and the comparator decide; nothing the
// program prints about itself counts ("PASSED" is just output, an early exit(0) is missing output).
//
// Per test, precedence infra > time > memory > runtime > compare:
//   TIME_LIMIT     tree CPU over time_limit_ms, or wall (2 * time_limit_ms + 500 ms) reached;
//   MEMORY_LIMIT   failed and (peak RSS >= 80% of memory_bytes, or the runtime's out-of-memory marker
//                  on stderr: Python "MemoryError", C++ "std::bad_alloc");
//   RUNTIME_ERROR  non-zero exit, a signal, or stdout + stderr over output_bytes ("output_limit");
//   WRONG_ANSWER / ACCEPTED by the payload's checker (compare.h).
// COMPILE_ERROR marks every test when g++ fails (or passes its limits); the log is kept.
// Sandbox/pool faults make the whole report non-OK (INFRA_ERROR, RESOURCE_EXHAUSTED, TIMEOUT), never a
// verdict.
//
// Thread-safe; blocks the calling thread while the tests run (one slot at a time).
#ifndef M1RL_REWARD_CODE_CODE_RUNNER_H_
#define M1RL_REWARD_CODE_CODE_RUNNER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config_reward.pb.h"
#include "proto/rl.pb.h"
#include "reward/sandbox/pool.h"
#include "reward/verifier.h"

namespace m1rl::reward::code {

// Resolved CodeConfig.
struct CodeOptions {
  int64_t time_limit_ms = 2000;
  int64_t memory_bytes = int64_t{256} << 20;
  int64_t output_bytes = int64_t{1} << 20;
  int max_procs = 16;
  int64_t compile_time_limit_ms = 20000;
  bool partial_credit = false;
  std::string python_path = "/usr/bin/python3";
  std::string cxx_path = "/usr/bin/g++";
};

// Defaults applied; kInvalidArgument naming the field ("reward.code.time_limit_ms must be >= 0, got -5").
absl::StatusOr<CodeOptions> ResolveCodeOptions(const config::CodeConfig& config);

// kInvalidArgument naming the field ("item.code.language is unspecified", "item.code.tests is empty",
// "item.code.float_abs must be >= 0, got -1", ...).
absl::Status ValidateCodePayload(const rl::CodePayload& payload);

enum class TestVerdict { kAccepted, kWrongAnswer, kTimeLimit, kMemoryLimit, kRuntimeError, kCompileError };
const char* TestVerdictName(TestVerdict verdict);  // "ACCEPTED", "WRONG_ANSWER", ...

struct TestOutcome {
  std::string id;
  TestVerdict verdict = TestVerdict::kCompileError;
  std::string reason;  // the comparator's difference, "exit 3", "signal 11", "output_limit", ...
  int exit_code = -1;
  int term_signal = 0;
  int64_t cpu_ms = 0;
  int64_t wall_ms = 0;
  int64_t peak_rss_bytes = 0;
  std::string output_head;  // first 200 bytes of stdout
};

struct CodeReport {
  rl::ItemStatus status = rl::OK;  // OK, or INFRA_ERROR / RESOURCE_EXHAUSTED / TIMEOUT with `error`
  std::string error;
  std::string compile_log;  // g++ stderr (head), C++ only
  std::vector<TestOutcome> tests;

  int NumAccepted() const;
  // "2/3 accepted: t1=ACCEPTED t2=WRONG_ANSWER(token 1: expected '3', got '4') t3=ACCEPTED".
  std::string Summary() const;
};

// REQUIRES: ValidateCodePayload(payload).ok(). Honors ctx's deadline (TIMEOUT) and cancellation.
CodeReport RunCode(sandbox::SandboxPool& pool, const CodeOptions& options, const rl::CodePayload& payload,
                   std::string_view source, const CheckContext& ctx);

// The item status of a sandbox pool error: load (RESOURCE_EXHAUSTED), deadline (TIMEOUT), cancellation, else
// INFRA_ERROR. Never a verdict. Shared by the code and SWE runners.
rl::ItemStatus PoolErrorStatus(const absl::Status& status);

}  // namespace m1rl::reward::code

#endif  // M1RL_REWARD_CODE_CODE_RUNNER_H_
