# Domain "general": the generative reward model (REWARDS.md §6). No LibTorch (S2).
set(_g ${CMAKE_CURRENT_LIST_DIR}/genrm)
m1rl_cc_library(NAME genrm
  SRCS ${_g}/verdict.cc ${_g}/genrm.cc
  HDRS ${_g}/verdict.h ${_g}/judge.h ${_g}/genrm.h ${_g}/testing/scripted_judge.h
  DEPS m1rl::reward_verifier m1rl::config_proto m1rl::config m1rl::random m1rl::status absl::status absl::statusor absl::strings)

m1rl_cc_test(NAME genrm_test SRCS ${_g}/verdict_test.cc ${_g}/genrm_test.cc
  DEPS m1rl::genrm m1rl::status_matchers LABEL cpu TIMEOUT 60)
