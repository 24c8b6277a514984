// `m1rl config --config FILE [--set path=value ...]`: loads, overrides and validates a run config and
// prints the resolved config as YAML (stdout), or the error naming the field (stderr, exit 1).
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/config.h"
#include "common/flags.h"
#include "trainer/trainer_config.h"

namespace m1rl {
namespace {

int RunConfigCommand(const std::vector<std::string>& args) {
  std::string config_path;
  std::vector<std::string> overrides;
  FlagSet flags("m1rl config", "Prints the resolved run config (YAML file + --set overrides, validated).");
  flags.AddString("config", &config_path, "run config YAML (e.g. configs/quickstart.yaml)");
  flags.AddRepeated("set", &overrides, "override path=value, value parsed as YAML (repeatable)");
  if (std::optional<int> exit_code = flags.ParseForCommand(args, 1)) return *exit_code;
  if (config_path.empty()) {
    std::cerr << "m1rl config: --config is required\n" << flags.Usage();
    return 1;
  }
  // The same validation `m1rl train` applies (trainer::ValidateRunConfig).
  absl::StatusOr<config::RunConfig> cfg = trainer::LoadRunConfig(config_path, overrides);
  if (!cfg.ok()) {
    std::cerr << "m1rl config: " << cfg.status().message() << "\n";
    return 1;
  }
  std::cout << DumpConfigYaml(*cfg);
  return 0;
}

}  // namespace
}  // namespace m1rl

M1RL_REGISTER_COMMAND(config, "config",
                      "print the resolved run config (YAML + --set overrides), or the error",
                      m1rl::RunConfigCommand);
