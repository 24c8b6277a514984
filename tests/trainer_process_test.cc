// Process-level trainer tests that run the `m1rl` binary (found through M1RL_BINARY_DIR, set by ctest):
//  - kill -9 mid-run, then `--resume auto`: the losses after the resume are bit-identical to an
//    uninterrupted run's (STYLE S29);
//  - a short seeded golden run whose losses match tests/golden/trainer_sft_losses.txt, made by
//    tests/golden/make_trainer_golden.sh (kept beside it).
// SFT mode keeps these independent of any reward service; the RL resume path is covered in-process by
// trainer_integration_test (RlResumeIsBitIdentical).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string Binary() { return Env("M1RL_BINARY_DIR") + "/m1rl"; }

// Starts `args` (argv[0] = binary) with stdout/stderr to `log`; returns the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(fileno(stdout), fileno(stderr));
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// step -> train/loss from a metrics.jsonl.
std::map<int64_t, double> Losses(const std::string& path) {
  std::map<int64_t, double> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("train/loss") && j["train/loss"].is_number())
      out[j["step"].get<int64_t>()] = j["train/loss"].get<double>();
  }
  return out;
}

class TrainerProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Env("M1RL_BINARY_DIR").empty() || !fs::exists(Binary()))
      GTEST_SKIP() << "m1rl binary not found (M1RL_BINARY_DIR)";
    dir_ = (fs::temp_directory_path() / absl::StrCat("m1rl_trainer_proc_", ::getpid())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream data(dir_ + "/train.jsonl");
    // a+b=c over one digit, the SFT target is the boxed sum.
    for (int i = 0; i < 100; ++i) {
      data << "{\"id\":\"r" << i << "\",\"prompt\":\"" << i / 10 << "+" << i % 10 << "=\",\"answer\":\""
           << i / 10 + i % 10 << "\",\"domain\":\"math\"}\n";
    }
    data.close();
    config_ = dir_ + "/sft.yaml";
    std::ofstream(config_) << "name: trainer-process-test\n"
                              "model: {preset: tiny2, vocab_size: 99, tokenizer: char, seed: 7}\n"
                              "trainer:\n"
                              "  mode: sft\n"
                              "  steps: 6\n"
                              "  sft_batch_size: 8\n"
                              "  prompt_template: raw\n"
                              "  seed: 11\n"
                              "  optim: {lr: 0.003, grad_clip: 1.0, betas: [0.9, 0.95], eps: 1.0e-15}\n"
                              "  checkpoint: {every_steps: 1, keep_last: 10}\n"
                              "data: {shuffle: true, seed: 3, train_path: "
                           << dir_ << "/train.jsonl}\n";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::vector<std::string> TrainArgs(const std::string& run) {
    return {Binary(),   "train",
            "--config", config_,
            "--set",    "trainer.checkpoint.dir=" + dir_ + "/" + run + "/ckpt",
            "--set",    "trainer.metrics_dir=" + dir_ + "/" + run + "/metrics"};
  }
  std::string dir_;
  std::string config_;
};

TEST_F(TrainerProcessTest, KillNineThenResumeAutoRepeatsTheLossesBitForBit) {
  // Uninterrupted reference run.
  ASSERT_EQ(Wait(Spawn(TrainArgs("ref"), dir_ + "/ref.log")), 0) << ReadAll(dir_ + "/ref.log");
  const std::map<int64_t, double> ref = Losses(dir_ + "/ref/metrics/metrics.jsonl");
  ASSERT_EQ(ref.size(), 6u);

  // Killed run: SIGKILL as soon as checkpoint 3 is complete (mid-step 4 or later).
  pid_t pid = Spawn(TrainArgs("killed"), dir_ + "/killed.log");
  const std::string marker = dir_ + "/killed/ckpt/step_00000003/COMPLETE";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(marker) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(fs::exists(marker)) << ReadAll(dir_ + "/killed.log");
  ::kill(pid, SIGKILL);
  EXPECT_EQ(Wait(pid), 128 + SIGKILL);

  // Resume into a fresh metrics directory: only the steps after the newest complete checkpoint run.
  std::vector<std::string> resume = TrainArgs("killed");
  resume.back() = "trainer.metrics_dir=" + dir_ + "/resumed/metrics";
  resume.push_back("--resume");
  resume.push_back("auto");
  ASSERT_EQ(Wait(Spawn(resume, dir_ + "/resumed.log")), 0) << ReadAll(dir_ + "/resumed.log");
  const std::map<int64_t, double> resumed = Losses(dir_ + "/resumed/metrics/metrics.jsonl");
  ASSERT_FALSE(resumed.empty());
  EXPECT_GE(resumed.begin()->first, 4);
  EXPECT_EQ(resumed.rbegin()->first, 6);
  for (const auto& [step, loss] : resumed) {
    EXPECT_EQ(loss, ref.at(step)) << "step " << step;  // bitwise: same doubles, printed round-trip
  }
}

