// m1rl: one binary, many subcommands (train, reward-server, verify, make-data, generate, export, ...).
// Each subcommand registers itself (common/cli.h); this file only dispatches.
#include <iostream>
#include <string>
#include <vector>

#include "common/cli.h"
#include "common/signals.h"

namespace {

void PrintUsage() {
  std::cout << "usage: m1rl <command> [flags]   (m1rl <command> --help for its flags)\n\ncommands:\n";
  for (const auto& [name, cmd] : m1rl::cli::Registry()) {
    std::cout << "  " << name << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ') << cmd.help
              << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  m1rl::InstallFailureSignalHandler(argv[0]);  // a crash prints a symbolised stack trace
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  auto it = m1rl::cli::Registry().find(name);
  if (it == m1rl::cli::Registry().end()) {
    std::cerr << "m1rl: unknown command '" << name << "'\n";
    PrintUsage();
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  return it->second.run(args);
}
