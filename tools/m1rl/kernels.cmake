# tools of the kernels module: the CUDA benchmark (GPU host only: needs LibTorch with torch_cuda).
if(M1RL_ENABLE_CUDA AND M1RL_TORCH_HAS_CUDA)
  m1rl_cc_binary(NAME bench_kernels SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_kernels.cc
    DEPS m1rl::cuda_ops m1rl::ops m1rl::flags TORCH)
endif()
