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
  eval.mode = ExtractMode::kEval;
  Extraction b = ExtractAnswer("so it is 42.", eval);
  EXPECT_EQ(b.source, AnswerSource::kBareExpression);
  EXPECT_EQ(b.answer, "42");
  EXPECT_EQ(ExtractAnswer("We get x = -5.", eval).answer, "x = -5");
  EXPECT_EQ(ExtractAnswer("So the length is 2\\sqrt{3}.", eval).answer, "2\\sqrt{3}");
  EXPECT_EQ(ExtractAnswer("In total 1,234 people came.", eval).answer, "1,234");
  EXPECT_EQ(ExtractAnswer("The value is .5 here", eval).answer, ".5");
  EXPECT_EQ(ExtractAnswer("I am not sure.", eval).source, AnswerSource::kNone);
}

TEST(ExtractTest, AnchoredAnswerTakesItsFirstSpanOrSentence) {
  EXPECT_EQ(ExtractAnswer("The final answer is $1,234$. Note that $n$ was even.").answer, "1,234");
  EXPECT_EQ(ExtractAnswer("The answer is $5$, since $n = 3$ gives $x = 7$.").answer, "5");
  EXPECT_EQ(ExtractAnswer("Answer: $x = 2$ and $x = 3$").answer, "x = 2, x = 3");
  EXPECT_EQ(ExtractAnswer("Final Answer: The final answer is 1,234. I hope it is correct.").answer, "1,234.");
  EXPECT_EQ(ExtractAnswer("The answer is: 42").answer, "42");
}

TEST(ExtractTest, WholeResponseOnlyWhenItReadsAsLatex) {
  Extraction w = ExtractAnswer("  \\frac{7}{3} ");
  EXPECT_EQ(w.source, AnswerSource::kWholeResponse);
  EXPECT_EQ(w.answer, "\\frac{7}{3}");
  EXPECT_EQ(ExtractAnswer("x = 5").source, AnswerSource::kWholeResponse);
  EXPECT_EQ(ExtractAnswer("\\$12").source, AnswerSource::kWholeResponse);
  EXPECT_EQ(ExtractAnswer("six").source, AnswerSource::kNone);
  EXPECT_EQ(ExtractAnswer("so it is 5").source, AnswerSource::kNone);
  EXPECT_EQ(ExtractAnswer("\\frac{1}{").source, AnswerSource::kNone);
  EXPECT_EQ(ExtractAnswer(std::string(400, '1')).source, AnswerSource::kNone);
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
