#include "reward/service/format_reward.h"

#include <gtest/gtest.h>

namespace m1rl::reward {
namespace {

FormatOptions Required() {
  FormatOptions o;
  o.require_think = true;
  return o;
}

TEST(FormatRewardTest, WellFormedThinkThenAnswer) {
  const FormatCheck c = CheckFormat("<think>2+2 is 4</think> The answer is 4.", Required());
  EXPECT_TRUE(c.ok) << c.reason;
  EXPECT_EQ(c.answer, "The answer is 4.");
}

TEST(FormatRewardTest, LeadingWhitespaceBeforeThinkIsAllowed) {
  EXPECT_TRUE(CheckFormat("\n  <think>x</think>\n42\n", Required()).ok);
}

TEST(FormatRewardTest, RequiredThinkMissing) {
  const FormatCheck c = CheckFormat("42", Required());
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.reason, "missing </think> (a think block is required)");
}

TEST(FormatRewardTest, OptionalThinkMissingIsFine) {
  const FormatCheck c = CheckFormat("  42 ", FormatOptions{});
  EXPECT_TRUE(c.ok);
  EXPECT_EQ(c.answer, "42");
}

TEST(FormatRewardTest, TruncatedReasoningIsRejected) {
  const FormatCheck c = CheckFormat("<think>let me see, 2+2 is", FormatOptions{});
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.reason, "missing </think> (truncated or unclosed reasoning)");
}

TEST(FormatRewardTest, EmptyAnswerAfterThinkIsRejected) {
  const FormatCheck c = CheckFormat("<think>4</think>  \n", Required());
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.reason, "empty answer after the think block");
}

TEST(FormatRewardTest, EmptyResponseIsRejected) { EXPECT_FALSE(CheckFormat("", FormatOptions{}).ok); }

TEST(FormatRewardTest, TextBeforeThinkIsRejected) {
  const FormatCheck c = CheckFormat("Sure! <think>x</think> 4", Required());
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.reason, "text before <think>");
}

TEST(FormatRewardTest, RepeatedBlocksAreRejected) {
  EXPECT_EQ(CheckFormat("<think>a</think><think>b</think> 4", Required()).reason, "more than one </think>");
  EXPECT_EQ(CheckFormat("<think>a <think> b</think> 4", Required()).reason, "more than one <think>");
}

TEST(FormatRewardTest, CloseWithoutOpen) {
  EXPECT_EQ(CheckFormat("reasoning</think> 4", Required()).reason, "</think> without <think>");
  EXPECT_EQ(CheckFormat("</think> 4 <think>", Required()).reason, "text before <think>");
}

TEST(FormatRewardTest, OpenTagInPrompt) {
  FormatOptions o = Required();
  o.open_tag_in_prompt = true;
  EXPECT_TRUE(CheckFormat("reasoning</think> 4", o).ok);
  EXPECT_FALSE(CheckFormat("<think>reasoning</think> 4", o).ok);
  EXPECT_EQ(CheckFormat("reasoning without end", o).reason, "missing </think> (a think block is required)");
}

TEST(FormatRewardTest, CustomTags) {
  FormatOptions o = Required();
  o.think_open = "<reasoning>";
  o.think_close = "</reasoning>";
  EXPECT_TRUE(CheckFormat("<reasoning>r</reasoning>7", o).ok);
  EXPECT_FALSE(CheckFormat("<think>r</think>7", o).ok);
}

}  // namespace
}  // namespace m1rl::reward
