# Commands and tools of the reward module.
target_sources(m1rl PRIVATE ${CMAKE_CURRENT_LIST_DIR}/reward_server_command.cc ${CMAKE_CURRENT_LIST_DIR}/verify_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/genrm_reference_command.cc)
target_link_libraries(m1rl PRIVATE m1rl::reward_server m1rl::reward_default_registry m1rl::reward_sandboxed_registry m1rl::reward_genrm_registry m1rl::genrm_engine m1rl::config)

# tools/bench_reward: verifications/s/core and latency at saturation, gRPC vs in-process.
m1rl_cc_binary(NAME bench_reward SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_reward.cc
  DEPS m1rl::reward_client m1rl::reward_server m1rl::reward_default_registry m1rl::flags)

# tools/bench_genrm: GenRM judge-call budget and latency against the fake judge server at high concurrency.
m1rl_cc_binary(NAME bench_genrm SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_genrm.cc
  DEPS m1rl::genrm_openai m1rl::genrm_fake_server m1rl::flags)

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
add_test(NAME m1rl_verify_math_extract_eval
         COMMAND m1rl verify --domain math --gold 4 --pred "the result is 4" --extract eval)
set_tests_properties(m1rl_verify_math_extract_eval PROPERTIES LABELS cpu
                     PASS_REGULAR_EXPRESSION "verdict: CORRECT[^\n]*\n.*source=bare_expression")
add_test(NAME m1rl_verify_math_extract_rl
         COMMAND m1rl verify --domain math --gold 4 --pred "the result is 4" --extract rl)
set_tests_properties(m1rl_verify_math_extract_rl PROPERTIES LABELS cpu PASS_REGULAR_EXPRESSION "verdict: NO_ANSWER")
add_test(NAME m1rl_verify_math_extract_bad_exits_2 COMMAND m1rl verify --gold 4 --pred 4 --extract both)
set_tests_properties(m1rl_verify_math_extract_bad_exits_2 PROPERTIES LABELS cpu WILL_FAIL TRUE)
# Per-row options (decimal_places, ordered_lists, extract, rel_tolerance: rows 7-8 are the same pair with and
# without it), and --extract as the default for rows without one (row 5 is NO_ANSWER without it).
add_test(NAME m1rl_verify_jsonl_math_options
         COMMAND m1rl verify --jsonl ${_m1rl_reward_testdata}/verify_math_options.jsonl)
set_tests_properties(m1rl_verify_jsonl_math_options PROPERTIES LABELS cpu
  PASS_REGULAR_EXPRESSION "\"line\":1,[^\n]*\"verdict\":\"CORRECT\".*\"line\":2,[^\n]*\"verdict\":\"INCORRECT\".*\"line\":3,[^\n]*\"verdict\":\"INCORRECT\".*\"line\":4,[^\n]*\"verdict\":\"CORRECT\".*\"line\":5,[^\n]*\"verdict\":\"NO_ANSWER\".*\"line\":6,\"status\":\"INVALID_INPUT\"[^\n]*options.extract.*\"line\":7,[^\n]*\"verdict\":\"CORRECT\".*\"line\":8,[^\n]*\"verdict\":\"INCORRECT\"")
add_test(NAME m1rl_verify_jsonl_extract_default
         COMMAND m1rl verify --jsonl ${_m1rl_reward_testdata}/verify_math_options.jsonl --extract eval)
set_tests_properties(m1rl_verify_jsonl_extract_default PROPERTIES LABELS cpu
  PASS_REGULAR_EXPRESSION "\"line\":5,[^\n]*\"verdict\":\"CORRECT\"")
add_test(NAME m1rl_reward_server_graceful_sigterm
         COMMAND ${PROJECT_SOURCE_DIR}/reward/service/testing/reward_server_smoke.sh $<TARGET_FILE:m1rl>)
set_tests_properties(m1rl_reward_server_graceful_sigterm PROPERTIES LABELS cpu TIMEOUT 60 PASS_REGULAR_EXPRESSION "smoke: ok")

# tools/bench_sandbox: sandbox start overhead and executions/s/core vs the bare program.
if(M1RL_HAVE_SANDBOX)
  m1rl_cc_binary(NAME bench_sandbox SRCS ${CMAKE_CURRENT_LIST_DIR}/../bench_sandbox.cc DEPS m1rl::sandbox m1rl::flags)
endif()
if(M1RL_HAVE_SANDBOX)
  # The server refuses to start (exit 2) when a required sandbox protection is unavailable.
  add_test(NAME m1rl_reward_server_refuses_missing_protection
           COMMAND m1rl reward-server --port 0 --config ${_m1rl_reward_testdata}/code_requires_cgroup_v2.yaml)
  set_tests_properties(m1rl_reward_server_refuses_missing_protection PROPERTIES LABELS cpu TIMEOUT 60
    PASS_REGULAR_EXPRESSION "required protections unavailable: cgroup_v2")
endif()

# `m1rl genrm-reference` against a scripted OpenAI-compatible server (python3, standard library).
add_test(NAME m1rl_genrm_reference_smoke
         COMMAND ${PROJECT_SOURCE_DIR}/reward/genrm/testing/genrm_reference_smoke.sh $<TARGET_FILE:m1rl>)
set_tests_properties(m1rl_genrm_reference_smoke PROPERTIES LABELS cpu TIMEOUT 60 PASS_REGULAR_EXPRESSION "smoke: ok")
