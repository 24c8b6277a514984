#include "rollout/checkpoint_generator.h"

#include <c10/core/Device.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "model/chat_template.h"
#include "model/config.h"
#include "model/tokenizer_files.h"

namespace m1rl::rollout {
namespace {

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float64") return at::kDouble;
  return absl::InvalidArgumentError(
      absl::StrCat("--dtype must be float32, bfloat16 or float64, got '", name, "'"));
}

}  // namespace

void AddGeneratorFlags(FlagSet& flags, GeneratorOptions* o) {
  flags.AddString("model", &o->model_dir, "checkpoint directory (config.json + model.safetensors)");
  flags.AddString("tokenizer", &o->tokenizer,
                  "\"char\" or a tokenizer.json path (default: DIR/tokenizer.json, else char)");
  flags.AddInt("max-new-tokens", &o->max_new_tokens, "generation budget per sample");
  flags.AddDouble("temperature", &o->temperature, "sampling temperature (> 0)");
  flags.AddDouble("top-p", &o->top_p, "nucleus mass in (0, 1]; 1 = off");
  flags.AddInt("top-k", &o->top_k, "top-k; 0 = off");
  flags.AddBool("greedy", &o->greedy, "argmax decoding");
  flags.AddInt("seed", &o->seed, "run seed (per-prompt seeds derive from it and the row's line number)");
  flags.AddInt("batch-size", &o->batch_size, "sequences decoded together");
  flags.AddInt("memory-budget-bytes", &o->memory_budget_bytes, "decode-state budget; 0 = unlimited");
  flags.AddInt("prefill-chunk", &o->prefill_chunk, "prompt tokens per prefill call");
  flags.AddInt("max-context", &o->max_context, "context limit in tokens; 0 = the model's");
  flags.AddRepeated("stop", &o->stop, "stop string (repeatable)");
  flags.AddInt("repetition-run-length", &o->repetition_run_length,
               "stop after N consecutive tokens with p > threshold; 0 = off");
  flags.AddDouble("repetition-threshold", &o->repetition_threshold, "repetition probability threshold");
  flags.AddString("head", &o->head, "LM head precision: ieee_fp32 | tf32 | bf16_fp32_out | bf16");
  flags.AddString("dtype", &o->dtype, "model dtype: float32 | bfloat16 | float64");
  flags.AddString("device", &o->device, "cpu | cuda | cuda:N");
  flags.AddString(
      "prompt-template", &o->prompt_template,
      "chat (the fixed plain-text template) | raw (the prompt as is) | tokenizer (the chat template of "
      "the tokenizer's tokenizer_config.json)");
}

absl::StatusOr<std::unique_ptr<CheckpointGenerator>> CheckpointGenerator::Create(const GeneratorOptions& o) {
  if (o.model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  M1RL_ASSIGN_OR_RETURN(const at::ScalarType dtype, ParseDtype(o.dtype));
  absl::StatusOr<model::HeadPrecision> head = model::ParseHeadPrecision(o.head);
  if (!head.ok()) return absl::InvalidArgumentError(absl::StrCat("--head: ", head.status().message()));
  std::unique_ptr<CheckpointGenerator> g(new CheckpointGenerator(o));
  const std::string tok_spec = o.tokenizer.empty() ? model::DefaultTokenizerSpec(o.model_dir) : o.tokenizer;
  M1RL_ASSIGN_OR_RETURN(g->tokenizer_, model::LoadTokenizer(tok_spec));
  M1RL_LOG(INFO) << "tokenizer: " << tok_spec;
  M1RL_RETURN_IF_ERROR(g->LoadPromptTemplate(tok_spec));
  M1RL_ASSIGN_OR_RETURN(g->model_, model::HybridModel::LoadHf(o.model_dir, dtype, at::Device(o.device)));
  if (g->tokenizer_->vocab_size() > g->model_->config().vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer ", tok_spec, " has ", g->tokenizer_->vocab_size(),
                     " ids but the model vocabulary is ", g->model_->config().vocab_size));
  }
  g->decode_ = std::make_unique<HybridDecodeModel>(
      g->model_.get(), HybridDecodeOptions{.head = *head, .max_context = o.max_context});
  EngineOptions opts;
  opts.max_batch_size = static_cast<int32_t>(o.batch_size);
  opts.memory_budget_bytes = o.memory_budget_bytes;
  opts.prefill_chunk = static_cast<int32_t>(o.prefill_chunk);
  const model::Tokenizer& tok = *g->tokenizer_;
  if (tok.eos_id() >= 0) opts.eos_token_ids.push_back(tok.eos_id());
  const int64_t config_eos = g->model_->config().eos_token_id;
  if (config_eos >= 0 && config_eos != tok.eos_id())
    opts.eos_token_ids.push_back(static_cast<int32_t>(config_eos));
  opts.stop_strings = o.stop;
  opts.repetition_run_length = o.repetition_run_length;
  opts.repetition_threshold = o.repetition_threshold;
  const model::Tokenizer* tokp = g->tokenizer_.get();
  opts.detokenize = [tokp](const std::vector<int32_t>& ids) { return tokp->Decode(ids); };
  M1RL_ASSIGN_OR_RETURN(g->engine_, Engine::Create(g->decode_.get(), opts));
  return g;
}

absl::Status CheckpointGenerator::LoadPromptTemplate(const std::string& tokenizer_spec) {
  const std::string& t = options_.prompt_template;
  if (t == "chat") {
    prompt_template_ = PromptFileOptions::Template::kChat;
  } else if (t == "raw") {
    prompt_template_ = PromptFileOptions::Template::kRaw;
  } else if (t == "tokenizer") {
    prompt_template_ = PromptFileOptions::Template::kTokenizer;
    absl::StatusOr<model::ChatTemplateFile> file = model::LoadTokenizerChatTemplate(tokenizer_spec);
    M1RL_RETURN_IF_ERROR_WITH(file.status(), "--prompt-template tokenizer (tokenizer ", tokenizer_spec, ")");
    tokenizer_template_ = std::make_shared<const model::ChatTemplateFile>(*std::move(file));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--prompt-template must be chat, raw or tokenizer, got '", t, "'"));
  }
  return absl::OkStatus();
}

PromptFileOptions CheckpointGenerator::prompt_options(int32_t n) const {
  PromptFileOptions p;
  p.prompt_template = prompt_template_;
  p.tokenizer_template = tokenizer_template_;
  p.n = n;
  p.max_new_tokens = static_cast<int32_t>(options_.max_new_tokens);
  p.seed = static_cast<uint64_t>(options_.seed);
  p.sampling.temperature = options_.temperature;
  p.sampling.top_p = options_.top_p;
  p.sampling.top_k = static_cast<int32_t>(options_.top_k);
  p.sampling.greedy = options_.greedy;
  return p;
}

}  // namespace m1rl::rollout
