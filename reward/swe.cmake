# Domain "swe" (REWARDS.md §5): diff inspection, test-log parsing and grading, the runner and verifier.
set(_w ${CMAKE_CURRENT_LIST_DIR}/swe)
m1rl_cc_library(NAME swe_results
  SRCS ${_w}/diff_paths.cc ${_w}/test_results.cc
  HDRS ${_w}/diff_paths.h ${_w}/test_results.h
  DEPS m1rl::status absl::status absl::statusor absl::strings m1rl::rl_proto)

m1rl_cc_test(NAME swe_results_test SRCS ${_w}/test_results_test.cc ${_w}/diff_paths_test.cc
  DEPS m1rl::swe_results m1rl::status_matchers LABEL cpu TIMEOUT 60)
m1rl_cc_library(NAME swe_verifier
  SRCS ${_w}/swe_runner.cc ${_w}/swe_verifier.cc
  HDRS ${_w}/swe_runner.h ${_w}/swe_verifier.h
  DEPS m1rl::swe_results m1rl::code_verifier m1rl::sandbox_pool m1rl::reward_verifier m1rl::config_proto
       m1rl::status m1rl::sha256)
m1rl_cc_test(NAME swe_verifier_test SRCS ${_w}/swe_verifier_test.cc
  DEPS m1rl::swe_verifier m1rl::status_matchers LABEL cpu TIMEOUT 300)
