# Commands of the logic tasks.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/make_data_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::logic_tasks)
# The CLI test runs this binary.
add_dependencies(logic_make_data_cli_test m1rl)
