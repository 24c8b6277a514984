// The fuzz entry point shared by the libFuzzer target (math_fuzzer.cc, clang only) and the g++ test
// that replays a seeded corpus of mutated LaTeX (math_fuzz_test.cc).
//
// MathFuzzOneInput() runs extraction, normalisation, unit splitting and parsing (both thousands modes)
// on arbitrary bytes, then checks invariants that must hold for every input: Print() of a parsed tree
// parses again to the same printed form, exact/approximate evaluation and the comparison layers
// (without a CAS) terminate without crashing. A violated invariant aborts (M1RL_CHECK), which both the
// fuzzer and the test report. Thread-safe.
#ifndef M1RL_REWARD_MATH_MATH_FUZZ_ENTRY_H_
#define M1RL_REWARD_MATH_MATH_FUZZ_ENTRY_H_

#include <cstddef>
#include <cstdint>

namespace m1rl::reward::math {

void MathFuzzOneInput(const uint8_t* data, size_t size);

}  // namespace m1rl::reward::math

#endif  // M1RL_REWARD_MATH_MATH_FUZZ_ENTRY_H_
