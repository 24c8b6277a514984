# Domain "general": the generative reward model (REWARDS.md §6). No LibTorch (S2).
set(_g ${CMAKE_CURRENT_LIST_DIR}/genrm)
m1rl_cc_library(NAME genrm
  SRCS ${_g}/verdict.cc ${_g}/genrm.cc ${_g}/swiss.cc ${_g}/length_bias.cc ${_g}/reference_file.cc
       ${_g}/constraints.cc
  HDRS ${_g}/verdict.h ${_g}/judge.h ${_g}/genrm.h ${_g}/swiss.h ${_g}/length_bias.h ${_g}/reference_file.h ${_g}/constraints.h
       ${_g}/testing/scripted_judge.h
  DEPS m1rl::reward_verifier m1rl::config_proto m1rl::config m1rl::random m1rl::status absl::status absl::statusor absl::strings)

m1rl_cc_test(NAME genrm_test SRCS ${_g}/verdict_test.cc ${_g}/genrm_test.cc ${_g}/swiss_test.cc ${_g}/length_bias_test.cc
  ${_g}/reference_file_test.cc ${_g}/constraints_test.cc
  DEPS m1rl::genrm m1rl::status_matchers LABEL cpu TIMEOUT 60)

# The OpenAI-compatible HTTP backend (libcurl) and the fake server its tests and tools/bench_genrm use.
find_package(CURL REQUIRED)
m1rl_cc_library(NAME genrm_openai SRCS ${_g}/openai_judge.cc HDRS ${_g}/openai_judge.h
  DEPS m1rl::genrm m1rl::file CURL::libcurl absl::synchronization nlohmann_json::nlohmann_json)
m1rl_cc_library(NAME genrm_fake_server SRCS ${_g}/testing/fake_openai_server.cc HDRS ${_g}/testing/fake_openai_server.h
  DEPS absl::status absl::statusor absl::strings nlohmann_json::nlohmann_json Threads::Threads)
m1rl_cc_test(NAME genrm_openai_test SRCS ${_g}/openai_judge_test.cc
  DEPS m1rl::genrm_openai m1rl::genrm_fake_server m1rl::status_matchers LABEL cpu TIMEOUT 120)

# The "general" verifier over a GenRm (any judge backend).
m1rl_cc_library(NAME genrm_verifier SRCS ${_g}/general_verifier.cc HDRS ${_g}/general_verifier.h
  DEPS m1rl::genrm m1rl::reward_verifier)
m1rl_cc_test(NAME genrm_verifier_test SRCS ${_g}/general_verifier_test.cc
  DEPS m1rl::genrm_verifier m1rl::status_matchers LABEL cpu TIMEOUT 60)


# The in-process judge: a checkpoint of ours on the rollout engine (the one LibTorch target here, S2).
m1rl_cc_library(NAME genrm_engine SRCS ${_g}/engine_judge.cc HDRS ${_g}/engine_judge.h
  DEPS m1rl::genrm m1rl::rollout m1rl::rollout_checkpoint_generator m1rl::tokenizer absl::synchronization
  TORCH)
m1rl_cc_test(NAME genrm_engine_test SRCS ${_g}/engine_judge_test.cc
  DEPS m1rl::genrm_engine m1rl::genrm_verifier m1rl::reward_client_core m1rl::rollout_fake_model m1rl::model
       m1rl::status_matchers
  TORCH LABEL cpu TIMEOUT 120)
