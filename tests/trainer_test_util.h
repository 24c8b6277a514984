// Shared fixtures of the trainer integration tests: a tiny RL config over a synthetic "parity" task
// whose verifier is CORRECT iff the response has an even number of characters (a random policy is
// right about half the time, so groups have non-zero advantages from the first step).
#ifndef M1RL_TESTS_TRAINER_TEST_UTIL_H_
#define M1RL_TESTS_TRAINER_TEST_UTIL_H_

#include <ATen/core/Tensor.h>
#include <ATen/ops/cat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "model/hybrid_model.h"
#include "proto/config.pb.h"
#include "reward/service/client.h"
#include "reward/service/engine.h"
#include "reward/service/registry.h"
#include "reward/verifier.h"

namespace m1rl::trainer::testutil {

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_((std::filesystem::temp_directory_path() / absl::StrCat("m1rl_trainer_", name, "_", ::getpid()))
                  .string()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A verifier whose verdict is a predicate of the response text (CORRECT, reward 1, iff it holds).
class PredicateVerifier final : public reward::Verifier {
 public:
  PredicateVerifier(std::string domain, std::function<bool(const std::string&)> correct)
      : domain_(std::move(domain)), version_(domain_ + "-1"), correct_(std::move(correct)) {}
  std::string_view domain() const override { return domain_; }
  std::string_view version() const override { return version_; }
  reward::VerifyOutcome Verify(const reward::VerifyInput& input, const reward::CheckContext&) const override {
    reward::VerifyOutcome out;
    out.status = rl::OK;
    const bool ok = correct_(input.response);
    out.verdict = ok ? rl::CORRECT : rl::INCORRECT;
    out.correctness = ok ? 1.0 : 0.0;
    return out;
  }

 private:
  std::string domain_, version_;
  std::function<bool(const std::string&)> correct_;
};

// An in-process reward client over one verifier (nullptr if the engine cannot be built).
inline std::unique_ptr<reward::RewardClient> MakeInProcessRewardClient(
    std::unique_ptr<reward::Verifier> verifier) {
  auto registry = std::make_shared<reward::VerifierRegistry>();
  if (!registry->Register(std::move(verifier)).ok()) return nullptr;
  reward::EngineOptions eo;
  eo.num_workers = 1;
  auto engine = reward::ScoringEngine::Create(registry, eo);
  if (!engine.ok()) return nullptr;
  config::RewardConfig rc;
  rc.set_mode(config::RewardConfig::MODE_IN_PROCESS);
  auto client =
      reward::RewardClient::CreateInProcess(rc, std::shared_ptr<reward::ScoringEngine>(std::move(*engine)));
  return client.ok() ? std::move(*client) : nullptr;
}

inline std::unique_ptr<reward::RewardClient> MakeParityRewardClient() {
  return MakeInProcessRewardClient(std::make_unique<PredicateVerifier>(
      "parity", [](const std::string& response) { return response.size() % 2 == 0; }));
}

// Writes a 64-row parity dataset into `dir` and returns a tiny RL config (tiny2 hybrid model: one
// lightning and one softmax layer, 4 experts top-2) over it: B 4 prompts x G 4 samples, 2 minibatches.
inline config::RunConfig TinyRlConfig(const std::string& dir) {
  const std::string data = dir + "/parity.jsonl";
  {
    std::ofstream out(data);
    for (int i = 0; i < 64; ++i) {
      out << "{\"id\":\"p" << i << "\",\"prompt\":\"" << (i * 7919 % 1000)
          << "\",\"answer\":\"even\",\"domain\":\"parity\"}\n";
    }
  }
  config::RunConfig c;
  c.set_name("trainer-test");
  auto* m = c.mutable_model();
  m->set_preset("tiny2");
  m->set_vocab_size(99);
  m->set_tokenizer("char");
  m->set_seed(3);
  auto* r = c.mutable_rollout();
  r->set_n_samples(4);
  r->set_temperature(1.0);
  r->set_top_p(1.0);
  r->set_max_new_tokens(6);
  r->set_max_batch_size(16);
  c.mutable_reward()->set_mode(config::RewardConfig::MODE_IN_PROCESS);
  auto* a = c.mutable_algorithm();
  a->set_preset(config::AlgorithmConfig::PRESET_CISPO);
  a->mutable_is_weight()->set_eps_high(4.0);
  a->mutable_dynamic_sampling()->set_enabled(false);
  a->mutable_overlong()->set_enabled(false);
  auto* t = c.mutable_trainer();
  t->set_mode(config::TrainerConfig::MODE_RL);
  t->set_steps(2);
  t->set_prompts_per_step(4);
  t->set_minibatches_per_step(2);
  t->set_prompt_template(config::TrainerConfig::PROMPT_TEMPLATE_RAW);
  t->set_seed(5);
  t->mutable_optim()->set_lr(1e-3);
  t->mutable_optim()->set_grad_clip(1.0);
  t->mutable_checkpoint()->set_dir(dir + "/ckpt");
  t->mutable_checkpoint()->set_keep_last(3);
  c.mutable_data()->set_train_path(data);
  c.mutable_data()->set_shuffle(true);
  c.mutable_data()->set_seed(9);
  return c;
}

inline at::Tensor InitialParams(const config::RunConfig& cfg) {
  auto mc = model::ModelConfig::FromProto(cfg.model());
  auto m = model::HybridModel::Create(*mc, at::kFloat, at::kCPU, cfg.model().seed());
  std::vector<at::Tensor> v;
  for (const auto& [name, p] : (*m)->NamedParameters()) v.push_back(p.detach().reshape({-1}));
  return at::cat(v);
}

// A loopback TCP port nobody listens on (bound then closed).
inline int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace m1rl::trainer::testutil

#endif  // M1RL_TESTS_TRAINER_TEST_UTIL_H_
