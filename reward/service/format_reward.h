// The format reward (REWARDS.md §1, M1 §4.1): a response is well formatted when its reasoning, if any, is
// one `<think>...</think>` block placed before a non-empty answer. Configurable: whether the think block
// is required, the tag strings, and whether the chat template already opened the block in the prompt.
//
// Thread safety: pure functions.
#ifndef M1RL_REWARD_SERVICE_FORMAT_REWARD_H_
#define M1RL_REWARD_SERVICE_FORMAT_REWARD_H_

#include <string>
#include <string_view>

namespace m1rl::reward {

struct FormatOptions {
  bool require_think = false;       // the response must contain the think block
  bool open_tag_in_prompt = false;  // the template ends the prompt with think_open: no open tag expected
  std::string think_open = "<think>";
  std::string think_close = "</think>";
};

struct FormatCheck {
  bool ok = false;
  std::string reason;       // why not ok ("" when ok)
  std::string_view answer;  // the text after the think block, whitespace-trimmed (a view into the response)
};

// Rules (all must hold for ok):
//  - think_open appears at most once (never when open_tag_in_prompt) and think_close at most once;
//  - if think_open appears, only whitespace precedes it and think_close follows it;
//  - if think_close appears without think_open, open_tag_in_prompt must be set;
//  - require_think: the block must be present (think_close must appear);
//  - the answer (text after think_close, or the whole response without a block) is non-empty.
FormatCheck CheckFormat(std::string_view response, const FormatOptions& options);

}  // namespace m1rl::reward

#endif  // M1RL_REWARD_SERVICE_FORMAT_REWARD_H_
