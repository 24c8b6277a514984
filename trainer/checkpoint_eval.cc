#include "trainer/checkpoint_eval.h"

#include <map>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace m1rl::trainer {
namespace {

using ScoreMap = std::map<std::pair<size_t, int>, rl::ScoreResult>;  // (row, sample) -> reply

absl::StatusOr<std::vector<rollout::GenerationRequest>> MakeRequests(
    const PromptDataset& data, const model::Tokenizer& tok, const rollout::PromptFileOptions& options) {
  std::vector<rollout::GenerationRequest> requests;
  requests.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    const PromptRow& row = data.row(i);
    absl::StatusOr<rollout::GenerationRequest> made = rollout::MakeGenerationRequest(
        row.prompt, row.id, row.domain, static_cast<uint64_t>(row.line), tok, options);
    M1RL_RETURN_IF_ERROR_WITH(made.status(), "eval row ", row.id);
    rollout::GenerationRequest r = *std::move(made);
    r.group_id = absl::StrCat("eval.", i);  // unique even when ids repeat
    requests.push_back(std::move(r));
  }
  return requests;
}

// Generation with each finished completion scored at once; the replies, keyed by (row, sample).
absl::StatusOr<std::vector<rollout::RequestOutput>> GenerateAndScore(
    const PromptDataset& data, const std::vector<rollout::GenerationRequest>& requests,
    rollout::Engine& engine, reward::RewardClient& reward, ScoreMap* scores) {
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < requests.size(); ++i) row_of[requests[i].group_id] = i;
  std::mutex mu;
  auto on_done = [&](const rl::Completion& c) {
    const size_t i = row_of.at(c.group_id());
    const int j = c.sample_index();
    reward.ScoreAsync(ScoreItemForRow(data.row(i), c, c.text()),
                      [&mu, scores, i, j](const rl::ScoreResult& r) {
                        std::lock_guard<std::mutex> lock(mu);
                        (*scores)[{i, j}] = r;
                      });
  };
  absl::StatusOr<std::vector<rollout::RequestOutput>> outputs = engine.Generate(requests, on_done);
  reward.Drain();  // Invariant: no callback touches `scores` after this
  return outputs;
}

}  // namespace

absl::StatusOr<CheckpointEvalResult> EvaluateCheckpoint(const PromptDataset& data,
                                                        const model::Tokenizer& tokenizer,
                                                        rollout::Engine& engine, reward::RewardClient& reward,
                                                        const CheckpointEvalOptions& options) {
  if (options.prompt.n < 1)
    return absl::InvalidArgumentError(absl::StrCat("--n must be >= 1, got ", options.prompt.n));
  M1RL_ASSIGN_OR_RETURN(const std::vector<rollout::GenerationRequest> requests,
                        MakeRequests(data, tokenizer, options.prompt));
  ScoreMap scores;
  M1RL_ASSIGN_OR_RETURN(const std::vector<rollout::RequestOutput> outputs,
                        GenerateAndScore(data, requests, engine, reward, &scores));
  CheckpointEvalResult result;
  std::vector<PromptOutcome> outcomes;
  outcomes.reserve(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const PromptRow& row = data.row(i);
    const std::string where = absl::StrCat(data.path(), ":", row.line, ": ");
    if (!outputs[i].status.ok()) {
      ++result.failed_prompts;
      result.problems.push_back(absl::StrCat(where, "not generated: ", outputs[i].status.message()));
      continue;
    }
    PromptOutcome o;
    o.domain = row.domain;
    std::vector<SampleRecord> records;
    records.reserve(outputs[i].completions.size());
    std::string first_problem;
    for (const rl::Completion& c : outputs[i].completions) {
      auto it = scores.find({i, c.sample_index()});
      const rl::ScoreResult* s = it == scores.end() ? nullptr : &it->second;
      records.push_back(MakeSampleRecord(row, c, s));
      ++o.samples;
      if (s != nullptr && s->status() == rl::OK) {
        ++o.scored;
        o.reward_sum += s->total();
        if (s->verdict() == rl::CORRECT) ++o.correct;
      } else if (first_problem.empty()) {
        first_problem = absl::StrCat(where, "sample ", c.sample_index(), " unscored: ", records.back().status,
                                     s != nullptr ? absl::StrCat(" ", s->details()) : "");
      }
    }
    if (!first_problem.empty()) result.problems.push_back(std::move(first_problem));
    if (options.samples != nullptr) M1RL_RETURN_IF_ERROR(options.samples->Write(records));
    outcomes.push_back(std::move(o));
  }
  result.reports = AggregateEval(outcomes, options.prompt.n);
  const DomainReport& all = result.reports.back();
  if (all.samples > 0 && all.scored == 0) {
    return absl::UnavailableError(absl::StrCat("all ", all.samples, " samples unscored; first: ",
                                               result.problems.empty() ? "" : result.problems.front()));
  }
  return result;
}

}  // namespace m1rl::trainer
