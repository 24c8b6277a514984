// libFuzzer target for math answer extraction + LaTeX normalisation + parsing (math_fuzz_entry.h).
//
// Build and run it with tools/fuzz.sh [SECONDS] [BUILD_DIR] (clang, -DM1RL_BUILD_FUZZERS=ON, default 60 s in
// build-fuzz; exit 1 on any finding). The target is built with -fsanitize=fuzzer,address,undefined and links
// reward/math/lsan_suppressions.cc, so LeakSanitizer stays on but ignores CLN's lazily allocated static
// caches. A finding leaves build-fuzz/fuzz_artifacts/math_fuzzer/crash-<sha1>; replay it with
// build-fuzz/reward/math_fuzzer <file>. The g++ test math_fuzz_test replays the checked-in seeds and
// findings and runs the same entry point over a mutated seed corpus for 5 s in CI.
#include <cstddef>
#include <cstdint>

#include "reward/math/math_fuzz_entry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  m1rl::reward::math::MathFuzzOneInput(data, size);
  return 0;
}
