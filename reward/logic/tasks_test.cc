// Properties every family must have (REWARDS.md §3): deterministic generation, verify(witness) = 1
// and verify(mutated witness) = 0 at several seeds and every difficulty, self-contained instances,
// short printable-ASCII prompts; plus the registry and make-data rows.
#include "reward/logic/tasks.h"

#include <functional>
#include <map>
#include <set>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reward/logic/rational.h"
#include "reward/logic/rng.h"

namespace m1rl::reward::logic {
namespace {

using ::m1rl::testing::StatusIs;
using ::testing::HasSubstr;

// A mutation per family that always breaks a constraint (reason beside each).
using Mutator = std::function<std::string(const nlohmann::json& instance, const std::string& witness)>;

std::string IntsToString(const std::vector<int64_t>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

std::vector<int64_t> SplitInts(const std::string& s) {
  std::vector<int64_t> out;
  std::string tok;
  for (char c : s + " ") {
    if (c == ' ' || c == ',') {
      if (!tok.empty()) out.push_back(std::stoll(tok));
      tok.clear();
    } else {
      tok += c;
    }
  }
  return out;
}

const std::map<std::string, Mutator>& Mutators() {
  static const std::map<std::string, Mutator> kMutators{
      // value + 1 differs from the value.
      {"arith", [](const nlohmann::json&,
                   const std::string& w) { return Add(*ParseRationalLiteral(w), Rational(1))->ToString(); }},
      {"arith_chain",
       [](const nlohmann::json&, const std::string& w) {
         return Add(*ParseRationalLiteral(w), Rational(1))->ToString();
       }},
      // "+1" either uses a 1 that is not available or moves the value off the target.
      {"countdown", [](const nlohmann::json&, const std::string& w) { return "(" + w + ")+1"; }},
      {"game24", [](const nlohmann::json&, const std::string& w) { return "(" + w + ")+1"; }},
      // Dropping the last assignment leaves a letter without a digit.
      {"cryptarithm", [](const nlohmann::json&, const std::string& w) { return w.substr(0, w.rfind(',')); }},
      // Dropping the last closer leaves one bracket open.
      {"dyck", [](const nlohmann::json&, const std::string& w) { return w.substr(0, w.size() - 1); }},
      // Swap cells 0 and 1 of row 1: each digit lands in a column that already holds it.
      {"futoshiki",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         std::swap(s[0], s[1]);
         return s;
       }},
      // Give an edge's second endpoint the colour of its first (or an out-of-range colour if no edges).
      {"graph_coloring",
       [](const nlohmann::json& inst, const std::string& w) {
         std::vector<int64_t> c = SplitInts(w);
         if (inst["edges"].empty()) {
           c[0] = inst["num_colors"].get<int64_t>();
         } else {
           c[inst["edges"][0][1].get<size_t>()] = c[inst["edges"][0][0].get<size_t>()];
         }
         return IntsToString(c, " ");
       }},
      // Step forward and back first: still a walk to G, but two moves longer than the shortest.
      {"maze_path",
       [](const nlohmann::json&, const std::string& w) {
         const char back = w[0] == 'U' ? 'D' : w[0] == 'D' ? 'U' : w[0] == 'L' ? 'R' : 'L';
         return w.substr(0, 1) + back + w;
       }},
      // Swap cells 0 and 1 of row 1: each digit lands in a column that already holds it.
      {"skyscrapers",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         std::swap(s[0], s[1]);
         return s;
       }},
      // Same swap: the cage constraints come on top of the Latin square.
      {"kenken",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         std::swap(s[0], s[1]);
         return s;
       }},
      // Flip the first cell: row 1 shows other runs.
      {"nonogram",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         s[0] = s[0] == '#' ? '.' : '#';
         return s;
       }},
      // Two stars in one column.
      {"star_battle",
       [](const nlohmann::json&, const std::string& w) {
         std::vector<int64_t> c = SplitInts(w);
         c[0] = c[1];
         return IntsToString(c, " ");
       }},
      // Swap the first two numbers: row 1 keeps its sum, columns 1 and 2 do not.
      {"magic_square",
       [](const nlohmann::json&, const std::string& w) {
         std::vector<int64_t> v = SplitInts(w);
         std::swap(v[0], v[1]);
         return IntsToString(v, " ");
       }},
      // Choosing the first interval twice.
      {"interval_scheduling",
       [](const nlohmann::json&, const std::string& w) { return w + " " + w.substr(0, w.find(' ')); }},
      // Uncovering the first mine leaves one mine too few.
      {"minesweeper",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         s[s.find('*')] = '.';
         return s;
       }},
      // The first white digit + 1 (9 -> 1) changes its across run's sum.
      {"kakuro",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         const size_t i = s.find_first_not_of('#');
         s[i] = s[i] == '9' ? '1' : static_cast<char>(s[i] + 1);
         return s;
       }},
      // Two queens in one column.
      {"n_queens",
       [](const nlohmann::json&, const std::string& w) {
         std::vector<int64_t> c = SplitInts(w);
         c[0] = c[1];
         return IntsToString(c, " ");
       }},
      // Swap the first adjacent pair with different keys; if all keys tie, add an extra number.
      {"sorting",
       [](const nlohmann::json& inst, const std::string& w) {
         std::vector<int64_t> v = SplitInts(w);
         const bool abs = inst["key"] == "abs";
         auto key = [&](int64_t x) { return abs && x < 0 ? -x : x; };
         for (size_t i = 1; i < v.size(); ++i) {
           if (key(v[i - 1]) != key(v[i])) {
             std::swap(v[i - 1], v[i]);
             return IntsToString(v, ", ");
           }
         }
         v.push_back(v[0]);
         return IntsToString(v, ", ");
       }},
      // product + 1 is not the product.
      {"long_mult",
       [](const nlohmann::json&, const std::string& w) { return std::to_string(std::stoll(w) + 1); }},
      {"long_mult_heldout",
       [](const nlohmann::json&, const std::string& w) { return std::to_string(std::stoll(w) + 1); }},
      // sum + 1 is not the sum.
      {"arith_add",
       [](const nlohmann::json&, const std::string& w) { return std::to_string(std::stoll(w) + 1); }},
      {"arith_add_heldout",
       [](const nlohmann::json&, const std::string& w) { return std::to_string(std::stoll(w) + 1); }},
      // Dropping the last move leaves the disk it moved off the target peg.
      {"hanoi", [](const nlohmann::json&, const std::string& w) { return w.substr(0, w.rfind(',')); }},
      // The solution is unique, so flipping the first islander's kind breaks it.
      {"knights_knaves",
       [](const nlohmann::json&, const std::string& w) {
         return w.substr(0, 6) == "knight" ? "knave" + w.substr(6) : "knight" + w.substr(5);
       }},
      // Every variable of clause 1 set to the value that makes its literal false.
      {"sat",
       [](const nlohmann::json& inst, const std::string& w) {
         std::vector<int64_t> v = SplitInts(w);
         for (const auto& lit : inst["clauses"][0]) {
           const int64_t l = lit.get<int64_t>();
           v[static_cast<size_t>(std::abs(l) - 1)] = l > 0 ? 0 : 1;
         }
         return IntsToString(v, " ");
       }},
      // Dropping the last node: the path no longer ends at the target.
      {"shortest_path",
       [](const nlohmann::json&, const std::string& w) { return w.substr(0, w.rfind(' ')); }},
      // Dropping a picked (positive) number lowers the sum.
      {"subset_sum", [](const nlohmann::json&, const std::string& w) { return w.substr(w.find(',') + 1); }},
      // Swap cells 0 and 1 of row 1: each digit lands in a column that already holds it.
      {"sudoku",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         std::swap(s[0], s[1]);
         return s;
       }},
      // Swap the two tasks of the first constraint (every instance has one): it now runs backwards.
      {"topo_sort",
       [](const nlohmann::json& inst, const std::string& w) {
         std::string s = w;
         const size_t a = s.find(static_cast<char>('A' + inst["edges"][0][0].get<int>()));
         const size_t b = s.find(static_cast<char>('A' + inst["edges"][0][1].get<int>()));
         std::swap(s[a], s[b]);
         return s;
       }},
      // One move more than the fewest (a no-op emptying of jug A appended).
      {"water_jug", [](const nlohmann::json&, const std::string& w) { return w + ", empty A"; }},
      // Swapping houses 1 and 2: the generated solution is unique, so any other assignment fails.
      {"zebra",
       [](const nlohmann::json&, const std::string& w) {
         const size_t first = w.find("; ");
         const size_t second = w.find("; ", first + 2);
         const std::string h2 =
             w.substr(first + 2, second == std::string::npos ? second : second - first - 2);
         return h2 + "; " + w.substr(0, first) + (second == std::string::npos ? "" : w.substr(second));
       }},
      // Changing the last digit ('1' and '0' exist in every base) changes the value.
      {"base_conversion",
       [](const nlohmann::json&, const std::string& w) {
         std::string s = w;
         s.back() = s.back() == '1' ? '0' : '1';
         return s == "01" ? std::string("1") : s;
       }},
      // The key with b + 1: the generator makes the key unique, so any other key fails.
      {"cipher",
       [](const nlohmann::json&, const std::string& w) {
         std::vector<int64_t> k = SplitInts(w);
         k.back() = (k.back() + 1) % 26;
         return IntsToString(k, " ");
       }},
      // Another weekday, or the day count + 1.
      {"calendar",
       [](const nlohmann::json& inst, const std::string& w) {
         if (inst["question"] == "weekday") return std::string(w == "Monday" ? "Tuesday" : "Monday");
         return std::to_string(std::stoll(w) + 1);
       }},
  };
  return kMutators;
}

