// Replays the fuzz entry point (math_fuzz_entry.h) over a seeded corpus of mutated LaTeX for a bounded
// time, so CI exercises extraction + parsing under g++ without libFuzzer. A crash or a violated
// invariant aborts the test binary (ctest reports it as failed).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
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

void Feed(const std::string& s) { MathFuzzOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

// Findings of the libFuzzer target (base64 of the input), replayed through the same entry point.
const char* const kFindings[] = {
    // Issue 15: non-UTF-8 bytes, \t and \textnormal{} inside a subscript; the printed subscript
    // re-parsed to a different form (tokens were re-joined instead of keeping the source text).
    "NjE1LDEkWl97jY1wYVx0NSwsLCwsLDAwMSwsMDEsLCwsLCwsLCwwLCwsLCwsLCwsMDBcdGV4dG5vcm1hbHsxLCwsLCwsMTUsLCwk"
    "LCwwMDEsLCxmcmFjfXBhLCwsLCwsMCwsLCwsLFx0Zs8wMHJhY30=",
};

TEST(MathFuzzTest, FindingsStayFixed) {
  for (const char* b64 : kFindings) {
    std::string input;
    ASSERT_TRUE(absl::Base64Unescape(b64, &input)) << b64;
    Feed(input);  // aborts on a violated invariant
  }
}

// Every checked-in seed (the libFuzzer corpus, including saved findings) passes the invariants.
TEST(MathFuzzTest, CheckedInSeeds) {
  const char* root = std::getenv("M1RL_SOURCE_DIR");
  if (root == nullptr) GTEST_SKIP() << "M1RL_SOURCE_DIR is not set (run through ctest)";
  int n = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(root) / "reward/math/testdata/fuzz_seeds")) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    Feed(buf.str());
    ++n;
  }
  EXPECT_GT(n, 10);
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
