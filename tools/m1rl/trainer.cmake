# Commands and tools of the trainer module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/train_command.cc ${CMAKE_CURRENT_LIST_DIR}/export_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::trainer)
# Train/infer agreement per LM-head precision on the same completions (docs/benchmarks.md).
m1rl_cc_binary(NAME bench_agreement SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_agreement.cc
  DEPS m1rl::trainer_state m1rl::trainer_config m1rl::algorithms m1rl::model TORCH)
# MFU of the training step of a config's model against the measured bf16 GEMM peak (docs/benchmarks.md).
m1rl_cc_binary(NAME bench_mfu SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_mfu.cc
  DEPS m1rl::trainer_state m1rl::trainer_config m1rl::model absl::strings TORCH)