TEST(TasksTest, RegistryHasAtLeastEightLogicFamiliesAndArith) {
  std::vector<std::string> names = FamilyNames();
  EXPECT_THAT(names, ::testing::IsSupersetOf({"arith", "arith_chain", "countdown", "game24", "cryptarithm",
                                              "dyck", "graph_coloring", "hanoi", "n_queens", "sorting",
                                              "subset_sum", "sudoku"}));
  int logic = 0;
  for (const TaskFamily* f : AllFamilies()) logic += f->domain() == "logic";
  EXPECT_GE(logic, 8);
  EXPECT_EQ(FindFamily("arith")->domain(), "math");
  EXPECT_EQ(FindFamily("no_such_task"), nullptr);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(Mutators().size(), names.size()) << "every family needs a mutator in this test";
}

TEST(TasksTest, RngMatchesSplitMix64Reference) {
  // SplitMix64 (Vigna's splitmix64.c) from state 0: first outputs are published constants.
  Rng rng(0);
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(rng.Next(), 0x06C45D188009454FULL);
  Rng u(7);
  for (int i = 0; i < 1000; ++i) {
    const int64_t x = u.Uniform(-3, 5);
    ASSERT_GE(x, -3);
    ASSERT_LE(x, 5);
  }
}

TEST(TasksTest, WitnessPassesAndMutatedWitnessFailsEverywhere) {
  for (const TaskFamily* f : AllFamilies()) {
    const Mutator& mutate = Mutators().at(std::string(f->name()));
    std::set<int> difficulties = {f->min_difficulty(), f->default_difficulty(), f->max_difficulty(),
                                  (f->min_difficulty() + f->max_difficulty()) / 2};
    for (int d : difficulties) {
      for (uint64_t seed : {0ULL, 1ULL, 2ULL, 17ULL, 123456789ULL}) {
        SCOPED_TRACE(std::string(f->name()) + " d=" + std::to_string(d) + " seed=" + std::to_string(seed));
        absl::StatusOr<GeneratedInstance> g = f->Generate(seed, d);
        ASSERT_TRUE(g.ok()) << g.status();
        EXPECT_EQ(g->instance["family"], f->name());
        EXPECT_EQ(g->difficulty, d);
        EXPECT_EQ(g->domain, f->domain());
        // The gold is self-contained: a round trip through text still verifies.
        const nlohmann::json reparsed = nlohmann::json::parse(g->instance.dump());
        absl::StatusOr<CheckResult> ok = CheckInstance(reparsed, g->witness);
        ASSERT_TRUE(ok.ok()) << ok.status();
        EXPECT_TRUE(ok->correct()) << ok->reason << " witness=" << g->witness;
        const std::string bad = mutate(g->instance, g->witness);
        absl::StatusOr<CheckResult> ko = CheckInstance(reparsed, bad);
        ASSERT_TRUE(ok.ok()) << ko.status();
        EXPECT_EQ(ko->kind, CheckResult::Kind::kIncorrect) << "mutated=" << bad << " reason=" << ko->reason;
        // The witness never leaks into the gold.
        if (f->domain() == "logic" && g->witness.size() > 3) {
          EXPECT_EQ(g->instance.dump().find(g->witness), std::string::npos) << g->witness;
        }
        for (char c : g->prompt)
          ASSERT_TRUE(c >= 0x20 && c < 0x7F) << "non-printable in prompt: " << g->prompt;
      }
    }
  }
}

