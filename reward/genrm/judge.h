// The judge backend interface of the generative reward model: one chat completion per call. Backends: an
// OpenAI-compatible HTTP endpoint (openai_judge.h); tests use scripted judges.
//
// Contract: Complete() returns the assistant message text, or
//  - kDeadlineExceeded when ctx.deadline passed (retries included),
//  - kCancelled when ctx.Cancelled(),
//  - kUnavailable / kResourceExhausted / kInternal for endpoint faults after the backend's retries,
//  - kFailedPrecondition when the backend refuses the request itself (HTTP 4xx, too long for the context),
//  - kDataLoss for a reply body that is not a chat completion.
// Never kInvalidArgument: GenRm reserves it for unparseable verdicts (the service's JUDGE_ERROR).
// Never a made-up reply. Thread-safe: called concurrently from many verifier threads.
#ifndef M1RL_REWARD_GENRM_JUDGE_H_
#define M1RL_REWARD_GENRM_JUDGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "reward/verifier.h"

namespace m1rl::reward::genrm {

struct ChatMessage {
  std::string role;  // "system", "user"
  std::string content;
};

struct JudgeRequest {
  std::vector<ChatMessage> messages;
  uint64_t seed = 0;  // sent as "seed"; temperature is always 0
  int max_tokens = 1024;
};

class Judge {
 public:
  virtual ~Judge() = default;
  virtual absl::StatusOr<std::string> Complete(const JudgeRequest& request, const CheckContext& ctx) = 0;
  // Names the judge model (part of the verifier version).
  virtual std::string_view model() const = 0;
};

}  // namespace m1rl::reward::genrm

#endif  // M1RL_REWARD_GENRM_JUDGE_H_
