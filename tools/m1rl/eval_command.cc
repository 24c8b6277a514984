// m1rl eval: generation + scoring of a dataset against a checkpoint (trainer/checkpoint_eval.h).
//
//   m1rl eval --model DIR --data FILE.jsonl [--n K] [--reward-server HOST:PORT] [--out SAMPLES.jsonl]
//       [--reward-deadline-ms 30000] [generation flags of `m1rl generate`]
//
// Rows use the training datasets' schema (prompt, answer, domain, id). Prints a table of accuracy and
// pass@k per domain on stdout, every unscored or failed row with its file:line on stderr, and exits 1
// when a prompt could not be generated or the data is malformed (error naming file:line).
#include <c10/util/Exception.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/cli.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "reward/service/client.h"
#include "rollout/checkpoint_generator.h"
#include "trainer/checkpoint_eval.h"
#include "trainer/dataset.h"

namespace m1rl {
namespace {

struct EvalFlags {
  rollout::GeneratorOptions gen;
  std::string data;
  std::string out;
  std::string reward_server;
  int64_t reward_deadline_ms = 0;
  int64_t n = 1;
};

absl::StatusOr<std::unique_ptr<reward::RewardClient>> MakeRewardClient(const EvalFlags& f) {
  config::RewardConfig rc;
  rc.set_mode(f.reward_server.empty() ? config::RewardConfig::MODE_IN_PROCESS
                                      : config::RewardConfig::MODE_GRPC);
  rc.set_address(f.reward_server);
  rc.set_deadline_ms(f.reward_deadline_ms);  // 0: the client's default; every attempt has a deadline
  return reward::RewardClient::Create(rc);
}

absl::Status Eval(const EvalFlags& f) {
  if (f.data.empty()) return absl::InvalidArgumentError("--data is required");
  if (f.n < 1) return absl::InvalidArgumentError(absl::StrCat("--n must be >= 1, got ", f.n));
  // The data first: a malformed row fails before the model loads.
  M1RL_ASSIGN_OR_RETURN(const trainer::PromptDataset data, trainer::PromptDataset::Load(f.data));
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<reward::RewardClient> reward, MakeRewardClient(f));
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<rollout::CheckpointGenerator> gen,
                        rollout::CheckpointGenerator::Create(f.gen));
  std::unique_ptr<trainer::SampleWriter> samples;
  if (!f.out.empty()) {
    M1RL_ASSIGN_OR_RETURN(samples, trainer::SampleWriter::Open(f.out, /*append=*/false));
  }
  trainer::CheckpointEvalOptions opts;
  opts.prompt = gen->prompt_options(static_cast<int32_t>(f.n));
  opts.samples = samples.get();
  M1RL_ASSIGN_OR_RETURN(const trainer::CheckpointEvalResult r,
                        trainer::EvaluateCheckpoint(data, gen->tokenizer(), gen->engine(), *reward, opts));
  for (const std::string& p : r.problems) std::cerr << "m1rl eval: " << p << "\n";
  std::cerr << "m1rl eval: " << data.size() << " rows (" << data.blank_lines() << " blank lines skipped), "
            << r.failed_prompts << " not generated, " << r.problems.size() << " rows with problems\n";
  std::cout << trainer::FormatEvalTable(r.reports);
  if (r.failed_prompts > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(r.failed_prompts, " of ", data.size(), " prompts not generated"));
  }
  return absl::OkStatus();
}

int RunEval(const std::vector<std::string>& args) {
  EvalFlags f;
  FlagSet flags("m1rl eval", "Generates and scores a dataset: accuracy and pass@k per domain.");
  rollout::AddGeneratorFlags(flags, &f.gen);
  flags.AddString("data", &f.data,
                  "JSONL in the training schema: {\"prompt\", \"answer\", \"domain\"?, \"id\"?}");
  flags.AddInt("n", &f.n, "samples per prompt (pass@k for k = 1, 2, 4, ... and n)");
  flags.AddString("out", &f.out, "JSONL of every sample with its status, verdict and reward");
  flags.AddString("reward-server", &f.reward_server, "HOST:PORT of `m1rl reward-server`; default in-process");
  flags.AddInt("reward-deadline-ms", &f.reward_deadline_ms, "deadline per scoring call; 0 = 30000");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  absl::Status s;
  try {
    s = Eval(f);
  } catch (const c10::Error& e) {
    s = absl::InternalError(e.what_without_backtrace());
  }
  if (!s.ok()) {
    std::cerr << "m1rl eval: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace m1rl

M1RL_REGISTER_COMMAND(eval, "eval", "generate + score a dataset: accuracy and pass@k per domain",
                      m1rl::RunEval);
