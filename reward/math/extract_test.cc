#include "reward/math/extract.h"

#include <string>

#include "gtest/gtest.h"

namespace m1rl::reward::math {
namespace {

TEST(ExtractTest, OnlyAfterLastThink) {
  Extraction e = ExtractAnswer("<think>maybe \\boxed{1}</think> so \\boxed{2}");
  EXPECT_EQ(e.source, AnswerSource::kBoxed);
  EXPECT_EQ(e.answer, "2");
  EXPECT_TRUE(e.think_block_first);
  EXPECT_EQ(e.boxed.size(), 1u);  // the reasoning's box is never mined
}

TEST(ExtractTest, TruncatedTraceHasNoAnswer) {
  Extraction e = ExtractAnswer("<think>the answer is \\boxed{7} but wait");
  EXPECT_TRUE(e.truncated);
  EXPECT_EQ(e.source, AnswerSource::kNone);
}

TEST(ExtractTest, LastBalancedBoxed) {
  Extraction e = ExtractAnswer("\\boxed{\\frac{1}{2}} and then \\boxed{\\frac{3}{4}} \\boxed{5");
  EXPECT_EQ(e.answer, "\\frac{3}{4}");
  ASSERT_EQ(e.boxed.size(), 2u);
  EXPECT_EQ(e.boxed[0], "\\frac{1}{2}");
}

TEST(ExtractTest, AnswerLineThenMathSpanThenBareNumber) {
  EXPECT_EQ(ExtractAnswer("We get $x=3$.\nAnswer: 3/4\n").answer, "3/4");
  EXPECT_EQ(ExtractAnswer("We get $x=3$.\n**Answer:** $\\frac{3}{4}$").answer, "\\frac{3}{4}");
  EXPECT_EQ(ExtractAnswer("Final Answer: The final answer is 12.").answer, "12.");
  Extraction m = ExtractAnswer("first $1$ then \\(2\\) and finally $$3$$ done");
  EXPECT_EQ(m.source, AnswerSource::kMathSpan);
  EXPECT_EQ(m.answer, "3");
  EXPECT_EQ(ExtractAnswer("costs \\$5 and $7$").answer, "7");
  // Bare numbers only in evaluation mode.
  EXPECT_EQ(ExtractAnswer("so it is 42.").source, AnswerSource::kNone);
  ExtractOptions eval;
  eval.evaluation = true;
  Extraction b = ExtractAnswer("so it is 42.", eval);
  EXPECT_EQ(b.source, AnswerSource::kBareNumber);
  EXPECT_EQ(b.answer, "42");
}

TEST(ExtractTest, AnswerLineOnlyInFinalWindow) {
  std::string r = "Answer: 5\n" + std::string(2100, 'x') + " $6$";
  Extraction e = ExtractAnswer(r);
  EXPECT_EQ(e.source, AnswerSource::kMathSpan);
  EXPECT_EQ(e.answer, "6");
}

TEST(ExtractTest, UnclosedDollarIsNotASpan) { EXPECT_EQ(ExtractAnswer("value $3$ and then $4").answer, "3"); }

}  // namespace
}  // namespace m1rl::reward::math
