// m1rl export --checkpoint DIR --out HF_DIR: a trainer checkpoint to Hugging Face format
// (config.json + safetensors with HF names via the model's SaveHf, sharded above --max-shard-bytes, and the
// tokenizer files: trainer/export.h).
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/flags.h"
#include "common/logging.h"
#include "trainer/export.h"

namespace {

int RunExport(const std::vector<std::string>& args) {
  std::string checkpoint, out;
  int64_t max_shard_bytes = m1rl::trainer::kDefaultMaxShardBytes;
  m1rl::FlagSet flags("m1rl export", "Writes a trainer checkpoint's policy in Hugging Face format.");
  flags.AddString("checkpoint", &checkpoint, "checkpoint directory (step_N with COMPLETE)");
  flags.AddString("out", &out, "output directory (config.json, model.safetensors, tokenizer files)");
  flags.AddInt(
      "max-shard-bytes", &max_shard_bytes,
      "largest single model.safetensors; above it model-0000X-of-0000N shards + index (default 5 GiB)");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  if (checkpoint.empty() || out.empty() || max_shard_bytes < 1) {
    std::cerr << "m1rl export: --checkpoint and --out are required, --max-shard-bytes must be >= 1\n"
              << flags.Usage();
    return 2;
  }
  if (absl::Status s = m1rl::trainer::ExportCheckpoint(checkpoint, out, max_shard_bytes); !s.ok()) {
    M1RL_LOG(ERROR) << "export: " << s;
    return 1;
  }
  std::cout << "exported " << checkpoint << " -> " << out << "\n";
  return 0;
}

}  // namespace

M1RL_REGISTER_COMMAND(export, "export", "write a trainer checkpoint in Hugging Face format", RunExport);
