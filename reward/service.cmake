# The reward service (owned by the service engineer): registry, format reward, scoring engine, gRPC
# server and client. No LibTorch (S2).
m1rl_cc_library(NAME reward_registry
  SRCS service/format_reward.cc service/registry.cc service/scoring.cc
  HDRS service/format_reward.h service/registry.h service/scoring.h
  DEPS m1rl::reward_verifier m1rl::rl_proto m1rl::status absl::strings absl::statusor OpenSSL::Crypto)

m1rl_cc_library(NAME reward_engine SRCS service/engine.cc HDRS service/engine.h
  DEPS m1rl::reward_registry absl::synchronization)

m1rl_cc_test(NAME reward_service_scoring_test SRCS service/format_reward_test.cc service/scoring_test.cc
  DEPS m1rl::reward_registry m1rl::status_matchers LABEL cpu TIMEOUT 60)
m1rl_cc_test(NAME reward_service_engine_test SRCS service/engine_test.cc
  DEPS m1rl::reward_engine m1rl::status_matchers LABEL cpu TIMEOUT 60)
