# The math verifier (REWARDS.md §2). No LibTorch here (S2).
# GiNaC/CLN (PkgConfig::GINAC) provide exact bignums in the request thread (CLN) and the symbolic
# layer, which runs only inside the pre-forked CAS worker processes (reward/math/cas_pool.h).
set(_m ${CMAKE_CURRENT_LIST_DIR}/math)
m1rl_cc_library(NAME math_parse
  SRCS ${_m}/normalize.cc ${_m}/ast.cc ${_m}/parser.cc ${_m}/extract.cc
  HDRS ${_m}/normalize.h ${_m}/ast.h ${_m}/parser.h ${_m}/extract.h
  DEPS m1rl::status absl::status absl::statusor absl::strings)
m1rl_cc_library(NAME math_cas
  SRCS ${_m}/exact.cc ${_m}/cas.cc ${_m}/cas_pool.cc
  HDRS ${_m}/exact.h ${_m}/cas.h ${_m}/cas_pool.h
  DEPS m1rl::math_parse m1rl::reward_verifier m1rl::random PkgConfig::GINAC absl::synchronization Threads::Threads)
m1rl_cc_library(NAME math_verifier
  SRCS ${_m}/compare.cc ${_m}/math_verifier.cc ${_m}/math_fuzz_entry.cc
  HDRS ${_m}/compare.h ${_m}/math_verifier.h ${_m}/math_fuzz_entry.h
  DEPS m1rl::math_cas m1rl::math_parse m1rl::reward_verifier)

m1rl_cc_test(NAME math_parser_test SRCS ${_m}/parser_test.cc ${_m}/extract_test.cc ${_m}/lsan_suppressions.cc
  DEPS m1rl::math_parse m1rl::status_matchers LABEL cpu TIMEOUT 60)
m1rl_cc_test(NAME math_cas_test SRCS ${_m}/exact_test.cc ${_m}/cas_test.cc ${_m}/cas_pool_test.cc
  ${_m}/lsan_suppressions.cc
  DEPS m1rl::math_cas m1rl::status_matchers LABEL cpu TIMEOUT 60)
m1rl_cc_test(NAME math_verifier_test SRCS ${_m}/math_verifier_test.cc ${_m}/math_cases_test.cc
  ${_m}/lsan_suppressions.cc
  DEPS m1rl::math_verifier m1rl::status_matchers LABEL cpu TIMEOUT 120)
m1rl_cc_test(NAME math_fuzz_test SRCS ${_m}/math_fuzz_test.cc ${_m}/lsan_suppressions.cc
  DEPS m1rl::math_verifier LABEL cpu TIMEOUT 60)

# The real libFuzzer target: only with clang and -DM1RL_BUILD_FUZZERS=ON (see math_fuzzer.cc). The
# sources are compiled into the fuzzer itself so that all of them carry coverage instrumentation.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND M1RL_BUILD_FUZZERS)
  m1rl_cc_binary(NAME math_fuzzer
    SRCS ${_m}/math_fuzzer.cc ${_m}/math_fuzz_entry.cc ${_m}/normalize.cc ${_m}/ast.cc ${_m}/parser.cc
         ${_m}/extract.cc ${_m}/exact.cc ${_m}/compare.cc
    DEPS m1rl::reward_verifier m1rl::status PkgConfig::GINAC absl::status absl::statusor absl::strings)
  target_compile_options(math_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(math_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  # Bounded libFuzzer run in ctest: new inputs go to the build tree, the checked-in seeds are read-only.
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/math_fuzz_corpus)
  add_test(NAME math_libfuzzer_bounded
    COMMAND math_fuzzer ${PROJECT_BINARY_DIR}/math_fuzz_corpus ${_m}/testdata/fuzz_seeds
            -max_total_time=20 -max_len=2048 -timeout=5 -detect_leaks=0)
  # CLN allocates static caches lazily; LeakSanitizer would fail the run at exit.
  set_tests_properties(math_libfuzzer_bounded PROPERTIES LABELS cpu TIMEOUT 120 ENVIRONMENT ASAN_OPTIONS=detect_leaks=0)
endif()
