// The math case table (REWARDS.md §2): every rule, false positive and false negative listed there is a
// row here, plus the ordinary cases around it. Expected verdicts are derived by hand from the rules, not
// from running the verifier. A prediction starting with '@' is the whole response; otherwise it is
// wrapped as "The answer is \boxed{<pred>}".
#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "reward/math/math_verifier.h"

namespace m1rl::reward {
namespace {

enum Expect { C, I, N, X };  // CORRECT, INCORRECT, NO_ANSWER, INVALID_INPUT (gold unparseable)

struct Case {
  const char* gold;
  const char* pred;
  Expect expect;
  const char* pins;  // the behaviour this row pins down
};

const Case kCases[] = {
    // ---- Extraction ----
    {"3", "@<think>\\boxed{5}</think> The answer is \\boxed{3}", C, "extract only after the last </think>"},
    {"5", "@<think>\\boxed{5}</think> The answer is \\boxed{3}", I, "reasoning is never mined"},
    {"3", "@<think>so it is \\boxed{3}", N, "truncated trace (no </think>) is NO_ANSWER"},
    {"3", "@<think>a</think><think>b \\boxed{9}</think> \\boxed{3}", C, "last </think> wins"},
    {"7", "@Therefore\nAnswer: 7", C, "Answer: line"},
    {"7", "@Therefore\n**Answer:** 7", C, "bold Answer: line"},
    {"7", "@Final answer: 7", C, "Final answer: line"},
    {"5", "@Final Answer: The final answer is 5.", C, "prose prefix in an Answer: line"},
    {"5", "@Answer: the answer is probably 5", I, "prose that is not an answer does not parse"},
    {"\\frac{1}{2}", "@Answer: \\frac12", C, "undelimited Answer: line parsed as LaTeX (#56)"},
    {"x+1", "@Answer: $x+1$", C, "math span inside an Answer: line"},
    {"4", "@we have $x = 2$ and so $4$", C, "last complete $..$ span"},
    {"4", "@we have \\(4\\)", C, "\\(..\\) span"},
    {"4", "@we have \\[4\\]", C, "\\[..\\] span"},
    {"4", "@we have $$4$$", C, "$$..$$ span"},
    {"4", "@so the total is $4$ and $5", C, "an unclosed $ is not a span"},
    {"4", "@the result is 4", N, "bare numbers only in evaluation mode"},
    {"73", "@Answer: **73**", C, "markdown bold stripped (#76)"},
    {"13", "@Answer: `$13$`", C, "backticks around $13$ stripped (EasyR1 PR #382)"},
    {"13", "\\text{13}", C, "\\text{13} = 13 (#37)"},
    {"16", "016", C, "leading zeros: 016 = 16"},
    {"2", "@\\boxed{2} or \\boxed{3}", I, "hedging: only the last box is graded"},
    {"3", "@\\boxed{2} or \\boxed{3}", C, "hedging: the last box is graded (format 0)"},
    {"5", "@\\boxed{5", N, "an unbalanced \\boxed is not an answer"},
    {"5", "@$5$ then \\boxed{6}", I, "boxed before math spans"},
    {"5", "@\\boxed{5}\nAnswer: 6", C, "boxed before Answer: lines"},
    {"12", "@Answer: 12.", C, "trailing period dropped"},
    {"12", "@Answer:\n12", C, "Answer: with the value on the next line"},
    {"\\frac{3}{4}", "@\\fbox{\\frac{3}{4}}", C, "\\fbox counts as a box"},
    {"2", "@\\boxed{\\boxed{2}}", C, "nested box unwrapped"},
    {"5", "@\\boxed{}", I, "empty box is an unparseable answer"},
    {"9", "@\\boxed{ 9 }", C, "spaces in the box"},
    {"-1", "@The answer is $\\boxed{-1}$.", C, "box inside a math span"},
    // ---- Normalisation ----
    {"\\frac{1}{2}", "\\dfrac{1}{2}", C, "\\dfrac -> \\frac"},
    {"\\frac{1}{2}", "\\tfrac12", C, "\\tfrac and \\frac12 repair"},
    {"\\frac{1}{2}", "\\frac12", C, "\\frac12 repaired"},
    {"\\frac{1}{2}", "\\left(\\frac{1}{2}\\right)", C, "\\left \\right dropped"},
    {"\\frac{1}{2}", "\\displaystyle \\frac{1}{2}", C, "\\displaystyle dropped"},
    {"30", "30^\\circ", C, "^\\circ dropped"},
    {"30", "30^{\\circ}", C, "^{\\circ} dropped"},
    {"30", "30\xc2\xb0", C, "degree sign dropped"},
    {"\\infty", "infinity", C, "infinity -> \\infty"},
    {"-\\infty", "-infinity", C, "-infinity"},
    {"1,2,3", "1, 2, and 3", C, "and -> comma"},
    {"1,2", "1 \\text{ and } 2", C, "\\text{ and } -> comma"},
    {"1000", "1,000", C, "thousands separator, scalar gold"},
    {"1000000", "1,000,000", C, "several thousands groups"},
    {"1234.5", "1,234.5", C, "thousands with decimals"},
    {"12345", "12,345", C, "thousands, 2-digit lead group"},
    {"100", "1,00", I, "not an exact 3-digit group: a list"},
    {"1234", "1,2,3,4", I, "a list is not a number"},
    {"1, 0", "1,000", C, "list gold steers 1,000 to a list"},
    {"1000", "1\\,000", C, "thin-space thousands separator"},
    {"1000", "1{,}000", C, "{,} thousands separator"},
    {"5", "\\$5", C, "dollar sign dropped"},
    {"\\sqrt{2}", "\\sqrt2", C, "\\sqrt2 = \\sqrt{2}"},
    {"\\sqrt{2}", "\\sqrt(2)", I, "\\sqrt(2) is not repaired"},
    {"4\\sqrt{2}", "4\\sqrt(2)", I, "4\\sqrt(2) is not 4\\sqrt{2} (#41)"},
    {"4", "4\\sqrt(2)", I, "no number from a failed span (#41, PR #82)"},
    {"x^2", "x^{2}", C, "x^2 = x^{2}"},
    {"2x", "2 \\cdot x", C, "\\cdot"},
    {"2x", "2*x", C, "*"},
    {"2x", "2\\times x", C, "\\times"},
    {"\\pi", "\xcf\x80", C, "unicode pi"},
    {"-3",
     "\xe2\x88\x92"
     "3",
     C, "unicode minus"},
    {"\\text{Monday}", "\\text{monday}", C, "text answers compare case-insensitively"},
    {"\\text{Monday}", "\\text{Tuesday}", I, "different text answers"},
    {"5", "\\textbf{5}", C, "\\textbf unwrapped"},
    {"5", "\\mathbf{5}", C, "\\mathbf unwrapped"},
    {"1", "\\text{1}", C, "\\text{1} = 1"},
    {"6", "6.", C, "trailing period"},
    {"\\frac{1}{2}", "1/2", C, "a/b = \\frac{a}{b}"},
    {"\\frac{a}{b}", "a/b", C, "symbolic a/b"},
    {"3\\frac{1}{2}", "\\frac{7}{2}", C, "mixed number 3\\frac{1}{2}"},
    {"3\\frac{1}{2}", "3.5", C, "mixed number vs decimal"},
    {"x", "\\left| x \\right|", I, "|x| is not x"},
    // ---- Exact rationals (layer 3) ----
    {"\\frac{1}{2004!}", "\\frac{1}{2006!}", I, "no chopping: 1/2004! != 1/2006! (#14)"},
    {"\\frac{1}{2004!}", "\\frac{2005 \\cdot 2006}{2006!}", C, "exact factorial arithmetic"},
    {"\\frac{2}{4}", "\\frac{1}{2}", C, "reduced fractions"},
    {"\\frac{-1}{2}", "-\\frac{1}{2}", C, "sign placement"},
    {"2^{10}", "1024", C, "integer power"},
    {"10!", "3628800", C, "factorial"},
    {"\\binom{5}{2}", "10", C, "binomial"},
    {"-3", "3", I, "sign matters"},
    {"3", "-3", I, "sign matters (pred)"},
    {"12345678901234567890123", "12345678901234567890124", I, "bignums, no float rounding"},
    {"12345678901234567890123", "12345678901234567890123", C, "bignum equality"},
    {"2^{100}", "1267650600228229401496703205376", C, "2^100 exactly"},
    {"2^{100}", "1267650600228229401496703205377", I, "2^100 + 1 differs"},
    {"0", "-0", C, "-0 = 0"},
    {"5", "\\frac{10}{2}", C, "fraction value"},
    {"5", "\\frac{10}{0}", I, "division by zero is undefined, never equal"},
    {"0", "\\frac{0}{0}", I, "0/0 undefined"},
    {"1", "0^0", I, "0^0 undefined"},
    {"7", "\\lfloor 7.5 \\rfloor", C, "floor"},
    {"8", "\\lceil 7.5 \\rceil", C, "ceil"},
    {"3", "|-3|", C, "absolute value"},
    {"\\sqrt{16}", "4", C, "perfect square root is rational"},
    {"\\sqrt[3]{27}", "3", C, "cube root"},
    {"\\frac{3}{2}", "\\sqrt{\\frac{9}{4}}", C, "rational square root"},
    {"6", "1+2+3", C, "sum"},
    {"6", "2 \\cdot 3", C, "product"},
    {"6", "3!", C, "factorial value"},
    {"\\frac{1}{2}", "\\frac{1}{2} + \\frac{1}{2} - \\frac{1}{2}", C, "arithmetic"},
    {"2^{-1}", "\\frac{1}{2}", C, "negative power"},
    {"-8", "(-2)^3", C, "negative base"},
    {"2", "2^{2^{20}}", I, "values over 1e5 digits: too_complex"},
    {"\\frac{7}{3}", "2\\frac{1}{3}", C, "mixed number in pred"},
    {"\\frac{1}{6}", "\\frac{1}{2} \\cdot \\frac{1}{3}", C, "product of fractions"},
    {"100", "10^2", C, "power of ten"},
    {"\\frac{1}{3}", "\\frac{2}{6}", C, "unreduced fraction"},
    {"\\frac{1}{3}", "\\frac{1}{4}", I, "different fractions"},
    {"1", "\\frac{3}{3}", C, "unit fraction"},
    {"24", "4!", C, "4!"},
    {"720", "6!", C, "6!"},
    {"-\\frac{3}{4}", "\\frac{3}{-4}", C, "negative denominator"},
    // ---- Decimal tolerance (layer 4) ----
    {"0.5", "\\frac{1}{2}", C, "decimal vs fraction"},
    {"\\frac{1}{2}", "0.5", C, "fraction vs decimal"},
    {"\\frac{1}{3}", "0.333", I, "3-digit rounding is outside 1e-6"},
    {"\\frac{1}{3}", "0.3333333", C, "1e-7 relative is inside 1e-6"},
    {"\\frac{1}{3}", "0.33", I, "0.33 != 1/3"},
    {"1.5", "\\frac{3}{2}", C, "1.5 = 3/2"},
    {"1.50", "1.5", C, "trailing zeros"},
    {"100", "100.0000001", C, "1e-9 relative"},
    {"100", "100.001", I, "1e-5 relative"},
    {"3", "3.0", C, "3.0 = 3"},
    {"3.14", "\\pi", I, "never pi = 3.14"},
    {"\\pi", "3.14", I, "never 3.14 = pi"},
    {"1.414", "\\sqrt{2}", I, "1.414 != \\sqrt2"},
    {"\\sqrt{2}", "1.414", I, "\\sqrt2 != 1.414"},
    {"\\sqrt{2}", "1.41421356237", C, "enough digits are within 1e-6"},
    {"\\pi", "3.14159265", C, "pi to 8 decimals"},
    {"0.1+0.2", "0.3", C, "decimals are exact rationals"},
    {"2.5", "\\frac{5}{2}", C, "2.5"},
    {"0.125", "\\frac{1}{8}", C, "0.125"},
    {"0.001", "0.002", I, "small values: relative, not absolute"},
    {"0.000001", "0.0000010000001", C, "small values within 1e-6 relative"},
    {"2.718", "e", I, "e is not 2.718"},
    {"e", "2.718281828", C, "e to 9 decimals"},
    {"1.0", "1", C, "1.0 = 1"},
    {"-0.5", "-\\frac{1}{2}", C, "negative decimal"},
    {"0.5", "-0.5", I, "sign"},
    {"1.5", "1.5x", I, "a decimal times a symbol is not a number"},
    {"0.5x", "\\frac{x}{2}", C, "decimal coefficient vs fraction (CAS, exact)"},
    // ---- Symbolic (layers 5-6) ----
    {"x^2+2x+1", "(x+1)^2", C, "expansion"},
    {"(x+1)(x-1)", "x^2-1", C, "factored vs expanded"},
    {"\\frac{x^2-1}{x-1}", "x+1", C, "rational simplification"},
    {"\\sqrt{\\frac{1}{n}}", "\\frac{1}{\\sqrt{n}}", C, "\\sqrt{1/n} = 1/\\sqrt n (#64)"},
    {"|x|", "x", I, "|x| != x"},
    {"\\sqrt{x^2}", "x", I, "\\sqrt{x^2} != x"},
    {"\\sqrt{x^2}", "|x|", C, "\\sqrt{x^2} = |x|"},
    {"\\sin^2 x + \\cos^2 x", "1", C, "trig identity"},
    {"2\\sin x \\cos x", "\\sin 2x", C, "double angle"},
    {"\\sqrt{8}", "2\\sqrt{2}", C, "radical simplification"},
    {"\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", C, "rationalised denominator"},
    {"1-\\frac{1}{\\mathrm{e}}", "1+\\frac{1}{\\mathrm{e}}", I, "1-1/e != 1+1/e (PR #82)"},
    {"1-\\frac{1}{\\mathrm{e}}", "1-e^{-1}", C, "1/e = e^{-1}"},
    {"e^{i\\pi}", "-1", C, "Euler's identity"},
    {"\\ln(e^2)", "2", C, "log of exp"},
    {"\\log_2 8", "3", C, "log base 2"},
    {"\\pi/2", "\\frac{\\pi}{2}", C, "pi/2"},
    {"2\\pi", "\\pi \\cdot 2", C, "commuted product"},
    {"\\frac{\\pi}{3}", "60", I, "radians are not degrees"},
    {"x^2", "x^3", I, "different powers"},
    {"a+b", "b+a", C, "commutativity"},
    {"ab", "ba", C, "commutative product"},
    {"2^{x+1}", "2 \\cdot 2^x", C, "power rule"},
    {"\\frac{1}{x} + \\frac{1}{y}", "\\frac{x+y}{xy}", C, "common denominator"},
    {"e^{x}e^{y}", "e^{x+y}", C, "exponent rule"},
    {"\\sqrt{12}", "2\\sqrt{3}", C, "\\sqrt{12} = 2\\sqrt3"},
    {"\\sqrt{12}", "3\\sqrt{2}", I, "\\sqrt{12} != 3\\sqrt2"},
    {"\\frac{1+\\sqrt{5}}{2}", "\\frac{1-\\sqrt{5}}{2}", I, "conjugates differ"},
    {"\\frac{1+\\sqrt{5}}{2}", "\\frac{\\sqrt{5}+1}{2}", C, "golden ratio reordered"},
    {"3+4i", "4i+3", C, "complex numbers"},
    {"3+4i", "3-4i", I, "complex conjugates differ"},
    {"\\tan x", "\\frac{\\sin x}{\\cos x}", C, "tan = sin/cos"},
    {"x", "y", I, "different symbols"},
    {"\\arctan 1", "\\frac{\\pi}{4}", C, "arctan 1"},
    {"\\cos \\frac{\\pi}{3}", "\\frac{1}{2}", C, "exact trig value"},
    {"\\sin(\\pi)", "0", C, "sin pi"},
    {"\\frac{n(n+1)}{2}", "\\frac{n^2+n}{2}", C, "triangular numbers"},
    {"x^{1/2}", "\\sqrt{x}", C, "fractional power"},
    {"5", "5+0x", C, "zero coefficient"},
    {"5", "x", I, "value vs symbol"},
    {"x", "5", I, "symbol vs value"},
    {"2\\sqrt{3}", "\\sqrt{12}", C, "symmetric"},
    {"\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", C, "1/\\sqrt3"},
    {"\\sqrt{2}+\\sqrt{3}", "\\sqrt{5+2\\sqrt{6}}", C, "denested radical (50-digit check)"},
    {"\\sqrt{2}+\\sqrt{3}", "\\sqrt{5}", I, "sum of roots is not root of sum"},
    {"\\log 100", "2\\log 10", C, "log rule"},
    {"\\ln 6", "\\ln 2 + \\ln 3", C, "log of product"},
    {"\\ln 6", "\\ln 2 \\cdot \\ln 3", I, "log of product is not a product of logs"},
    {"(a+b)^2", "a^2+b^2", I, "freshman's dream"},
    {"(a+b)^2", "a^2+2ab+b^2", C, "square of a sum"},
    {"\\frac{x}{x}", "1", C, "x/x"},
    {"\\cos(2x)", "1-2\\sin^2 x", C, "double angle cosine"},
    {"\\cos(2x)", "2\\cos^2 x", I, "wrong identity"},
    {"e^{\\ln x}", "x", C, "exp of log (x > 0 points)"},
    {"\\frac{2}{\\sqrt{2}}", "\\sqrt{2}", C, "2/\\sqrt2"},
    {"\\pi^2", "9.8696044", C, "pi^2 to 7 decimals"},
    {"\\sqrt{3}", "1.7320508", C, "\\sqrt3 to 7 decimals"},
    {"\\sqrt{3}", "1.73", I, "\\sqrt3 to 2 decimals"},
    {"x^2-5x+6", "(x-2)(x-3)", C, "quadratic factorisation"},
    {"x^2-5x+6", "(x-2)(x+3)", I, "wrong factorisation"},
    {"\\frac{1}{1-x}", "1+x+x^2", I, "truncated series"},
    {"\\frac{\\pi}{6}", "\\arcsin \\frac{1}{2}", C, "arcsin 1/2"},
    {"\\alpha+\\beta", "\\beta+\\alpha", C, "greek symbols"},
    {"x_1+x_2", "x_2+x_1", C, "subscripted symbols"},
    {"x_1", "x_2", I, "different subscripts"},
    // ---- Structures ----
    {"(1,2)", "(1,2)", C, "tuple"},
    {"(1,2)", "(2,1)", I, "tuples are ordered"},
    {"(1,2,3)", "(1,3,2)", I, "3-tuples ordered"},
    {"(\\frac{1}{2}, 3)", "(0.5, 3)", C, "tuple elementwise values"},
    {"\\{1,2\\}", "\\{2,1\\}", C, "sets are unordered"},
    {"1,2", "2,1", C, "bare lists are unordered"},
    {"1, 2, 3", "3, 1, 2", C, "bare list permutation"},
    {"1,2,3", "1,2", I, "list sizes differ"},
    {"\\{1,2\\}", "(1,2)", I, "tuple vs set"},
    {"2", "1, 2", I, "gold scalar vs a list containing it"},
    {"2", "2, 1", I, "gold scalar vs a list starting with it"},
    {"2", "\\{2\\}", I, "scalar vs singleton set"},
    {"1, 2", "1", I, "list vs scalar"},
    {"[1,2]", "[1,2]", C, "closed interval"},
    {"[1,2]", "(1,2)", I, "interval openness"},
    {"[1,2)", "[1,2]", I, "right openness"},
    {"(1,2]", "(1,2]", C, "half-open interval"},
    {"(1,2]", "(1,2)", I, "half-open vs open"},
    {"[0, \\frac{1}{2}]", "[0, 0.5]", C, "interval endpoint values"},
    {"[0, 1]", "[0, 2]", I, "interval endpoints"},
    {"(-\\infty, 3)", "(-\\infty, 3)", C, "infinite interval"},
    {"(-\\infty, 3)", "(-\\infty, 3]", I, "infinite interval openness"},
    {"(3, \\infty)", "(3, +\\infty)", C, "+\\infty"},
    {"(3, \\infty)", "(3, -\\infty)", I, "sign of infinity"},
    {"(-\\infty, 1) \\cup (2, \\infty)", "(2, \\infty) \\cup (-\\infty, 1)", C, "unions are unordered"},
    {"(-\\infty, 1) \\cup (2, \\infty)", "(-\\infty, 1) \\cup [2, \\infty)", I, "union part openness"},
    {"(-\\infty, 1) \\cup (2, \\infty)", "(-\\infty, 1)", I, "union vs one interval"},
    {"\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}", C,
     "matrix environments"},
    {"\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\4&3\\end{pmatrix}", I,
     "matrices elementwise"},
    {"\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2&3&4\\end{pmatrix}", I, "matrix shape"},
    {"\\begin{pmatrix}\\frac12&0\\\\0&1\\end{pmatrix}", "\\begin{pmatrix}0.5&0\\\\0&1\\end{pmatrix}", C,
     "matrix entry values"},
    {"\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1&2\\end{pmatrix}", I, "column vs row vector"},
    {"\\pm 2", "2, -2", C, "\\pm a = {a, -a}"},
    {"\\pm 2", "-2, 2", C, "\\pm set unordered"},
    {"2, -2", "\\pm 2", C, "list vs \\pm"},
    {"\\pm 2021", "2021", I, "\\pm 2021 != 2021"},
    {"2021", "\\pm 2021", I, "2021 != \\pm 2021"},
    {"1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}", C, "binary \\pm"},
    {"1\\pm\\sqrt2", "1+\\sqrt2", I, "binary \\pm vs one root"},
    {"x = \\pm 2", "x = 2, x = -2", C, "assignment of a \\pm set"},
    {"\\pm\\frac{1}{2}", "\\pm 0.5", C, "\\pm with decimal"},
    {"12:00", "1:00", I, "a colon makes a tuple: 12:00 != 1:00"},
    {"3:2", "3:2", C, "ratio"},
    {"3:2", "2:3", I, "ratio order"},
    {"1,2,\\ldots,n", "1,3,5,\\ldots,2n-1", I, "sequences with \\ldots differ"},
    {"1,2,\\ldots,n", "1, 2, \\ldots, n", C, "same sequence"},
    {"1,2,\\ldots,n", "2,1,\\ldots,n", I, "sequences with \\ldots are ordered"},
    {"19, 46, and 82", "21, 36, and 82", I, "lists differ (and -> comma)"},
    {"19, 46, and 82", "82, 46, 19", C, "same list reordered"},
    {"\\{\\}", "\\emptyset", C, "empty set"},
    {"\\emptyset", "\\{0\\}", I, "empty set vs {0}"},
    {"(1, 2)", "(1, 2, 3)", I, "tuple length"},
    {"((1,2),(3,4))", "((1,2),(3,4))", C, "nested tuples"},
    {"((1,2),(3,4))", "((3,4),(1,2))", I, "nested tuples ordered"},
    {"\\{(1,2),(3,4)\\}", "\\{(3,4),(1,2)\\}", C, "set of tuples"},
    {"(1,2)", "[1,2]", I, "open pair vs closed interval"},
    {"(0, 1)", "0 < x < 1", I, "gold interval vs predicted inequality (echoed condition)"},
    {"1, 1, 2", "1, 2, 2", I, "multisets"},
    // ---- Relations ----
    {"x > 2", "2 < x", C, "flipped inequality"},
    {"x \\ge 2", "2 \\le x", C, "flipped non-strict inequality"},
    {"x > 2", "x \\ge 2", I, "strictness"},
    {"x > 2", "x < 2", I, "direction"},
    {"1 < x < 3", "3 > x > 1", C, "flipped chain"},
    {"1 < x < 3", "1 < x \\le 3", I, "chain strictness"},
    {"x > 2", "(2, \\infty)", C, "gold inequality vs predicted interval can match"},
    {"x \\ge 2", "[2, \\infty)", C, "non-strict inequality vs interval"},
    {"1 \\le x < 3", "[1, 3)", C, "chain vs interval"},
    {"x < 5", "(-\\infty, 5)", C, "upper bound vs interval"},
    {"(2, \\infty)", "x > 2", I, "gold interval vs predicted inequality fails"},
    {"[1,3)", "1 \\le x < 3", I, "gold interval vs predicted chain fails"},
    {"x > 2", "(2, 3)", I, "inequality vs wrong interval"},
    {"x > 2", "[2, \\infty)", I, "inequality vs closed interval"},
    {"y = 2x + 1", "2x - y + 1 = 0", C, "equations up to a constant multiple"},
    {"y = 2x + 1", "2y = 4x + 2", C, "scaled equation"},
    {"y = 2x + 1", "-y = -2x - 1", C, "negated equation"},
    {"3x - y + 13 = 0", "3x + 4y + 14 = 0", I, "never cut to the rhs (#60)"},
    {"y = 2x + 1", "2x + 1", I, "gold equation vs bare value fails"},
    {"y = 2x+1", "y = 2x + 2", I, "different lines"},
    {"x^2 + y^2 = 1", "y^2 + x^2 = 1", C, "circle reordered"},
    {"x^2 + y^2 = 1", "x^2 + y^2 = 2", I, "different circles"},
    {"x^2 + y^2 = 1", "2x^2 + 2y^2 = 2", C, "circle scaled"},
    {"x = 5", "5", C, "gold assignment vs value"},
    {"5", "x = 5", C, "gold value vs predicted assignment"},
    {"5", "x = 2 + 3 = 5", C, "gold value vs chain a = ... = v compares v"},
    {"5", "x = 5 = 6", I, "chain compares its last value"},
    {"5", "5 = x", I, "chain ends with a symbol"},
    {"x = 1", "y = 1", I, "x = 1 != y = 1"},
    {"n = 2, 3, 4", "n = 1, 2, 3", I, "n=2,3,4 != n=1,2,3 (#14)"},
    {"n = 2, 3, 4", "n = 4, 3, 2", C, "assignment of an unordered list"},
    {"x = 5", "2x = 10", C, "assignment vs equation (proportional)"},
    {"x = 1", "x = 1.0", C, "assignment value with decimal"},
    {"f(x) = 0", "\\forall x>0, f(x)=0", I, "unrepresentable qualifiers: string compare (#64)"},
    {"x \\ne 3", "x \\neq 3", C, "\\ne = \\neq"},
    {"x = 3", "x \\ge 3", I, "equation vs inequality"},
    {"x \\in [1,2]", "[1,2]", C, "membership gold vs set"},
    {"[1,2]", "x \\in [1,2]", C, "set gold vs membership"},
    {"x > 2", "2", I, "gold relation vs bare value"},
    {"2", "x > 2", I, "predicted inequality vs gold value"},
    {"a = 1, b = 2", "a = 1, b = 2", C, "list of assignments"},
    {"a = 1, b = 2", "b = 2, a = 1", C, "assignments unordered"},
    {"a = 1, b = 2", "a = 2, b = 1", I, "swapped values"},
    {"x = 2", "x = \\frac{4}{2}", C, "assignment value arithmetic"},
    {"k = 3", "k=3", C, "spacing"},
    {"y = x^2", "y = x \\cdot x", C, "equation with products"},
    {"x + y = 3", "y = 3 - x", C, "rearranged equation"},
    {"x + y = 3", "x - y = 3", I, "different equation"},
    // ---- Percentages ----
    {"50\\%", "50", C, "p% = p"},
    {"50\\%", "0.5", C, "p% = p/100"},
    {"50\\%", "\\frac{1}{2}", C, "p% = fraction"},
    {"0.5", "50\\%", C, "pred percent = p/100"},
    {"50", "50\\%", C, "pred percent = p"},
    {"0.5", "50", I, "no % marker: no x100"},
    {"50", "0.5", I, "no % marker: no /100"},
    {"50\\%", "25", I, "wrong percentage"},
    {"12.5\\%", "\\frac{1}{8}", C, "12.5% = 1/8"},
    {"50\\%", "50\\%", C, "both percent"},
    {"50\\%", "5000\\%", I, "both percent: compare p"},
    {"20%", "20\\%", C, "bare % -> \\%"},
    {"20\\%", "20 percent", C, "percent word"},
    // ---- Units ----
    {"5", "5\\text{ cm}", C, "gold without unit: pred unit dropped"},
    {"5\\text{ cm}", "5\\text{ cm}", C, "same unit"},
    {"5\\text{ cm}", "5 cm", C, "plain unit word"},
    {"5 \\text{cm}", "5", C, "pred without unit"},
    {"5\\text{ cm}", "5\\text{ m}", I, "different units are INCORRECT"},
    {"5\\text{ cm}", "5 centimeters", C, "canonical unit names"},
    {"5\\text{ cm}", "6\\text{ cm}", I, "same unit, different value"},
    {"10\\text{ dollars}", "\\$10", C, "dollars"},
    {"3 \\text{ hours}", "3 \\text{ minutes}", I, "hours vs minutes"},
    {"12 \\text{ cm}^2", "12 \\text{ cm}^2", C, "squared unit"},
    {"12 \\text{ cm}^2", "12 \\text{ cm}", I, "cm^2 vs cm"},
    {"30^\\circ", "30 degrees", C, "degrees"},
    {"4\\text{ m}", "400\\text{ cm}", I, "no unit conversion: different units"},
    {"7 \\text{ days}", "7", C, "days dropped"},
    // ---- Anti-hacking odds and ends ----
    {"1", "\\infty", I, "infinity is not a number"},
    {"\\infty", "\\infty", C, "infinity"},
    {"\\infty", "-\\infty", I, "signed infinity"},
    {"\\infty", "10^{100}", I, "a big number is not infinity"},
    {"2", "\\text{two}", I, "words are not numbers"},
    {"1", "1+", I, "dangling operator"},
    {"1", "()", I, "empty parentheses"},
    {"1", "\\frac{1}", I, "missing argument"},
    {"1", "x=", I, "empty right side"},
    {"\\frac{1}{2}", "\\frac{1}{2}, \\frac{1}{2}", I, "repeating the answer as a list"},
    {"0", "0 \\cdot x", C, "zero times a symbol"},
    {"1", "\\frac{x}{x}", C, "x/x = 1 (identity test skips x = 0 never drawn)"},
    {"3", "\\sqrt{9}", C, "\\sqrt9"},
    {"3", "\\pm\\sqrt{9}", I, "\\pm root vs single value"},
    // ---- Invalid golds ----
    {"\\frac{1}{", "\\boxed{1}", X, "gold unparseable: INVALID_INPUT"},
    {"", "\\boxed{1}", X, "empty gold"},
    {"\\forall x", "\\boxed{1}", X, "gold with unsupported command"},
    {"(1, 2", "\\boxed{1}", X, "gold with unbalanced bracket"},
};

class MathCasesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { verifier_ = NewMathVerifier({.cas_workers = 2}).release(); }
  static void TearDownTestSuite() {
    delete verifier_;
    verifier_ = nullptr;
  }
  static Verifier* verifier_;
};
Verifier* MathCasesTest::verifier_ = nullptr;

TEST_F(MathCasesTest, TableHasAtLeast300Cases) { EXPECT_GE(std::size(kCases), 300u); }

TEST_F(MathCasesTest, AllCases) {
  int failures = 0;
  for (const Case& c : kCases) {
    VerifyInput in;
    in.domain = "math";
    in.gold = c.gold;
    std::string pred = c.pred;
    in.response = pred.rfind('@', 0) == 0 ? pred.substr(1) : "The answer is \\boxed{" + pred + "}";
    CheckContext ctx;
    ctx.deadline = Clock::now() + std::chrono::seconds(10);
    VerifyOutcome o = verifier_->Verify(in, ctx);
    bool ok = false;
    switch (c.expect) {
      case C:
        ok = o.status == rl::OK && o.verdict == rl::CORRECT && o.correctness == 1.0;
        break;
      case I:
        ok = o.status == rl::OK && o.verdict == rl::INCORRECT && o.correctness == 0.0;
        break;
      case N:
        ok = o.status == rl::OK && o.verdict == rl::NO_ANSWER;
        break;
      case X:
        ok = o.status == rl::INVALID_INPUT;
        break;
    }
    if (!ok) {
      ++failures;
      ADD_FAILURE() << "pins: " << c.pins << "\n  gold: " << c.gold << "\n  pred: " << c.pred
                    << "\n  expected "
                    << "CIN?"[c.expect == X ? 3 : c.expect] << " got status " << rl::ItemStatus_Name(o.status)
                    << " verdict " << rl::Verdict_Name(o.verdict) << "\n  details: " << o.details
                    << "\n  normalised: " << o.normalized_gold << " | " << o.normalized_pred;
    }
  }
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace m1rl::reward
