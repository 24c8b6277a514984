// Answer extraction from a model response (REWARDS.md §2 "Extract").
//
// Only the text after the last "</think>" is searched; a response that opens <think> and never closes
// it is truncated (the verifier answers NO_ANSWER: reasoning is never mined). Order: the last balanced
// \boxed{} (or \fbox{}); else the last anchored answer ("Answer:", "final answer is", "the answer is")
// within the final 2,000 characters: its first math span (spans joined only by commas/"and"/"or" are one
// list) or, without one, its text up to the end of the sentence; else the last complete $..$ / $$..$$ /
// \(..\) / \[..\]; else a short response that reads as LaTeX and parses whole (no prose words); else,
// in extraction mode kEval only, the last bare expression of the last line or the last bare number.
// All balanced \boxed{} contents are returned too, so the verifier can detect hedging (several
// distinct boxed answers: format 0, only the last one is graded, never "any candidate matches").
// Thread-safe, no state.
#ifndef M1RL_REWARD_MATH_EXTRACT_H_
#define M1RL_REWARD_MATH_EXTRACT_H_

#include <string>
#include <string_view>
#include <vector>

namespace m1rl::reward::math {

enum class AnswerSource { kNone, kBoxed, kAnswerLine, kMathSpan, kWholeResponse, kBareExpression };
const char* AnswerSourceName(AnswerSource s);

// kRl: REWARDS.md's order (the RL default); kEval: also the last bare number/expression in free text.
enum class ExtractMode { kRl, kEval };
const char* ExtractModeName(ExtractMode m);

inline constexpr size_t kAnswerLineWindow = 2000;
// A whole response longer than this is never taken as an undelimited LaTeX answer.
inline constexpr size_t kWholeResponseMaxBytes = 300;

struct ExtractOptions {
  ExtractMode mode = ExtractMode::kRl;
};

struct Extraction {
  bool truncated = false;          // "<think>" without a later "</think>"
  bool think_block_first = false;  // the response starts with <think>...</think> (leading blanks allowed)
  AnswerSource source = AnswerSource::kNone;
  std::string answer;              // the raw span (not normalised); empty iff source == kNone
  std::vector<std::string> boxed;  // every balanced \boxed{} content of the final part, in order
};

Extraction ExtractAnswer(std::string_view response, const ExtractOptions& options = {});

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_EXTRACT_H_