TEST(TasksTest, GenerationIsDeterministicAndSeedDependent) {
  for (const TaskFamily* f : AllFamilies()) {
    const int d = f->default_difficulty();
    std::set<std::string> distinct;
    for (uint64_t seed = 0; seed < 8; ++seed) {
      absl::StatusOr<GeneratedInstance> a = f->Generate(seed, d);
      absl::StatusOr<GeneratedInstance> b = f->Generate(seed, d);
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_EQ(a->instance, b->instance) << f->name();
      EXPECT_EQ(a->prompt, b->prompt) << f->name();
      EXPECT_EQ(a->witness, b->witness) << f->name();
      distinct.insert(a->prompt);
    }
    // Eight seeds give at least four different prompts (arith d=1 has 100 possible problems).
    EXPECT_GE(distinct.size(), 4u) << f->name();
  }
}

TEST(TasksTest, DifficultyOutOfRangeIsAnError) {
  const TaskFamily* f = FindFamily("sudoku");
  EXPECT_THAT(f->Generate(1, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("difficulty")));
  EXPECT_THAT(f->Generate(1, 65), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[1, 64]")));
}

TEST(TasksTest, CheckInstanceRejectsMissingOrUnknownFamily) {
  EXPECT_THAT(CheckInstance(nlohmann::json::object(), "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.family")));
  EXPECT_THAT(CheckInstance({{"family", "chess"}}, "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("known: arith")));
  EXPECT_THAT(CheckInstance(nlohmann::json::array(), "1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JSON object")));
  EXPECT_THAT(FindFamily("dyck")->Check({{"family", "sudoku"}}, ")"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("given to the 'dyck' checker")));
}

TEST(TasksTest, OverlongAnswerIsUnparseableButBadGoldStillReported) {
  absl::StatusOr<GeneratedInstance> g = FindFamily("dyck")->Generate(3, 2);
  ASSERT_TRUE(g.ok());
  absl::StatusOr<CheckResult> r = CheckInstance(g->instance, std::string(70000, ')'));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, CheckResult::Kind::kUnparseable);
  EXPECT_THAT(r->reason, HasSubstr("longer than"));
  EXPECT_THAT(CheckInstance({{"family", "dyck"}}, std::string(70000, ')')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("instance.prefix")));
}

