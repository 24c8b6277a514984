# Commands and tools of the reward module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/reward_server_command.cc ${CMAKE_CURRENT_LIST_DIR}/verify_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::reward_server m1rl::reward_default_registry)

# tools/bench_reward: verifications/s/core and latency at saturation, gRPC vs in-process.
m1rl_cc_binary(NAME bench_reward SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_reward.cc
  DEPS m1rl::reward_client m1rl::reward_server m1rl::reward_default_registry m1rl::flags)

# The commands end to end.
set(_m1rl_reward_testdata ${PROJECT_SOURCE_DIR}/reward/service/testdata)
add_test(NAME m1rl_verify_format_correct
         COMMAND m1rl verify --domain format --gold= --pred "<think>t</think> 4" --require-think)
set_tests_properties(m1rl_verify_format_correct PROPERTIES LABELS cpu
                     PASS_REGULAR_EXPRESSION "status: OK\nverdict: CORRECT\ncorrectness: 1\nformat: 1")
add_test(NAME m1rl_verify_format_incorrect_exits_1
         COMMAND m1rl verify --domain format --gold= --pred "4" --require-think)
set_tests_properties(m1rl_verify_format_incorrect_exits_1 PROPERTIES LABELS cpu WILL_FAIL TRUE)
add_test(NAME m1rl_verify_unknown_flag_fails COMMAND m1rl verify --domian math --gold 1 --pred 1)
set_tests_properties(m1rl_verify_unknown_flag_fails PROPERTIES LABELS cpu WILL_FAIL TRUE)
add_test(NAME m1rl_verify_jsonl COMMAND m1rl verify --jsonl ${_m1rl_reward_testdata}/verify_format.jsonl)
set_tests_properties(m1rl_verify_jsonl PROPERTIES LABELS cpu
  PASS_REGULAR_EXPRESSION "\"line\":1,[^\n]*\"status\":\"OK\"[^\n]*\"verdict\":\"CORRECT\".*\"line\":2,[^\n]*\"verdict\":\"INCORRECT\".*\"line\":3,\"status\":\"INVALID_INPUT\".*\"line\":4,[^\n]*\"verdict\":\"INCORRECT\".*\"line\":5,[^\n]*\"status\":\"INVALID_INPUT\"[^\n]*unknown domain 'astrology'")
add_test(NAME m1rl_verify_math_boxed COMMAND m1rl verify --domain math --gold "\\frac{1}{2}" --pred "<think>so</think> \\boxed{0.5}")
set_tests_properties(m1rl_verify_math_boxed PROPERTIES LABELS cpu PASS_REGULAR_EXPRESSION "verdict: CORRECT")
add_test(NAME m1rl_reward_server_graceful_sigterm
         COMMAND ${PROJECT_SOURCE_DIR}/reward/service/testing/reward_server_smoke.sh $<TARGET_FILE:m1rl>)
set_tests_properties(m1rl_reward_server_graceful_sigterm PROPERTIES LABELS cpu TIMEOUT 60 PASS_REGULAR_EXPRESSION "smoke: ok")
