// Replays the fuzz entry point (math_fuzz_entry.h) over a seeded corpus of mutated LaTeX for a bounded
// time, so CI exercises extraction + parsing under g++ without libFuzzer. A crash or a violated
// invariant aborts the test binary (ctest reports it as failed).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "reward/math/math_fuzz_entry.h"

namespace m1rl::reward::math {
namespace {

const char* const kSeeds[] = {
    "\\boxed{\\frac{1}{2}}",
    "<think>x</think>Answer: $x^2+1$",
    "\\left(-\\infty, 3\\right] \\cup [4, 5)",
    "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}",
    "x = \\pm \\sqrt{2}",
    "1,000,000",
    "50\\%",
    "\\sqrt[3]{27} + \\log_2 8 - \\sin^2 x",
    "\\{1, 2, \\ldots, n\\}",
    "5\\text{ cm}^2",
    "y = 2x + 1, x > 3",
    "\\binom{10}{3} \\cdot 4! / |x-1|",
    "\\lfloor 7.5 \\rfloor",
    "e^{i\\pi} + 1 = 0",
    "12:00",
    "**73**",
    "`$13$`",
    "\\text{Monday}",
    "x_{n+1} \\le \\alpha_1",
    "\\frac12 + 3\\frac{1}{4}",
};

// Tokens spliced in by the mutator: structure characters and commands the grammar knows.
const char* const kTokens[] = {"{",
                               "}",
                               "(",
                               ")",
                               "[",
                               "]",
                               "\\{",
                               "\\}",
                               "|",
                               "^",
                               "_",
                               ",",
                               ":",
                               "=",
                               "<",
                               "\\frac",
                               "\\sqrt",
                               "\\pm",
                               "\\cup",
                               "\\left",
                               "\\right",
                               "\\text{",
                               "\\\\",
                               "&",
                               "\\begin{pmatrix}",
                               "\\end{pmatrix}",
                               "$",
                               "\\(",
                               "\\)",
                               "\\boxed{",
                               "</think>",
                               "<think>",
                               "Answer:",
                               "-",
                               "+",
                               "!",
                               "\\%",
                               ".",
                               "0",
                               "9",
                               "x",
                               "\\infty",
                               "\\ldots"};

std::string Mutate(std::string s, std::mt19937_64& rng) {
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 4) {
      case 0:
        s.insert(pos, kTokens[rng() % std::size(kTokens)]);
        break;
      case 1:
        if (!s.empty()) s.erase(std::min(pos, s.size() - 1), 1 + rng() % 3);
        break;
      case 2:
        s.insert(pos, 1, static_cast<char>(rng() % 256));
        break;
      default: {
        std::string other = kSeeds[rng() % std::size(kSeeds)];
        s.insert(pos, other.substr(0, rng() % (other.size() + 1)));
      }
    }
  }
  if (s.size() > 4096) s.resize(4096);
  return s;
}

TEST(MathFuzzTest, MutatedLatexForBoundedTime) {
  std::mt19937_64 rng(20261122);
  std::vector<std::string> corpus(std::begin(kSeeds), std::end(kSeeds));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int64_t runs = 0;
  for (const std::string& s : corpus) MathFuzzOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  while (std::chrono::steady_clock::now() < deadline) {
    std::string s = Mutate(corpus[rng() % corpus.size()], rng);
    MathFuzzOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    if (corpus.size() < 2000 && rng() % 8 == 0) corpus.push_back(std::move(s));
    ++runs;
  }
  EXPECT_GT(runs, 100);  // the entry point must be fast enough to explore
  std::printf("math fuzz: %lld inputs in 5 s\n", static_cast<long long>(runs));
}

}  // namespace
}  // namespace m1rl::reward::math
