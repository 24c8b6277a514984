// m1rl generate: batched sampling from an HF-format checkpoint of our architecture.
//
//   m1rl generate --model DIR --prompts FILE.jsonl --n G --out OUT.jsonl [--max-new-tokens 256]
//       [--temperature 1 --top-p 1 --top-k 0 | --greedy] [--seed 0] [--batch-size 64]
//       [--memory-budget-bytes 0] [--stop STR]... [--repetition-run-length 3000] [--head ieee_fp32]
//
// Input rows: {"prompt": "...", "id": "...", "domain": "..."} (rollout/prompt_file.h: "id" defaults to
// the line number; with --chat-template, the default, the prompt is wrapped by model::FormatPrompt).
// Output: one rl.Completion per line (proto JSON, proto field names) in finishing order, flushed per
// line; a progress line (tokens/s, sequences done, ETA) on stderr; a summary at the end.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/util/Exception.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <filesystem>
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
#include "model/config.h"
#include "model/hybrid_model.h"
#include "model/tokenizer.h"
#include "rollout/engine.h"
#include "rollout/hybrid_decode_model.h"
#include "rollout/prompt_file.h"

namespace m1rl {
namespace {

struct GenerateFlags {
  std::string model_dir;
  std::string prompts;
  std::string out;
  std::string tokenizer;
  std::string head = "ieee_fp32";
  std::string dtype = "float32";
  std::string device = "cpu";
  int64_t n = 1;
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  bool greedy = false;
  int64_t seed = 0;
  int64_t batch_size = 64;
  int64_t memory_budget_bytes = 0;
  int64_t prefill_chunk = 2048;
  int64_t max_context = 0;
  std::vector<std::string> stop;
  int64_t repetition_run_length = 3000;
  double repetition_threshold = 0.99;
  bool chat_template = true;
};

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float64") return at::kDouble;
  return absl::InvalidArgumentError(
      absl::StrCat("--dtype must be float32, bfloat16 or float64, got '", name, "'"));
}

absl::Status Generate(const GenerateFlags& f) {
  if (f.model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  if (f.prompts.empty()) return absl::InvalidArgumentError("--prompts is required");
  if (f.out.empty()) return absl::InvalidArgumentError("--out is required");
  if (f.n < 1) return absl::InvalidArgumentError(absl::StrCat("--n must be >= 1, got ", f.n));
  absl::StatusOr<at::ScalarType> dtype = ParseDtype(f.dtype);
  if (!dtype.ok()) return dtype.status();
  absl::StatusOr<model::HeadPrecision> head = model::ParseHeadPrecision(f.head);
  if (!head.ok()) return absl::InvalidArgumentError(absl::StrCat("--head: ", head.status().message()));
  std::string tok_spec = f.tokenizer;
  if (tok_spec.empty()) {
    const std::string in_dir = (std::filesystem::path(f.model_dir) / "tokenizer.json").string();
    tok_spec = std::filesystem::exists(in_dir) ? in_dir : "char";
  }
  absl::StatusOr<std::unique_ptr<model::Tokenizer>> tok = model::LoadTokenizer(tok_spec);
  if (!tok.ok()) return tok.status();
  absl::StatusOr<std::unique_ptr<model::HybridModel>> policy =
      model::HybridModel::LoadHf(f.model_dir, *dtype, at::Device(f.device));
  if (!policy.ok()) return policy.status();
  if ((*tok)->vocab_size() > (*policy)->config().vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer ", tok_spec, " has ", (*tok)->vocab_size(),
                                                   " ids but the model vocabulary is ",
                                                   (*policy)->config().vocab_size));
  }
  rollout::PromptFileOptions popts;
  popts.chat_template = f.chat_template;
  popts.n = static_cast<int32_t>(f.n);
  popts.max_new_tokens = static_cast<int32_t>(f.max_new_tokens);
  popts.seed = static_cast<uint64_t>(f.seed);
  popts.sampling.temperature = f.temperature;
  popts.sampling.top_p = f.top_p;
  popts.sampling.top_k = static_cast<int32_t>(f.top_k);
  popts.sampling.greedy = f.greedy;
  absl::StatusOr<std::vector<rollout::GenerationRequest>> requests =
      rollout::ReadPromptFile(f.prompts, **tok, popts);
  if (!requests.ok()) return requests.status();

