# kernels/ops: tensor-level kernel API and its CPU references.
# The CUDA binding (cuda.cmake) adds its dispatch to this library.
m1rl_cc_library(NAME ops
  SRCS ops.cc reference/lightning_attention.cc
  HDRS ops.h reference/lightning_attention.h
  DEPS m1rl::torch_compat
  TORCH)
m1rl_cc_test(NAME kernels_ops_test SRCS ops_test.cc DEPS m1rl::ops LABEL cpu TORCH TIMEOUT 120)
