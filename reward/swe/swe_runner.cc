#include "reward/swe/swe_runner.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "reward/code/code_runner.h"
#include "reward/sandbox/work_dir.h"
#include "reward/swe/diff_paths.h"

namespace m1rl::reward::swe {
namespace {

using sandbox::RunResult;
using sandbox::RunSpec;
using sandbox::SandboxPool;
using sandbox::WorkDir;

// Exit codes of the setup script (kSetupScript) that are verdicts or infra faults, not tool failures.
constexpr int kCandidateFailed = 10;
constexpr int kTestPatchFailed = 11;

// Runs as /bin/sh /input/setup.sh inside the sandbox; trusted tools only. $1: "dir" or "bundle"; $2:
// base commit (bundle, may be empty); $3: patch fuzz. Prints "RUNG=<name>" for the rung that applied.
constexpr const char kSetupScript[] = R"SH(set -u
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
G="git -c core.hooksPath=/dev/null -c user.email=swe@m1rl -c user.name=swe -c advice.detachedHead=false"
fresh() {
  rm -rf /work/repo || exit 12
  if [ "$1" = bundle ]; then
    $G clone -q /snapshot.bundle /work/repo >&2 || exit 12
    if [ -n "$2" ]; then (cd /work/repo && $G checkout -q "$2" >&2) || exit 12; fi
  else
    cp -a /snapshot/. /work/repo 2>/dev/null || { mkdir -p /work/repo && cp -a /snapshot/. /work/repo; } || exit 12
    cd /work/repo || exit 12
    if [ ! -d .git ]; then $G init -q && $G add -A && $G commit -q -m snapshot >&2 || exit 12; fi
  fi
  cd /work/repo || exit 12
}
fresh "$1" "$2"
if [ -s /input/candidate.diff ]; then
  if $G apply --check /input/candidate.diff 2>/dev/null && $G apply /input/candidate.diff; then
    echo RUNG=git_apply
  else
    fresh "$1" "$2"
    if $G apply --3way /input/candidate.diff >&2 && ! $G diff --name-only --diff-filter=U | grep -q .; then
      echo RUNG=git_apply_3way
    else
      fresh "$1" "$2"
      if patch --batch --forward -p1 --fuzz="$3" --dry-run < /input/candidate.diff >&2 &&
         patch --batch --forward -p1 --fuzz="$3" --no-backup-if-mismatch -r - < /input/candidate.diff >&2; then
        echo RUNG=patch_fuzz
      else
        exit 10
      fi
    fi
  fi
else
  echo RUNG=empty
fi
# Neutralise candidate edits of the test patch's files: back to the snapshot (or removed), then the test patch.
while IFS= read -r p; do
  [ -n "$p" ] || continue
  if [ "$1" = bundle ]; then
    $G checkout -q HEAD -- "$p" 2>/dev/null || rm -rf -- "$p"
  elif [ -e "/snapshot/$p" ]; then
    mkdir -p -- "$(dirname -- "$p")" && cp -a -- "/snapshot/$p" "$p" || exit 12
  else
    rm -rf -- "$p"
  fi
done < /input/test_paths
if [ -s /input/test.diff ]; then
  $G apply /input/test.diff >&2 || patch --batch -p1 --no-backup-if-mismatch -r - < /input/test.diff >&2 || exit 11
fi
chmod -R a+rwX /work/repo
exit 0
)SH";

SweReport Failed(rl::ItemStatus status, std::string error) {
  SweReport r;
  r.status = status;
  r.error = std::move(error);
  return r;
}

SweReport FromPoolError(const absl::Status& status) {
  return Failed(code::PoolErrorStatus(status), std::string{status.message()});
}

SweReport Verdict(SweVerdict verdict, std::string reason) {
  SweReport r;
  r.verdict = verdict;
  r.reason = std::move(reason);
  return r;
}

SandboxPool::Clock::time_point Deadline(const CheckContext& ctx, int64_t wall_ms) {
  const auto own = SandboxPool::Clock::now() + std::chrono::milliseconds(wall_ms + 1000);
  return std::min(own, ctx.deadline);
}

RunSpec BaseSpec(const SweOptions& options, const rl::SwePayload& payload, const WorkDir& dir,
                 const CheckContext& ctx, int64_t wall_ms, int64_t cpu_ms) {
  RunSpec spec;
  spec.mounts = {{dir.Path("input"), "/input", false}, {dir.Path("work"), "/work", true}};
  if (payload.repo_bundle().empty()) {
    spec.mounts.push_back({payload.repo_dir(), "/snapshot", false});
  } else {
    spec.mounts.push_back({payload.repo_bundle(), "/snapshot.bundle", false});
  }
  spec.limits.wall_ms = wall_ms;
  spec.limits.cpu_ms = cpu_ms;
  spec.limits.memory_bytes = options.memory_bytes;
  spec.limits.output_bytes = options.output_bytes;
  spec.limits.file_bytes = options.file_bytes;
  spec.limits.max_procs = options.max_procs;
  spec.limits.max_open_files = 256;
  spec.cancelled = ctx.cancelled;
  spec.env.emplace_back("PYTHONDONTWRITEBYTECODE", "1");
  return spec;
}

// Stage 1: copy/clone, the candidate's ladder, the test patch. OK with the rung, or a verdict/status.
SweReport Setup(SandboxPool& pool, const SweOptions& options, const rl::SwePayload& payload,
                const WorkDir& dir, const CheckContext& ctx) {
  RunSpec spec = BaseSpec(options, payload, dir, ctx, options.setup_wall_ms, options.setup_wall_ms);
  spec.argv = {"/bin/sh", "/input/setup.sh", payload.repo_bundle().empty() ? "dir" : "bundle",
               payload.base_commit(), absl::StrCat(options.patch_fuzz)};
  spec.cwd = "/work";
  absl::StatusOr<RunResult> r = pool.Run(spec, Deadline(ctx, spec.limits.wall_ms));
  if (!r.ok()) return FromPoolError(r.status());
  if (r->exit_code == kCandidateFailed && r->term_signal == 0)
    return Verdict(SweVerdict::kPatchFailed, "no rung of the ladder applied the candidate patch");
  if (!r->Succeeded()) {
    const std::string what =
        r->exit_code == kTestPatchFailed ? "the test patch does not apply" : "setup failed";
    return Failed(rl::INFRA_ERROR,
                  absl::StrCat("swe setup: ", what, " (exit ", r->exit_code,
                               r->wall_limit ? ", wall limit" : "", "): ", r->stderr_data.substr(0, 500)));
  }
  SweReport ok;
  ok.status = rl::OK;
  const size_t at = r->stdout_data.find("RUNG=");
  if (at != std::string::npos) {
    ok.rung = r->stdout_data.substr(at + 5);
    ok.rung = ok.rung.substr(0, ok.rung.find('\n'));
  }
  return ok;
}

// Stage 3: the verdict from the test run (see the header's list).
void Judge(const rl::SwePayload& payload, const RunResult& r, SweReport* report) {
  report->exit_code = r.exit_code;
  report->term_signal = r.term_signal;
  report->test_wall_ms = r.wall_ms;
  const std::string& log = r.stdout_data;
  report->results =
      payload.results_format() == rl::SwePayload::GTEST ? ParseGtestLog(log) : ParsePytestLog(log);
  report->grade = GradeTests(payload.fail_to_pass(), payload.pass_to_pass(), report->results);
  if (r.wall_limit || r.cpu_limit || r.output_limit || r.term_signal != 0 || report->results.empty()) {
    report->verdict = SweVerdict::kInvalidRun;
    report->reason = r.wall_limit     ? "wall limit"
                     : r.cpu_limit    ? "cpu limit"
                     : r.output_limit ? "output limit"
                     : r.term_signal  ? absl::StrCat("signal ", r.term_signal)
                                      : "no test result in the log";
  } else if (r.exit_code != 0 && !AnyFailure(report->results)) {
    report->verdict = SweVerdict::kSpoofed;
    report->reason = absl::StrCat("exit ", r.exit_code, " but no FAILED/ERROR test in the log");
  } else if (report->grade.Resolved()) {
    report->verdict = SweVerdict::kResolved;
  } else if (report->grade.Regression()) {
    report->verdict = SweVerdict::kRegression;
  } else {
    report->verdict = SweVerdict::kUnresolved;
  }
}

absl::Status CheckCandidate(std::string_view patch) {
  M1RL_ASSIGN_OR_RETURN(DiffInfo info, InspectDiff(patch, "candidate patch"));
  if (info.binary) return absl::InvalidArgumentError("candidate patch: binary hunks are not supported");
  for (const std::string& p : info.paths) {
    const std::string base = p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1);
    if (base == "conftest.py" || base == "pytest.ini")
      return absl::InvalidArgumentError(absl::StrCat("candidate patch: edits test infrastructure ", p));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SweOptions> ResolveSweOptions(const config::SweConfig& config) {
  SweOptions o;
  const auto pick = [](const char* field, int64_t value, int64_t* out) -> absl::Status {
    if (value < 0)
      return absl::InvalidArgumentError(absl::StrCat("reward.swe.", field, " must be >= 0, got ", value));
    if (value > 0) *out = value;
    return absl::OkStatus();
  };
  M1RL_RETURN_IF_ERROR(pick("wall_ms", config.wall_ms(), &o.wall_ms));
  M1RL_RETURN_IF_ERROR(pick("cpu_ms", config.cpu_ms(), &o.cpu_ms));
  M1RL_RETURN_IF_ERROR(pick("setup_wall_ms", config.setup_wall_ms(), &o.setup_wall_ms));
  M1RL_RETURN_IF_ERROR(pick("memory_bytes", config.memory_bytes(), &o.memory_bytes));
  M1RL_RETURN_IF_ERROR(pick("output_bytes", config.output_bytes(), &o.output_bytes));
  M1RL_RETURN_IF_ERROR(pick("file_bytes", config.file_bytes(), &o.file_bytes));
  int64_t procs = o.max_procs, entries = o.cache_entries, fuzz = o.patch_fuzz;
  M1RL_RETURN_IF_ERROR(pick("max_procs", config.max_procs(), &procs));
  M1RL_RETURN_IF_ERROR(pick("cache_entries", config.cache_entries(), &entries));
  M1RL_RETURN_IF_ERROR(pick("patch_fuzz", config.patch_fuzz(), &fuzz));
  o.max_procs = static_cast<int>(procs);
  o.cache_entries = static_cast<int>(entries);
  o.patch_fuzz = static_cast<int>(fuzz);
  if (config.has_regression_penalty()) o.regression_penalty = config.regression_penalty();
  if (config.has_spoof_penalty()) o.spoof_penalty = config.spoof_penalty();
  if (!(o.regression_penalty <= 0))
    return absl::InvalidArgumentError(
        absl::StrCat("reward.swe.regression_penalty must be <= 0, got ", o.regression_penalty));
  if (!(o.spoof_penalty <= 0))
    return absl::InvalidArgumentError(
        absl::StrCat("reward.swe.spoof_penalty must be <= 0, got ", o.spoof_penalty));
  o.snapshot_root = config.snapshot_root();
  return o;
}

absl::Status ValidateSwePayload(const rl::SwePayload& payload, const SweOptions& options) {
  if (payload.repo_dir().empty() == payload.repo_bundle().empty())
    return absl::InvalidArgumentError("item.swe.repo_dir and item.swe.repo_bundle: exactly one must be set");
  const bool dir = !payload.repo_dir().empty();
  const std::string& snap = dir ? payload.repo_dir() : payload.repo_bundle();
  const char* field = dir ? "item.swe.repo_dir" : "item.swe.repo_bundle";
  std::error_code ec;
  if (snap.front() != '/' || snap.find("/../") != std::string::npos)
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", snap, "' is not a normalized absolute path"));
  if (dir ? !std::filesystem::is_directory(snap, ec) : !std::filesystem::is_regular_file(snap, ec))
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", snap, "' does not exist"));
  if (!options.snapshot_root.empty() && snap.rfind(options.snapshot_root + "/", 0) != 0)
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", snap, "' lies outside reward.swe.snapshot_root ", options.snapshot_root));
  if (dir && !payload.base_commit().empty())
    return absl::InvalidArgumentError("item.swe.base_commit: only for a repo_bundle snapshot");
  if (payload.base_commit().find_first_not_of("0123456789abcdef") != std::string::npos)
    return absl::InvalidArgumentError("item.swe.base_commit: not a hex commit id");
  if (payload.test_command().empty()) return absl::InvalidArgumentError("item.swe.test_command is empty");
  if (payload.fail_to_pass().empty()) return absl::InvalidArgumentError("item.swe.fail_to_pass is empty");
  if (payload.results_format() == rl::SwePayload::RESULTS_FORMAT_UNSPECIFIED)
    return absl::InvalidArgumentError("item.swe.results_format is unspecified");
  return InspectDiff(payload.test_patch(), "item.swe.test_patch").status();
}

const char* SweVerdictName(SweVerdict verdict) {
  switch (verdict) {
    case SweVerdict::kResolved:
      return "RESOLVED";
    case SweVerdict::kUnresolved:
      return "UNRESOLVED";
    case SweVerdict::kRegression:
      return "REGRESSION";
    case SweVerdict::kPatchFailed:
      return "PATCH_FAILED";
    case SweVerdict::kPatchRejected:
      return "PATCH_REJECTED";
    case SweVerdict::kSpoofed:
      return "SPOOFED";
    case SweVerdict::kInvalidRun:
      return "INVALID_RUN";
  }
  return "UNKNOWN";
}

std::string SweReport::Summary() const {
  std::string s = absl::StrCat(SweVerdictName(verdict), " rung=", rung.empty() ? "-" : rung,
                               " exit=", exit_code, " ", grade.Summary());
  if (!reason.empty()) absl::StrAppend(&s, "; ", reason);
  return s;
}

SweReport RunSwe(SandboxPool& pool, const SweOptions& options, const rl::SwePayload& payload,
                 std::string_view candidate_patch, const CheckContext& ctx) {
  if (absl::Status s = CheckCandidate(candidate_patch); !s.ok())
    return Verdict(SweVerdict::kPatchRejected, std::string{s.message()});
  // input/ (scripts and patches, read-only in the sandbox) and work/ (writable by the sandbox's uid).
  absl::StatusOr<std::unique_ptr<WorkDir>> dir = WorkDir::Create("swe", {{"input", 0755}, {"work", 0777}});
  if (!dir.ok()) return Failed(rl::INFRA_ERROR, std::string{dir.status().message()});
  absl::StatusOr<DiffInfo> test_info = InspectDiff(payload.test_patch(), "item.swe.test_patch");
  if (!test_info.ok()) return Failed(rl::INVALID_INPUT, std::string{test_info.status().message()});
  std::string paths = absl::StrJoin(test_info->paths, "\n");
  paths += "\n";
  for (const auto& [name, text] : {std::pair<std::string, std::string_view>{"setup.sh", kSetupScript},
                                   {"candidate.diff", candidate_patch},
                                   {"test.diff", payload.test_patch()},
                                   {"test_paths", paths}}) {
    if (absl::Status s = (*dir)->WriteFile("input", name, text); !s.ok())
      return Failed(rl::INFRA_ERROR, std::string{s.message()});
  }
  SweReport report = Setup(pool, options, payload, **dir, ctx);
  if (report.status != rl::OK || report.verdict == SweVerdict::kPatchFailed) return report;
  RunSpec spec = BaseSpec(options, payload, **dir, ctx, options.wall_ms, options.cpu_ms);
  spec.argv = {"/bin/sh", "-c", payload.test_command()};
  spec.cwd = "/work/repo";
  absl::StatusOr<RunResult> r = pool.Run(spec, Deadline(ctx, spec.limits.wall_ms));
  if (!r.ok()) return FromPoolError(r.status());
  Judge(payload, *r, &report);
  return report;
}

}  // namespace m1rl::reward::swe
