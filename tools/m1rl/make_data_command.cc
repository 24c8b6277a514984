// `m1rl make-data`: writes a synthetic JSONL dataset from a task family of reward/logic/tasks.h.
//
//   m1rl make-data --task arith --n 1000 --seed 1 --difficulty 2 --out data/arith.jsonl
//   m1rl make-data --list-tasks     # one family a line: name<TAB>domain<TAB>difficulty MIN-MAX
//
// Each line: {"id","prompt","answer","domain","difficulty","family"}. Logic rows have domain
// "logic" and the instance JSON (the logic verifier's gold) as answer; arith rows have domain
// "math" and the integer as answer.
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/cli.h"
#include "common/flags.h"
#include "reward/logic/tasks.h"

namespace {

namespace logic = m1rl::reward::logic;

std::string TaskHelp() {
  std::string help = "task family:";
  for (const logic::TaskFamily* f : logic::AllFamilies()) {
    help += "\n      " + std::string(f->name()) + " (" + std::string(f->domain()) + "; difficulty " +
            std::to_string(f->min_difficulty()) + ".." + std::to_string(f->max_difficulty()) + ", default " +
            std::to_string(f->default_difficulty()) + ": " + std::string(f->difficulty_help()) + ")";
  }
  return help;
}

// The --list-tasks listing: one line per family, "name\tdomain\tdifficulty MIN-MAX".
std::string TaskList() {
  std::string out;
  for (const logic::TaskFamily* f : logic::AllFamilies()) {
    out += std::string(f->name()) + "\t" + std::string(f->domain()) + "\tdifficulty " +
           std::to_string(f->min_difficulty()) + "-" + std::to_string(f->max_difficulty()) + "\n";
  }
  return out;
}

int RunMakeData(const std::vector<std::string>& args) {
  std::string task;
  int64_t n = 0;
  int64_t seed = 0;
  int64_t difficulty = -1;
  std::string out;
  bool list_tasks = false;
  m1rl::FlagSet flags("m1rl make-data", "Writes a synthetic JSONL dataset of one task family.");
  flags.AddString("task", &task, TaskHelp());
  flags.AddInt("n", &n, "number of rows (> 0)");
  flags.AddInt("seed", &seed, "dataset seed; row i uses a seed derived from (seed, i)");
  flags.AddInt("difficulty", &difficulty, "difficulty knob (-1: the family's default)");
  flags.AddString("out", &out, "output JSONL path");
  flags.AddBool(
      "list-tasks", &list_tasks,
      "print the task families, one a line (name, domain, difficulty range, tab-separated), and exit");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  if (list_tasks) {
    std::cout << TaskList();
    return 0;
  }
  if (task.empty()) {
    std::cerr << "m1rl make-data: --task is required (known: " << absl::StrJoin(logic::FamilyNames(), ", ")
              << ")\n";
    return 2;
  }
  if (out.empty()) {
    std::cerr << "m1rl make-data: --out is required\n";
    return 2;
  }
  if (difficulty < -1 || difficulty > 1000000) {
    std::cerr << "m1rl make-data: --difficulty out of range, got " << difficulty << "\n";
    return 2;
  }
  absl::StatusOr<std::vector<nlohmann::json>> rows =
      logic::MakeDataset(task, n, static_cast<uint64_t>(seed), static_cast<int>(difficulty));
  if (!rows.ok()) {
    std::cerr << "m1rl make-data: " << rows.status().message() << "\n";
    return 2;
  }
  std::ofstream file(out, std::ios::trunc);
  if (!file) {
    std::cerr << "m1rl make-data: cannot open --out " << out << " for writing\n";
    return 1;
  }
  for (const nlohmann::json& row : *rows) file << row.dump() << "\n";
  file.close();
  if (!file) {
    std::cerr << "m1rl make-data: write to " << out << " failed\n";
    return 1;
  }
  std::cout << "wrote " << rows->size() << " rows of " << task << " to " << out << "\n";
  return 0;
}

}  // namespace

M1RL_REGISTER_COMMAND(make_data, "make-data", "write a synthetic JSONL dataset (m1rl make-data --help)",
                      RunMakeData);
