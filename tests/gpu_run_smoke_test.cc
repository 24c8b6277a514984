// Runs tools/gpu_run.sh --smoke (the gpu_small pipeline with a tiny model, on CPU) with the built `m1rl`
// binary (M1RL_BINARY_DIR, M1RL_SOURCE_DIR set by ctest): data -> SFT -> CISPO RL with held-out
// evaluation -> curve. Then the resumable contract: an invocation whose budget runs out exits 0 and says
// so, and the next invocation finishes the run; an invocation after the end only prints the curve.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

struct Result {
  int exit_code;
  std::string output;
};

Result RunScript(const std::string& run_dir, const std::string& budget_s) {
  const std::string log = run_dir + ".log";
  const std::string cmd = "BUILD_DIR='" + Env("M1RL_BINARY_DIR") + "' SKIP_BUILD=1 RUN_DIR='" + run_dir +
                          "' BUDGET_S=" + budget_s + " '" + Env("M1RL_SOURCE_DIR") +
                          "/tools/gpu_run.sh' --smoke > '" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

TEST(GpuRunSmokeTest, PipelineRunsResumesAndFinishes) {
  if (Env("M1RL_SOURCE_DIR").empty() || Env("M1RL_BINARY_DIR").empty()) GTEST_SKIP() << "not run by ctest";
  const std::string run_dir = ::testing::TempDir() + "/gpu_run_smoke";
  fs::remove_all(run_dir);
  // A budget too short for the whole pipeline: the invocation stops cleanly and says how to continue.
  Result first = RunScript(run_dir, "25");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  if (first.output.find("budget used") == std::string::npos) {
    // A fast machine finished within 25 s: still a complete run, checked below.
    EXPECT_THAT(first.output, HasSubstr("gpu_run: done"));
  }
  Result second = RunScript(run_dir, "600");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_THAT(second.output, HasSubstr("gpu_run: done"));
  for (const char* f : {"/data/DONE", "/sft/DONE", "/rl/DONE", "/sft_model/config.json", "/curve.tsv"}) {
    EXPECT_TRUE(fs::exists(run_dir + f)) << f << "\n" << second.output;
  }
  // Held-out evaluations at the start and after each of the 2 RL steps.
  std::ifstream metrics(run_dir + "/rl/metrics.jsonl");
  std::string line;
  int evals = 0;
  while (std::getline(metrics, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains("eval/accuracy")) {
      ++evals;
      EXPECT_GE(j["eval/accuracy"].get<double>(), 0.0);
      EXPECT_LE(j["eval/accuracy"].get<double>(), 1.0);
    }
  }
  EXPECT_GE(evals, 2) << second.output;
  // The eval set is the held-out family; the train set is not.
  std::ifstream eval_rows(run_dir + "/data/eval.jsonl");
  ASSERT_TRUE(std::getline(eval_rows, line));
  EXPECT_EQ(nlohmann::json::parse(line)["family"], "long_mult_heldout");
  // Once done, an invocation only reports.
  Result third = RunScript(run_dir, "600");
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_THAT(third.output, ::testing::Not(HasSubstr("gpu_run: stage")));
  EXPECT_THAT(third.output, HasSubstr("held-out accuracy"));
}

}  // namespace
