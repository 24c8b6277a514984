# Commands and tools of the model module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/model_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::model)
m1rl_cc_binary(NAME bench_model SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_model.cc DEPS m1rl::model TORCH)
