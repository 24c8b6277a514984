# The sandbox runner and its pool (REWARDS.md §4). Needs bubblewrap at run time and libseccomp to build.
set(_s ${CMAKE_CURRENT_LIST_DIR}/sandbox)
m1rl_cc_library(NAME sandbox
  SRCS ${_s}/sandbox.cc ${_s}/internal/seccomp_filter.cc ${_s}/internal/proc_tree.cc ${_s}/work_dir.cc
  HDRS ${_s}/sandbox.h ${_s}/internal/seccomp_filter.h ${_s}/internal/proc_tree.h ${_s}/work_dir.h
  DEPS m1rl::config_proto m1rl::status PkgConfig::SECCOMP absl::status absl::statusor absl::strings)
m1rl_cc_library(NAME sandbox_pool SRCS ${_s}/pool.cc HDRS ${_s}/pool.h
  DEPS m1rl::sandbox absl::synchronization absl::time)

# The isolation checklist (REWARDS.md §4) as executable tests.
m1rl_cc_test(NAME sandbox_test SRCS ${_s}/sandbox_test.cc
  DEPS m1rl::sandbox m1rl::status_matchers LABEL cpu TIMEOUT 120)
m1rl_cc_test(NAME sandbox_pool_test SRCS ${_s}/pool_test.cc
  DEPS m1rl::sandbox_pool m1rl::status_matchers LABEL cpu TIMEOUT 120)
