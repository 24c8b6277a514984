// libFuzzer target for math answer extraction + LaTeX normalisation + parsing (math_fuzz_entry.h).
//
// How to run it (clang from Debian; no other tools needed):
//   CC=clang CXX=clang++ cmake -S . -B build-math-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
//       -DM1RL_BUILD_FUZZERS=ON
//   ninja -C build-math-fuzz math_fuzzer
//   mkdir -p /tmp/math_corpus   # new inputs land here; the checked-in seeds stay read-only
//   ASAN_OPTIONS=detect_leaks=0 ./build-math-fuzz/math_fuzzer /tmp/math_corpus
//   reward/math/testdata/fuzz_seeds \
//       -max_total_time=300 -max_len=2048 -timeout=5 -detect_leaks=0
// (no leak checks: CLN allocates static caches lazily on first use, which LeakSanitizer reports.)
// The target is built with -fsanitize=fuzzer,address,undefined (reward/math.cmake). A crash leaves a
// crash-<sha1> file; replay it with ./build-math-fuzz/math_fuzzer crash-<sha1>. The g++ test
// math_fuzz_test runs the same entry point over a mutated seed corpus for 5 s in CI.
#include <cstddef>
#include <cstdint>

#include "reward/math/math_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  m1rl::reward::math::MathFuzzOneInput(data, size);
  return 0;
}
