// Runs the real `m1rl make-data` binary (built in the build root, $M1RL_BINARY_DIR/m1rl): flags,
// exit codes and the JSONL it writes.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reward/logic/tasks.h"

namespace m1rl::reward::logic {
namespace {

using ::testing::HasSubstr;

struct Result {
  int exit_code;
  std::string output;
};

Result RunM1rl(const std::string& args) {
  const char* dir = std::getenv("M1RL_BINARY_DIR");
  const std::string bin = std::string(dir ? dir : ".") + "/m1rl";
  // One log per test process: ctest runs this binary's tests in parallel processes.
  const std::string log = ::testing::TempDir() + "/make_data_cli_" + std::to_string(getpid()) + ".log";
  const int rc = std::system((bin + " " + args + " > " + log + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

std::vector<nlohmann::json> ReadJsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

TEST(MakeDataCliTest, WritesRowsEqualToTheLibrary) {
  const std::string out = ::testing::TempDir() + "/countdown.jsonl";
  Result r = RunM1rl("make-data --task countdown --n 4 --seed 9 --difficulty 3 --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("wrote 4 rows of countdown"));
  std::vector<nlohmann::json> rows = ReadJsonl(out);
  absl::StatusOr<std::vector<nlohmann::json>> want = MakeDataset("countdown", 4, 9, 3);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(rows, *want);
}

TEST(MakeDataCliTest, DefaultDifficultyAndMathRows) {
  const std::string out = ::testing::TempDir() + "/arith.jsonl";
  Result r = RunM1rl("make-data --task=arith --n=3 --seed=2 --out=" + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> rows = ReadJsonl(out);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_EQ(row["domain"], "math");
    EXPECT_EQ(row["difficulty"], 1);
  }
}

TEST(MakeDataCliTest, ErrorsNameTheFlag) {
  const std::string out = ::testing::TempDir() + "/never.jsonl";
  Result unknown = RunM1rl("make-data --task chess --n 3 --seed 1 --out " + out);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(
      unknown.output,
      HasSubstr("--task: unknown task 'chess' (known: arith, arith_add, arith_add_heldout, arith_chain"));
  Result zero = RunM1rl("make-data --task dyck --n 0 --seed 1 --out " + out);
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_THAT(zero.output, HasSubstr("--n: must be > 0, got 0"));
  Result no_out = RunM1rl("make-data --task dyck --n 2");
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_THAT(no_out.output, HasSubstr("--out is required"));
  Result typo = RunM1rl("make-data --task dyck --n 2 --seeed 3 --out " + out);
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.output, HasSubstr("seeed"));
  Result bad_difficulty = RunM1rl("make-data --task game24 --n 2 --difficulty 9 --out " + out);
  EXPECT_EQ(bad_difficulty.exit_code, 2);
  EXPECT_THAT(bad_difficulty.output, HasSubstr("difficulty for task 'game24' must be in [1, 3]"));
  Result help = RunM1rl("make-data --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("sudoku (logic; difficulty 1..64"));
}

TEST(MakeDataCliTest, ListTasksPrintsEveryFamilyOnceWithItsRange) {
  Result r = RunM1rl("make-data --list-tasks");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, std::string> lines;  // name -> the rest of its line
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    EXPECT_TRUE(lines.emplace(line.substr(0, tab), line.substr(tab + 1)).second) << "listed twice: " << line;
  }
  const std::vector<std::string> names = FamilyNames();
  EXPECT_EQ(lines.size(), names.size());
  for (const std::string& name : names) {
    ASSERT_EQ(lines.count(name), 1u) << name << " missing from:\n" << r.output;
    const TaskFamily* f = FindFamily(name);
    EXPECT_EQ(lines[name], std::string(f->domain()) + "\tdifficulty " + std::to_string(f->min_difficulty()) +
                               "-" + std::to_string(f->max_difficulty()));
  }
  EXPECT_EQ(lines["sudoku"], "logic\tdifficulty 1-64");
  EXPECT_THAT(lines["arith"], ::testing::StartsWith("math\tdifficulty 1-"));
}

}  // namespace
}  // namespace m1rl::reward::logic
