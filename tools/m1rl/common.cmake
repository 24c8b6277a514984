# Commands and tools of the common module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/config_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::config m1rl::trainer_config)

# The command end to end: the resolved quickstart config, an unknown override path (message and exit 1).
add_test(NAME m1rl_config_command_prints_resolved
         COMMAND m1rl config --config ${PROJECT_SOURCE_DIR}/configs/quickstart.yaml --set trainer.optim.lr=2e-6)
set_tests_properties(m1rl_config_command_prints_resolved PROPERTIES LABELS cpu
                     PASS_REGULAR_EXPRESSION "optim:\n    lr: 2e-06\n    betas: \\[0.9, 0.95\\]")
add_test(NAME m1rl_config_command_names_bad_path
         COMMAND m1rl config --config ${PROJECT_SOURCE_DIR}/configs/quickstart.yaml --set trainer.optim.betass=[1])
set_tests_properties(m1rl_config_command_names_bad_path PROPERTIES LABELS cpu
                     PASS_REGULAR_EXPRESSION "unknown key trainer.optim.betass")
add_test(NAME m1rl_config_command_exits_1_on_error
         COMMAND m1rl config --config ${PROJECT_SOURCE_DIR}/configs/quickstart.yaml --set trainer.optim.lr=-1)
set_tests_properties(m1rl_config_command_exits_1_on_error PROPERTIES LABELS cpu WILL_FAIL TRUE)
# Enum fields dump their YAML names; the planning config (bf16 weights, no data) validates.
add_test(NAME m1rl_config_command_minimax_m1
         COMMAND m1rl config --config ${PROJECT_SOURCE_DIR}/configs/minimax_m1.yaml)
set_tests_properties(m1rl_config_command_minimax_m1 PROPERTIES LABELS cpu
                     PASS_REGULAR_EXPRESSION "dtype: bfloat16\n  lm_head_precision: ieee_fp32")
