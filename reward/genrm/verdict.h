// GenRM prompt templates and verdict parsers (REWARDS.md §6). Pure functions; no I/O.
//
// Templates are user prompts with placeholders {question}, {ground_truth}, {response} (grade) and
// {question}, {answer_a}, {answer_b} (pairwise); each inserted text is wrapped in random delimiters
// `<<TEXT-xxxxxxxx>>` ... `<</TEXT-xxxxxxxx>>` drawn from a seed, so a candidate cannot close its own block,
// and its verdict tokens are neutralised ("[[" -> "[ [", "]]" -> "] ]"), so text quoted by the judge
// cannot parse as a verdict. TemplateVersion() hashes the templates: it is part of the verifier version.
//
// Parsing is strict: the verdict is the last `Grade: [[g]]` (g in 1..5) or `Verdict: [[A]]|[[B]]|[[TIE]]`
// in the reply's last `tail_chars` characters. Anything else is kInvalidArgument naming what was missing:
// an unparseable reply is a status, never a score.
//
// Thread safety: all functions are pure.
#ifndef M1RL_REWARD_GENRM_VERDICT_H_
#define M1RL_REWARD_GENRM_VERDICT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace m1rl::reward::genrm {

struct Templates {
  std::string system;    // the system message
  std::string grade;     // needs {question} {ground_truth} {response}
  std::string pairwise;  // needs {question} {answer_a} {answer_b}
};

// The built-in templates (asked for a final `Grade: [[g]]` / `Verdict: [[A]]` line).
Templates DefaultTemplates();

// kInvalidArgument naming the template and the missing placeholder.
absl::Status ValidateTemplates(const Templates& templates);

// "tpl-" + 16 hex digits of a hash of all three templates.
std::string TemplateVersion(const Templates& templates);

// "[[" -> "[ [" and "]]" -> "] ]", applied to every text inserted into a template.
std::string NeutralizeVerdictTokens(std::string_view text);

// The user message for a five-grade judgement. `seed` picks the delimiters.
std::string RenderGradePrompt(const Templates& templates, std::string_view question,
                              std::string_view ground_truth, std::string_view response, uint64_t seed);
// The user message for a pairwise judgement, `answer_a` shown first.
std::string RenderPairwisePrompt(const Templates& templates, std::string_view question,
                                 std::string_view answer_a, std::string_view answer_b, uint64_t seed);

// The grade 1..5 of `reply`; kInvalidArgument when its last `tail_chars` characters hold no
// `Grade: [[d]]` or the last one is outside 1..5.
absl::StatusOr<int> ParseGrade(std::string_view reply, int tail_chars);

enum class PairVerdict { kA, kB, kTie };
const char* PairVerdictName(PairVerdict v);  // "A", "B", "TIE"

// The last `Verdict: [[A]]|[[B]]|[[TIE]]` in the last `tail_chars` characters; kInvalidArgument otherwise.
absl::StatusOr<PairVerdict> ParsePairVerdict(std::string_view reply, int tail_chars);

// Grade g in 1..5 -> reward_min + (reward_max - reward_min) * (g - 1) / 4, or with `binarize`
// reward_max for g >= 4 and reward_min otherwise. REQUIRES: 1 <= grade <= 5.
double GradeToReward(int grade, double reward_min, double reward_max, bool binarize);

// Both orders of one comparison of a candidate with a reference.
struct PairwiseScore {
  int score = 0;              // +1 both orders prefer the candidate, -1 both the reference, else 0
  bool disagreement = false;  // the orders named different winners (or one a tie): position bias
};
// `candidate_first`: the verdict with the candidate shown as A; `reference_first`: with the reference as A.
PairwiseScore CombineOrders(PairVerdict candidate_first, PairVerdict reference_first);

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_VERDICT_H_
