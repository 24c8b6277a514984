// The math case table (REWARDS.md §2 and issue 15): reward/math/testdata/math_cases.tsv, one case per
// line, tab-separated:
//   expect  gold  pred  options  reason
// expect is C (CORRECT), I (INCORRECT), N (NO_ANSWER) or X (INVALID_INPUT: gold unparseable); options is
// "-" or a JSON object of per-item options (math_verifier.h); "<NL>" in gold/pred is a newline. A pred
// starting with '@' is the whole response; otherwise it is wrapped as "The answer is \boxed{<pred>}" (as
// an RL completion carries a bare answer). Expected verdicts are written by hand from the rules and from
// how people write answers, never by running the verifier. The test prints the agreement and the false
// positive count, and fails on any disagreement.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "reward/math/math_verifier.h"

namespace m1rl::reward {
namespace {

struct Case {
  int line = 0;
  char expect = 0;
  std::string gold, pred, reason;
  nlohmann::json options = nlohmann::json::object();
};

// Reads the table; a malformed line fails the test naming it.
std::vector<Case> ReadCases(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<Case> cases;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() != 5 || f[0].size() != 1 || std::string("CINX").find(f[0][0]) == std::string::npos) {
      ADD_FAILURE() << path << ":" << n << ": want 5 tab-separated fields, expect in C/I/N/X: " << line;
      continue;
    }
    Case c;
    c.line = n;
    c.expect = f[0][0];
    c.gold = absl::StrReplaceAll(f[1], {{"<NL>", "\n"}});
    c.pred = absl::StrReplaceAll(f[2], {{"<NL>", "\n"}});
    c.reason = f[4];
    if (f[3] != "-") {
      c.options = nlohmann::json::parse(f[3], nullptr, /*allow_exceptions=*/false);
      if (!c.options.is_object()) {
        ADD_FAILURE() << path << ":" << n << ": options must be '-' or a JSON object: " << f[3];
        continue;
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

char Got(const VerifyOutcome& o) {
  if (o.status == rl::INVALID_INPUT) return 'X';
  if (o.status != rl::OK) return '?';
  switch (o.verdict) {
    case rl::CORRECT:
      return o.correctness == 1.0 ? 'C' : '?';
    case rl::INCORRECT:
      return o.correctness == 0.0 ? 'I' : '?';
    case rl::NO_ANSWER:
      return 'N';
    default:
      return '?';
  }
}

TEST(MathCasesTest, TableAgrees) {
  const char* root = std::getenv("M1RL_SOURCE_DIR");
  if (root == nullptr) GTEST_SKIP() << "M1RL_SOURCE_DIR is not set (run through ctest)";
  const std::string path = std::string(root) + "/reward/math/testdata/math_cases.tsv";
  const std::vector<Case> cases = ReadCases(path);
  EXPECT_GE(cases.size(), 400u);
  std::unique_ptr<Verifier> verifier = NewMathVerifier({.cas_workers = 2});
  int agree = 0, false_pos = 0;
  for (const Case& c : cases) {
    VerifyInput in;
    in.domain = "math";
    in.gold = c.gold;
    in.response = c.pred.rfind('@', 0) == 0 ? c.pred.substr(1) : "The answer is \\boxed{" + c.pred + "}";
    in.options = c.options;
    CheckContext ctx;
    ctx.deadline = Clock::now() + std::chrono::seconds(10);
    const VerifyOutcome o = verifier->Verify(in, ctx);
    const char got = Got(o);
    if (got == c.expect) {
      ++agree;
      continue;
    }
    if (got == 'C') ++false_pos;
    ADD_FAILURE() << path << ":" << c.line << ": " << c.reason << "\n  gold: " << c.gold
                  << "\n  pred: " << c.pred << "\n  expected " << c.expect << " got " << got << " (status "
                  << rl::ItemStatus_Name(o.status) << ")\n  details: " << o.details
                  << "\n  normalised: " << o.normalized_gold << " | " << o.normalized_pred;
  }
  std::printf("math cases: %d/%zu agree (%.1f%%), %d false positives\n", agree, cases.size(),
              cases.empty() ? 0.0 : 100.0 * agree / cases.size(), false_pos);
  EXPECT_EQ(agree, static_cast<int>(cases.size()));
}

}  // namespace
}  // namespace m1rl::reward
