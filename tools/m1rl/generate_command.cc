// m1rl generate: batched sampling from an HF-format checkpoint of our architecture.
//
//   m1rl generate --model DIR --prompts FILE.jsonl --n G --out OUT.jsonl [--max-new-tokens 256]
//       [--temperature 1 --top-p 1 --top-k 0 | --greedy] [--seed 0] [--batch-size 64]
//       [--memory-budget-bytes 0] [--stop STR]... [--repetition-run-length 3000] [--head ieee_fp32]
//
// Generation flags: rollout/checkpoint_generator.h (shared with `m1rl eval`). Input rows: {"prompt": "...",
// "id": "...", "domain": "..."} (rollout/prompt_file.h: "id" defaults to the line number; with
// --prompt-template chat, the default, the prompt is wrapped by model::FormatPrompt; raw: as is; tokenizer:
// the checkpoint tokenizer's chat template). Output: one rl.Completion per line (proto JSON, proto field
// names) in finishing order, flushed per line; a progress line (tokens/s, sequences done, ETA) on stderr; a
// summary at the end.
#include <c10/util/Exception.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/cli.h"
#include "common/flags.h"
#include "common/progress.h"
#include "common/status_macros.h"
#include "rollout/checkpoint_generator.h"
#include "rollout/engine.h"
#include "rollout/prompt_file.h"

namespace m1rl {
namespace {

struct GenerateFlags {
  rollout::GeneratorOptions gen;
  std::string prompts;
  std::string out;
  int64_t n = 1;
};

absl::Status Generate(const GenerateFlags& f) {
  if (f.prompts.empty()) return absl::InvalidArgumentError("--prompts is required");
  if (f.out.empty()) return absl::InvalidArgumentError("--out is required");
  if (f.n < 1) return absl::InvalidArgumentError(absl::StrCat("--n must be >= 1, got ", f.n));
  M1RL_ASSIGN_OR_RETURN(std::unique_ptr<rollout::CheckpointGenerator> gen,
                        rollout::CheckpointGenerator::Create(f.gen));
  M1RL_ASSIGN_OR_RETURN(
      const std::vector<rollout::GenerationRequest> requests,
      rollout::ReadPromptFile(f.prompts, gen->tokenizer(), gen->prompt_options(static_cast<int32_t>(f.n))));
  rollout::Engine& engine = gen->engine();

  std::ofstream out(f.out);
  if (!out) return absl::NotFoundError(absl::StrCat("--out: cannot open ", f.out, " for writing"));
  int64_t total_seqs = 0;
  int64_t budget_tokens = 0;
  for (const rollout::GenerationRequest& r : requests) {
    total_seqs += r.n;
    budget_tokens += static_cast<int64_t>(r.n) * r.max_new_tokens;
  }
  Progress progress("generate", budget_tokens, "tok");
  absl::Status write_status;
  google::protobuf::util::JsonPrintOptions json_opts;
  json_opts.preserve_proto_field_names = true;
  // Tokens of finished sequences count as their whole budget for the ETA: a completion that stops
  // early removes its remaining budget from the work left.
  int64_t unused_budget = 0;
  auto on_done = [&](const rl::Completion& c) {
    std::string line;
    const auto st = google::protobuf::util::MessageToJsonString(c, &line, json_opts);
    if (!st.ok() && write_status.ok()) {
      write_status =
          absl::InternalError(absl::StrCat("serialising completion ", c.prompt_id(), ": ", st.ToString()));
    }
    out << line << "\n" << std::flush;
    unused_budget += std::max<int64_t>(0, f.gen.max_new_tokens - c.token_ids_size());
  };
  auto on_progress = [&](const rollout::GenerationStats& s, int64_t done) {
    progress.Update(s.generated_tokens + unused_budget,
                    absl::StrCat("seqs ", done, "/", total_seqs, " batch ", s.peak_batch_size));
  };
  absl::StatusOr<std::vector<rollout::RequestOutput>> outputs =
      engine.Generate(requests, on_done, on_progress);
  if (!outputs.ok()) return outputs.status();
  const rollout::GenerationStats& s = engine.last_stats();
  progress.Finish(absl::StrCat("seqs ", s.completions, "/", total_seqs));
  if (!write_status.ok()) return write_status;
  int64_t bad = 0;
  for (size_t i = 0; i < outputs->size(); ++i) {
    if (!(*outputs)[i].status.ok()) {
      ++bad;
      std::cerr << "generate: skipped " << requests[i].prompt_id << ": " << (*outputs)[i].status.message()
                << "\n";
    }
  }
  int64_t max_state = 0;
  for (const rollout::RequestOutput& o : *outputs) {
    for (int64_t b : o.state_bytes) max_state = std::max(max_state, b);
  }
  std::cerr << "generate: " << s.completions << " completions, " << s.generated_tokens << " tokens in "
            << s.wall_ms / 1000.0 << " s ("
            << (s.wall_ms > 0 ? s.generated_tokens / (s.wall_ms / 1000.0) : 0.0) << " tok/s), " << bad
            << " prompts skipped; stops: eos " << s.stop_counts[rl::STOP_EOS] << ", length "
            << s.stop_counts[rl::STOP_LENGTH] << ", string " << s.stop_counts[rl::STOP_STRING]
            << ", repetition " << s.stop_counts[rl::STOP_REPETITION] << ", context "
            << s.stop_counts[rl::STOP_CONTEXT] << "; max state bytes per sequence " << max_state
            << "; peak batch " << s.peak_batch_size << "\n";
  if (!out.good()) return absl::DataLossError(absl::StrCat("--out: writing ", f.out, " failed"));
  return bad == 0 ? absl::OkStatus()
                  : absl::InvalidArgumentError(
                        absl::StrCat(bad, " of ", requests.size(), " prompts were invalid"));
}

int RunGenerate(const std::vector<std::string>& args) {
  GenerateFlags f;
  FlagSet flags("m1rl generate", "Samples completions from an HF-format checkpoint (rollout engine).");
  rollout::AddGeneratorFlags(flags, &f.gen);
  flags.AddString("prompts", &f.prompts, "input JSONL: {\"prompt\", \"id\"?, \"domain\"?} per line");
  flags.AddString("out", &f.out, "output JSONL of rl.Completion");
  flags.AddInt("n", &f.n, "samples per prompt (G)");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  absl::Status s;
  try {
    s = Generate(f);
  } catch (const c10::Error& e) {
    s = absl::InternalError(e.what_without_backtrace());
  }
  if (!s.ok()) {
    std::cerr << "m1rl generate: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace m1rl

M1RL_REGISTER_COMMAND(generate, "generate", "sample completions from a checkpoint (rollout engine)",
                      m1rl::RunGenerate);
