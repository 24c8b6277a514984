// `m1rl genrm-reference`: picks a reference answer per prompt with the Swiss-round tournament
// (reward/genrm/reference_file.h) judged by the GenRM that --config's reward.genrm describes (an
// OpenAI-compatible endpoint or, backend in_process, a checkpoint of ours). Exit 0 when every prompt got a
// reference, 1 when some lines carry an "error", 2 for bad flags or config.
#include <iostream>
#include <optional>

#include "common/cli.h"
#include "common/config.h"
#include "common/flags.h"
#include "reward/genrm/engine_judge.h"
#include "reward/genrm/reference_file.h"
#include "reward/service/genrm_registry.h"

namespace m1rl::reward {
namespace {

int RunGenrmReference(const std::vector<std::string>& args) {
  std::string config_path;
  std::string in_path;
  std::string out_path;
  FlagSet flags("m1rl genrm-reference",
                "Swiss-round reference answers per prompt (JSONL {prompt, candidates} -> {reference, ...}).");
  flags.AddString("config", &config_path,
                  "YAML run config; its reward.genrm section names the judge and the "
                  "tournament (reward.genrm.swiss)");
  flags.AddString("in", &in_path, "JSONL input: one {\"id\", \"prompt\", \"candidates\": [...]} per line");
  flags.AddString("out", &out_path, "JSONL output: one {\"id\", \"prompt\", \"reference\", ...} per line");
  if (std::optional<int> exit_code = flags.ParseForCommand(args)) return *exit_code;
  if (config_path.empty() || in_path.empty() || out_path.empty()) {
    std::cerr << "m1rl genrm-reference: --config, --in and --out are required\n";
    return 2;
  }
  absl::StatusOr<config::RunConfig> config = LoadConfig(config_path);
  if (!config.ok()) {
    std::cerr << "m1rl genrm-reference: " << config.status().message() << "\n";
    return 2;
  }
  std::string where;
  absl::StatusOr<std::shared_ptr<const genrm::GenRm>> model = NewGenRmFromConfig(
      config->reward().genrm(),
      [](const config::GenrmConfig& g) -> absl::StatusOr<std::shared_ptr<genrm::Judge>> {
        return genrm::EngineJudge::FromConfig(g.in_process());
      },
      &where);
  absl::StatusOr<genrm::SwissOptions> swiss = genrm::ResolveSwissOptions(config->reward().genrm().swiss());
  if (!model.ok() || !swiss.ok()) {
    std::cerr << "m1rl genrm-reference: " << (model.ok() ? swiss.status() : model.status()).message() << "\n";
    return 2;
  }
  std::cout << "genrm-reference: judge " << (*model)->version() << " via " << where << std::endl;
  absl::StatusOr<genrm::ReferenceFileStats> stats = genrm::PickReferences(**model, *swiss, in_path, out_path);
  if (!stats.ok()) {
    std::cerr << "m1rl genrm-reference: " << stats.status().message() << "\n";
    return 2;
  }
  std::cout << "genrm-reference: prompts=" << stats->prompts << " references=" << stats->references
            << " errors=" << stats->errors << " judge_calls=" << stats->judge_calls << " -> " << out_path
            << "\n";
  return stats->errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace m1rl::reward

M1RL_REGISTER_COMMAND(genrm_reference, "genrm-reference",
                      "pick a reference answer per prompt by a Swiss-round GenRM tournament (offline)",
                      m1rl::reward::RunGenrmReference);
