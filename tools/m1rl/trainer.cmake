# Commands and tools of the trainer module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/train_command.cc ${CMAKE_CURRENT_LIST_DIR}/export_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::trainer)
