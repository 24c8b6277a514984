# The reward service: registry, format reward, scoring engine, gRPC server and client. No LibTorch (S2).
m1rl_cc_library(NAME reward_registry
  SRCS service/format_reward.cc service/registry.cc service/scoring.cc
  HDRS service/format_reward.h service/registry.h service/scoring.h
  DEPS m1rl::reward_verifier m1rl::rl_proto m1rl::status absl::strings absl::statusor m1rl::sha256)

m1rl_cc_library(NAME reward_engine SRCS service/engine.cc HDRS service/engine.h
  DEPS m1rl::reward_registry absl::synchronization)

m1rl_cc_test(NAME reward_service_scoring_test SRCS service/format_reward_test.cc service/scoring_test.cc
  DEPS m1rl::reward_registry m1rl::status_matchers LABEL cpu TIMEOUT 60)
m1rl_cc_test(NAME reward_service_engine_test SRCS service/engine_test.cc
  DEPS m1rl::reward_engine m1rl::status_matchers LABEL cpu TIMEOUT 60)

m1rl_cc_library(NAME reward_server SRCS service/server.cc HDRS service/server.h
  DEPS m1rl::reward_engine m1rl::rl_proto m1rl::status gRPC::grpc++)

# DefaultVerifierRegistry(): the format, math and logic verifiers.
m1rl_cc_library(NAME reward_default_registry SRCS service/default_registry.cc
  DEPS m1rl::reward_registry m1rl::math_verifier m1rl::logic_verifier m1rl::status)

# The client without Create() (grpc and explicit in-process engines): its tests do not link the
# math/logic verifiers. m1rl::reward_client adds Create(), which builds DefaultVerifierRegistry().
m1rl_cc_library(NAME reward_client_core SRCS service/client.cc HDRS service/client.h
  DEPS m1rl::reward_engine m1rl::config_proto m1rl::rl_proto m1rl::status gRPC::grpc++)
m1rl_cc_library(NAME reward_client SRCS service/client_default.cc
  DEPS m1rl::reward_client_core m1rl::reward_default_registry m1rl::reward_sandboxed_registry
       m1rl::reward_genrm_registry)

m1rl_cc_test(NAME reward_service_server_test SRCS service/server_test.cc service/client_test.cc
  DEPS m1rl::reward_server m1rl::reward_client_core m1rl::status_matchers LABEL cpu TIMEOUT 120)
m1rl_cc_test(NAME reward_service_client_default_test SRCS service/client_default_test.cc
  DEPS m1rl::reward_client m1rl::status_matchers LABEL cpu TIMEOUT 60)

# AddSandboxedVerifiers(): domain "code" when reward.code.enabled (reward/sandbox, reward/code).
m1rl_cc_library(NAME reward_sandboxed_registry SRCS service/sandboxed_registry.cc HDRS service/sandboxed_registry.h
  DEPS m1rl::reward_registry m1rl::config_proto m1rl::status)
if(M1RL_HAVE_SANDBOX)
  target_compile_definitions(m1rl_reward_sandboxed_registry PRIVATE M1RL_HAVE_SANDBOX)
  target_link_libraries(m1rl_reward_sandboxed_registry PUBLIC m1rl::code_verifier m1rl::swe_verifier)
  m1rl_cc_test(NAME reward_service_code_domain_test SRCS service/code_domain_test.cc
    DEPS m1rl::reward_client m1rl::reward_server m1rl::status_matchers LABEL cpu TIMEOUT 120)
endif()

# AddGenrmVerifier(): domain "general" when reward.genrm.enabled (reward/genrm; links libcurl).
m1rl_cc_library(NAME reward_genrm_registry SRCS service/genrm_registry.cc HDRS service/genrm_registry.h
  DEPS m1rl::reward_registry m1rl::genrm_verifier m1rl::genrm_openai m1rl::config_proto m1rl::status)
m1rl_cc_test(NAME reward_service_genrm_domain_test SRCS service/genrm_domain_test.cc
  DEPS m1rl::reward_client m1rl::reward_server m1rl::genrm_fake_server m1rl::status_matchers LABEL cpu TIMEOUT 120)
