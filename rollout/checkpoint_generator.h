// Sampling from an HF-format checkpoint of our architecture: the setup `m1rl generate` and `m1rl eval`
// share (flags, tokenizer, model, decode adapter, engine), so both spell and apply every generation option
// the same way.
//
//   GeneratorOptions opts;
//   AddGeneratorFlags(flags, &opts);            // --model, --max-new-tokens, --temperature, ...
//   M1RL_ASSIGN_OR_RETURN(auto gen, CheckpointGenerator::Create(opts));
//   M1RL_ASSIGN_OR_RETURN(auto outputs, gen->engine().Generate(requests, on_done));
//
// Tokenizer: --tokenizer, else DIR/tokenizer.json when present, else the character tokenizer. EOS: the
// tokenizer's and the model config's eos_token_id. Completion text: the tokenizer's Decode of the ids.
//
// Thread safety: none; one generator per thread.
#ifndef M1RL_ROLLOUT_CHECKPOINT_GENERATOR_H_
#define M1RL_ROLLOUT_CHECKPOINT_GENERATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/flags.h"
#include "model/hybrid_model.h"
#include "model/tokenizer.h"
#include "rollout/engine.h"
#include "rollout/hybrid_decode_model.h"
#include "rollout/prompt_file.h"

namespace m1rl::rollout {

struct GeneratorOptions {
  std::string model_dir;
  std::string tokenizer;
  std::string head = "ieee_fp32";
  std::string dtype = "float32";
  std::string device = "cpu";
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
  std::string prompt_template = "chat";  // chat | raw | tokenizer (PromptFileOptions::Template)
};

// Declares --model, --tokenizer, --max-new-tokens, --temperature, --top-p, --top-k, --greedy, --seed,
// --batch-size, --memory-budget-bytes, --prefill-chunk, --max-context, --stop, --repetition-run-length,
// --repetition-threshold, --head, --dtype, --device and --prompt-template on `flags`, bound to `*options`.
void AddGeneratorFlags(FlagSet& flags, GeneratorOptions* options);

class CheckpointGenerator {
 public:
  // Loads the tokenizer and the checkpoint and builds the engine. kInvalidArgument naming the flag (--model
  // missing, --dtype, --head, a tokenizer larger than the model's vocabulary); the loaders' errors for
  // missing or bad files; the engine's for bad engine options. Sampling values are checked per request
  // by the engine.
  static absl::StatusOr<std::unique_ptr<CheckpointGenerator>> Create(const GeneratorOptions& options);

  const model::Tokenizer& tokenizer() const { return *tokenizer_; }
  Engine& engine() { return *engine_; }
  // The per-request options (template, budget, seed, sampling) with `n` samples per prompt.
  PromptFileOptions prompt_options(int32_t n) const;

 private:
  absl::Status LoadPromptTemplate(const std::string& tokenizer_spec);  // --prompt-template
  explicit CheckpointGenerator(GeneratorOptions options) : options_(std::move(options)) {}
  GeneratorOptions options_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
  std::unique_ptr<model::HybridModel> model_;
  std::unique_ptr<HybridDecodeModel> decode_;  // points into model_
  std::unique_ptr<Engine> engine_;             // points into decode_
  PromptFileOptions::Template prompt_template_ = PromptFileOptions::Template::kChat;
  std::shared_ptr<const model::ChatTemplateFile> tokenizer_template_;  // --prompt-template tokenizer
};

}  // namespace m1rl::rollout

#endif  // M1RL_ROLLOUT_CHECKPOINT_GENERATOR_H_