// Preemption: SIGTERM mid-run finishes the step, writes a checkpoint (periodic ones are off here) and exits
// 0 with a line saying so; `--resume auto` then repeats the uninterrupted run's losses bit for bit.
TEST_F(TrainerProcessTest, SigtermCheckpointsExitsZeroAndResumeRepeatsTheLosses) {
  ASSERT_EQ(Wait(Spawn(TrainArgs("ref"), dir_ + "/ref.log")), 0) << ReadAll(dir_ + "/ref.log");
  const std::map<int64_t, double> ref = Losses(dir_ + "/ref/metrics/metrics.jsonl");
  ASSERT_EQ(ref.size(), 6u);

  std::vector<std::string> args = TrainArgs("termed");
  args.insert(args.end(), {"--set", "trainer.checkpoint.every_steps=0"});
  pid_t pid = Spawn(args, dir_ + "/termed.log");
  const std::string metrics = dir_ + "/termed/metrics/metrics.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (Losses(metrics).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_FALSE(Losses(metrics).empty()) << ReadAll(dir_ + "/termed.log");
  ::kill(pid, SIGTERM);
  ASSERT_EQ(Wait(pid), 0) << ReadAll(dir_ + "/termed.log");
  const std::string log = ReadAll(dir_ + "/termed.log");
  EXPECT_THAT(log, ::testing::HasSubstr("SIGTERM received: stopped cleanly after step "));
  const int64_t stopped_at = Losses(metrics).rbegin()->first;
  ASSERT_LT(stopped_at, 6) << "the run ended before the signal arrived: " << log;
  EXPECT_TRUE(
      fs::exists(absl::StrCat(dir_, "/termed/ckpt/step_", std::string(7, '0'), stopped_at, "/COMPLETE")))
      << log;

  std::vector<std::string> resume = TrainArgs("termed");
  resume.back() = "trainer.metrics_dir=" + dir_ + "/resumed/metrics";
  resume.insert(resume.end(), {"--resume", "auto"});
  ASSERT_EQ(Wait(Spawn(resume, dir_ + "/resumed.log")), 0) << ReadAll(dir_ + "/resumed.log");
  const std::map<int64_t, double> resumed = Losses(dir_ + "/resumed/metrics/metrics.jsonl");
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed.begin()->first, stopped_at + 1);
  EXPECT_EQ(resumed.rbegin()->first, 6);
  for (const auto& [step, loss] : resumed) EXPECT_EQ(loss, ref.at(step)) << "step " << step;
}

TEST_F(TrainerProcessTest, SeededRunMatchesTheGoldenLosses) {
  ASSERT_EQ(Wait(Spawn(TrainArgs("golden"), dir_ + "/golden.log")), 0) << ReadAll(dir_ + "/golden.log");
  const std::map<int64_t, double> got = Losses(dir_ + "/golden/metrics/metrics.jsonl");
  const std::string golden_path = Env("M1RL_SOURCE_DIR") + "/tests/golden/trainer_sft_losses.txt";
  std::vector<std::string> lines = absl::StrSplit(ReadAll(golden_path), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << golden_path;
  for (const std::string& line : lines) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    ASSERT_EQ(f.size(), 2u) << line;
    const int64_t step = std::stoll(f[0]);
    const double want = std::stod(f[1]);
    ASSERT_TRUE(got.count(step)) << "step " << step;
    // Same binary and seed give identical numbers; across machines/BLAS builds fp32 summation order
    // may differ: 6 Adam steps on a ~3.0 cross-entropy keep the drift well below 1e-4 relative.
    EXPECT_NEAR(got.at(step), want, 1e-4 * std::abs(want)) << "step " << step;
  }
}

}  // namespace
