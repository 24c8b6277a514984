# Commands and tools of the rollout module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/generate_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::rollout_checkpoint_generator m1rl::rollout_prompts m1rl::progress m1rl::flags)

m1rl_cc_binary(NAME bench_rollout SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_rollout.cc
               DEPS m1rl::rollout_hybrid m1rl::model m1rl::flags TORCH)
m1rl_cc_binary(NAME bench_decode SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_decode.cc
               DEPS m1rl::rollout_hybrid m1rl::model m1rl::ops m1rl::flags nlohmann_json::nlohmann_json TORCH)
