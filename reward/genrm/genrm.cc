#include "reward/genrm/genrm.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/config.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace m1rl::reward::genrm {
namespace {

uint64_t InputSeed(uint64_t seed, std::string_view kind, std::string_view a, std::string_view b,
                   std::string_view c, int attempt) {
  return MixSeeds(seed, Fnv1a64(kind), Fnv1a64(a), Fnv1a64(b), Fnv1a64(c), static_cast<uint64_t>(attempt));
}

}  // namespace

absl::StatusOr<GenrmOptions> ResolveGenrmOptions(const config::GenrmConfig& config) {
  GenrmOptions o;
  FieldChecker check;
  check.AtLeast(config.max_tokens(), 0, "reward.genrm.max_tokens");
  check.AtLeast(config.verdict_tail_chars(), 0, "reward.genrm.verdict_tail_chars");
  check.AtLeast(config.parse_retries(), 0, "reward.genrm.parse_retries");
  check.Finite(config.reward_min(), "reward.genrm.reward_min");
  if (config.max_tokens() > 0) o.max_tokens = config.max_tokens();
  if (config.verdict_tail_chars() > 0) o.verdict_tail_chars = config.verdict_tail_chars();
  if (config.parse_retries() > 0) o.parse_retries = config.parse_retries();
  o.seed = config.seed();
  o.reward_min = config.reward_min();
  o.reward_max = config.has_reward_max() ? config.reward_max() : 1.0;
  if (!(o.reward_max > o.reward_min)) {
    check.Add("reward.genrm.reward_max",
              absl::StrCat(" must be > reward_min (", o.reward_min, "), got ", o.reward_max));
  }
  o.binarize_grades = config.binarize_grades();
  if (!config.system_prompt().empty()) o.templates.system = config.system_prompt();
  if (!config.grade_template().empty()) o.templates.grade = config.grade_template();
  if (!config.pairwise_template().empty()) o.templates.pairwise = config.pairwise_template();
  check.Merge(ValidateTemplates(o.templates));
  M1RL_RETURN_IF_ERROR(check.Result());
  return o;
}

GenRm::GenRm(std::shared_ptr<Judge> judge, GenrmOptions options)
    : judge_(std::move(judge)), options_(std::move(options)) {
  M1RL_CHECK(judge_ != nullptr);
  version_ = absl::StrCat(std::string(kGenrmVersion), "/", std::string(judge_->model()), "/",
                          TemplateVersion(options_.templates), "/seed-", options_.seed);
}

absl::StatusOr<std::string> GenRm::Call(const std::string& user, uint64_t seed,
                                        const CheckContext& ctx) const {
  JudgeRequest request;
  request.messages = {{"system", options_.templates.system}, {"user", user}};
  request.seed = seed;
  request.max_tokens = options_.max_tokens;
  judge_calls_.fetch_add(1, std::memory_order_relaxed);
  return judge_->Complete(request, ctx);
}

absl::StatusOr<GradeResult> GenRm::Grade(std::string_view question, std::string_view ground_truth,
                                         std::string_view response, const CheckContext& ctx) const {
  GradeResult result;
  absl::Status last;
  for (int attempt = 0; attempt <= options_.parse_retries; ++attempt) {
    uint64_t seed = InputSeed(options_.seed, "grade", question, ground_truth, response, attempt);
    std::string user = RenderGradePrompt(options_.templates, question, ground_truth, response, seed);
    ++result.judge_calls;
    M1RL_ASSIGN_OR_RETURN(std::string reply, Call(user, seed, ctx));
    absl::StatusOr<int> grade = ParseGrade(reply, options_.verdict_tail_chars);
    if (grade.ok()) {
      result.grade = *grade;
      result.reward =
          GradeToReward(*grade, options_.reward_min, options_.reward_max, options_.binarize_grades);
      return result;
    }
    last = grade.status();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(last.message(), " (after ", result.judge_calls, " judge calls)"));
}

absl::StatusOr<PairVerdict> GenRm::JudgeOrder(std::string_view question, std::string_view a,
                                              std::string_view b, const CheckContext& ctx, int* calls) const {
  absl::Status last;
  int made = 0;
  for (int attempt = 0; attempt <= options_.parse_retries; ++attempt) {
    uint64_t seed = InputSeed(options_.seed, "pair", question, a, b, attempt);
    std::string user = RenderPairwisePrompt(options_.templates, question, a, b, seed);
    ++made;
    if (calls != nullptr) *calls += 1;
    M1RL_ASSIGN_OR_RETURN(std::string reply, Call(user, seed, ctx));
    absl::StatusOr<PairVerdict> verdict = ParsePairVerdict(reply, options_.verdict_tail_chars);
    if (verdict.ok()) return *verdict;
    last = verdict.status();
  }
  return absl::InvalidArgumentError(absl::StrCat(last.message(), " (after ", made, " judge calls)"));
}

absl::StatusOr<PairwiseResult> GenRm::Compare(std::string_view question, std::string_view candidate,
                                              std::string_view reference, const CheckContext& ctx) const {
  // The two orders are independent judgements: run them at once (half the latency of a comparison).
  int calls_second = 0;
  absl::StatusOr<PairVerdict> second = absl::UnknownError("not judged");
  std::thread other([&] { second = JudgeOrder(question, reference, candidate, ctx, &calls_second); });
  int calls_first = 0;
  absl::StatusOr<PairVerdict> first = JudgeOrder(question, candidate, reference, ctx, &calls_first);
  other.join();
  M1RL_RETURN_IF_ERROR(first.status());
  M1RL_RETURN_IF_ERROR(second.status());
  PairwiseResult r;
  r.candidate_first = *first;
  r.reference_first = *second;
  r.judge_calls = calls_first + calls_second;
  r.score = CombineOrders(r.candidate_first, r.reference_first);
  return r;
}

}  // namespace m1rl::reward::genrm