TEST(TasksTest, ArbitraryAnswersNeverCrashOrError) {
  // Random byte strings and random strings over the grammars' alphabets: for a well-formed
  // instance the checker always returns a verdict (never an error status, never a crash). Run
  // under -DM1RL_SANITIZE=ON this is a small deterministic fuzz of every answer parser.
  const std::string alphabet = "0123456789+-*/()[]{}<>=,; .xABCDEFGHIJKLMNOPQRSTUVWXYZ\n|";
  Rng rng(99);
  for (const TaskFamily* f : AllFamilies()) {
    absl::StatusOr<GeneratedInstance> g = f->Generate(5, f->max_difficulty());
    ASSERT_TRUE(g.ok()) << g.status();
    for (int i = 0; i < 300; ++i) {
      std::string answer;
      const int64_t len = rng.Uniform(0, 40);
      for (int64_t k = 0; k < len; ++k) {
        answer.push_back(
            i % 2 ? static_cast<char>(rng.Uniform(0, 255))
                  : alphabet[static_cast<size_t>(rng.Uniform(0, static_cast<int64_t>(alphabet.size()) - 1))]);
      }
      absl::StatusOr<CheckResult> r = f->Check(g->instance, answer);
      ASSERT_TRUE(r.ok()) << f->name() << ": " << r.status();
    }
  }
}

