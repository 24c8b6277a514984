#include "reward/service/format_reward.h"

#include <cstddef>

namespace m1rl::reward {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

size_t Count(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return 0;
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

FormatCheck Fail(std::string reason) {
  FormatCheck check;
  check.ok = false;
  check.reason = std::move(reason);
  return check;
}

}  // namespace

FormatCheck CheckFormat(std::string_view response, const FormatOptions& options) {
  const std::string_view open = options.think_open;
  const std::string_view close = options.think_close;
  const size_t num_open = Count(response, open);
  const size_t num_close = Count(response, close);
  if (num_close > 1) return Fail("more than one " + options.think_close);
  if (num_open > 1) return Fail("more than one " + options.think_open);
  if (num_open == 1 && options.open_tag_in_prompt) {
    return Fail(options.think_open + " repeated although the prompt opened the think block");
  }
  if (num_open == 1) {
    const size_t open_pos = response.find(open);
    if (!Trim(response.substr(0, open_pos)).empty()) return Fail("text before " + options.think_open);
    // Only whitespace precedes think_open, so a think_close (if any) follows it.
    if (num_close == 0) return Fail("missing " + options.think_close + " (truncated or unclosed reasoning)");
  }
  if (num_close == 1 && num_open == 0 && !options.open_tag_in_prompt) {
    return Fail(options.think_close + " without " + options.think_open);
  }
  if (num_close == 0 && (options.require_think || options.open_tag_in_prompt)) {
    return Fail("missing " + options.think_close + " (a think block is required)");
  }
  std::string_view answer = response;
  if (num_close == 1) answer = response.substr(response.find(close) + close.size());
  answer = Trim(answer);
  if (answer.empty()) return Fail("empty answer after the think block");
  FormatCheck check;
  check.ok = true;
  check.answer = answer;
  return check;
}

}  // namespace m1rl::reward
