// A fake OpenAI-compatible chat-completions server on loopback, for tests and tools/bench_genrm: each POST
// gets the reply a script chooses (a chat completion, a raw body, an HTTP status, a delay). HTTP/1.1 with
// keep-alive, one thread per connection. Counts requests, connections and peak concurrency.
#ifndef M1RL_REWARD_GENRM_TESTING_FAKE_OPENAI_SERVER_H_
#define M1RL_REWARD_GENRM_TESTING_FAKE_OPENAI_SERVER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace m1rl::reward::genrm::testing {

struct FakeReply {
  int status = 200;
  std::string content;     // the assistant message (status 200, raw_body empty)
  std::string raw_body;    // when set, sent as the body verbatim (garbage replies)
  int delay_ms = 0;        // before replying
  int retry_after_s = -1;  // >= 0: a Retry-After header
};

class FakeOpenAiServer {
 public:
  // `request` is the parsed JSON body (null when unparseable); `index` counts requests from 0.
  using Script = std::function<FakeReply(const nlohmann::json& request, int index)>;

  static absl::StatusOr<std::unique_ptr<FakeOpenAiServer>> Start(Script script);
  ~FakeOpenAiServer();  // stops accepting, closes connections, joins threads

  std::string url() const;  // http://127.0.0.1:<port>/v1/chat/completions
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }
  int peak_concurrency() const { return peak_.load(); }
  // Arrival times of the requests, in ms since Start().
  std::vector<double> arrivals_ms() const;

 private:
  FakeOpenAiServer(int listen_fd, int port, Script script);
  void AcceptLoop();
  void Serve(int fd);

  const int listen_fd_;
  const int port_;
  const Script script_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> active_{0};
  std::atomic<int> peak_{0};
  mutable std::mutex mu_;
  std::vector<std::thread> threads_;  // guarded by mu_
  std::vector<double> arrivals_;      // guarded by mu_
  std::thread acceptor_;
};

}  // namespace m1rl::reward::genrm::testing

#endif  // M1RL_REWARD_GENRM_TESTING_FAKE_OPENAI_SERVER_H_
