// Synthetic reasoning tasks with rule verifiers (REWARDS.md §3, issue 5): a registry of task
// families, each with a seeded generator, a difficulty knob, a prompt renderer, a witness solution
// and a constraint-checking verifier that accepts ANY valid solution.
//
//   const TaskFamily* f = FindFamily("sudoku");
//   absl::StatusOr<GeneratedInstance> g = f->Generate(/*seed=*/7, /*difficulty=*/20);
//   absl::StatusOr<CheckResult> r = f->Check(g->instance, g->witness);   // r->kind == kCorrect
//
// Families: arith (domain "math"), arith_add / arith_add_heldout (domain "math", the quickstart task:
// disjoint train / held-out problems), arith_chain, base_conversion, calendar, countdown, game24,
// cryptarithm, dyck, futoshiki, graph_coloring, hanoi, knights_knaves, long_mult / long_mult_heldout
// (disjoint train / held-out problems with a scratchpad demonstration), n_queens, sat, sorting, subset_sum,
// sudoku, topo_sort. FamilyNames() lists them.
// Grid and path puzzles (issue 21): maze_path, skyscrapers, kenken, nonogram, star_battle,
// magic_square.
// Issue 21 adds: cipher, interval_scheduling, kakuro, minesweeper, shortest_path, water_jug, zebra.
//
// Rules every family obeys:
//  - Generate is deterministic in (seed, difficulty) on every platform (reward/logic/rng.h), and the
//    returned witness passes Check (a generator whose witness fails returns kInternal).
//  - L1: Check recomputes the target from the instance; nothing in the answer is trusted as a target.
//  - L2: answers are parsed by small bounded grammars of our own (reward/logic/expr.h), never eval'd.
//  - L3: binary verdicts, no partial credit.
//  - The instance JSON is self-contained (carries "family") and is what the logic verifier takes as
//    gold; it never contains the witness.
//
// Thread safety: families are immutable singletons; every method may be called concurrently.
#ifndef M1RL_REWARD_LOGIC_TASKS_H_
#define M1RL_REWARD_LOGIC_TASKS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace m1rl::reward::logic {

struct GeneratedInstance {
  std::string family;
  std::string domain;  // "logic" for puzzles, "math" for arith
  int difficulty = 0;
  nlohmann::json instance;    // self-contained; has "family"
  std::string prompt;         // short printable ASCII
  std::string witness;        // a valid answer: the text that goes inside <answer>...</answer>
  std::string demonstration;  // a full worked response (SFT target) ending in <answer>witness</answer>,
                              // or empty (families without a scratchpad)
};

struct CheckResult {
  enum class Kind {
    kCorrect,      // every constraint holds
    kIncorrect,    // the answer parses in the family's grammar but violates a constraint
    kUnparseable,  // the answer is not in the family's answer grammar
  };
  Kind kind = Kind::kIncorrect;
  std::string reason;             // which constraint failed / why it does not parse; "ok" when correct
  std::string normalized_answer;  // the parsed answer, re-rendered canonically (empty if unparseable)

  bool correct() const { return kind == Kind::kCorrect; }
};

class TaskFamily {
 public:
  virtual ~TaskFamily() = default;
  virtual std::string_view name() const = 0;
  // "logic", or "math" for families whose answer is a plain number scored by the math verifier.
  virtual std::string_view domain() const { return "logic"; }
  // What the difficulty knob controls, for --help.
  virtual std::string_view difficulty_help() const = 0;
  virtual int min_difficulty() const { return 1; }
  virtual int max_difficulty() const = 0;
  virtual int default_difficulty() const { return min_difficulty(); }

  // Generates one instance. Errors: kInvalidArgument if difficulty is outside
  // [min_difficulty(), max_difficulty()] (message names "difficulty"); kInternal if the generated
  // witness fails its own check (a bug).
  absl::StatusOr<GeneratedInstance> Generate(uint64_t seed, int difficulty) const;

  // Checks `answer` (the content of the answer block, untrimmed) against `instance`.
  // Errors: kInvalidArgument naming the field ("instance.grid: ...") when the instance is malformed
  // (missing/mistyped field, out-of-range sizes, wrong "family"). Never throws.
  absl::StatusOr<CheckResult> Check(const nlohmann::json& instance, std::string_view answer) const;

 protected:
  // Implementations: GenerateImpl gets a valid difficulty; CheckImpl gets an object whose "family"
  // matches name(). Both may assume nothing else about their input.
  virtual absl::StatusOr<GeneratedInstance> GenerateImpl(uint64_t seed, int difficulty) const = 0;
  virtual absl::StatusOr<CheckResult> CheckImpl(const nlohmann::json& instance,
                                                std::string_view answer) const = 0;
};

// All registered families, sorted by name. The pointers live for the whole program.
const std::vector<const TaskFamily*>& AllFamilies();
std::vector<std::string> FamilyNames();
// nullptr if unknown.
const TaskFamily* FindFamily(std::string_view name);

// Dispatches on instance["family"]. Errors: kInvalidArgument "instance.family: ..." when missing,
// not a string or unknown (the message lists the known families); otherwise as TaskFamily::Check.
absl::StatusOr<CheckResult> CheckInstance(const nlohmann::json& instance, std::string_view answer);

// Per-row seed of make-data: row i of a dataset with seed S uses InstanceSeed(S, i), so rows are
// independent of N and of each other.
uint64_t InstanceSeed(uint64_t dataset_seed, uint64_t index);

// One dataset row: {"id","prompt","answer","domain","difficulty","family"} plus "completion" (the SFT
// demonstration) when the family writes one. For domain "logic" the
// answer is the instance JSON (compact string) that the logic verifier takes as gold; for domain
// "math" it is the witness (the number).
nlohmann::json MakeRow(const GeneratedInstance& g, std::string_view id);

// The rows of `m1rl make-data`: n rows of family `task`, row i generated with InstanceSeed(seed, i)
// at `difficulty` (the family's default_difficulty() when difficulty < 0), id "<task>-<seed>-<i>".
// Errors: kInvalidArgument "--task: unknown task 'x' (known: ...)", "--n: must be > 0, got 0",
// or the family's difficulty error; kInternal if a generator fails its own check (a bug).
absl::StatusOr<std::vector<nlohmann::json>> MakeDataset(std::string_view task, int64_t n, uint64_t seed,
                                                        int difficulty);

}  // namespace m1rl::reward::logic

#endif  // M1RL_REWARD_LOGIC_TASKS_H_
