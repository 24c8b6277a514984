# Domain "code" (REWARDS.md §4): comparators, the test runner on the sandbox pool, and the verifier.
set(_c ${CMAKE_CURRENT_LIST_DIR}/code)
m1rl_cc_library(NAME code_compare SRCS ${_c}/compare.cc HDRS ${_c}/compare.h
  DEPS m1rl::rl_proto absl::strings)
m1rl_cc_library(NAME code_verifier
  SRCS ${_c}/code_runner.cc ${_c}/code_verifier.cc
  HDRS ${_c}/code_runner.h ${_c}/code_verifier.h
  DEPS m1rl::code_compare m1rl::sandbox_pool m1rl::reward_verifier m1rl::config_proto m1rl::status)

m1rl_cc_test(NAME code_compare_test SRCS ${_c}/compare_test.cc DEPS m1rl::code_compare LABEL cpu TIMEOUT 60)
m1rl_cc_test(NAME code_verifier_test SRCS ${_c}/code_verifier_test.cc
  DEPS m1rl::code_verifier m1rl::status_matchers LABEL cpu TIMEOUT 120)