TEST(MakeDatasetTest, RowsHaveTheContractFields) {
  absl::StatusOr<std::vector<nlohmann::json>> rows = MakeDataset("sudoku", 3, 5, 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  std::set<std::string> ids;
  for (const nlohmann::json& row : *rows) {
    for (const char* k : {"id", "prompt", "answer", "domain", "difficulty", "family"}) {
      EXPECT_TRUE(row.contains(k)) << k;
    }
    EXPECT_EQ(row["domain"], "logic");
    EXPECT_EQ(row["family"], "sudoku");
    EXPECT_EQ(row["difficulty"], 10);
    ids.insert(row["id"].get<std::string>());
    // The answer is the gold the logic verifier takes: the instance, which its own witness solves.
    const nlohmann::json instance = nlohmann::json::parse(row["answer"].get<std::string>());
    EXPECT_EQ(instance["family"], "sudoku");
    EXPECT_EQ(instance["grid"].get<std::string>().size(), 16u);  // difficulty 10 <= 12: 4x4
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ((*rows)[0]["id"], "sudoku-5-0");
  // Row i does not depend on n.
  absl::StatusOr<std::vector<nlohmann::json>> more = MakeDataset("sudoku", 5, 5, 10);
  ASSERT_TRUE(more.ok());
  EXPECT_EQ((*more)[2], (*rows)[2]);
}

TEST(MakeDatasetTest, ArithRowsAreMathWithIntegerAnswers) {
  absl::StatusOr<std::vector<nlohmann::json>> rows = MakeDataset("arith", 50, 1, 4);
  ASSERT_TRUE(rows.ok()) << rows.status();
  for (const nlohmann::json& row : *rows) {
    EXPECT_EQ(row["domain"], "math");
    const std::string prompt = row["prompt"];
    ASSERT_EQ(prompt.back(), '=');
    EXPECT_EQ(prompt.size(), 6u);  // "9*9-9=": three one-digit operands
    // Independent evaluation: the prompt is a op b op c with one-digit operands; * binds tighter.
    std::vector<int64_t> nums;
    std::vector<char> ops;
    for (char c : prompt.substr(0, prompt.size() - 1)) {
      if (c >= '0' && c <= '9')
        nums.push_back(c - '0');
      else
        ops.push_back(c);
    }
    ASSERT_EQ(nums.size(), 3u);
    std::vector<int64_t> terms = {nums[0]};
    std::vector<char> signs = {'+'};
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i] == '*')
        terms.back() *= nums[i + 1];
      else {
        terms.push_back(nums[i + 1]);
        signs.push_back(ops[i]);
      }
    }
    int64_t value = 0;
    for (size_t i = 0; i < terms.size(); ++i) value += signs[i] == '-' ? -terms[i] : terms[i];
    EXPECT_EQ(row["answer"], std::to_string(value)) << prompt;
  }
}

TEST(MakeDatasetTest, Errors) {
  EXPECT_THAT(
      MakeDataset("chess", 3, 1, -1),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--task: unknown task 'chess' (known: arith")));
  EXPECT_THAT(MakeDataset("dyck", 0, 1, -1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--n: must be > 0")));
  EXPECT_THAT(MakeDataset("dyck", -4, 1, -1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got -4")));
  EXPECT_THAT(MakeDataset("dyck", 2, 1, 99),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("difficulty")));
}

}  // namespace
}  // namespace m1rl::reward::logic
