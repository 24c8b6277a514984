# Commands and tools of the trainer module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/train_command.cc ${CMAKE_CURRENT_LIST_DIR}/export_command.cc
               ${CMAKE_CURRENT_LIST_DIR}/eval_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::trainer m1rl::trainer_checkpoint_eval m1rl::rollout_checkpoint_generator)
# m1rl eval names a malformed row by file:line (before loading any model).
add_test(NAME m1rl_eval_names_malformed_row
         COMMAND m1rl eval --model /nonexistent --data ${PROJECT_SOURCE_DIR}/trainer/testdata/eval_malformed.jsonl)
set_tests_properties(m1rl_eval_names_malformed_row PROPERTIES LABELS cpu
                     PASS_REGULAR_EXPRESSION "eval_malformed.jsonl:3: field 'prompt'")
# Train/infer agreement per LM-head precision on the same completions (docs/benchmarks.md).
m1rl_cc_binary(NAME bench_agreement SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_agreement.cc
  DEPS m1rl::trainer_state m1rl::trainer_config m1rl::algorithms m1rl::model TORCH)
# MFU of the training step of a config's model against the measured bf16 GEMM peak (docs/benchmarks.md).
m1rl_cc_binary(NAME bench_mfu SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_mfu.cc
  DEPS m1rl::trainer_state m1rl::trainer_config m1rl::trainer_step m1rl::model m1rl::rollout absl::strings
  TORCH)
