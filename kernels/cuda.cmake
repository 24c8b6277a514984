# CUDA kernels (raw pointers + stream, no torch; S3) and their plain C++ references. Built whenever nvcc is
# found (CPU machines compile every .cu; the cuda-labelled tests skip without a device).
m1rl_cc_library(NAME naive_reference SRCS reference/naive.cc reference/naive_norm.cc reference/naive_swiglu.cc
  HDRS reference/naive.h reference/naive_norm.h reference/naive_swiglu.h)
m1rl_cc_test(NAME naive_norm_test SRCS reference/naive_norm_test.cc DEPS m1rl::naive_reference LABEL cpu)
m1rl_cc_test(NAME naive_swiglu_test SRCS reference/naive_swiglu_test.cc DEPS m1rl::naive_reference LABEL cpu)
m1rl_cc_test(NAME naive_test SRCS reference/naive_test.cc DEPS m1rl::naive_reference LABEL cpu)

if(M1RL_ENABLE_CUDA)
  m1rl_cc_library(NAME cuda_kernels
    CUDA_SRCS cuda/lightning_attention.cu cuda/lm_head.cu cuda/moe.cu cuda/decode_attention.cu cuda/sampling.cu
              cuda/rms_norm.cu cuda/swiglu.cu cuda/cast.cu
    HDRS cuda/lightning_attention.h cuda/lm_head.h cuda/moe.h cuda/decode_attention.h cuda/sampling.h cuda/rms_norm.h
         cuda/swiglu.h cuda/cast.h cuda/sampling_args.h cuda/philox.h cuda/internal/pack.cuh
    DEPS CUDA::cudart CUDA::cublas)
  target_compile_options(m1rl_cuda_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 -lineinfo>)
  set_target_properties(m1rl_cuda_kernels PROPERTIES CUDA_ARCHITECTURES 90)

  m1rl_cc_test(NAME cuda_kernels_test SRCS cuda/cuda_kernels_test.cc
    DEPS m1rl::cuda_kernels m1rl::naive_reference LABEL cuda)
endif()

# The LibTorch binding and its dispatch from kernels/ops: only when LibTorch has torch_cuda (S37).
if(M1RL_ENABLE_CUDA AND M1RL_TORCH_HAS_CUDA)
  m1rl_cc_library(NAME cuda_ops SRCS cuda_ops.cc HDRS cuda_ops.h DEPS m1rl::cuda_kernels m1rl::torch_compat TORCH)
  target_link_libraries(m1rl_ops PUBLIC m1rl::cuda_ops)
  target_compile_definitions(m1rl_ops PRIVATE M1RL_WITH_CUDA_OPS)
  m1rl_cc_test(NAME cuda_ops_test SRCS cuda_ops_test.cc DEPS m1rl::cuda_ops m1rl::ops m1rl::naive_reference LABEL cuda
    TORCH)
endif()

if(M1RL_ENABLE_CUDA AND M1RL_TORCH_HAS_CUDA)
  m1rl_cc_test(NAME slot_decode_cuda_test SRCS slot_decode_cuda_test.cc DEPS m1rl::ops LABEL cuda TORCH TIMEOUT 300)
endif()
