// Answer extraction from a model response (REWARDS.md §2 "Extract").
//
// Only the text after the last "</think>" is searched; a response that opens <think> and never closes
// it is truncated (the verifier answers NO_ANSWER: reasoning is never mined). Order: the last balanced
// \boxed{} (or \fbox{}); else the last "Answer:" line within the final 2,000 characters; else the last
// complete $..$ / $$..$$ / \(..\) / \[..\]; else, in evaluation mode only, the last bare number.
// All balanced \boxed{} contents are returned too, so the verifier can detect hedging (several
// distinct boxed answers: format 0, only the last one is graded, never "any candidate matches").
// Thread-safe, no state.
#ifndef M1RL_REWARD_MATH_EXTRACT_H_
#define M1RL_REWARD_MATH_EXTRACT_H_

#include <string>
#include <string_view>
#include <vector>

namespace m1rl::reward::math {

enum class AnswerSource { kNone, kBoxed, kAnswerLine, kMathSpan, kBareNumber };
const char* AnswerSourceName(AnswerSource s);

inline constexpr size_t kAnswerLineWindow = 2000;

struct ExtractOptions {
  bool evaluation = false;  // allow the last bare number as a fallback
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
