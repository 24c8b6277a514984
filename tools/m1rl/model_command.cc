// m1rl model-info: parameter counts and decode-state sizes from a config alone (nothing is allocated).
//   m1rl model-info --preset minimax-m1
//   m1rl model-info --config-json path/to/config.json
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/flags.h"
#include "model/config.h"
#include "model/head.h"

namespace {

std::string Billions(int64_t n) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%ld (%.2fB)", static_cast<long>(n), static_cast<double>(n) / 1e9);
  return buf;
}

int RunModelInfo(const std::vector<std::string>& args) {
  std::string preset = "minimax-m1";
  std::string config_json;
  int64_t head_tokens = 4096;
  m1rl::FlagSet flags("m1rl model-info",
                      "Parameter counts and state sizes of a policy config (no allocation).");
  flags.AddString("preset", &preset, "tiny8 | tiny2 | minimax-m1 | tiny-qwen2 (ignored with --config-json)");
  flags.AddString("config-json", &config_json, "a Hugging Face config.json instead of a preset");
  flags.AddInt("head-tokens", &head_tokens, "T for the chunked FP32 head memory estimate");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  absl::StatusOr<m1rl::model::ModelConfig> config;
  if (!config_json.empty()) {
    std::ifstream in(config_json);
    if (!in) {
      std::cerr << "model-info: cannot open '" << config_json << "'\n";
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (j.is_discarded()) {
      std::cerr << "model-info: '" << config_json << "' is not valid JSON\n";
      return 1;
    }
    config = m1rl::model::ModelConfig::FromHfConfigJson(j);
  } else {
    config = m1rl::model::ModelConfig::Preset(preset);
  }
  if (!config.ok()) {
    std::cerr << "model-info: " << config.status().message() << "\n";
    return 1;
  }
  const auto& c = *config;
  const auto p = c.CountParameters();
  const int64_t n_lin = c.num_layers_of(m1rl::model::LayerType::kLinearAttention);
  const int64_t n_full = c.num_layers_of(m1rl::model::LayerType::kFullAttention);
  std::cout << "layers " << c.num_hidden_layers << " (" << n_lin << " lightning, " << n_full
            << " softmax), hidden " << c.hidden_size << ", heads " << c.num_attention_heads << " x "
            << c.head_dim << ", kv heads " << c.num_key_value_heads << ", experts " << c.num_local_experts
            << " top-" << c.num_experts_per_tok << ", vocab " << c.vocab_size << "\n";
  std::cout << "total parameters          " << Billions(p.total) << "\n";
  std::cout << "active (no embed/head)    " << Billions(p.active) << "\n";
  std::cout << "active with head          " << Billions(p.active_with_head) << "\n";
  std::cout << "lightning attn per layer  " << p.lightning_attention_per_layer << "\n";
  std::cout << "softmax attn per layer    " << p.softmax_attention_per_layer << "\n";
  if (c.dense()) {
    std::cout << "family                    " << m1rl::model::ModelFamilyName(c.family)
              << (c.tie_word_embeddings ? " (tied head)" : "") << "\n";
    std::cout << "MLP per layer             " << p.mlp_per_layer << "\n";
    std::cout << "embedding                 " << p.embedding << "\n";
  } else {
    std::cout << "one expert                " << p.expert << "\n";
    std::cout << "MoE block per layer       " << p.moe_per_layer << "\n";
    std::cout << "embedding = head          " << p.embedding << "\n";
  }
  const int64_t lin_state = n_lin * c.num_attention_heads * c.head_dim * c.head_dim * 4;
  const int64_t kv_per_token = n_full * 2 * c.num_key_value_heads * c.head_dim * 2;
  std::cout << "decode state per sequence " << lin_state << " B lightning (fp32) + " << kv_per_token
            << " B/token KV (bf16)\n";
  const int64_t chunk = m1rl::model::HeadChunkSize(head_tokens, c.vocab_size, 4, 0);
  const auto mem = m1rl::model::HeadPeakMemory(head_tokens, c.vocab_size, c.hidden_size, 4, chunk);
  std::cout << "FP32 head, T=" << head_tokens << ": chunk " << chunk << " columns, forward extra "
            << mem.forward << " B, backward extra " << mem.backward << " B (incl. dW), full logits would be "
            << mem.full_logits << " B\n";
  return 0;
}

}  // namespace

M1RL_REGISTER_COMMAND(model_info, "model-info", "parameter counts and state sizes of a policy config",
                      RunModelInfo);