  rollout::HybridDecodeModel decode(policy->get(), {.head = *head, .max_context = f.max_context});
  rollout::EngineOptions opts;
  opts.max_batch_size = static_cast<int32_t>(f.batch_size);
  opts.memory_budget_bytes = f.memory_budget_bytes;
  opts.prefill_chunk = static_cast<int32_t>(f.prefill_chunk);
  if ((*tok)->eos_id() >= 0) opts.eos_token_ids.push_back((*tok)->eos_id());
  const int64_t config_eos = (*policy)->config().eos_token_id;
  if (config_eos >= 0 && config_eos != (*tok)->eos_id())
    opts.eos_token_ids.push_back(static_cast<int32_t>(config_eos));
  opts.stop_strings = f.stop;
  opts.repetition_run_length = f.repetition_run_length;
  opts.repetition_threshold = f.repetition_threshold;
  const model::Tokenizer* tokp = tok->get();
  opts.detokenize = [tokp](const std::vector<int32_t>& ids) { return tokp->Decode(ids); };
  absl::StatusOr<std::unique_ptr<rollout::Engine>> engine = rollout::Engine::Create(&decode, opts);
  if (!engine.ok()) return engine.status();

  std::ofstream out(f.out);
  if (!out) return absl::NotFoundError(absl::StrCat("--out: cannot open ", f.out, " for writing"));
  int64_t total_seqs = 0;
  int64_t budget_tokens = 0;
  for (const rollout::GenerationRequest& r : *requests) {
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
    unused_budget += std::max<int64_t>(0, f.max_new_tokens - c.token_ids_size());
  };
  auto on_progress = [&](const rollout::GenerationStats& s, int64_t done) {
    progress.Update(s.generated_tokens + unused_budget,
                    absl::StrCat("seqs ", done, "/", total_seqs, " batch ", s.peak_batch_size));
  };
  absl::StatusOr<std::vector<rollout::RequestOutput>> outputs =
      (*engine)->Generate(*requests, on_done, on_progress);
  if (!outputs.ok()) return outputs.status();
  const rollout::GenerationStats& s = (*engine)->last_stats();
  progress.Finish(absl::StrCat("seqs ", s.completions, "/", total_seqs));
  if (!write_status.ok()) return write_status;
  int64_t bad = 0;
  for (size_t i = 0; i < outputs->size(); ++i) {
    if (!(*outputs)[i].status.ok()) {
      ++bad;
      std::cerr << "generate: skipped " << (*requests)[i].prompt_id << ": " << (*outputs)[i].status.message()
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
                        absl::StrCat(bad, " of ", requests->size(), " prompts were invalid"));
}

int RunGenerate(const std::vector<std::string>& args) {
  GenerateFlags f;
  FlagSet flags("m1rl generate", "Samples completions from an HF-format checkpoint (rollout engine).");
  flags.AddString("model", &f.model_dir, "checkpoint directory (config.json + model.safetensors)");
  flags.AddString("prompts", &f.prompts, "input JSONL: {\"prompt\", \"id\"?, \"domain\"?} per line");
  flags.AddString("out", &f.out, "output JSONL of rl.Completion");
  flags.AddInt("n", &f.n, "samples per prompt (G)");
  flags.AddString("tokenizer", &f.tokenizer,
                  "\"char\" or a tokenizer.json path (default: DIR/tokenizer.json, else char)");
  flags.AddInt("max-new-tokens", &f.max_new_tokens, "generation budget per sample");
  flags.AddDouble("temperature", &f.temperature, "sampling temperature (> 0)");
  flags.AddDouble("top-p", &f.top_p, "nucleus mass in (0, 1]; 1 = off");
  flags.AddInt("top-k", &f.top_k, "top-k; 0 = off");
  flags.AddBool("greedy", &f.greedy, "argmax decoding");
  flags.AddInt("seed", &f.seed, "run seed (per-prompt seeds derive from it and the line number)");
  flags.AddInt("batch-size", &f.batch_size, "sequences decoded together");
  flags.AddInt("memory-budget-bytes", &f.memory_budget_bytes, "decode-state budget; 0 = unlimited");
  flags.AddInt("prefill-chunk", &f.prefill_chunk, "prompt tokens per prefill call");
  flags.AddInt("max-context", &f.max_context, "context limit in tokens; 0 = the model's");
  flags.AddRepeated("stop", &f.stop, "stop string (repeatable)");
  flags.AddInt("repetition-run-length", &f.repetition_run_length,
               "stop after N consecutive tokens with p > threshold; 0 = off");
  flags.AddDouble("repetition-threshold", &f.repetition_threshold, "repetition probability threshold");
  flags.AddString("head", &f.head, "LM head precision: ieee_fp32 | tf32 | bf16_fp32_out | bf16");
  flags.AddString("dtype", &f.dtype, "model dtype: float32 | bfloat16 | float64");
  flags.AddString("device", &f.device, "cpu | cuda | cuda:N");
  flags.AddBool("chat-template", &f.chat_template, "wrap prompts with the chat template");
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
